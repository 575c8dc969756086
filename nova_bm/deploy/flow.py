"""The steps of a deploy and of a cleaning, on one node.

Deploy: a job with a new token → the node's scripts boot the deploy
ramdisk → off, boot device network (this boot only), on → wait for the
ramdisk's report (bounded by ``[baremetal] deploy_timeout``) → the sha256
it read back must be the image's → wait for the ramdisk to power the node
off (bounded; then off over IPMI) → the scripts boot the local disk, the
job and its token end → boot device disk (persistent), on → ``active``.

Cleaning: the same boot with a ``clean`` job; the ramdisk erases the
disks' metadata and reports; the node is switched off, its scripts
removed → ``available``.

What a caller may rely on: a failed deploy leaves no job and no script,
and the node off unless the BMC would not say so (``DeployFailed``'s
``off_error`` then says why); a wait holds no database connection and no
lock. When the proxy stops (:meth:`Waiters.stop`), waiting flows end
with :class:`ProxyStopping` and touch nothing: the next start recovers
the node (``DeployManager.recover``).
"""

import threading
import time

from oslo_log import log as logging

from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.deploy import ipxe
from nova_bm.deploy import tokens
from nova_bm import exception
from nova_bm.power import base as power_base

LOG = logging.getLogger(__name__)

_BMC_TROUBLE = (exception.BmcError, exception.InvalidBmcParameters)


class DeployFailed(Exception):
    """A deploy or cleaning failed; ``reason`` is one line for the user,
    ``off_error`` why the node could not be confirmed off (or None)."""

    def __init__(self, reason, off_error=None):
        super().__init__(reason)
        self.reason = reason
        self.off_error = off_error


class ProxyStopping(Exception):
    """nova-compute is stopping: the flow was left as it was."""


class Waiters:
    """Wakes a flow waiting for its node's ramdisk when the report comes
    in to this proxy (others are seen at the next database poll)."""

    def __init__(self):
        self._events = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def event(self, uuid):
        with self._lock:
            return self._events.setdefault(uuid, threading.Event())

    def wake(self, uuid):
        with self._lock:
            event = self._events.get(uuid)
        if event is not None:
            event.set()

    def stop(self):
        self.stopping.set()
        with self._lock:
            events = list(self._events.values())
        for event in events:
            event.set()


def interface_macs(node):
    macs = [interface.address for interface in node.interfaces]
    if not macs:
        raise DeployFailed('node %s has no enrolled interface (MAC), so it '
                           'cannot boot the deploy ramdisk' % node.name)
    return macs


class Flow:
    """Deploys and cleanings; ``record(node, state)`` keeps the power
    state the driver knows."""

    def __init__(self, power, record, scripts, base_url, waiters,
                 before_boot=None):
        self.power = power
        # Called with the node just before it boots its instance.
        self.before_boot = before_boot
        self.record = record
        self.scripts = scripts
        self.base_url = base_url
        self.waiters = waiters

    # -- deploy ----------------------------------------------------------

    def deploy(self, node, instance_uuid, image):
        """Write ``image`` (an ImageCache entry) to the node; return when
        it runs from its disk.

        :param node: with its interfaces loaded.
        :raises: DeployFailed, ProxyStopping
        """
        macs = interface_macs(node)
        token = tokens.new_token()
        token_hash = tokens.digest(token)
        db_api.start_job(
            node.uuid, 'deploy', token_hash, db_api.DEPLOYING,
            instance_uuid=instance_uuid,
            image_key_hash=tokens.digest(tokens.image_key(token)),
            image_file=image.name, image_size=image.size,
            image_sha256=image.sha256)
        LOG.info('Deploying image file %(image)s to node %(node)s',
                 {'image': image.name, 'node': node.name})
        with self._stop_on_failure(node, macs, token_hash):
            self._boot_ramdisk(node, macs, token)
            job = self._wait_report(node, token_hash)
            if job.status == 'failed':
                raise DeployFailed('the deploy ramdisk failed: %s'
                                   % job.error)
            if job.result_sha256 != image.sha256:
                raise DeployFailed(
                    'the image read back from %s has sha256 %s, not the '
                    "image's %s" % (job.result_device or 'the disk',
                                    job.result_sha256, image.sha256))
            self._wait_off(node)
            self.scripts.put(macs, ipxe.local_boot_script(node.uuid))
            db_api.end_job(node.uuid, token_hash)
            if self.before_boot is not None:
                self.before_boot(node)
            self.power.set_boot_device(node, 'disk', persistent=True)
            self.record(node, self.power.power_on(node))
            db_api.set_provision_state(node.uuid, db_api.ACTIVE)
        LOG.info('Node %s deployed; it boots from its disk', node.name)

    # -- cleaning --------------------------------------------------------

    def clean(self, node):
        """Erase the node's disks' metadata; ``available`` when done,
        ``clean failed`` and maintenance when not.

        :returns: whether the node is available.
        :raises: ProxyStopping
        """
        try:
            macs = interface_macs(node)
        except DeployFailed as e:
            self._clean_failed(node, e.reason)
            return False
        token = tokens.new_token()
        token_hash = tokens.digest(token)
        db_api.start_job(node.uuid, 'clean', token_hash, db_api.CLEANING)
        LOG.info('Cleaning node %s', node.name)
        try:
            with self._stop_on_failure(node, macs, token_hash):
                self._boot_ramdisk(node, macs, token)
                job = self._wait_report(node, token_hash)
                if job.status == 'failed':
                    raise DeployFailed('the deploy ramdisk failed to clean '
                                       'the disks: %s' % job.error)
                self._wait_off(node)
        except DeployFailed as e:
            reason = 'cleaning failed: %s' % e.reason
            if e.off_error:
                reason += '; power off not confirmed: %s' % e.off_error
            self._clean_failed(node, reason)
            return False
        self.scripts.remove(macs)
        db_api.end_job(node.uuid, token_hash)
        db_api.set_provision_state(node.uuid, db_api.AVAILABLE)
        LOG.info('Node %s cleaned and available', node.name)
        return True

    @staticmethod
    def _clean_failed(node, reason):
        LOG.error('Node %(node)s goes into maintenance: %(reason)s',
                  {'node': node.name, 'reason': reason})
        db_api.set_provision_state(node.uuid, db_api.CLEAN_FAILED,
                                   last_error=reason,
                                   maintenance_reason=reason)

    # -- steps -----------------------------------------------------------

    def _boot_ramdisk(self, node, macs, token):
        self.scripts.put(macs, ipxe.deploy_script(
            self.base_url, node.uuid, token,
            CONF.baremetal.deploy_kernel_params))
        # A node that is on (a rebuild, a node found on) goes off first:
        # "power on" would leave it running what it runs.
        self.record(node, self.power.power_off(node))
        self.power.set_boot_device(node, 'pxe', persistent=False)
        self.record(node, self.power.power_on(node))

    def _wait_report(self, node, token_hash):
        """The job once its ramdisk reported. Holds nothing while waiting.

        :raises: DeployFailed (timeout, job replaced), ProxyStopping
        """
        timeout = CONF.baremetal.deploy_timeout
        deadline = time.monotonic() + timeout
        event = self.waiters.event(node.uuid)
        while True:
            event.clear()
            if self.waiters.stopping.is_set():
                raise ProxyStopping()
            job = db_api.get_job(node.uuid)
            if job is None or job.token_hash != token_hash:
                raise DeployFailed('the job was ended by someone else')
            if job.status != 'waiting':
                return job
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeployFailed('the deploy ramdisk did not report within '
                                   '%d s ([baremetal] deploy_timeout)'
                                   % timeout)
            event.wait(min(CONF.baremetal.deploy_poll_interval, remaining))

    def _wait_off(self, node):
        """Let the ramdisk power the node off; after the bound, do it."""
        deadline = time.monotonic() + CONF.baremetal.deploy_shutdown_timeout
        intervals = power_base.poll_intervals(
            CONF.baremetal.power_state_poll_interval)
        while True:
            if self.waiters.stopping.is_set():
                raise ProxyStopping()
            state = self.power.get_power_state(node)
            self.record(node, state)
            if state == power_base.POWER_OFF:
                return
            if time.monotonic() >= deadline:
                LOG.warning('Node %s did not power off after its ramdisk '
                            'reported; powering it off', node.name)
                self.record(node, self.power.power_off(node))
                return
            time.sleep(next(intervals))

    def _stop_on_failure(self, node, macs, token_hash):
        return _StopOnFailure(self, node, macs, token_hash)

    def stop(self, node, macs, token_hash):
        """End the job, remove the scripts, power off.

        :returns: why off is not confirmed, or None.
        """
        try:
            db_api.end_job(node.uuid, token_hash)
        finally:
            self.scripts.remove(macs)
        try:
            self.record(node, self.power.power_off(node))
        except _BMC_TROUBLE as e:
            return str(e)
        return None


class _StopOnFailure:
    """Any failure inside: stop the node, then raise DeployFailed (BMC
    errors become one) with ``off_error`` set; ProxyStopping passes
    untouched."""

    def __init__(self, flow, node, macs, token_hash):
        self._args = (node, macs, token_hash)
        self._flow = flow

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if kind is None or issubclass(kind, ProxyStopping):
            return False
        node = self._args[0]
        off_error = self._flow.stop(*self._args)
        if isinstance(error, DeployFailed):
            error.off_error = off_error
            return False
        if isinstance(error, _BMC_TROUBLE):
            raise DeployFailed('the BMC of node %s: %s' % (node.name, error),
                               off_error) from None
        return False
