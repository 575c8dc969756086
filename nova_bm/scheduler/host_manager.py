"""Nova's HostManager, with bare-metal nodes consumed whole.

Nova's ``HostState`` subtracts a flavor's RAM, disk and vCPUs from a host,
so two small requests in one scheduling pass could both fit on one
bare-metal node. ``BareMetalNodeState`` makes a node full as soon as one
request lands on it, and treats a node that already holds an instance as
full, the way Nova's own ironic host manager did before it was removed.
Other hosts keep Nova's ``HostState``, so a cloud with VMs and bare metal
schedules both.
"""

import collections
import threading

from nova.scheduler import host_manager

from nova_bm import scheduler


class BareMetalNodeState(host_manager.HostState):
    """A bare-metal node: either entirely free or entirely used."""

    def _update_from_compute_node(self, compute):
        """Free means the node's whole size; holding an instance, nothing.

        Nova's resource tracker takes ``reserved_host_memory_mb`` (512 by
        default), ``reserved_host_disk_mb`` and ``reserved_host_cpus`` off
        every compute node, for the hypervisor's own use. A bare-metal node
        runs no hypervisor, so a free node offers all it has, and an exact
        flavor fits it whatever those options say on the proxy.
        """
        super()._update_from_compute_node(compute)
        if ('free_disk_gb' not in compute or compute.free_disk_gb is None
                or self.updated != compute.updated_at):
            return  # Nova ignored an incomplete or stale record
        if self.num_instances:
            self._consume_all()
        else:
            self.free_ram_mb = compute.memory_mb
            self.free_disk_mb = compute.local_gb * 1024
            self.vcpus_used = 0

    def _locked_consume_from_request(self, spec_obj):
        self._consume_all()
        self.num_instances += 1
        self.num_io_ops += 1

    def _consume_all(self):
        self.free_ram_mb = 0
        self.free_disk_mb = 0
        self.vcpus_used = self.vcpus_total


class BareMetalHostManager(host_manager.HostManager):
    """HostManager that gives bare-metal nodes a BareMetalNodeState.

    It also reads a proxy's instances once per request, not once per node:
    when nova-compute's instance updates have not reached this scheduler
    (just after it starts, or with ``[filter_scheduler]
    track_instance_changes = False``), Nova's HostManager reads a host's
    instance list from the cell database for every compute node of that
    host, which for a proxy of 1,000 nodes is 1,000 identical queries per
    boot.
    """

    #: How many (request, host) instance lists are kept: enough for the
    #: requests one scheduler serves at once.
    _REQUEST_MEMO_SIZE = 64

    def __init__(self):
        self._request_memo = collections.OrderedDict()
        self._request_memo_lock = threading.Lock()
        super().__init__()

    def host_state_cls(self, host, node, cell, **kwargs):
        compute = kwargs.get('compute')
        if compute is not None and (compute.hypervisor_type
                                    == scheduler.HYPERVISOR_TYPE):
            return BareMetalNodeState(host, node, cell)
        return host_manager.HostState(host, node, cell)

    def _get_instances_by_host(self, context, host_name):
        """Nova's query, at most once per request and host."""
        key = (getattr(context, 'request_id', None), host_name)
        if key[0] is None:
            return super()._get_instances_by_host(context, host_name)
        with self._request_memo_lock:
            if key in self._request_memo:
                return self._request_memo[key]
        instances = super()._get_instances_by_host(context, host_name)
        with self._request_memo_lock:
            self._request_memo[key] = instances
            while len(self._request_memo) > self._REQUEST_MEMO_SIZE:
                self._request_memo.popitem(last=False)
        return instances
