"""Whole-node host states and exact-fit filters on Nova's own objects."""

import collections
import datetime
import threading

import fixtures
from nova import context as nova_context
from nova import objects
from nova.scheduler import host_manager as nova_host_manager
import testtools

from nova_bm.scheduler import filters
from nova_bm.scheduler import host_manager

objects.register_all()

NOW = datetime.datetime(2026, 11, 21, tzinfo=datetime.UTC)


def compute(hypervisor_type='baremetal', vcpus=8, memory_mb=16384,
            local_gb=100, vcpus_used=0, memory_mb_used=0, local_gb_used=0,
            num_instances=0, boot_mode='uefi'):
    return objects.ComputeNode(
        uuid='c0ffee00-0000-4000-8000-000000000001',
        hypervisor_hostname='bm-01', hypervisor_type=hypervisor_type,
        hypervisor_version=1, host_ip='192.0.2.1', cpu_info='{}',
        vcpus=vcpus, memory_mb=memory_mb, local_gb=local_gb,
        vcpus_used=vcpus_used, memory_mb_used=memory_mb_used,
        local_gb_used=local_gb_used, free_ram_mb=memory_mb - memory_mb_used,
        free_disk_gb=local_gb - local_gb_used, disk_available_least=None,
        numa_topology=None, pci_device_pools=None, supported_hv_specs=[],
        stats={'num_instances': str(num_instances),
               'boot_mode': boot_mode}, metrics='[]',
        updated_at=NOW, cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0,
        disk_allocation_ratio=1.0)


def state_for(node):
    manager = host_manager.BareMetalHostManager.__new__(
        host_manager.BareMetalHostManager)
    state = manager.host_state_cls('proxy', node.hypervisor_hostname,
                                   'cell', compute=node)
    state.update(node)
    return state


def spec(vcpus=8, memory_mb=16384, root_gb=100, ephemeral_gb=0, swap=0):
    flavor = objects.Flavor(vcpus=vcpus, memory_mb=memory_mb,
                            root_gb=root_gb, ephemeral_gb=ephemeral_gb,
                            swap=swap)
    return objects.RequestSpec(flavor=flavor, num_instances=1,
                               pci_requests=None, numa_topology=None,
                               scheduler_hints={})


EXACT = (filters.ExactRamFilter(), filters.ExactCoreFilter(),
         filters.ExactDiskFilter())


def passes(state, request):
    return [f.host_passes(state, request) for f in EXACT]


class HostStateTestCase(testtools.TestCase):

    def test_bare_metal_nodes_get_whole_node_states(self):
        self.assertIsInstance(state_for(compute()),
                              host_manager.BareMetalNodeState)
        vm_host = state_for(compute(hypervisor_type='QEMU'))
        self.assertIs(nova_host_manager.HostState, type(vm_host))

    def test_one_request_consumes_the_whole_node(self):
        state = state_for(compute())
        state.consume_from_request(spec(vcpus=2, memory_mb=1024,
                                        root_gb=10))
        self.assertEqual((0, 0, 8), (state.free_ram_mb, state.free_disk_mb,
                                     state.vcpus_used))
        self.assertEqual(1, state.num_instances)
        self.assertEqual([False] * 3, passes(state, spec()))

    def test_node_holding_an_instance_is_full(self):
        state = state_for(compute(num_instances=1, vcpus_used=2,
                                  memory_mb_used=1024, local_gb_used=10))
        self.assertEqual((0, 0, 8), (state.free_ram_mb, state.free_disk_mb,
                                     state.vcpus_used))


    def test_free_node_offers_its_whole_size(self):
        # What Nova's resource tracker reports for a free node with its
        # default reserved_host_memory_mb: 512 MB "used".
        state = state_for(compute(memory_mb_used=512, vcpus_used=1,
                                  local_gb_used=1))
        self.assertEqual((16384, 102400, 0), (
            state.free_ram_mb, state.free_disk_mb, state.vcpus_used))
        self.assertEqual([True] * 3, passes(state, spec()))


class ExactFiltersTestCase(testtools.TestCase):

    def test_exact_fit_passes_and_sets_limits(self):
        state = state_for(compute())
        self.assertEqual([True] * 3, passes(state, spec()))
        self.assertEqual({'memory_mb': 16384, 'vcpu': 8, 'disk_gb': 100},
                         dict(state.limits))

    def test_smaller_or_bigger_flavor_fails(self):
        state = state_for(compute())
        self.assertEqual([False, True, True],
                         passes(state, spec(memory_mb=8192)))
        self.assertEqual([True, False, True], passes(state, spec(vcpus=16)))
        self.assertEqual([True, True, False],
                         passes(state, spec(root_gb=90, ephemeral_gb=0)))
        # Root + ephemeral GB and swap MB add up to the disk.
        self.assertEqual([True, True, True], passes(
            state_for(compute(local_gb=100)),
            spec(root_gb=60, ephemeral_gb=39, swap=1024)))

    def test_vm_hosts_pass_untouched(self):
        state = state_for(compute(hypervisor_type='QEMU', vcpus=64,
                                  memory_mb=262144, local_gb=2000))
        self.assertEqual([True] * 3, passes(state, spec(vcpus=1,
                                                        memory_mb=512)))
        self.assertEqual({}, dict(state.limits))


class BootModeFilterTestCase(testtools.TestCase):

    def request(self, **properties):
        request = spec()
        request.image = objects.ImageMeta.from_dict(
            {'properties': properties})
        return request

    def test_image_firmware_type_must_be_the_node_s_boot_mode(self):
        boot_filter = filters.BootModeFilter()
        uefi, bios = (state_for(compute(boot_mode=mode))
                      for mode in ('uefi', 'bios'))
        for request, expected in (
                (self.request(hw_firmware_type='uefi'), [True, False]),
                (self.request(hw_firmware_type='bios'), [False, True]),
                # An image that says nothing boots wherever it lands.
                (self.request(), [True, True]),
                (spec(), [True, True])):
            self.assertEqual(expected, [boot_filter.host_passes(s, request)
                                        for s in (uefi, bios)])
        # A rebuild onto a new image is checked too.
        self.assertTrue(filters.BootModeFilter.RUN_ON_REBUILD)

    def test_vm_hosts_pass_untouched(self):
        state = state_for(compute(hypervisor_type='QEMU', boot_mode=None))
        self.assertTrue(filters.BootModeFilter().host_passes(
            state, self.request(hw_firmware_type='uefi')))

    def test_flavor_capability_matches_the_stats(self):
        # Nova's own ComputeCapabilitiesFilter reads the boot_mode stat:
        # Ironic's "capabilities:boot_mode" flavors keep working.
        from nova.scheduler.filters import compute_capabilities_filter
        capabilities = (
            compute_capabilities_filter.ComputeCapabilitiesFilter())
        request = spec()
        request.flavor.extra_specs = {'capabilities:boot_mode': 'uefi'}
        self.assertEqual([True, False], [
            capabilities.host_passes(state_for(compute(boot_mode=m)),
                                     request) for m in ('uefi', 'bios')])


class InstancesPerRequestTestCase(testtools.TestCase):
    """A proxy's instances are read once per request, not once per node."""

    def setUp(self):
        super().setUp()
        self.queries = []

        def query(manager, context, host_name):
            self.queries.append((context.request_id, host_name))
            return {'uuid-%d' % len(self.queries): None}
        self.useFixture(fixtures.MonkeyPatch(
            'nova.scheduler.host_manager.HostManager._get_instances_by_host',
            query))
        self.manager = host_manager.BareMetalHostManager.__new__(
            host_manager.BareMetalHostManager)
        self.manager._request_memo = collections.OrderedDict()
        self.manager._request_memo_lock = threading.Lock()

    def test_one_query_per_request_and_host(self):
        first = nova_context.RequestContext(is_admin=False)
        lists = [self.manager._get_instances_by_host(first, 'proxy-1')
                 for _ in range(1000)]
        self.assertEqual(1, len(self.queries))
        self.assertTrue(all(found is lists[0] for found in lists))
        self.manager._get_instances_by_host(first, 'proxy-2')
        second = nova_context.RequestContext(is_admin=False)
        self.assertIsNot(
            lists[0], self.manager._get_instances_by_host(second, 'proxy-1'))
        self.assertEqual([(first.request_id, 'proxy-1'),
                          (first.request_id, 'proxy-2'),
                          (second.request_id, 'proxy-1')], self.queries)

    def test_memo_stays_small(self):
        for _ in range(200):
            self.manager._get_instances_by_host(nova_context.RequestContext(is_admin=False),
                                                'proxy-1')
        self.assertEqual(200, len(self.queries))
        self.assertEqual(host_manager.BareMetalHostManager._REQUEST_MEMO_SIZE,
                         len(self.manager._request_memo))
