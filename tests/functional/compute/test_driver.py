"""Servers booted through Nova's API land on bare-metal nodes over IPMI.

Everything here goes through Nova's REST API and Nova's own services; the
assertions look at what Nova reports, at placement, at the node database
and at the fake BMCs (which only know what arrived over UDP).
"""

from nova import context as nova_context
from nova.compute import power_state

from nova_bm.db import api as db_api
from nova_bm import exception
from tests.functional.compute import base


class BootTestCase(base.BareMetalCloudTestCase):

    NODES = 4

    def test_one_compute_node_per_bare_metal_node(self):
        self.start_proxy()
        nodes = {cn.hypervisor_hostname: cn for cn in self.compute_nodes()}
        self.assertEqual({self.node_name(i) for i in range(4)}, set(nodes))
        for name, cn in nodes.items():
            self.assertEqual(self.node(name).uuid, cn.uuid)
            self.assertEqual('baremetal', cn.hypervisor_type)
            self.assertEqual((8, 16384, 100),
                             (cn.vcpus, cn.memory_mb, cn.local_gb))
            inventory = self.inventory_of(name)
            self.assertEqual({base.PLACEMENT_RC}, set(inventory))
            self.assertEqual(
                {'total': 1, 'reserved': 0, 'min_unit': 1, 'max_unit': 1,
                 'step_size': 1, 'allocation_ratio': 1.0},
                inventory[base.PLACEMENT_RC])
        stats = self.proxy.manager.driver.get_host_stats()
        self.assertEqual(sorted('%s/%s' % (self.PROXY, name)
                                for name in nodes),
                         sorted(entry['host'] for entry in stats))

    def test_servers_each_on_own_node_powered_on_from_pxe(self):
        self.start_proxy()
        servers = [self.boot('server-%d' % i) for i in range(3)]
        names = [self.hypervisor_of(server) for server in servers]
        self.assertEqual(3, len(set(names)), names)
        for server, name in zip(servers, names, strict=True):
            node = self.node(name)
            self.assertEqual(server['id'], node.instance_uuid)
            self.assertEqual('on', node.power_state)
            bmc = self.bmc(name)
            self.assertEqual('on', bmc['power'])
            # IPMI's name for PXE is "network".
            self.assertEqual('network', bmc['boot_device'])
        free = {self.node_name(i) for i in range(4)} - set(names)
        for name in free:
            self.assertIsNone(self.node(name).instance_uuid)
            self.assertEqual('off', self.bmc(name)['power'])

    def test_stop_start_reboot_delete_reach_the_bmc(self):
        self.start_proxy()
        server = self.boot('server')
        name = self.hypervisor_of(server)

        self._stop_server(server)
        self.assertEqual('off', self.bmc(name)['power'])
        # Nova asks for a clean shutdown first: an ACPI soft off.
        self.assertEqual(1, self.bmc(name)['actions'].get('shutdown'))

        self._start_server(server)
        self.assertEqual('on', self.bmc(name)['power'])

        self._reboot_server(server, hard=True)
        self.assertEqual(1, self.bmc(name)['actions'].get('reset'))
        self._reboot_server(server, hard=False)
        actions = self.bmc(name)['actions']
        self.assertEqual(2, actions.get('shutdown'))
        self.assertEqual(3, actions.get('on'))
        self.assertEqual('on', self.bmc(name)['power'])

        self._delete_server(server)
        self.assertEqual('off', self.bmc(name)['power'])
        self.assertIsNone(self.node(name).instance_uuid)

    def test_freed_node_is_reused(self):
        self.start_proxy()
        servers = [self.boot('first-%d' % i) for i in range(4)]
        self.boot('extra', expected_state='ERROR')
        freed = self.hypervisor_of(servers[2])
        self._delete_server(servers[2])
        again = self.boot('again')
        self.assertEqual(freed, self.hypervisor_of(again))
        self.assertEqual(again['id'], self.node(freed).instance_uuid)
        self.assertEqual('on', self.bmc(freed)['power'])


class UnusableNodesTestCase(base.BareMetalCloudTestCase):

    NODES = 3

    def test_maintenance_and_dead_bmc_nodes_are_never_chosen(self):
        db_api.update_node(self.node_name(1), {
            'maintenance': True, 'maintenance_reason': 'disk swap'})
        self.enrol_dead('bm-dead')
        self.start_proxy()
        for name in (self.node_name(1), 'bm-dead'):
            self.assertEqual(
                1, self.inventory_of(name)[base.PLACEMENT_RC]['reserved'])
        self.assertIn('unreachable', self.node('bm-dead').last_error)

        # Four requests, two usable nodes: two ACTIVE, two no valid host.
        servers = self.settle(self.post_servers(4))
        statuses = sorted(s['status'] for s in servers)
        self.assertEqual(['ACTIVE', 'ACTIVE', 'ERROR', 'ERROR'], statuses)
        for server in servers:
            if server['status'] == 'ERROR':
                self.assertIn('No valid host', server['fault']['message'])
        active = {self.hypervisor_of(s) for s in servers
                  if s['status'] == 'ACTIVE'}
        self.assertEqual({self.node_name(0), self.node_name(2)}, active)
        for name in (self.node_name(1), 'bm-dead'):
            self.assertIsNone(self.node(name).instance_uuid)
            self.assertNotEqual('on', self.node(name).power_state)
        held = [n.instance_uuid for n in db_api.list_nodes()
                if n.instance_uuid]
        self.assertEqual(len(held), len(set(held)))

    def test_bmc_failing_after_start_reserves_until_it_answers(self):
        self.start_proxy()
        driver = self.proxy.manager.driver
        name = self.node_name(0)
        port = self.node(name).ipmi_port
        self.fleet.fleet.control(port, drop=True)
        results = driver.sync_power_states()
        self.assertIsInstance(results[self.node(name).uuid],
                              exception.BmcError)
        self._run_periodics()
        self.assertEqual(
            1, self.inventory_of(name)[base.PLACEMENT_RC]['reserved'])
        self.assertIn('did not answer', self.node(name).last_error)

        self.fleet.fleet.control(port, drop=False)
        driver.sync_power_states()
        self._run_periodics()
        self.assertEqual(
            0, self.inventory_of(name)[base.PLACEMENT_RC]['reserved'])
        self.assertIsNone(self.node(name).last_error)
        self.assertEqual('off', self.node(name).power_state)


class PowerSyncTestCase(base.BareMetalCloudTestCase):

    NODES = 2

    def test_machine_switched_off_outside_nova_is_stopped_in_nova(self):
        self.start_proxy()
        server = self.boot('server')
        name = self.hypervisor_of(server)
        driver = self.proxy.manager.driver
        instance = self._instance(server)
        self.assertEqual(power_state.RUNNING,
                         driver.get_info(instance).state)
        # Someone powers the machine off at its BMC.
        self.fleet.fleet.control(self.node(name).ipmi_port, power='off')
        # The cached answer holds until the next sweep; a fresh one not.
        self.assertEqual(power_state.RUNNING,
                         driver.get_info(instance).state)
        self.assertEqual(power_state.SHUTDOWN,
                         driver.get_info(instance, use_cache=False).state)
        driver.sync_power_states()
        self.assertEqual('off', self.node(name).power_state)
        self.proxy.manager._sync_power_states(
            nova_context.get_admin_context())
        self._wait_for_state_change(server, 'SHUTOFF')

    def _instance(self, server):
        from nova import objects
        return objects.Instance.get_by_uuid(
            nova_context.get_admin_context(), server['id'])


class RestartTestCase(base.BareMetalCloudTestCase):

    NODES = 3

    def test_restart_keeps_every_server_and_node(self):
        self.start_proxy()
        servers = [self.boot('server-%d' % i) for i in range(2)]
        placed = {s['id']: self.hypervisor_of(s) for s in servers}
        before = {cn.hypervisor_hostname: cn.uuid
                  for cn in self.compute_nodes()}
        for _ in range(2):
            # A new ComputeManager and a new driver, as after a real
            # restart; Nova's node-identity check runs for real.
            self.proxy = self.restart_compute_service(
                self.proxy, keep_hypervisor_state=False)
            self.computes[self.PROXY] = self.proxy
            self._run_periodics()
            for server in servers:
                server = self.api.get_server(server['id'])
                self.assertEqual('ACTIVE', server['status'])
                self.assertEqual(placed[server['id']],
                                 self.hypervisor_of(server))
                self.assertEqual('on', self.bmc(placed[server['id']])['power'])
            self.assertEqual(before, {cn.hypervisor_hostname: cn.uuid
                                      for cn in self.compute_nodes()})
        third = self.boot('server-after-restart')
        self.assertNotIn(self.hypervisor_of(third), placed.values())


class NodeLifecycleTestCase(base.BareMetalCloudTestCase):

    NODES = 2

    def test_node_holding_an_instance_cannot_be_deleted(self):
        self.start_proxy()
        server = self.boot('server')
        name = self.hypervisor_of(server)
        self.assertRaises(exception.NodeInUse, db_api.destroy_node, name)
        self._run_periodics()
        self.assertIn(name, {cn.hypervisor_hostname
                             for cn in self.compute_nodes()})

    def test_deleted_free_node_leaves_nova_and_placement(self):
        self.start_proxy()
        name = self.node_name(1)
        rp_uuid = self.node(name).uuid
        db_api.destroy_node(name)
        self._run_periodics()
        self.assertNotIn(name, {cn.hypervisor_hostname
                                for cn in self.compute_nodes()})
        self.assertEqual(
            404, self.placement.get('/resource_providers/%s' % rp_uuid)
            .status)



class EnrolmentTestCase(base.BareMetalCloudTestCase):

    NODES = 2
    ENROLLED = 1

    def test_node_enrolled_later_is_picked_up_by_the_next_cycle(self):
        self.start_proxy()
        self.assertEqual(1, len(self.compute_nodes()))
        self.enrol([1])
        self._run_periodics()
        self.assertEqual({self.node_name(0), self.node_name(1)},
                         {cn.hypervisor_hostname
                          for cn in self.compute_nodes()})
        servers = self.settle(self.post_servers(2))
        self.assertEqual(['ACTIVE', 'ACTIVE'],
                         [s['status'] for s in servers])
        self.assertEqual({self.node_name(0), self.node_name(1)},
                         {self.hypervisor_of(s) for s in servers})
