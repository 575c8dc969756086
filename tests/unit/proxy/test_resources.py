"""Node rows become the shapes Nova's resource tracker and placement use."""

import types

from oslo_serialization import jsonutils
import testtools

from nova_bm.proxy import resources


def node(**overrides):
    values = {'uuid': '1be26c0b-03f2-4d2e-ae87-c02d7f33c123',
              'name': 'rack1-node01', 'cpus': 32, 'memory_mb': 262144,
              'local_gb': 960, 'cpu_arch': 'x86_64',
              'resource_class': 'baremetal-gold', 'traits': ['CUSTOM_R1'],
              'instance_uuid': None, 'maintenance': False,
              'provision_state': 'available', 'boot_mode': 'uefi'}
    values.update(overrides)
    return types.SimpleNamespace(**values)


class ResourcesTestCase(testtools.TestCase):

    def test_free_node(self):
        info = resources.node_resources(node())
        self.assertEqual('rack1-node01', info['hypervisor_hostname'])
        self.assertEqual('1be26c0b-03f2-4d2e-ae87-c02d7f33c123',
                         info['uuid'])
        self.assertEqual('baremetal', info['hypervisor_type'])
        self.assertEqual((32, 0), (info['vcpus'], info['vcpus_used']))
        self.assertEqual((262144, 0),
                         (info['memory_mb'], info['memory_mb_used']))
        self.assertEqual((960, 0, 960), (info['local_gb'],
                                         info['local_gb_used'],
                                         info['disk_available_least']))
        self.assertEqual([('x86_64', 'baremetal', 'hvm')],
                         info['supported_instances'])
        self.assertEqual({'arch': 'x86_64'},
                         jsonutils.loads(info['cpu_info']))

    def test_claimed_maintenance_or_failing_node_is_all_used(self):
        for info in (resources.node_resources(node(instance_uuid='i-1')),
                     resources.node_resources(node(maintenance=True)),
                     resources.node_resources(node(), bmc_failing=True)):
            self.assertEqual(32, info['vcpus_used'])
            self.assertEqual(262144, info['memory_mb_used'])
            self.assertEqual(960, info['local_gb_used'])
            self.assertEqual(0, info['disk_available_least'])

    def test_inventory_is_one_unit_of_the_custom_class(self):
        self.assertEqual({'CUSTOM_BAREMETAL_GOLD': {
            'total': 1, 'reserved': 0, 'min_unit': 1, 'max_unit': 1,
            'step_size': 1, 'allocation_ratio': 1.0}},
            resources.inventory(node()))

    def test_inventory_reserved_while_unusable(self):
        for inventory in (resources.inventory(node(maintenance=True)),
                          resources.inventory(node(), bmc_failing=True)):
            self.assertEqual(
                1, inventory['CUSTOM_BAREMETAL_GOLD']['reserved'])
        # A claimed node's unit is allocated, not reserved.
        self.assertEqual(0, resources.inventory(
            node(instance_uuid='i-1'))['CUSTOM_BAREMETAL_GOLD']['reserved'])

    def test_standard_inventory_is_the_whole_node(self):
        inventory = resources.inventory(node(), standard=True)
        self.assertEqual(
            {'CUSTOM_BAREMETAL_GOLD': (1, 0, 1), 'VCPU': (32, 0, 32),
             'MEMORY_MB': (262144, 0, 262144), 'DISK_GB': (960, 0, 960)},
            {rc: (inv['total'], inv['reserved'], inv['max_unit'])
             for rc, inv in inventory.items()})
        self.assertEqual({1.0}, {inv['allocation_ratio']
                                 for inv in inventory.values()})

    def test_standard_inventory_all_reserved_while_claimed_or_unusable(self):
        for inventory in (
                resources.inventory(node(instance_uuid='i-1'), standard=True),
                resources.inventory(node(maintenance=True), standard=True),
                resources.inventory(node(), bmc_failing=True, standard=True)):
            self.assertEqual(
                {'CUSTOM_BAREMETAL_GOLD': 1, 'VCPU': 32,
                 'MEMORY_MB': 262144, 'DISK_GB': 960},
                {rc: inv['reserved'] for rc, inv in inventory.items()})

    def test_standard_inventory_leaves_out_a_size_of_zero(self):
        # A diskless node: placement refuses an inventory whose total is 0.
        self.assertNotIn('DISK_GB', resources.inventory(
            node(local_gb=0), standard=True))

    def test_boot_mode_as_a_standard_trait_and_a_stat(self):
        self.assertEqual(['CUSTOM_R1', 'COMPUTE_FIRMWARE_UEFI'],
                         resources.traits(node()))
        self.assertEqual(['COMPUTE_FIRMWARE_BIOS'],
                         resources.traits(node(traits=[], boot_mode='bios')))
        # Given by hand before boot modes existed: the boot mode decides.
        self.assertEqual(['COMPUTE_FIRMWARE_BIOS'], resources.traits(
            node(traits=['COMPUTE_FIRMWARE_BIOS'], boot_mode='bios')))
        self.assertEqual(['CUSTOM_R1', 'COMPUTE_FIRMWARE_BIOS'],
                         resources.traits(node(
                             traits=['COMPUTE_FIRMWARE_UEFI', 'CUSTOM_R1'],
                             boot_mode='bios')))
        self.assertEqual('bios', resources.node_resources(
            node(boot_mode='bios'))['stats']['boot_mode'])

    def test_host_stats_entry(self):
        stats = resources.host_stats('proxy-1', node())
        self.assertEqual('proxy-1/rack1-node01', stats['host'])
        self.assertEqual('rack1-node01', stats['hypervisor_hostname'])
