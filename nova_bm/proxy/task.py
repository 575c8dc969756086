"""One node being worked on by the proxy, and the power calls it makes.

Ironic hands every driver call a ``TaskManager`` context carrying the node
and what acts on it, so that drivers never call back up. The proxy does the
same with :class:`NodeTask`: it carries the node, the power interface, the
power sync, the node cache and the notifier, and the mechanisms below it
(deploy, network, console) get only what they need from it and return
outcomes.

:class:`RecordingPower` is how a power call's answer reaches the power sync
without the deploy flow knowing there is one: the proxy hands the flow a
power interface that remembers every state it reads back. Callers may rely
on:

* every power state a :class:`RecordingPower` reads back is recorded before
  the call returns (so ``get_info`` answers with it at once);
* :meth:`NodeTask.run` also remembers a BMC failure that counts against the
  BMC (the node is reserved until the BMC answers again), then re-raises it;
* :meth:`NodeTask.reload` puts the node's row in the cache, so Nova's next
  question sees the proxy's own write.
"""

from nova_bm.db import api as db_api
from nova_bm import exception
from nova_bm.power import base as power_base


class RecordingPower(power_base.PowerInterface):
    """``power``, with every state read back recorded in ``sync``."""

    def __init__(self, power, sync):
        self._power = power
        self._sync = sync

    def _recorded(self, node, state):
        self._sync.record(node, state)
        return state

    def validate(self, node):
        return self._power.validate(node)

    def check_access(self, node):
        return self._power.check_access(node)

    def get_power_state(self, node):
        return self._recorded(node, self._power.get_power_state(node))

    def get_power_states(self, nodes):
        return self._power.get_power_states(nodes)

    def power_on(self, node):
        return self._recorded(node, self._power.power_on(node))

    def power_off(self, node):
        return self._recorded(node, self._power.power_off(node))

    def soft_power_off(self, node, timeout):
        return self._recorded(node, self._power.soft_power_off(node, timeout))

    def reboot(self, node, kind=power_base.HARD):
        return self._recorded(node, self._power.reboot(node, kind))

    def set_boot_device(self, node, device, persistent=False):
        return self._power.set_boot_device(node, device, persistent)

    def get_boot_device(self, node):
        return self._power.get_boot_device(node)

    def get_system_guid(self, node):
        return self._power.get_system_guid(node)


class NodeTask:
    """The proxy's work on one node.

    :param node: the node's row (detached), as last read.
    :param parts: what acts on nodes: ``power`` (a RecordingPower),
        ``sync`` (PowerSync), ``cache`` (NodeCache), ``notify``
        (``notify(event_type, node, **extra)``).
    """

    def __init__(self, node, power, sync, cache, notify):
        self.node = node
        self.power = power
        self._sync = sync
        self._cache = cache
        self._notify = notify

    @property
    def bmc_failing(self):
        return self._sync.failing(self.node.uuid)

    @property
    def bmc_error(self):
        return self._sync.error(self.node.uuid)

    def run(self, operation, *args):
        """A power operation of ``self.power`` on this node; a BMC failure
        is remembered (when it counts against the BMC), then re-raised."""
        try:
            return operation(self.node, *args)
        except exception.BMC_TROUBLE as e:
            self.remember_error(e)
            raise

    def remember_error(self, error):
        """A BMC that failed (rather than refused) is failing from now."""
        if getattr(error, 'counts_against_bmc', True):
            self._sync.record(self.node, error)

    def record(self, state):
        self._sync.record(self.node, state)

    def reload(self, with_interfaces=False):
        """The node's row now; the cache follows.

        :raises: NodeNotFound
        """
        self.node = db_api.get_node(self.node.uuid,
                                    with_interfaces=with_interfaces)
        self._cache.put(self.node)
        return self.node

    def macs(self):
        """The node's MACs, read now."""
        return [interface.address for interface in db_api.get_node(
            self.node.uuid, with_interfaces=True).interfaces]

    def notify(self, event_type, **extra):
        self._notify(event_type, self.node, **extra)
