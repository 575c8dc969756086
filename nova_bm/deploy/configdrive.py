"""The config drive of an instance: built here, written by the ramdisk.

Nova's ironic driver builds it the same way (``_generate_configdrive``):
Nova's own :class:`nova.virt.configdrive.ConfigDriveBuilder` over
:class:`nova.api.metadata.base.InstanceMetadata` — the key pair,
user-data, the admin password (``extra_md``), injected files and
``network_data.json`` — as an ISO 9660 filesystem labelled ``config-2``
(``[DEFAULT] config_drive_format``; genisoimage). Its links name the
node's own NICs: each link bound to one of the node's interfaces carries
that interface's MAC, so cloud-init configures the right NIC without
DHCP on every one.

What a caller may rely on: :func:`build` returns a file under
:func:`directory` readable by this process only (it holds the admin
password and user-data), at most
:data:`nova_bm.deploy.partition_table.MAX_DRIVE` bytes and a whole number
of sectors, or raises ``BuildAbortException`` with the reason before
anything was powered or written; :func:`remove` deletes it.
"""

import collections
import hashlib
import os
import tempfile
import time

from nova.api.metadata import base as instance_metadata
from nova import exception as nova_exception
from nova.virt import configdrive as nova_configdrive
from nova.virt import netutils
from oslo_concurrency import processutils
from oslo_log import log as logging

from nova_bm.common import safe_text
from nova_bm.conf import CONF
from nova_bm.deploy import partition_table

LOG = logging.getLogger(__name__)

SUFFIX = '.configdrive'

ConfigDrive = collections.namedtuple('ConfigDrive', 'name path size sha256')


def required(instance):
    """Whether the instance gets a config drive (``--config-drive``,
    ``[DEFAULT] force_config_drive`` or ``img_config_drive=mandatory``)."""
    return nova_configdrive.required_by(instance)


def directory():
    """Where config drives wait for their ramdisk: beside the image cache
    (never under the HTTP root, which is served without a token)."""
    path = os.path.join(CONF.baremetal.image_cache_dir, 'configdrives')
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def network_metadata(network_info, interfaces):
    """``network_data.json``: Nova's, with each link bound to one of the
    node's interfaces given that interface's MAC (the port's MAC in
    ``network_info`` may predate the binding) and type ``phy``."""
    metadata = netutils.get_network_metadata(network_info) or {
        'links': [], 'networks': [], 'services': []}
    macs = {i.vif_id: i.address for i in interfaces if i.vif_id}
    for link in metadata.get('links', ()):
        mac = macs.get(link.get('vif_id'))
        if mac is not None:
            link.update({'ethernet_mac_address': mac, 'type': 'phy'})
    return metadata


def build(instance, network_info, injected_files, admin_password,
          interfaces):
    """Build the instance's config drive.

    :param interfaces: the node's interfaces (``address``, ``vif_id``).
    :returns: :class:`ConfigDrive`.
    :raises: BuildAbortException (it cannot be built, or is too large)
    """
    extra_md = {'admin_pass': admin_password} if admin_password else {}
    fd, path = tempfile.mkstemp(prefix=instance.uuid + '-', suffix=SUFFIX,
                                dir=directory())
    os.close(fd)
    try:
        return _build(instance, network_info, injected_files, extra_md,
                      interfaces, path)
    except BaseException:
        # Whatever stopped it (a conductor timeout, the proxy stopping):
        # no half-written drive with the tenant's secrets stays behind.
        remove(os.path.basename(path))
        raise


def _build(instance, network_info, injected_files, extra_md, interfaces,
           path):
    try:
        metadata = instance_metadata.InstanceMetadata(
            instance, content=injected_files, extra_md=extra_md,
            network_info=network_info,
            network_metadata=network_metadata(network_info, interfaces))
        with nova_configdrive.ConfigDriveBuilder(instance_md=metadata) as cdb:
            cdb.make_drive(path)
    except (nova_exception.NovaException, OSError,
            processutils.ProcessExecutionError) as e:
        # genisoimage missing or failing: Nova's builder runs it.
        raise nova_exception.BuildAbortException(
            instance_uuid=instance.uuid,
            reason='the config drive cannot be built: %s'
                   % safe_text.escape(str(e).strip(), limit=200)) from None
    size = os.path.getsize(path)
    if size % partition_table.SECTOR:
        with open(path, 'ab') as f:
            f.write(b'\0' * (-size % partition_table.SECTOR))
        size = os.path.getsize(path)
    if size > partition_table.MAX_DRIVE:
        raise nova_exception.BuildAbortException(
            instance_uuid=instance.uuid,
            reason='its config drive is %d bytes; at most %d MiB fit its '
                   'partition (fewer injected files or less user-data)'
                   % (size, partition_table.MAX_DRIVE >> 20))
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    LOG.info('Config drive built: %d bytes', size, instance=instance)
    return ConfigDrive(os.path.basename(path), path, size,
                       digest.hexdigest())


def path_of(name):
    """The file of a config drive named ``name`` (a job's
    ``configdrive_file``)."""
    return os.path.join(directory(), os.path.basename(name))


def remove(name):
    try:
        os.unlink(path_of(name))
    except FileNotFoundError:
        pass


#: Seconds a config drive no job names is kept: a spawn builds it
#: before its job starts.
UNUSED_GRACE = 3600


def remove_unused(in_use, now=None, grace=UNUSED_GRACE):
    """Remove config drives no job names (left by a proxy that stopped
    mid-deploy) once older than ``grace`` seconds (a spawn builds its
    drive before its job starts).

    :returns: the names removed."""
    now = time.time() if now is None else now
    removed = []
    for name in os.listdir(directory()):
        if not name.endswith(SUFFIX) or name in in_use:
            continue
        try:
            if now - os.stat(path_of(name)).st_mtime < grace:
                continue
        except FileNotFoundError:
            continue
        remove(name)
        removed.append(name)
    return removed
