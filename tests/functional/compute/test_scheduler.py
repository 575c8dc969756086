"""Exact fit on real Nova: the patched scheduler, the filters and the driver.

Nova's scheduler service runs with ``BareMetalSchedulerManager`` (what
``nova-bm-scheduler`` runs) and the exact filters enabled; every node has
the same resource class, so placement offers every free node to every
bare-metal flavor and the choice by size is the scheduler's own.
"""

from nova.conf import scheduler as nova_scheduler_conf

from nova_bm.scheduler import manager
from tests.functional.compute import base

EXACT_FILTERS = ['ExactRamFilter', 'ExactCoreFilter', 'ExactDiskFilter']
SIZES = {
    'small': {'cpus': 4, 'memory_mb': 8192, 'local_gb': 50},
    'medium': {'cpus': 8, 'memory_mb': 16384, 'local_gb': 100},
    'large': {'cpus': 16, 'memory_mb': 32768, 'local_gb': 200},
}
#: Fleet index -> size: 2 small, 3 medium, 2 large.
LAYOUT = ['small', 'small', 'medium', 'medium', 'medium', 'large', 'large']


def default_enabled_filters():
    for opt in nova_scheduler_conf.filter_scheduler_opts:
        if opt.name == 'enabled_filters':
            return list(opt.default)
    raise AssertionError('Nova has no [filter_scheduler] enabled_filters')


class _ExactFitCloud(base.BareMetalCloudTestCase):
    """Seven nodes of three sizes behind one proxy, patched scheduler."""

    NODES = len(LAYOUT)
    ENROLLED = 0
    #: Report VCPU/MEMORY_MB/DISK_GB too ([baremetal]
    #: report_standard_inventory) and use flavors without a custom class.
    LEGACY = False
    #: Traits every node is enrolled with.
    NODE_TRAITS = []

    def setUp(self):
        self.flags(available_filters=[
            'nova.scheduler.filters.all_filters'] + [
            'nova_bm.scheduler.filters.%s' % name for name in EXACT_FILTERS],
            enabled_filters=default_enabled_filters() + EXACT_FILTERS,
            group='filter_scheduler')
        super().setUp()
        self.flags(report_standard_inventory=self.LEGACY, group='baremetal')
        for index, size in enumerate(LAYOUT):
            self.enrol([index], traits=self.NODE_TRAITS, **SIZES[size])
        self.flavors = {size: self.sized_flavor(size, **SIZES[size])
                        for size in SIZES}
        self.start_proxy()

    def start_service(self, name, *args, **kwargs):
        if name == 'scheduler':
            kwargs.setdefault('manager', manager.MANAGER)
        return super().start_service(name, *args, **kwargs)

    def sized_flavor(self, name, cpus, memory_mb, local_gb):
        extra_spec = None
        if not self.LEGACY:
            extra_spec = {'resources:%s' % base.PLACEMENT_RC: '1',
                          'resources:VCPU': '0', 'resources:MEMORY_MB': '0',
                          'resources:DISK_GB': '0'}
        return self._create_flavor(
            name='bm.%s' % name, vcpu=cpus, memory_mb=memory_mb,
            disk=local_gb, ephemeral=0, extra_spec=extra_spec)

    def size_of(self, node_name):
        return LAYOUT[int(node_name.split('-')[1])]

    def boot_many(self, flavor, count, prefix):
        servers = [self.api.post_server({'server': self._build_server(
            name='%s-%d' % (prefix, i), flavor_id=flavor, networks='none')})
            for i in range(count)]
        return self.settle(servers)

    def assert_no_valid_host(self, server):
        self.assertEqual('ERROR', server['status'])
        self.assertIn('No valid host', server['fault']['message'])

    def holders(self):
        """Node name -> instance UUID, for every node holding one."""
        return {self.node_name(i): self.node(self.node_name(i)).instance_uuid
                for i in range(self.NODES)
                if self.node(self.node_name(i)).instance_uuid}



class ExactFitTestCase(_ExactFitCloud):
    """Flavors with the custom resource class and the node's sizes."""

    def test_the_scheduler_runs_the_bare_metal_host_manager(self):
        host_manager = self.scheduler_service.manager.host_manager
        self.assertEqual('BareMetalHostManager', type(host_manager).__name__)
        self.assertEqual(
            EXACT_FILTERS,
            [type(f).__name__ for f in host_manager.enabled_filters][-3:])

    def test_each_flavor_lands_only_on_nodes_of_its_size(self):
        placed = {}
        # Smallest first: with a weigher alone a small flavor would be as
        # happy on a large node.
        for size in ('small', 'medium', 'large'):
            count = LAYOUT.count(size)
            for server in self.boot_many(self.flavors[size], count, size):
                self.assertEqual('ACTIVE', server['status'],
                                 server.get('fault'))
                node = server['OS-EXT-SRV-ATTR:hypervisor_hostname']
                self.assertEqual(size, self.size_of(node))
                self.assertEqual(server['id'], self.node(node).instance_uuid)
                self.assertEqual('on', self.bmc(node)['power'])
                placed[server['id']] = node
        self.assertEqual(len(LAYOUT), len(set(placed.values())))
        # Every node is taken now: one more of any size has nowhere to go.
        self.assert_no_valid_host(
            self.boot_many(self.flavors['medium'], 1, 'extra')[0])

    def test_flavor_matching_no_node_is_no_valid_host(self):
        odd = self.sized_flavor('odd', cpus=12, memory_mb=24576,
                                local_gb=150)
        self.assert_no_valid_host(self.boot_many(odd, 1, 'odd')[0])
        self.assertEqual({}, self.holders())

    def test_multi_create_of_three_takes_three_distinct_nodes(self):
        body = self._build_server(name='multi',
                                  flavor_id=self.flavors['medium'],
                                  networks='none')
        body['min_count'] = body['max_count'] = 3
        self.api.post_server({'server': body})
        servers = [s for s in self.api.get_servers()
                   if s['name'].startswith('multi')]
        self.assertEqual(3, len(servers))
        servers = self.settle(servers)
        self.assertEqual(['ACTIVE'] * 3, [s['status'] for s in servers])
        nodes = {s['OS-EXT-SRV-ATTR:hypervisor_hostname'] for s in servers}
        self.assertEqual({'bm-02', 'bm-03', 'bm-04'}, nodes)
        self.assertEqual({s['id'] for s in servers},
                         set(self.holders().values()))


class LegacyInventoryTestCase(ExactFitTestCase):
    """The same cloud with VCPU/MEMORY_MB/DISK_GB inventory and flavors
    that ask only for those, as flavors made for VMs do."""

    LEGACY = True

    def test_half_a_node_is_refused_never_doubled_up(self):
        # Placement would fit two of these on any node; the exact filters
        # refuse them, and no node takes two.
        half = self.sized_flavor('half', cpus=2, memory_mb=4096,
                                 local_gb=25)
        for server in self.boot_many(half, 2, 'half'):
            self.assert_no_valid_host(server)
        self.assertEqual({}, self.holders())

    def test_claimed_node_is_all_reserved_in_placement(self):
        server = self.boot_many(self.flavors['large'], 1, 'large')[0]
        self.assertEqual('ACTIVE', server['status'], server.get('fault'))
        node = server['OS-EXT-SRV-ATTR:hypervisor_hostname']
        # The node DB claim happens in spawn, after Nova's claim updated the
        # inventory: the reservation follows in the next resource cycle.
        self._run_periodics()
        inventory = self.inventory_of(node)
        self.assertEqual(
            {'VCPU': 16, 'MEMORY_MB': 32768, 'DISK_GB': 200,
             base.PLACEMENT_RC: 1},
            {rc: inv['reserved'] for rc, inv in inventory.items()})
        usages = self._get_provider_usages(self.node(node).uuid)
        self.assertEqual({'VCPU': 16, 'MEMORY_MB': 32768, 'DISK_GB': 200,
                          base.PLACEMENT_RC: 0}, usages)


class MixedCloudTestCase(_ExactFitCloud):
    """A VM host (Nova's fake driver, room for hundreds of VMs) beside the
    bare-metal proxy, in legacy mode, where the nodes also report VCPU,
    MEMORY_MB and DISK_GB: VM flavors must go only to the VM host,
    bare-metal flavors only to nodes, as doc/source/admin/scheduling.rst
    tells operators."""

    LEGACY = True
    NODE_TRAITS = ['CUSTOM_BAREMETAL']

    def setUp(self):
        super().setUp()
        self.flags(compute_driver='fake.FakeDriver')
        self.vm_host = self._start_compute('vm-host')
        self.flags(compute_driver=self.compute_driver)

    def flavor_with(self, name, size, extra_spec):
        size = SIZES[size]
        return self._create_flavor(
            name=name, vcpu=size['cpus'], memory_mb=size['memory_mb'],
            disk=size['local_gb'], ephemeral=0, extra_spec=extra_spec)

    def assert_placed(self, servers, host, size=None):
        for server in servers:
            self.assertEqual('ACTIVE', server['status'], server.get('fault'))
            self.assertEqual(host, server['OS-EXT-SRV-ATTR:host'])
            if size:
                node = server['OS-EXT-SRV-ATTR:hypervisor_hostname']
                self.assertEqual(size, self.size_of(node))

    def test_vm_flavors_to_the_vm_host_bare_metal_flavors_to_nodes(self):
        vm_flavor = self._create_flavor(name='vm.small', vcpu=2,
                                        memory_mb=2048, disk=20, ephemeral=0)
        self.assert_placed(self.boot_many(vm_flavor, 3, 'vm'), 'vm-host')
        self.assert_placed(
            self.boot_many(self.flavor_with('bm.rc', 'medium', {
                'resources:%s' % base.PLACEMENT_RC: '1',
                'resources:VCPU': '0', 'resources:MEMORY_MB': '0',
                'resources:DISK_GB': '0'}), 2, 'metal'),
            base.BareMetalCloudTestCase.PROXY, 'medium')
        self.assertEqual(2, len(self.holders()))

    def weigh(self, multiplier):
        """Spread (1.0, Nova's default) or stack (-1.0) by free resources,
        and nothing else: the hypervisor version weigher (the fake
        driver's version is higher than a node's) would favour the VM host
        by itself."""
        self.flags(ram_weight_multiplier=multiplier,
                   cpu_weight_multiplier=multiplier,
                   disk_weight_multiplier=multiplier,
                   hypervisor_version_weight_multiplier=0.0,
                   group='filter_scheduler')

    def test_forbidden_trait_keeps_node_sized_vm_flavors_off_nodes(self):
        # Stacking prefers the hosts with the least free: a VM flavor
        # exactly a small node's size would take a node; forbidding the
        # nodes' trait leaves it only the VM host.
        self.weigh(-1.0)
        vm_flavor = self.flavor_with('vm.node-sized', 'small', {
            'trait:CUSTOM_BAREMETAL': 'forbidden'})
        self.assert_placed(self.boot_many(vm_flavor, 3, 'vm'), 'vm-host')
        self.assertEqual({}, self.holders())

    def test_required_trait_keeps_vm_style_bare_metal_flavors_on_nodes(self):
        # Spreading prefers the host with the most free, the VM host; a
        # VM-style bare-metal flavor requiring the trait gets only nodes.
        self.weigh(1.0)
        bm_flavor = self.flavor_with('bm.legacy', 'large', {
            'trait:CUSTOM_BAREMETAL': 'required'})
        self.assert_placed(self.boot_many(bm_flavor, 2, 'metal'),
                           base.BareMetalCloudTestCase.PROXY, 'large')
        self.assertEqual(2, len(self.holders()))
