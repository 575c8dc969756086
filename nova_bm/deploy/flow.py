"""The steps of a deploy, a cleaning and an inspection, on one node.

The proxy starts a job (:func:`nova_bm.db.api.start_job`) and hands its id
to a step here; a step returns when its outcome holds or raises, and names
no provision state: what the outcome means for the node is the proxy's
decision (:mod:`nova_bm.proxy.provision`).

Deploy (:meth:`Flow.write_image`, then :meth:`Flow.boot_from_disk`): the
node's scripts boot the deploy ramdisk → off, boot device network
(persistent while the job runs), the job marked booted, on → the ramdisk
looks itself up and gets the token → wait for its report (bounded by
``[baremetal] deploy_timeout``) → the sha256 it read back must be the
image's, and it must have read the whole image → the ramdisk must power
the node off itself (bounded by ``deploy_shutdown_timeout``) → the scripts
boot the local disk, the job and its token end; then boot device disk
(persistent), on.

Cleaning (:meth:`Flow.erase`): the same boot with a ``clean`` job; the
ramdisk reports the machine's disks, erases each as the job's clean mode
says, reports per disk what it did and powers off (bounded by ``[baremetal]
clean_timeout``); the report must cover every disk the way the mode
requires (:mod:`nova_bm.deploy.erase_report`); its scripts removed.

Inspection (:meth:`Flow.inspect`): the same boot with an ``inspect`` job
(a node without MACs through ``unknown.ipxe``, its ramdisk found by its
system UUID); the ramdisk reports the machine's hardware
(:mod:`nova_bm.inspection.inventory`) and powers off (bounded by
``[baremetal] inspect_timeout``).

None ends well on anything short of that. A job the ramdisk API found
suspect (a second lookup, a token shown from elsewhere, a report too
early to be real: :mod:`nova_bm.deploy.ramdisk_api`), a report followed
by no power off, or a job touched after its report, fails with
:class:`DeployFailed` whose ``suspect`` is set. A cleaning counts only
when the token holder reported it and the BMC then read the node off.

What a caller may rely on: a failed step leaves no job and no script,
and the node off unless the BMC would not say so (``DeployFailed``'s
``off_error`` then says why); a wait holds no database connection and no
lock. When the proxy stops (:meth:`Waiters.stop`), waiting steps end
with :class:`ProxyStopping` and touch nothing: the next start recovers
the node (:mod:`nova_bm.proxy.cycle`).
"""

import json
import threading
import time

from oslo_log import log as logging
from oslo_utils import timeutils

from nova_bm.common import states
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.deploy import erase_report
from nova_bm.deploy import ipxe
from nova_bm import exception
from nova_bm.power import base as power_base

LOG = logging.getLogger(__name__)

#: Problems of an erase named in a node's reason (the proof has them all).
MAX_PROBLEMS_SAID = 3


def _summary(problems):
    said = '; '.join(problems[:MAX_PROBLEMS_SAID])
    if len(problems) > MAX_PROBLEMS_SAID:
        said += '; and %d more' % (len(problems) - MAX_PROBLEMS_SAID)
    return 'the disks were not erased as required: %s' % said


class DeployFailed(Exception):
    """A deploy or cleaning failed; ``reason`` is one line for the user,
    ``off_error`` why the node could not be confirmed off (or None),
    ``suspect`` whether something other than the node's ramdisk spoke for
    it (the node must then be held back, not given to anyone)."""

    def __init__(self, reason, off_error=None, suspect=False, proof=None,
                 problems=()):
        super().__init__(reason)
        self.reason = reason
        self.off_error = off_error
        self.suspect = suspect
        #: A cleaning's per-disk proof (what the ramdisk said it did), or
        #: None when it said nothing; ``problems``: each way its report
        #: fell short, one line each.
        self.proof = proof
        self.problems = list(problems)


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
    """The steps of deploys and cleanings on nodes, through ``power``.

    Each step returns when its outcome holds, or raises; it names no
    provision state and keeps no power state: the proxy that started the
    job decides what the outcome means for the node, and the power
    interface it hands in remembers what the BMC said.
    """

    def __init__(self, power, scripts, base_url, waiters):
        self.power = power
        self.scripts = scripts
        self.base_url = base_url
        self.waiters = waiters

    # -- deploy ----------------------------------------------------------

    def write_image(self, node, job_id, image):
        """Have the deploy ramdisk write ``image`` (an ImageCache entry) to
        the node under the job ``job_id``.

        Outcome: the image read back has the image's sha256, the node is
        off (its ramdisk powered it off), its scripts boot its disk, and
        the job and its token are over.

        :param node: with its interfaces loaded.
        :raises: DeployFailed (the node stopped), ProxyStopping
        """
        macs = interface_macs(node)
        LOG.info('Deploying image file %(image)s to node %(node)s',
                 {'image': image.name, 'node': node.name})
        with self._stop_on_failure(node, macs, job_id):
            self._boot_ramdisk(node, macs, job_id)
            job = self._wait_report(node, job_id)
            if job.status == states.FAILED:
                raise DeployFailed('the deploy ramdisk failed: %s'
                                   % job.error)
            if job.result_sha256 != image.sha256:
                raise DeployFailed(
                    'the image read back from %s has sha256 %s, not the '
                    "image's %s" % (job.result_device or 'the disk',
                                    job.result_sha256, image.sha256))
            if (job.configdrive_file and job.result_configdrive_sha256
                    != job.configdrive_sha256):
                raise DeployFailed(
                    'the config drive read back from %s has sha256 %s, not '
                    "the drive's %s" % (job.result_device or 'the disk',
                                        job.result_configdrive_sha256,
                                        job.configdrive_sha256))
            self._wait_off(node, job_id)
            self.scripts.put(macs, ipxe.local_boot_script())
            self._end_trusted(node, job_id)

    def boot_from_disk(self, node, job_id):
        """Boot the node from its disk, persistently (after
        :meth:`write_image` of the same job).

        :raises: DeployFailed (the node stopped)
        """
        with self._stop_on_failure(node, interface_macs(node), job_id):
            self.power.set_boot_device(node, 'disk', persistent=True)
            self.power.power_on(node)
        LOG.info('Node %s deployed; it boots from its disk', node.name)

    # -- cleaning --------------------------------------------------------

    def erase(self, node, job_id, previous=()):
        """Have the deploy ramdisk erase the node's disks under the job
        ``job_id``, in the job's clean mode.

        Outcome: the token holder reported every disk it found erased as
        the mode requires (:func:`erase_report.judge`), none of the disks
        ``previous`` (the last cleaning's) is missing, the BMC then read
        the node off, the node's scripts are gone and the job is over.

        :param node: with its interfaces loaded.
        :returns: the per-disk proof.
        :raises: DeployFailed (the node stopped; its ``proof`` says what
            the ramdisk reported), ProxyStopping
        """
        macs = interface_macs(node)
        LOG.info('Cleaning node %s', node.name)
        with self._stop_on_failure(node, macs, job_id):
            self._boot_ramdisk(node, macs, job_id)
            # A ramdisk that never boots gives its slot back as soon as a
            # deploy's would: its lookup is due within deploy_timeout.
            job = self._wait_report(node, job_id,
                                    CONF.baremetal.clean_timeout,
                                    'clean_timeout',
                                    CONF.baremetal.deploy_timeout)
            proof, problems = self._judge_erase(job, previous)
            if job.status == states.FAILED:
                raise DeployFailed('the deploy ramdisk failed to clean '
                                   'the disks: %s' % job.error, proof=proof,
                                   problems=problems)
            # Whose report it is first (a report not followed by the power
            # off is not the ramdisk's), then what it says.
            try:
                self._wait_off(node, job_id)
            except DeployFailed as e:
                e.proof, e.problems = proof, problems
                raise
            if problems:
                raise DeployFailed(_summary(problems), proof=proof,
                                   problems=problems)
            self.scripts.remove(macs)
            self._end_trusted(node, job_id)
        return proof

    @staticmethod
    def _judge_erase(job, previous):
        """``(proof, problems)`` of the job's erase report."""
        if job.disks is None:
            return [], ['the ramdisk reported no disks before erasing (a '
                        'ramdisk older than this proxy: rebuild it with '
                        'nova-bm-build-ramdisk)']
        # A job of a proxy before clean modes (none left after a restart:
        # the cleaning starts again) was told metadata.
        mode = job.clean_mode or states.CLEAN_METADATA
        return erase_report.judge(mode, json.loads(job.disks),
                                  json.loads(job.erase_report or '[]'),
                                  previous)

    # -- inspection ------------------------------------------------------

    def inspect(self, node, job_id):
        """Have the deploy ramdisk read the node's hardware under the job
        ``job_id`` (an inspection).

        A node without MACs boots the ramdisk through ``unknown.ipxe``
        (what ``boot.ipxe`` chains to when no NIC has a script) while its
        inspection runs; its ramdisk is found by the system UUID its BMC
        reported (the job's ``system_uuid``).

        Outcome: the token holder reported a valid inventory, the BMC then
        read the node off, the node's scripts are gone and the job is
        over.

        :param node: with its interfaces loaded.
        :returns: the inventory (a dict,
            :func:`nova_bm.inspection.inventory.parse`).
        :raises: DeployFailed, ProxyStopping
        """
        macs = [interface.address for interface in node.interfaces]
        LOG.info('Inspecting node %s', node.name)
        with self._stop_on_failure(node, macs, job_id):
            unknown = (None if macs else
                       self.scripts.open_to_unknown(self._ramdisk()))
            try:
                job = self._boot_and_wait(node, macs, job_id)
            finally:
                if unknown is not None:
                    self.scripts.close_to_unknown(unknown)
            self.scripts.remove(macs)
            self._end_trusted(node, job_id)
        return json.loads(job.inventory)

    def _boot_and_wait(self, node, macs, job_id):
        self._boot_ramdisk(node, macs, job_id)
        job = self._wait_report(node, job_id, CONF.baremetal.inspect_timeout,
                                'inspect_timeout')
        if job.status == states.FAILED:
            raise DeployFailed('the deploy ramdisk failed to inspect the '
                               'node: %s' % job.error)
        self._wait_off(node, job_id)
        return job

    # -- steps -----------------------------------------------------------

    def _ramdisk(self):
        return ipxe.deploy_script(self.base_url,
                                  CONF.baremetal.deploy_kernel_params)

    def _boot_ramdisk(self, node, macs, job_id):
        self.scripts.put(macs, self._ramdisk())
        # A node that is on (a rebuild, a node found on) goes off first:
        # "power on" would leave it running what it runs.
        self.power.power_off(node)
        # Persistent: a node that reboots while its job runs boots the
        # ramdisk again (and is refused: loud), never its disk, where a
        # tenant's system could pose as the ramdisk.
        self.power.set_boot_device(node, 'pxe', persistent=True)
        # Its ramdisk may look itself up from now on, not before (and
        # not within ramdisk_min_boot_time): marked before the power on,
        # which the ramdisk may outrun only on a simulated machine.
        db_api.mark_job_booted(job_id, timeutils.utcnow())
        self.power.power_on(node)

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

    def _wait_report(self, node, job_id, timeout=None,
                     option='deploy_timeout', lookup_timeout=None):
        """The job once its ramdisk reported, within ``timeout`` seconds
        (default: ``[baremetal] deploy_timeout``; ``option`` names it),
        and, with ``lookup_timeout``, looked itself up within that many
        (``deploy_timeout``). Holds nothing while waiting.

        :raises: DeployFailed (timeout, job replaced), ProxyStopping
        """
        if timeout is None:
            timeout = CONF.baremetal.deploy_timeout
        start = time.monotonic()
        deadline = start + timeout
        event = self.waiters.event(node.uuid)
        while True:
            event.clear()
            if self.waiters.stopping.is_set():
                raise ProxyStopping()
            job = self._current_job(node, job_id)
            if job.status != states.WAITING:
                return job
            now = time.monotonic()
            due = deadline
            if (lookup_timeout is not None and job.token_hash is None
                    and start + lookup_timeout < deadline):
                due = start + lookup_timeout
                if now >= due:
                    raise DeployFailed(
                        'the deploy ramdisk did not look itself up within '
                        '%d s of power on ([baremetal] deploy_timeout)'
                        % lookup_timeout)
            if now >= deadline:
                raise DeployFailed('the deploy ramdisk did not report within '
                                   '%d s ([baremetal] %s)'
                                   % (timeout, option))
            event.wait(min(CONF.baremetal.deploy_poll_interval, due - now))

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

    def abandon(self, node, macs):
        """End whatever job the node has, remove its scripts, power it
        off. :returns: why off is not confirmed, or None."""
        return self.stop(node, macs, job_id=None)

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
            self.power.power_off(node)
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
