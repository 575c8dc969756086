"""The steps of a deploy and of a cleaning, on one node.

Deploy: a job (no token yet) → the node's scripts boot the deploy
ramdisk → off, boot device network (persistent while the job runs), the
job marked booted, on → the ramdisk looks itself up and gets the token →
wait for its report (bounded by ``[baremetal] deploy_timeout``) → the
sha256 it read back must be the image's, and it must have read the whole
image → the ramdisk must power the node off itself (bounded by
``deploy_shutdown_timeout``) → the scripts boot the local disk, the job
and its token end → boot device disk (persistent), on → ``active``.

Cleaning: the same boot with a ``clean`` job; the ramdisk erases the
disks' metadata, reports and powers off; its scripts removed →
``available``.

Neither ends well on anything short of that. A job the ramdisk API found
suspect (a second lookup, a token shown from elsewhere, a report too
early to be real: :mod:`nova_bm.deploy.ramdisk_api`), a report followed
by no power off, or a job touched after its report, fails: a cleaning to
``clean failed`` and maintenance, a deploy with :class:`DeployFailed`
whose ``suspect`` is set. A node is never ``available`` unless the
token holder reported its cleaning and the BMC then read it off.

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
from oslo_utils import timeutils

from nova_bm.common import states
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.deploy import ipxe
from nova_bm import exception
from nova_bm.power import base as power_base

LOG = logging.getLogger(__name__)



class DeployFailed(Exception):
    """A deploy or cleaning failed; ``reason`` is one line for the user,
    ``off_error`` why the node could not be confirmed off (or None),
    ``suspect`` whether something other than the node's ramdisk spoke for
    it (the node must then be held back, not given to anyone)."""

    def __init__(self, reason, off_error=None, suspect=False):
        super().__init__(reason)
        self.reason = reason
        self.off_error = off_error
        self.suspect = suspect


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
        job = db_api.start_job(
            node.uuid, states.DEPLOY, db_api.DEPLOYING,
            instance_uuid=instance_uuid, image_file=image.name,
            image_size=image.size, image_sha256=image.sha256)
        LOG.info('Deploying image file %(image)s to node %(node)s',
                 {'image': image.name, 'node': node.name})
        with self._stop_on_failure(node, macs, job.id):
            self._boot_ramdisk(node, macs, job.id)
            job = self._wait_report(node, job.id)
            if job.status == states.FAILED:
                raise DeployFailed('the deploy ramdisk failed: %s'
                                   % job.error)
            if job.result_sha256 != image.sha256:
                raise DeployFailed(
                    'the image read back from %s has sha256 %s, not the '
                    "image's %s" % (job.result_device or 'the disk',
                                    job.result_sha256, image.sha256))
            self._wait_off(node, job.id)
            self.scripts.put(macs, ipxe.local_boot_script())
            self._end_trusted(node, job.id)
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
        job = db_api.start_job(node.uuid, states.CLEAN, db_api.CLEANING)
        LOG.info('Cleaning node %s', node.name)
        try:
            with self._stop_on_failure(node, macs, job.id):
                self._boot_ramdisk(node, macs, job.id)
                job = self._wait_report(node, job.id)
                if job.status == states.FAILED:
                    raise DeployFailed('the deploy ramdisk failed to clean '
                                       'the disks: %s' % job.error)
                self._wait_off(node, job.id)
                self.scripts.remove(macs)
                self._end_trusted(node, job.id)
        except DeployFailed as e:
            reason = 'cleaning failed: %s' % e.reason
            if e.off_error:
                reason += '; power off not confirmed: %s' % e.off_error
            self._clean_failed(node, reason)
            return False
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

    def _boot_ramdisk(self, node, macs, job_id):
        self.scripts.put(macs, ipxe.deploy_script(
            self.base_url, CONF.baremetal.deploy_kernel_params))
        # A node that is on (a rebuild, a node found on) goes off first:
        # "power on" would leave it running what it runs.
        self.record(node, self.power.power_off(node))
        # Persistent: a node that reboots while its job runs boots the
        # ramdisk again (and is refused: loud), never its disk, where a
        # tenant's system could pose as the ramdisk.
        self.power.set_boot_device(node, 'pxe', persistent=True)
        # Its ramdisk may look itself up from now on, not before (and
        # not within ramdisk_min_boot_time): marked before the power on,
        # which the ramdisk may outrun only on a simulated machine.
        db_api.mark_job_booted(job_id, timeutils.utcnow())
        self.record(node, self.power.power_on(node))

    @staticmethod
    def _current_job(node, job_id):
        """The job, still ours and trusted.

        :raises: DeployFailed (ended by someone else; suspect)
        """
        job = db_api.get_job(node.uuid)
        if job is None or job.id != job_id:
            raise DeployFailed('the job was ended by someone else')
        if job.suspicion:
            raise DeployFailed('the job cannot be trusted: %s'
                               % job.suspicion, suspect=True)
        return job

    def _end_trusted(self, node, job_id):
        """End the job, its token with it, unless it became suspect.

        :raises: DeployFailed (suspect, or ended by someone else)
        """
        if not db_api.end_job(node.uuid, job_id, trusted=True):
            self._current_job(node, job_id)
            raise DeployFailed('the job was ended by someone else')

    def _wait_report(self, node, job_id):
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
            job = self._current_job(node, job_id)
            if job.status != states.WAITING:
                return job
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeployFailed('the deploy ramdisk did not report within '
                                   '%d s ([baremetal] deploy_timeout)'
                                   % timeout)
            event.wait(min(CONF.baremetal.deploy_poll_interval, remaining))

    def _wait_off(self, node, job_id):
        """The ramdisk powers the node off after its report: a report
        counts only once the BMC reads the node off, within
        ``deploy_shutdown_timeout``, and nothing made the job suspect
        meanwhile (a second lookup: the machine booted the ramdisk again,
        or the report was not its ramdisk's).

        :raises: DeployFailed (no power off: the node is then switched
            off over IPMI by the caller; suspect), ProxyStopping
        """
        timeout = CONF.baremetal.deploy_shutdown_timeout
        deadline = time.monotonic() + timeout
        intervals = power_base.poll_intervals(
            CONF.baremetal.power_state_poll_interval)
        while True:
            if self.waiters.stopping.is_set():
                raise ProxyStopping()
            state = self.power.get_power_state(node)
            self.record(node, state)
            if state == power_base.POWER_OFF:
                break
            if time.monotonic() >= deadline:
                raise DeployFailed(
                    'the node did not power off within %d s of its '
                    "ramdisk's report ([baremetal] deploy_shutdown_timeout)"
                    ': the report is not trusted' % timeout, suspect=True)
            time.sleep(next(intervals))
        self._current_job(node, job_id)

    def _stop_on_failure(self, node, macs, job_id):
        return _StopOnFailure(self, node, macs, job_id)

    def stop(self, node, macs, job_id):
        """End the job (only ``job_id``'s; None: any), remove the
        scripts, power off.

        :returns: why off is not confirmed, or None.
        """
        try:
            db_api.end_job(node.uuid, job_id)
        finally:
            self.scripts.remove(macs)
        try:
            self.record(node, self.power.power_off(node))
        except exception.BMC_TROUBLE as e:
            return str(e)
        return None


class _StopOnFailure:
    """Any failure inside: stop the node, then raise DeployFailed (BMC
    errors become one) with ``off_error`` set; ProxyStopping passes
    untouched."""

    def __init__(self, flow, node, macs, job_id):
        self._args = (node, macs, job_id)
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
        if isinstance(error, exception.BMC_TROUBLE):
            raise DeployFailed('the BMC of node %s: %s' % (node.name, error),
                               off_error) from None
        return False
