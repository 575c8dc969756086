"""Cleanings: a node an instance left is erased before anyone gets it.

Each running cleaning has a thread of its own (a green thread under
eventlet), so that ``destroy`` returns at once while the node stays
reserved in placement until it is clean. Callers may rely on:

* at most one cleaning per node runs in this proxy, and at most
  ``[baremetal] max_concurrent_cleanings`` in all: the others wait in a
  queue (a node UUID each, no thread), in the order they came, and start
  as running ones end;
* :meth:`Cleanings.resume` is cheap (dictionary work) and is called with
  the owned nodes at every resource cycle: a node left in ``cleaning`` (a
  restart, an operator's ``node clean``) is cleaned; a node in ``clean
  failed`` waits for an operator;
* a node's disks, once seen (by WWN or serial), must be there at every
  later cleaning (``known_disks`` of its proof, kept through failures);
* a node is ``available`` only when :meth:`Flow.erase
  <nova_bm.deploy.flow.Flow.erase>` returned: its ramdisk reported every
  disk erased as the node's clean mode requires, with the job's token, and
  the BMC then read it off. Anything else is ``clean failed`` and
  maintenance, with the reason. Either way the node keeps the proof (what
  the ramdisk said it did, per disk) in ``last_cleaning``.
"""

from oslo_log import log as logging
from oslo_utils import timeutils

from nova_bm.common import states
from nova_bm.deploy import erase_report
from nova_bm.deploy import flow as deploy_flow
from nova_bm.proxy import node_queue
from nova_bm.proxy import provision

LOG = logging.getLogger(__name__)


def needs_cleaning(node):
    return (node.provision_state == states.CLEANING
            and not node.maintenance and node.instance_uuid is None)


def _proof(mode, started, disks, result, problems, known):
    return {'mode': mode, 'started_at': started.isoformat(),
            'finished_at': timeutils.utcnow().isoformat(),
            'result': result, 'problems': list(problems), 'disks': disks,
            'known_disks': erase_report.known_disks(known, disks)}


def _known_disks(node):
    """The disks the node is known to have, which must all be there: each
    seen at a cleaning since clean modes (kept through failed ones), until
    an operator's ``node clean --forget-disks``."""
    last = node.last_cleaning or {}
    if 'known_disks' in last:
        return last['known_disks']
    return last.get('disks') or () if last.get('result') == 'ok' else ()


def run_cleaning(provisioner, task, steps):
    """Clean the task's node: ``cleaning`` → ``available``, or ``clean
    failed`` and maintenance; the proof kept with the node.

    :param task: its node with its interfaces loaded.
    :param steps: what runs the erase (DeployManager or Flow).
    :returns: whether the node is available.
    :raises: ProxyStopping (the node is left for the next start)
    """
    node = task.node
    mode = provision.clean_mode(node)
    if mode == states.CLEAN_NONE:
        LOG.warning('Node %s is available without being cleaned: its clean '
                    'mode is none', node.name)
        provisioner.cleaned(task)
        return True
    try:
        deploy_flow.interface_macs(node)
    except deploy_flow.DeployFailed as e:
        provisioner.clean_failed(task, e.reason)
        return False
    started = timeutils.utcnow()
    known = _known_disks(node)
    job = provisioner.start_job(task, states.CLEAN, clean_mode=mode)
    try:
        disks = steps.erase(task.node, job.id, known)
    except deploy_flow.DeployFailed as e:
        reason = 'cleaning (%s) failed: %s' % (mode, e.reason)
        fault = states.FAULT_CLEAN
        if e.off_error:
            reason += '; power off not confirmed: %s' % e.off_error
            fault = states.FAULT_POWER_OFF
        proof = _proof(mode, started, e.proof or [], 'failed',
                       e.problems or [e.reason], known)
        provisioner.clean_failed(task, reason, fault, proof=proof)
        return False
    provisioner.cleaned(task, _proof(mode, started, disks, 'ok', (), known))
    return True


class Cleanings(node_queue.NodeQueue):
    """The cleanings this proxy runs, and those waiting their turn."""

    what = 'cleaned'
    thread_prefix = 'nova-bm-clean-'
    option = 'max_concurrent_cleanings'

    @staticmethod
    def needs(node):
        return needs_cleaning(node)

    def run(self, task):
        run_cleaning(self._parts.provisioner, task, self._parts.deploys)
