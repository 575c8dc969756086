"""Nova's HostManager, with bare-metal nodes consumed whole.

Nova's ``HostState`` subtracts a flavor's RAM, disk and vCPUs from a host,
so two small requests in one scheduling pass could both fit on one
bare-metal node. ``BareMetalNodeState`` makes a node full as soon as one
request lands on it, and treats a node that already holds an instance as
full, the way Nova's own ironic host manager did before it was removed.
Other hosts keep Nova's ``HostState``, so a cloud with VMs and bare metal
schedules both.
"""

from nova.scheduler import host_manager

from nova_bm import scheduler


class BareMetalNodeState(host_manager.HostState):
    """A bare-metal node: either entirely free or entirely used."""

    def _update_from_compute_node(self, compute):
        super()._update_from_compute_node(compute)
        if ('free_disk_gb' not in compute or compute.free_disk_gb is None
                or self.updated != compute.updated_at):
            return  # Nova ignored an incomplete or stale record
        # The whole disk: no qcow2 overcommit on a physical machine.
        self.free_disk_mb = compute.free_disk_gb * 1024
        if self.num_instances or compute.vcpus_used >= compute.vcpus > 0:
            self._consume_all()

    def _locked_consume_from_request(self, spec_obj):
        self._consume_all()
        self.num_instances += 1
        self.num_io_ops += 1

    def _consume_all(self):
        self.free_ram_mb = 0
        self.free_disk_mb = 0
        self.vcpus_used = self.vcpus_total


class BareMetalHostManager(host_manager.HostManager):
    """HostManager that gives bare-metal nodes a BareMetalNodeState."""

    def host_state_cls(self, host, node, cell, **kwargs):
        compute = kwargs.get('compute')
        if compute is not None and (compute.hypervisor_type
                                    == scheduler.HYPERVISOR_TYPE):
            return BareMetalNodeState(host, node, cell)
        return host_manager.HostState(host, node, cell)


