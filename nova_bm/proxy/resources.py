"""What Nova is told about a node: resources, inventory, traits, host stats.

Pure functions of a node row (and of whether its BMC is failing), so the
driver stays thin and the shapes are unit-tested on their own. The shapes
follow Nova's contract for multi-node drivers (nova/virt/driver.py) and what
Nova's ironic driver reports, with one difference asked of this plugin: the
node's real vcpus/memory/disk are reported, all of them "used" while the
node cannot take a new instance.
"""

import os_resource_classes as orc
from oslo_serialization import jsonutils

from nova_bm.common import states
from nova_bm.common import node_fields

HYPERVISOR_TYPE = 'baremetal'
HYPERVISOR_VERSION = 1
# nova.objects.fields.VMMode.HVM: a bare-metal machine runs its OS natively.
_VM_MODE = 'hvm'


def is_claimed(node):
    """Whether an instance holds the node."""
    return node.instance_uuid is not None


#: Provision states of a free node that must not take an instance yet: its
#: disks still hold the last instance's data (see nova_bm.deploy), or
#: nobody checked and provided it yet (enroll, manageable).
_NOT_OFFERED = states.NOT_CLEAN | states.NOT_PROVIDED


def is_unusable(node, bmc_failing=False):
    """Whether the node must not take a new instance, claimed or not."""
    return bool(node.maintenance or bmc_failing
                or node.provision_state in _NOT_OFFERED)


def resource_class(node):
    """The node's placement resource class, ``CUSTOM_<NORMALISED RC>``."""
    return node_fields.placement_resource_class(node.resource_class)


def node_resources(node, bmc_failing=False):
    """The dict ``get_available_resource(node.name)`` returns."""
    full = is_claimed(node) or is_unusable(node, bmc_failing)
    return {
        'uuid': node.uuid,
        'hypervisor_hostname': node.name,
        'hypervisor_type': HYPERVISOR_TYPE,
        'hypervisor_version': HYPERVISOR_VERSION,
        'resource_class': node.resource_class,
        'cpu_info': jsonutils.dumps({'arch': node.cpu_arch}),
        'vcpus': node.cpus,
        'vcpus_used': node.cpus if full else 0,
        'memory_mb': node.memory_mb,
        'memory_mb_used': node.memory_mb if full else 0,
        'local_gb': node.local_gb,
        'local_gb_used': node.local_gb if full else 0,
        'disk_available_least': 0 if full else node.local_gb,
        'supported_instances': [(node.cpu_arch, HYPERVISOR_TYPE, _VM_MODE)],
        # boot_mode as Nova's ironic driver reports a node's capabilities:
        # a flavor's "capabilities:boot_mode" extra spec is matched
        # against it (ComputeCapabilitiesFilter), an image's
        # hw_firmware_type too (nova_bm.scheduler.filters.BootModeFilter).
        'stats': {'cpu_arch': node.cpu_arch,
                  'resource_class': node.resource_class,
                  'boot_mode': node.boot_mode},
        'numa_topology': None,
    }


def traits(node):
    """The node's traits for placement: the operator's, and the standard
    trait of its boot mode (``COMPUTE_FIRMWARE_UEFI`` or ``_BIOS``), so a
    flavor can require one (``trait:COMPUTE_FIRMWARE_UEFI=required``).
    A boot mode trait among the operator's (given by hand before boot
    modes existed) gives way to the node's boot mode."""
    mode_traits = set(node_fields.BOOT_MODE_TRAITS.values())
    boot_trait = node_fields.BOOT_MODE_TRAITS.get(node.boot_mode)
    return [t for t in node.traits if t not in mode_traits] + (
        [boot_trait] if boot_trait else [])


def inventory(node, bmc_failing=False, standard=False):
    """Placement inventory: one unit of the node's custom resource class.

    Reserved while the node is in maintenance or its BMC is failing, so
    placement offers it to no one; a claimed node's unit is allocated to
    its instance already.

    ``standard`` (``[baremetal] report_standard_inventory``) adds VCPU,
    MEMORY_MB and DISK_GB equal to the node's, for flavors that ask for
    those instead of the custom class. Then everything is also reserved
    while the node is claimed: an instance of such a flavor may hold only
    part of the node's VCPU (or none of its custom unit), and the rest
    must not be offered to anyone else. This is what Nova's ironic driver
    does with nodes in use.
    """
    reserve_all = is_unusable(node, bmc_failing) or (
        standard and is_claimed(node))
    result = {resource_class(node): _record(1, reserve_all)}
    if standard:
        for rc, total in ((orc.VCPU, node.cpus),
                          (orc.MEMORY_MB, node.memory_mb),
                          (orc.DISK_GB, node.local_gb)):
            if total > 0:  # placement refuses an inventory of 0
                result[rc] = _record(total, reserve_all)
    return result


def _record(total, reserved):
    return {
        'total': total,
        'reserved': total if reserved else 0,
        'min_unit': 1,
        'max_unit': total,
        'step_size': 1,
        'allocation_ratio': 1.0,
    }


def host_stats(host, node, bmc_failing=False):
    """One entry of ``get_host_stats()``: keyed ``<host>/<node name>``."""
    stats = node_resources(node, bmc_failing)
    stats['host'] = '%s/%s' % (host, node.name)
    return stats
