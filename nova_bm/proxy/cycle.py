"""What the proxy reconciles each resource cycle, and recovers at start.

Nova's resource cycle (``get_available_nodes`` first) and a
``nodes_changed`` message from nova-bm-manage both come here: this proxy
takes its share of the nodes (hash_ring mode), reloads its node cache in
one query, resumes the cleanings that wait, and follows the consoles of
its deployed nodes. Callers may rely on:

* one reconciliation costs one node query (plus the rebalance's), whatever
  the number of nodes, and no BMC call;
* a node database that cannot be reached raises DatabaseUnavailable or
  DatabaseNotReady (the driver tells Nova it is not ready);
* at start, a node left ``deploying`` by a process that stopped is powered
  off, its ports unbound and released to be cleaned.
"""

from oslo_log import log as logging

from nova_bm.common import states
from nova_bm import exception
from nova_bm.proxy import provision

LOG = logging.getLogger(__name__)


class Cycle:
    """:param parts: the proxy: ``cache``, ``rebalancer``, ``cleanings``,
        ``inspections``, ``consoles``, ``provisioner``, ``deploys``,
        ``network``, ``task(node)``."""

    def __init__(self, parts):
        self._parts = parts

    def reconcile(self, take_share=False):
        """The owned nodes, reloaded (after taking this proxy's share
        first when ``take_share``); cleanings and inspections resumed,
        consoles followed.

        :raises: DatabaseUnavailable, DatabaseNotReady
        """
        if take_share:
            self._rebalance()
        nodes = self._parts.cache.refresh()
        self._parts.cleanings.resume(nodes)
        self._parts.inspections.resume(nodes)
        self._follow_consoles(nodes)
        return nodes

    def _rebalance(self):
        try:
            self._parts.rebalancer.run()
        except (exception.DatabaseUnavailable, exception.DatabaseNotReady):
            raise
        except Exception as e:
            # Nova's conductor or database not answering: keep the nodes
            # this proxy has, and try again next cycle.
            LOG.warning('Could not rebalance the nodes this cycle: %s', e)

    def _follow_consoles(self, nodes):
        """Consoles for the deployed nodes this proxy owns, none for the
        others: opened at start (and when a node moves here, or its BMC
        credentials change), closed when a node moves away. Dictionary
        work only: no query, no BMC call."""
        owned = set()
        for node in nodes:
            if not node.instance_uuid:
                continue
            owned.add(node.uuid)
            if node.provision_state == states.ACTIVE:
                self._parts.provisioner.open_console(node, wait=0)
        self._parts.consoles.close_others(owned)

    def recover(self, context, nodes):
        """At start: deploys no process runs any more end; their nodes
        are off (or in maintenance), their ports unbound, released to be
        cleaned; nothing stays half-deployed."""
        parts = self._parts
        stopped = []
        # Every such node stopped first (job ended, scripts removed, off),
        # then each released: one release failing leaves no other running.
        for node in nodes:
            if node.provision_state != states.DEPLOYING:
                continue
            task = parts.task(node)
            off_error = parts.deploys.abandon(node, task.macs())
            LOG.warning('Node %s was being deployed when nova-compute '
                        'stopped: released, to be cleaned', node.name)
            stopped.append((task, off_error))
        for task, off_error in stopped:
            instance = provision.InstanceRef(task.node.instance_uuid)
            # Nova deallocated the ports when the spawn failed, without
            # this driver (it was stopping): they still carry the node's
            # MACs. No network_info now: every MAC is reset (a port Nova
            # made is gone or about to be).
            parts.network.unbind(context, instance, task.node,
                                 network_info=None)
            reason = provision.off_reason(instance.uuid, off_error)
            parts.provisioner.release(
                task, instance, reason,
                provision_state=provision.after_doubt(task.node, reason),
                fault=states.FAULT_POWER_OFF if reason else None)
        nodes = parts.cache.refresh()
        parts.cleanings.resume(nodes)
        parts.inspections.resume(nodes)
