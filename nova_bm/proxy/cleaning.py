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

import collections
import threading

from oslo_log import log as logging
from oslo_utils import timeutils

from nova_bm.common import states
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.deploy import erase_report
from nova_bm.deploy import flow as deploy_flow
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


class Cleanings:
    """The cleanings this proxy runs, and those waiting their turn.

    :param parts: the proxy: ``task(node)``, ``deploys``, ``provisioner``,
        ``cache`` (its ``host``).
    """

    def __init__(self, parts):
        self._parts = parts
        self._threads = {}
        self._queue = collections.OrderedDict()
        self._lock = threading.Lock()

    def reset(self):
        """Forget the threads of an earlier life (they end on their own)
        and the queue (the next resume fills it again)."""
        with self._lock:
            self._threads = {}
            self._queue.clear()

    def resume(self, nodes):
        """Clean the nodes among ``nodes`` that wait for it: started while
        fewer than ``max_concurrent_cleanings`` run, queued otherwise."""
        for node in nodes:
            if needs_cleaning(node):
                self.start(node)

    def _may_start(self):
        """Deploys are started and not stopping (a proxy that stops starts
        no cleaning: the next start finds the nodes in cleaning)."""
        deploys = self._parts.deploys
        return deploys.started() and not deploys.stopping()

    def start(self, node):
        if not self._may_start():
            return
        with self._lock:
            if node.uuid in self._threads:
                return
            if len(self._threads) >= CONF.baremetal.max_concurrent_cleanings:
                if node.uuid not in self._queue:
                    LOG.info('Node %(node)s waits to be cleaned: %(n)d '
                             'cleanings run ([baremetal] '
                             'max_concurrent_cleanings)',
                             {'node': node.name, 'n': len(self._threads)})
                self._queue[node.uuid] = node.name
                return
            self._queue.pop(node.uuid, None)
            thread = self._thread(node.uuid, node.name)
        thread.start()

    def _thread(self, uuid, name):
        """A new cleaning thread, registered (the lock held)."""
        thread = threading.Thread(target=self._clean, args=(uuid,),
                                  name='nova-bm-clean-%s' % name,
                                  daemon=True)
        self._threads[uuid] = thread
        return thread

    def _clean(self, uuid):
        try:
            node = db_api.get_node(uuid, with_interfaces=True)
            # Still, and still ours: it may have waited its turn while an
            # operator or another proxy took it.
            if (needs_cleaning(node)
                    and node.service_host == self._parts.cache.host):
                run_cleaning(self._parts.provisioner,
                             self._parts.task(node), self._parts.deploys)
        except deploy_flow.ProxyStopping:
            pass
        except Exception:
            LOG.exception('Cleaning of node %s failed', uuid)
        finally:
            self._next(uuid)

    def _next(self, uuid):
        """This cleaning ended: start the longest waiting one."""
        with self._lock:
            if self._threads.get(uuid) is threading.current_thread():
                del self._threads[uuid]
            thread = None
            while (self._queue and thread is None
                   and self._may_start()
                   and len(self._threads)
                   < CONF.baremetal.max_concurrent_cleanings):
                waiting, name = self._queue.popitem(last=False)
                if waiting not in self._threads:
                    thread = self._thread(waiting, name)
        if thread is not None:
            thread.start()

    def running(self):
        """UUIDs of the nodes being cleaned now."""
        with self._lock:
            return set(self._threads)

    def waiting(self):
        """UUIDs of the nodes waiting for a cleaning slot, in order."""
        with self._lock:
            return list(self._queue)
