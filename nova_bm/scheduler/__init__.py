"""Scheduler side of nova-bm: whole-node host states and exact-fit filters."""

#: ComputeNode.hypervisor_type of every node this plugin reports.
HYPERVISOR_TYPE = 'baremetal'


def is_baremetal(host_state):
    """Whether a scheduler host state is a bare-metal node of nova-bm."""
    return getattr(host_state, 'hypervisor_type', None) == HYPERVISOR_TYPE
