"""The deploy side of one proxy: its HTTP server, image cache, iPXE scripts
and the steps of deploys and cleanings (:mod:`nova_bm.deploy.flow`).

The proxy layer holds one :class:`DeployManager` and calls its methods;
it decides what a step's outcome means for the node. Nothing here names a
provision state or starts a thread: cleanings run in the proxy's threads.
"""

import errno
import time

from nova import exception as nova_exception
from oslo_log import log as logging

from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.deploy import configdrive
from nova_bm.deploy import flow as deploy_flow
from nova_bm.deploy import http_server
from nova_bm.deploy import image_cache
from nova_bm.deploy import image_checks
from nova_bm.deploy import ipxe
from nova_bm.deploy import partition_table
from nova_bm.deploy import ramdisk_api
from nova_bm import exception

LOG = logging.getLogger(__name__)

GIB = 1024 ** 3


#: The deploy HTTP server's port when ``deploy_http_bind`` is not set.
DEFAULT_PORT = 8089


def bind_address():
    """``(host, port)`` of ``[baremetal] deploy_http_bind``: by default
    ``[DEFAULT] my_ip``, the address the nodes reach, never a wildcard."""
    value = CONF.baremetal.deploy_http_bind
    if value is None:
        return CONF.my_ip, DEFAULT_PORT
    host, sep, port = value.rpartition(':')
    try:
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ValueError(value)
        return host.strip('[]') or CONF.my_ip, int(port)
    except ValueError:
        raise exception.ConfigInvalid(
            reason='[baremetal] deploy_http_bind = %r: must be host:port, '
                   'the port a number from 0 to 65535' % value) from None


def base_url(port):
    """The root URL nodes reach the deploy HTTP server at, when it listens
    on ``port``: ``[baremetal] deploy_http_url``, else
    ``http://<[DEFAULT] my_ip>:<port>``; no trailing slash."""
    if CONF.baremetal.deploy_http_url:
        return CONF.baremetal.deploy_http_url.rstrip('/')
    my_ip = CONF.my_ip
    if ':' in my_ip:
        my_ip = '[%s]' % my_ip  # an IPv6 address in a URL
    return 'http://%s:%d' % (my_ip, port)


#: How long a start waits for its port to be free: a restart can begin
#: while the process it replaces is still closing its socket.
BIND_PATIENCE = 10.0


def _listen(host, port, files, api):
    deadline = time.monotonic() + BIND_PATIENCE
    while True:
        try:
            return http_server.DeployHTTPServer(host, port, files, api)
        except OSError as e:
            if e.errno == errno.EADDRINUSE and time.monotonic() < deadline:
                time.sleep(0.25)
                continue
            raise exception.ConfigInvalid(
                reason='[baremetal] deploy_http_bind = %r: cannot listen '
                       'there: %s' % (CONF.baremetal.deploy_http_bind,
                                      e.strerror or e)) from None


class DeployManager:
    """:param power: the power interface the steps use (the proxy hands in
        one that remembers what the BMCs read back)."""

    def __init__(self, power):
        self._power = power
        self._images = image_cache.ImageCache(CONF.baremetal.image_cache_dir)
        self._scripts = ipxe.ScriptStore(CONF.baremetal.deploy_http_root)
        self._waiters = deploy_flow.Waiters()
        self._flow = None
        self._server = None

    # -- life ------------------------------------------------------------

    def start(self):
        """Serve HTTP and write ``boot.ipxe``.

        May follow :meth:`stop` on the same object (nova-compute restarted
        with the same driver): steps of the earlier life end on their own
        and never touch the new ones' jobs.
        """
        self._waiters = deploy_flow.Waiters()
        # Drives a stopped proxy left: those no job names, a minute old
        # (another proxy sharing the directory may be between building
        # one and starting its job).
        configdrive.remove_unused({job.configdrive_file
                                   for job in db_api.list_jobs()
                                   if job.configdrive_file}, grace=60)
        host, port = bind_address()
        api = ramdisk_api.RamdiskAPI(None, on_report=self._waiters.wake)
        files = http_server.Files(
            CONF.baremetal.deploy_http_root, CONF.baremetal.deploy_kernel,
            CONF.baremetal.deploy_ramdisk, CONF.baremetal.image_cache_dir)
        self._server = _listen(host, port, files, api)
        api.base_url = base_url(self._server.port)
        self._scripts.write_boot_script(api.base_url)
        self._flow = deploy_flow.Flow(self._power, self._scripts,
                                      api.base_url, self._waiters)
        self._server.start()
        LOG.info('Nodes deploy from %s (boot.ipxe)', api.base_url)

    def started(self):
        return self._flow is not None

    def port(self):
        """The port the HTTP server listens on (None when stopped)."""
        return None if self._server is None else self._server.port

    def base_url(self):
        """The root URL nodes reach this proxy's deploy server at."""
        return self._flow.base_url

    def boot_url(self):
        """What DHCP must hand a node's iPXE: this proxy's ``boot.ipxe``."""
        return self._flow.base_url + '/boot.ipxe'

    def stopping(self):
        """Whether this proxy is shutting down (nothing may start)."""
        return self._waiters.stopping.is_set()

    def stop(self):
        """Stop serving; waiting steps end and leave their nodes be."""
        self._waiters.stop()
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    # -- images ----------------------------------------------------------

    def fetch(self, context, image_meta):
        """The image, raw, in the cache (pinned: :meth:`unpin` it)."""
        checksum = (image_meta.checksum if 'checksum' in image_meta
                    else None)
        return self._images.get(context, image_meta.id, checksum)

    def unpin(self, image):
        self._images.unpin(image)

    def downloads(self, image_id):
        """How many times ``image_id`` was downloaded into the cache."""
        return self._images.downloads[image_id]

    @staticmethod
    def check_fits(image_meta, image, node):
        """:raises: ImageUnacceptable (larger than the node's disk)"""
        image_checks.check_fits(image_meta, image.size, node)

    def manage_cache(self):
        jobs = db_api.list_jobs()
        configdrive.remove_unused({job.configdrive_file for job in jobs
                                   if job.configdrive_file})
        in_use = {job.image_file for job in jobs if job.image_file}
        return self._images.evict(
            in_use, CONF.baremetal.image_cache_size_gb * GIB,
            CONF.baremetal.image_cache_ttl)

    # -- config drives (nova_bm.deploy.configdrive) -----------------------

    @staticmethod
    def build_configdrive(instance, network_info, injected_files,
                          admin_password, node):
        """The instance's config drive, or None when it has none.

        :param node: its node; its interfaces are read again, as its
            ports were just bound to them.
        :raises: BuildAbortException (too large, cannot be built)
        """
        if not configdrive.required(instance):
            return None
        interfaces = [row[0] for row in db_api.list_interfaces(node.uuid)]
        return configdrive.build(instance, network_info, injected_files,
                                 admin_password, interfaces)

    @staticmethod
    def check_configdrive_fits(image_meta, image, drive):
        """Refuse, before power on, an image no disk can take a config
        drive beside: no partition table, every MBR primary or GPT entry
        taken, a corrupt table (every node would refuse it). Whether the
        node's real disk has room after the image is known only once its
        ramdisk reports it.

        :raises: ImageUnacceptable
        """
        if drive is None:
            return
        room = image.size + 2 * partition_table.PARTITION_BYTES + (1 << 20)
        try:
            partition_table.plan(partition_table.file_reader(image.path),
                                 image.size, room, drive.size)
        except partition_table.Unfit as e:
            raise nova_exception.ImageUnacceptable(
                image_id=image_meta.id,
                reason='it cannot take a config drive: %s' % e) from None

    @staticmethod
    def remove_configdrive(drive):
        if drive is not None:
            configdrive.remove(drive.name)

    # -- steps (nova_bm.deploy.flow) --------------------------------------

    def write_image(self, node, job_id, image):
        """See :meth:`Flow.write_image`."""
        self._flow.write_image(node, job_id, image)

    def boot_from_disk(self, node, job_id):
        """See :meth:`Flow.boot_from_disk`."""
        self._flow.boot_from_disk(node, job_id)

    def erase(self, node, job_id, previous=()):
        """See :meth:`Flow.erase`."""
        return self._flow.erase(node, job_id, previous)

    def inspect(self, node, job_id):
        """See :meth:`Flow.inspect`."""
        return self._flow.inspect(node, job_id)

    def abandon(self, node, macs):
        """See :meth:`Flow.abandon` (a deploy no process runs any more,
        or one that cannot be recorded)."""
        return self._flow.abandon(node, macs)

    def remove_scripts(self, macs):
        self._scripts.remove(macs)
