"""The deploy side of one proxy: its HTTP server, image cache, flows and
the cleanings it runs in the background.

The driver holds one :class:`DeployManager` and calls it for nodes whose
``deploy_interface`` is ``image``. Cleanings run in threads of their own
(green threads under eventlet), one per node, so that ``destroy`` returns
at once while the node stays reserved in placement until it is clean.
"""

import errno
import threading
import time

from oslo_log import log as logging

from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.deploy import flow as deploy_flow
from nova_bm.deploy import http_server
from nova_bm.deploy import image_cache
from nova_bm.deploy import image_checks
from nova_bm.deploy import ipxe
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

    def __init__(self, power, record, before_boot=None):
        self._power = power
        self._record = record
        self._before_boot = before_boot
        self.images = image_cache.ImageCache(CONF.baremetal.image_cache_dir)
        self.scripts = ipxe.ScriptStore(CONF.baremetal.deploy_http_root)
        self.waiters = deploy_flow.Waiters()
        self.flow = None
        self.server = None
        self._cleanings = {}
        self._lock = threading.Lock()

    # -- life ------------------------------------------------------------

    def start(self):
        """Serve HTTP and write ``boot.ipxe``.

        May follow :meth:`stop` on the same object (nova-compute restarted
        with the same driver): flows of the earlier life end on their own
        and never touch the new ones' jobs.
        """
        self.waiters = deploy_flow.Waiters()
        with self._lock:
            self._cleanings = {}
        host, port = bind_address()
        api = ramdisk_api.RamdiskAPI(None, on_report=self.waiters.wake)
        files = http_server.Files(
            CONF.baremetal.deploy_http_root, CONF.baremetal.deploy_kernel,
            CONF.baremetal.deploy_ramdisk, CONF.baremetal.image_cache_dir)
        self.server = _listen(host, port, files, api)
        my_ip = CONF.my_ip
        if ':' in my_ip:
            my_ip = '[%s]' % my_ip  # an IPv6 address in a URL
        base_url = (CONF.baremetal.deploy_http_url or
                    'http://%s:%d' % (my_ip, self.server.port))
        api.base_url = base_url.rstrip('/')
        self.scripts.write_boot_script(api.base_url)
        self.flow = deploy_flow.Flow(self._power, self._record,
                                     self.scripts, api.base_url,
                                     self.waiters, self._before_boot)
        self.server.start()
        LOG.info('Nodes deploy from %s (boot.ipxe)', api.base_url)

    @property
    def boot_url(self):
        """What DHCP must hand a node's iPXE: this proxy's ``boot.ipxe``."""
        return self.flow.base_url + '/boot.ipxe'

    @property
    def stopped(self):
        """Whether this proxy is shutting down (nothing may start)."""
        return self.waiters.stopping.is_set()

    def stop(self):
        """Stop serving; waiting flows end and leave their nodes be."""
        self.waiters.stop()
        server, self.server = self.server, None
        if server is not None:
            server.stop()

    # -- deploys ---------------------------------------------------------

    def fetch(self, context, image_meta):
        """The image, raw, in the cache (pinned: pass it to deploy)."""
        checksum = (image_meta.checksum if 'checksum' in image_meta
                    else None)
        return self.images.get(context, image_meta.id, checksum)

    def deploy(self, node, instance, image_meta, image):
        """Write the cached ``image`` to the node and boot it.

        :raises: ImageUnacceptable (too large, before power on),
            DeployFailed, ProxyStopping
        """
        try:
            image_checks.check_fits(image_meta, image.size, node)
            self.flow.deploy(node, instance.uuid, image)
        finally:
            self.images.unpin(image)

    # -- cleaning --------------------------------------------------------

    def resume(self, nodes):
        """Clean the nodes that wait for it, each in a thread.

        Called with the owned nodes at every resource cycle: a node left
        in ``cleaning`` (a restart) or in ``clean failed`` taken out of
        maintenance by an operator is cleaned (again).
        """
        for node in nodes:
            if (node.provision_state in (db_api.CLEANING,
                                         db_api.CLEAN_FAILED)
                    and not node.maintenance
                    and node.instance_uuid is None):
                self.start_cleaning(node)

    def start_cleaning(self, node):
        if self.flow is None:
            return
        with self._lock:
            if node.uuid in self._cleanings:
                return
            thread = threading.Thread(target=self._clean, args=(node.uuid,),
                                      name='nova-bm-clean-%s' % node.name,
                                      daemon=True)
            self._cleanings[node.uuid] = thread
        thread.start()

    def _clean(self, uuid):
        try:
            node = db_api.get_node(uuid, with_interfaces=True)
            self.flow.clean(node)
        except deploy_flow.ProxyStopping:
            pass
        except Exception:
            LOG.exception('Cleaning of node %s failed', uuid)
        finally:
            with self._lock:
                if self._cleanings.get(uuid) is threading.current_thread():
                    del self._cleanings[uuid]

    def cleaning(self):
        """UUIDs of the nodes being cleaned now."""
        with self._lock:
            return set(self._cleanings)

    # -- restart ---------------------------------------------------------

    def recover(self, nodes):
        """At start: a node left ``deploying`` is off and released, to be
        cleaned; nothing stays half-deployed or held by a deploy that no
        process runs any more.

        :returns: ``[(node, instance_uuid, off_error)]`` of the nodes to
            release: ``off_error`` says why off is not confirmed, or None.
        """
        stopped = []
        for node in nodes:
            if node.provision_state != db_api.DEPLOYING:
                continue
            macs = [interface.address for interface in db_api.get_node(
                node.uuid, with_interfaces=True).interfaces]
            # No job id: whatever job the node has ends.
            off_error = self.flow.stop(node, macs, job_id=None)
            LOG.warning('Node %s was being deployed when nova-compute '
                        'stopped: released, to be cleaned', node.name)
            stopped.append((node, node.instance_uuid, off_error))
        return stopped

    # -- image cache -----------------------------------------------------

    def manage_cache(self):
        in_use = {job.image_file for job in db_api.list_jobs()
                  if job.image_file}
        return self.images.evict(
            in_use, CONF.baremetal.image_cache_size_gb * GIB,
            CONF.baremetal.image_cache_ttl)
