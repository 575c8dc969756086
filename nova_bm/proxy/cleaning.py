"""Cleanings: a node an instance left is erased before anyone gets it.

Each cleaning runs in a thread of its own (a green thread under eventlet),
so that ``destroy`` returns at once while the node stays reserved in
placement until it is clean. Callers may rely on:

* at most one cleaning per node runs in this proxy;
* :meth:`Cleanings.resume` is cheap (dictionary work) and is called with
  the owned nodes at every resource cycle: a node left in ``cleaning`` (a
  restart) or in ``clean failed`` taken out of maintenance by an operator
  is cleaned (again);
* a node is ``available`` only when :meth:`Flow.erase
  <nova_bm.deploy.flow.Flow.erase>` returned: its ramdisk reported the
  erase with the job's token and the BMC then read it off. Anything else
  is ``clean failed`` and maintenance, with the reason.
"""

import threading

from oslo_log import log as logging

from nova_bm.common import states
from nova_bm.db import api as db_api
from nova_bm.deploy import flow as deploy_flow

LOG = logging.getLogger(__name__)


def needs_cleaning(node):
    return (node.provision_state in (states.CLEANING, states.CLEAN_FAILED)
            and not node.maintenance and node.instance_uuid is None)


def run_cleaning(provisioner, task, steps):
    """Clean the task's node: ``cleaning`` → ``available``, or ``clean
    failed`` and maintenance.

    :param task: its node with its interfaces loaded.
    :param steps: what runs the erase (DeployManager or Flow).
    :returns: whether the node is available.
    :raises: ProxyStopping (the node is left for the next start)
    """
    try:
        deploy_flow.interface_macs(task.node)
    except deploy_flow.DeployFailed as e:
        provisioner.clean_failed(task, e.reason)
        return False
    job = provisioner.start_job(task, states.CLEAN)
    try:
        steps.erase(task.node, job.id)
    except deploy_flow.DeployFailed as e:
        reason = 'cleaning failed: %s' % e.reason
        fault = states.FAULT_CLEAN
        if e.off_error:
            reason += '; power off not confirmed: %s' % e.off_error
            fault = states.FAULT_POWER_OFF
        provisioner.clean_failed(task, reason, fault)
        return False
    provisioner.cleaned(task)
    return True


class Cleanings:
    """The cleanings this proxy runs.

    :param parts: the proxy: ``task(node)``, ``deploys``, ``provisioner``.
    """

    def __init__(self, parts):
        self._parts = parts
        self._threads = {}
        self._lock = threading.Lock()

    def reset(self):
        """Forget the threads of an earlier life (they end on their own)."""
        with self._lock:
            self._threads = {}

    def resume(self, nodes):
        """Clean, each in a thread, the nodes among ``nodes`` that wait
        for it."""
        for node in nodes:
            if needs_cleaning(node):
                self.start(node)

    def start(self, node):
        if not self._parts.deploys.started():
            return
        with self._lock:
            if node.uuid in self._threads:
                return
            thread = threading.Thread(target=self._clean, args=(node.uuid,),
                                      name='nova-bm-clean-%s' % node.name,
                                      daemon=True)
            self._threads[node.uuid] = thread
        thread.start()

    def _clean(self, uuid):
        try:
            task = self._parts.task(db_api.get_node(uuid,
                                                    with_interfaces=True))
            run_cleaning(self._parts.provisioner, task, self._parts.deploys)
        except deploy_flow.ProxyStopping:
            pass
        except Exception:
            LOG.exception('Cleaning of node %s failed', uuid)
        finally:
            with self._lock:
                if self._threads.get(uuid) is threading.current_thread():
                    del self._threads[uuid]

    def running(self):
        """UUIDs of the nodes being cleaned now."""
        with self._lock:
            return set(self._threads)
