"""The virt driver against a real node database and a scripted power layer.

Nova's own services drive the driver in tests/functional/compute (real
BMCs over UDP); here the failure paths that a healthy fake fleet cannot
reach on demand, and the cost of Nova's resource cycle in queries.
"""

import io
import logging
import os
import socket
import threading
import time

import fixtures
from nova.compute import power_state
from nova.compute import provider_tree
from nova import exception as nova_exception
from nova import objects
import nova.virt.driver
from oslo_log import formatters as oslo_formatters
from oslo_log import _options as oslo_log_options
from oslo_utils import timeutils
from oslo_utils import uuidutils
import sqlalchemy as sa

from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.deploy import manager as deploy_manager
from nova_bm import driver as bm_driver
from nova_bm import exception
from nova_bm.enrolment import node_spec
from nova_bm.proxy import ownership
from nova_bm.power import base as power_base
from tests.unit.db import base
from tests import utils

objects.register_all()

HOST = 'proxy-1'


class ScriptedPower(power_base.PowerInterface):
    """Records calls; ``fail[(method, node name)]`` makes one raise."""

    def __init__(self):
        self.calls = []
        self.fail = {}
        self.states = {}

    def _do(self, method, node, result=None):
        self.calls.append((method, node.name))
        error = self.fail.get((method, node.name))
        if error is not None:
            raise error
        if result is not None:
            self.states[node.name] = result
        return result

    def validate(self, node):
        pass

    def check_access(self, node):
        self._do('check_access', node)

    def get_power_state(self, node):
        self._do('get_power_state', node)
        return self.states.get(node.name, power_base.POWER_OFF)

    def get_power_states(self, nodes):
        results = {}
        for node in nodes:
            try:
                results[node.uuid] = self.get_power_state(node)
            except exception.BmcError as e:
                results[node.uuid] = e
        return results

    def power_on(self, node):
        return self._do('power_on', node, power_base.POWER_ON)

    def power_off(self, node):
        return self._do('power_off', node, power_base.POWER_OFF)

    def soft_power_off(self, node, timeout):
        return self._do('soft_power_off', node, power_base.POWER_OFF)

    def reboot(self, node, kind=power_base.HARD):
        return self._do('reboot_' + kind, node, power_base.POWER_ON)

    def set_boot_device(self, node, device, persistent=False):
        self._do('set_boot_device_' + device, node)

    def get_boot_device(self, node):
        return {'boot_device': 'pxe', 'persistent': True}


def timeout(name):
    return exception.BmcTimeout(bmc=name, command='x', timeout=1)


class DriverTestCase(base.DbTestCase):

    def setUp(self):
        super().setUp()
        # The power layer is scripted: there are no BMCs whose serial
        # console could open (tests/unit/console and the functional tests
        # open real ones).
        self.conf.config(host=HOST)
        self.conf.config(console_enabled=False, group='baremetal')
        self.power = ScriptedPower()
        self.driver = bm_driver.BareMetalDriver(None, power=self.power)

    def enrol(self, count, start=1, host=HOST):
        db_api.create_nodes([node_spec.new_node(
            utils.node_values(i, service_host=host,
                              deploy_interface='netboot'), [])
            for i in range(start, start + count)])

    def instance(self, node_name):
        return objects.Instance(uuid=uuidutils.generate_uuid(),
                                node=node_name, host=HOST)

    def spawn(self, instance):
        self.driver.spawn(None, instance, None, [], None, {})


class ResourceCycleTestCase(DriverTestCase):

    def count_queries(self, func):
        statements = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)
        engine = db_api.engine()
        sa.event.listen(engine, 'before_cursor_execute', count)
        try:
            func()
        finally:
            sa.event.remove(engine, 'before_cursor_execute', count)
        return [s for s in statements
                if s.startswith(('SELECT', 'INSERT', 'UPDATE', 'DELETE'))]

    def cycle(self):
        """What Nova's update_available_resource asks of the driver."""
        tree = provider_tree.ProviderTree()
        for name in self.driver.get_available_nodes():
            info = self.driver.get_available_resource(name)
            tree.new_root(name, info['uuid'])
            self.driver.update_provider_tree(tree, name)

    def test_queries_per_cycle_do_not_grow_with_nodes(self):
        self.enrol(10)
        self.cycle()  # the first cycle also inserts the proxy's row
        at_10 = self.count_queries(self.cycle)
        self.enrol(90, start=11)
        at_100 = self.count_queries(self.cycle)
        self.assertEqual(len(at_10), len(at_100), at_100)
        # The proxy reports itself (one UPDATE), then reads its nodes.
        self.assertEqual(2, len(at_100), at_100)
        self.assertTrue(at_100[0].startswith('UPDATE bm_proxies'), at_100)
        self.assertEqual(100, len(self.driver.get_available_nodes()))

    def test_hash_ring_cycle_queries_do_not_grow_with_nodes(self):
        self.conf.config(ownership='hash_ring', group='baremetal')
        self.useFixture(fixtures.MockPatch(
            'nova_bm.proxy.rebalance.ComputeServices.up',
            return_value=({HOST, 'proxy-2'}, {HOST, 'proxy-2'})))
        self.driver = bm_driver.BareMetalDriver(None, power=self.power)
        self.assertTrue(self.driver.rebalances_nodes)
        db_api.record_proxy('proxy-2', None, 'hash_ring', timeutils.utcnow())
        self.enrol(10, host='enrolled-by')
        self.cycle()
        self.cycle()
        at_10 = self.count_queries(self.cycle)
        self.enrol(90, start=11, host='enrolled-by')
        self.cycle()  # takes over the new nodes the ring gives it
        at_100 = self.count_queries(self.cycle)
        self.assertEqual(len(at_10), len(at_100), at_100)
        # Reports itself; reads the proxies, the partition, its own nodes.
        self.assertEqual(4, len(at_100), at_100)
        ring = ownership.Ring([HOST, 'proxy-2'])
        mine = {n.name for n in db_api.list_nodes()
                if ring.owner(n.uuid) == HOST}
        self.assertEqual(mine, set(self.driver.get_available_nodes()))
        self.assertGreater(len(mine), 20)
        self.assertLess(len(mine), 80)

    def test_cached_power_state_costs_no_query_per_instance(self):
        self.enrol(3)
        instances = [self.instance('node-%d' % i) for i in (1, 2, 3)]
        for instance in instances:
            self.spawn(instance)
        self.driver.get_available_nodes()
        states = []
        queries = self.count_queries(lambda: states.extend(
            self.driver.get_info(i).state for i in instances))
        self.assertEqual([], queries)
        self.assertEqual([power_state.RUNNING] * 3, states)

    def test_only_own_nodes_are_reported(self):
        self.enrol(2)
        db_api.create_nodes([node_spec.new_node(
            utils.node_values(3, service_host='proxy-2'), [])])
        self.assertEqual(['node-1', 'node-2'],
                         self.driver.get_available_nodes())
        self.assertTrue(self.driver.node_is_available('node-1'))
        self.assertFalse(self.driver.node_is_available('node-3'))
        self.assertRaises(nova_exception.ComputeHostNotFound,
                          self.driver.get_available_resource, 'node-3')
        self.assertEqual(
            {db_api.get_node('node-1').uuid: 'node-1',
             db_api.get_node('node-2').uuid: 'node-2'},
            self.driver.get_nodenames_by_uuid())

    def test_inventory_reserved_while_bmc_fails(self):
        self.enrol(2)
        self.power.fail[('get_power_state', 'node-2')] = timeout('node-2')
        self.driver.sync_power_states()
        tree = provider_tree.ProviderTree()
        for name in self.driver.get_available_nodes():
            tree.new_root(name, db_api.get_node(name).uuid)
            self.driver.update_provider_tree(tree, name)
        reserved = {name: tree.data(name).inventory['CUSTOM_BAREMETAL']
                    ['reserved'] for name in ('node-1', 'node-2')}
        self.assertEqual({'node-1': 0, 'node-2': 1}, reserved)
        self.assertIn('did not answer', db_api.get_node('node-2').last_error)
        self.assertEqual('off', db_api.get_node('node-1').power_state)

        del self.power.fail[('get_power_state', 'node-2')]
        self.driver.sync_power_states()
        self.driver.update_provider_tree(tree, 'node-2')
        self.assertEqual(
            0, tree.data('node-2').inventory['CUSTOM_BAREMETAL']['reserved'])
        self.assertIsNone(db_api.get_node('node-2').last_error)

    def test_standard_inventory_only_when_asked_and_reserved_when_claimed(
            self):
        self.enrol(2)
        self.driver.get_available_nodes()
        self.assertEqual({'CUSTOM_BAREMETAL'},
                         set(inventory_of(self.driver, 'node-1')))
        self.conf.config(report_standard_inventory=True, group='baremetal')
        self.spawn(self.instance('node-1'))
        claimed = inventory_of(self.driver, 'node-1')
        free = inventory_of(self.driver, 'node-2')
        self.assertEqual(
            {'CUSTOM_BAREMETAL': (1, 1), 'VCPU': (8, 8),
             'MEMORY_MB': (16384, 16384), 'DISK_GB': (100, 100)},
            {rc: (inv['total'], inv['reserved'])
             for rc, inv in claimed.items()})
        self.assertEqual({0}, {inv['reserved'] for inv in free.values()})

    def test_bad_option_value_refuses_to_load_with_one_line(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        with open(path, 'w') as f:
            f.write('[baremetal]\npower_sync_interval = soon\n')
        self.conf.set_config_files([path])
        # As nova-compute logs it: oslo.log's formatter, which appends the
        # exception being handled to an ERROR line logged inside an except.
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        CONF.register_opts(oslo_log_options.log_opts)  # no-op if there
        line_format = '%(levelname)s %(name)s %(message)s'
        self.conf.config(logging_default_format_string=line_format,
                         logging_context_format_string=line_format)
        handler.setFormatter(oslo_formatters.ContextFormatter(
            config=CONF, project='nova'))
        driver_log = logging.getLogger('nova_bm.driver')
        driver_log.addHandler(handler)
        self.addCleanup(driver_log.removeHandler, handler)
        error = self.assertRaises(SystemExit, bm_driver.BareMetalDriver,
                                  None, power=self.power)
        self.assertEqual(1, error.code)
        self.assertEqual(
            "ERROR nova_bm.driver nova-bm cannot start: [baremetal] "
            "power_sync_interval = 'soon' in %s: invalid literal for int() "
            "with base 10: 'soon'\n" % path, stream.getvalue())

    def test_unusable_connection_url_refuses_to_load(self):
        self.conf.config(connection='notadb://user:pw-secret@host/db',
                         group='baremetal_database')
        logs = self.useFixture(fixtures.FakeLogger(level=logging.ERROR))
        error = self.assertRaises(SystemExit, bm_driver.BareMetalDriver,
                                  None, power=self.power)
        self.assertEqual(1, error.code)
        self.assertEqual(1, len(logs.output.splitlines()), logs.output)
        self.assertIn("nova-bm cannot start: [baremetal_database] "
                      "connection: 'notadb:' is not a database", logs.output)
        self.assertNotIn('pw-secret', logs.output)

    def test_deploy_http_bind_unusable_refuses_to_start(self):
        self.conf.config(deploy_http_bind='127.0.0.1:http',
                         group='baremetal')
        logs = self.useFixture(fixtures.FakeLogger(level=logging.ERROR))
        error = self.assertRaises(SystemExit, bm_driver.BareMetalDriver,
                                  None, power=self.power)
        self.assertEqual(1, error.code)
        self.assertEqual(
            "nova-bm cannot start: [baremetal] deploy_http_bind = "
            "'127.0.0.1:http': must be host:port, the port a number from 0 "
            "to 65535\n", logs.output)
        # A port another process holds: one line when nova-compute starts,
        # after a short wait for it (a restart racing the old process).
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.deploy.manager.BIND_PATIENCE', 0.5))
        with socket.socket() as taken:
            taken.bind(('127.0.0.1', 0))
            taken.listen(1)
            self.conf.config(deploy_http_bind='127.0.0.1:%d'
                             % taken.getsockname()[1], group='baremetal')
            driver = bm_driver.BareMetalDriver(None, power=self.power)
            # (Nova's identity file needs nova-compute's own options.)
            self.useFixture(fixtures.MockPatch(
                'nova_bm.proxy.manager.ensure_proxy_identity'))
            error = self.assertRaises(SystemExit, driver.init_host, HOST)
        self.assertEqual(1, error.code)
        self.assertIn('cannot listen there: Address already in use',
                      logs.output.splitlines()[-1])

    def test_deploy_http_binds_my_ip_by_default_never_a_wildcard(self):
        self.conf.config(my_ip='192.0.2.10')
        self.conf.config(deploy_http_bind=None, group='baremetal')
        self.assertEqual(('192.0.2.10', 8089), deploy_manager.bind_address())
        self.conf.config(deploy_http_bind=':9000', group='baremetal')
        self.assertEqual(('192.0.2.10', 9000), deploy_manager.bind_address())
        self.conf.config(deploy_http_bind='[fd00::5]:8089', group='baremetal')
        self.assertEqual(('fd00::5', 8089), deploy_manager.bind_address())

    def test_console_clients_unusable_refuses_to_start(self):
        self.conf.config(console_allowed_clients=['serialproxy.example.org'],
                         group='baremetal')
        logs = self.useFixture(fixtures.FakeLogger(level=logging.ERROR))
        error = self.assertRaises(SystemExit, bm_driver.BareMetalDriver,
                                  None, power=self.power)
        self.assertEqual(1, error.code)
        self.assertEqual(1, len(logs.output.splitlines()), logs.output)
        self.assertIn("nova-bm cannot start: [baremetal] "
                      "console_allowed_clients: 'serialproxy.example.org' "
                      "is not an IP address", logs.output)

    def test_deploy_http_port_freed_while_starting_is_taken(self):
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.deploy.manager.BIND_PATIENCE', 20))
        taken = socket.socket()
        taken.bind(('127.0.0.1', 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        self.conf.config(deploy_http_bind='127.0.0.1:%d' % port,
                         group='baremetal')
        timer = threading.Timer(0.5, taken.close)
        timer.start()
        self.addCleanup(timer.cancel)
        driver = bm_driver.BareMetalDriver(None, power=self.power)
        driver._proxy.deploys.start()
        self.addCleanup(driver._proxy.deploys.stop)
        self.assertEqual(port, driver._proxy.deploys.port())

    def test_node_database_out_of_reach_is_driver_not_ready(self):
        empty = self.useFixture(fixtures.TempDir()).path
        db_api.dispose()
        self.conf.config(connection='sqlite:///%s/empty.sqlite' % empty,
                         group='baremetal_database')
        self.assertRaises(nova_exception.VirtDriverNotReady,
                          self.driver.get_available_nodes)
        self.assertRaises(nova_exception.VirtDriverNotReady,
                          self.driver.get_nodenames_by_uuid)

    def test_host_stats_list(self):
        self.enrol(2)
        stats = self.driver.get_host_stats()
        self.assertEqual(['%s/node-1' % HOST, '%s/node-2' % HOST],
                         [entry['host'] for entry in stats])
        self.assertEqual(['node-1', 'node-2'],
                         [entry['hypervisor_hostname'] for entry in stats])


class RebuildTestCase(DriverTestCase):

    def test_image_node_refuses_preserve_ephemeral_and_keeps_its_node(self):
        db_api.create_nodes([node_spec.new_node(utils.node_values(
            1, service_host=HOST, deploy_interface='image'), [])])
        instance = self.instance('node-1')
        db_api.claim_node('node-1', instance.uuid)
        self.assertRaises(nova_exception.PreserveEphemeralNotSupported,
                          self.driver.rebuild, None, instance, None, [],
                          None, {}, [], None, None, preserve_ephemeral=True)
        self.assertEqual(instance.uuid,
                         db_api.get_node('node-1').instance_uuid)
        self.assertEqual([], self.power.calls)

    def test_image_of_the_other_boot_mode_refused_before_anything(self):
        db_api.create_nodes([node_spec.new_node(utils.node_values(
            1, service_host=HOST, deploy_interface='image',
            boot_mode='bios'), [])])
        instance = self.instance('node-1')
        instance.kernel_id = instance.ramdisk_id = ''
        instance.obj_reset_changes()
        db_api.claim_node('node-1', instance.uuid)
        image_meta = objects.ImageMeta.from_dict({
            'id': uuidutils.generate_uuid(), 'disk_format': 'raw',
            'properties': {'hw_firmware_type': 'uefi'}})
        error = self.assertRaises(
            nova_exception.InstanceFaultRollback, self.driver.rebuild, None,
            instance, image_meta, [], None, {}, [], None, None)
        # Nova puts the server back as it was, with this as its fault.
        self.assertIsInstance(error.inner_exception,
                              nova_exception.ImageUnacceptable)
        self.assertIn('needs uefi firmware (hw_firmware_type) and node '
                      'node-1 boots bios', str(error.inner_exception))
        # Refused before the rebuild began: no task state, no power.
        self.assertNotIn('task_state', instance.obj_what_changed())
        self.assertEqual(instance.uuid,
                         db_api.get_node('node-1').instance_uuid)
        self.assertEqual([], self.power.calls)

    def test_netboot_node_takes_novas_default_rebuild(self):
        self.enrol(1)
        instance = self.instance('node-1')
        self.spawn(instance)
        self.assertRaises(NotImplementedError, self.driver.rebuild, None,
                          instance, None, [], None, {}, [], None, None)


class SpawnTestCase(DriverTestCase):

    def setUp(self):
        super().setUp()
        self.enrol(2)

    def test_spawn_claims_sets_pxe_and_powers_on(self):
        instance = self.instance('node-1')
        self.spawn(instance)
        self.assertEqual([('set_boot_device_pxe', 'node-1'),
                          ('power_on', 'node-1')], self.power.calls)
        self.assertEqual(instance.uuid,
                         db_api.get_node('node-1').instance_uuid)
        self.assertEqual('on', db_api.get_node('node-1').power_state)
        self.assertEqual([instance.uuid], self.driver.list_instance_uuids())
        self.assertTrue(self.driver.instance_exists(instance))
        self.assertEqual(power_state.RUNNING,
                         self.driver.get_info(instance).state)

    def test_lost_race_or_held_node_reschedules(self):
        self.spawn(self.instance('node-1'))
        self.assertRaises(nova_exception.ComputeResourcesUnavailable,
                          self.spawn, self.instance('node-1'))
        db_api.update_node('node-2', {'maintenance': True})
        self.assertRaises(nova_exception.ComputeResourcesUnavailable,
                          self.spawn, self.instance('node-2'))
        self.assertEqual(['set_boot_device_pxe', 'power_on'],
                         [call for call, _ in self.power.calls])

    def test_node_with_failing_bmc_is_refused_before_claim(self):
        self.power.fail[('get_power_state', 'node-2')] = timeout('node-2')
        self.driver.sync_power_states()
        self.assertRaises(nova_exception.ComputeResourcesUnavailable,
                          self.spawn, self.instance('node-2'))
        self.assertIsNone(db_api.get_node('node-2').instance_uuid)

    def test_failed_power_on_powers_off_and_releases(self):
        self.power.fail[('power_on', 'node-1')] = timeout('node-1')
        instance = self.instance('node-1')
        error = self.assertRaises(nova_exception.InstanceDeployFailure,
                                  self.spawn, instance)
        self.assertIn('node-1', str(error))
        node = db_api.get_node('node-1')
        self.assertIsNone(node.instance_uuid)
        self.assertFalse(node.maintenance)
        self.assertEqual(('power_off', 'node-1'), self.power.calls[-1])
        self.assertEqual([], self.driver.list_instance_uuids())

    def test_unconfirmed_power_off_after_failure_means_maintenance(self):
        self.power.fail[('power_on', 'node-1')] = timeout('node-1')
        self.power.fail[('power_off', 'node-1')] = timeout('node-1')
        self.assertRaises(nova_exception.InstanceDeployFailure,
                          self.spawn, self.instance('node-1'))
        node = db_api.get_node('node-1')
        self.assertIsNone(node.instance_uuid)
        self.assertTrue(node.maintenance)
        self.assertIn('power off not confirmed', node.maintenance_reason)

    def test_unusable_bmc_parameters_fail_cleanly(self):
        bad = exception.InvalidBmcParameters(node='node-1',
                                             reason='no password')
        for method in ('set_boot_device_pxe', 'power_off'):
            self.power.fail[(method, 'node-1')] = bad
        self.assertRaises(nova_exception.InstanceDeployFailure,
                          self.spawn, self.instance('node-1'))
        node = db_api.get_node('node-1')
        self.assertIsNone(node.instance_uuid)
        self.assertTrue(node.maintenance)
        self.assertIn('no password', node.last_error)


class InstanceOperationsTestCase(DriverTestCase):

    def setUp(self):
        super().setUp()
        self.enrol(1)
        self.instance_ = self.instance('node-1')
        self.spawn(self.instance_)
        self.power.calls.clear()

    def test_destroy_is_idempotent(self):
        self.driver.destroy(None, self.instance_, None)
        self.assertEqual([('power_off', 'node-1')], self.power.calls)
        self.assertIsNone(db_api.get_node('node-1').instance_uuid)
        self.driver.destroy(None, self.instance_, None)
        self.assertEqual(1, len(self.power.calls))
        db_api.destroy_node('node-1')
        self.driver.destroy(None, self.instance_, None)
        self.assertRaises(nova_exception.InstanceNotFound,
                          self.driver.get_info, self.instance_)

    def test_destroy_with_dead_bmc_frees_instance_but_not_node(self):
        self.power.fail[('power_off', 'node-1')] = timeout('node-1')
        self.driver.destroy(None, self.instance_, None)
        node = db_api.get_node('node-1')
        self.assertIsNone(node.instance_uuid)
        self.assertTrue(node.maintenance)
        self.assertIn(self.instance_.uuid, node.maintenance_reason)

    def test_unconfirmed_power_off_of_an_image_node_is_clean_failed(self):
        # Issue 33: it read "cleaning" and "maintenance" at once, and kept
        # its last power state; like Ironic: unknown power, a fault, and
        # "clean failed" until an operator looks.
        db_api.create_nodes([node_spec.new_node(utils.node_values(
            2, service_host=HOST, deploy_interface='image'),
            [utils.mac(2)])])
        instance = self.instance('node-2')
        db_api.claim_node('node-2', instance.uuid, service_host=HOST)
        db_api.set_provision_state('node-2', 'active')
        db_api.record_power_states(
            {db_api.get_node('node-2').uuid: power_base.POWER_ON})
        self.power.fail[('power_off', 'node-2')] = timeout('node-2')
        self.driver.destroy(None, instance, None)
        node = db_api.get_node('node-2')
        self.assertIsNone(node.instance_uuid)
        self.assertEqual(('clean failed', True, 'power off not confirmed',
                          None),
                         (node.provision_state, node.maintenance, node.fault,
                          node.power_state))
        # A BMC that fails again does not hide it; one that answers does
        # not clear it: the operator does, leaving maintenance.
        self.power.fail[('get_power_state', 'node-2')] = timeout('node-2')
        self.driver.sync_power_states()
        self.assertEqual('power off not confirmed',
                         db_api.get_node('node-2').fault)
        del self.power.fail[('get_power_state', 'node-2')]
        self.driver.sync_power_states()
        self.assertEqual('power off not confirmed',
                         db_api.get_node('node-2').fault)
        # Out of maintenance only by a cleaning, or by force: then it is
        # cleaned again.
        error = self.assertRaises(exception.NodeStateRefused,
                                  db_api.update_node, 'node-2',
                                  {'maintenance': False})
        self.assertIn('nova-bm-manage node clean node-2', str(error))
        node = db_api.update_node('node-2', {'maintenance': False},
                                  force=True)
        self.assertEqual(('cleaning', False, None),
                         (node.provision_state, node.maintenance,
                          node.fault))

    def test_power_off_soft_then_hard(self):
        self.driver.power_off(self.instance_, timeout=30)
        self.assertEqual([('soft_power_off', 'node-1')], self.power.calls)
        self.power.calls.clear()
        self.power.fail[('soft_power_off', 'node-1')] = (
            exception.PowerStateTimeout(bmc='b', target='off', state='on',
                                        timeout=30))
        self.driver.power_off(self.instance_, timeout=30)
        self.assertEqual([('soft_power_off', 'node-1'),
                          ('power_off', 'node-1')], self.power.calls)
        self.power.calls.clear()
        self.driver.power_off(self.instance_)
        self.assertEqual([('power_off', 'node-1')], self.power.calls)
        self.assertEqual(power_state.SHUTDOWN,
                         self.driver.get_info(self.instance_).state)

    def test_reboot_soft_falls_back_to_hard(self):
        self.power.fail[('reboot_soft', 'node-1')] = (
            exception.BmcCommandRefused(bmc='b', command='soft off',
                                        reason='no'))
        self.driver.reboot(None, self.instance_, None, 'SOFT')
        self.assertEqual([('reboot_soft', 'node-1'),
                          ('reboot_hard', 'node-1')], self.power.calls)

    def test_failed_power_on_is_raised_and_remembered(self):
        self.power.fail[('power_on', 'node-1')] = timeout('node-1')
        self.assertRaises(exception.BmcTimeout, self.driver.power_on,
                          None, self.instance_, None)
        self.assertEqual(power_state.NOSTATE,
                         self.driver.get_info(self.instance_).state)

    def test_operations_on_unknown_instance(self):
        stranger = self.instance('node-1')
        self.assertFalse(self.driver.instance_exists(stranger))
        for use_cache in (True, False):
            self.assertRaises(nova_exception.InstanceNotFound,
                              self.driver.get_info, stranger, use_cache)
        self.assertRaises(nova_exception.InstanceNotFound,
                          self.driver.power_on, None, stranger, None)


class LoadTestCase(DriverTestCase):

    def test_nova_loads_the_driver_by_its_public_name(self):
        driver = nova.virt.driver.load_compute_driver(
            None, 'nova_bm.BareMetalDriver')
        self.assertIsInstance(driver, bm_driver.BareMetalDriver)
        self.assertFalse(driver.rebalances_nodes)
        self.assertFalse(driver.capabilities['supports_evacuate'])


class ServiceLifeTestCase(DriverTestCase):

    def setUp(self):
        super().setUp()
        # As nova-compute does at start: parse (no) config files.
        self.conf.conf([], project='nova', default_config_files=[])
        self.state = self.useFixture(fixtures.TempDir()).path
        self.conf.config(state_path=self.state)
        self.enrol(2)

    def test_init_host_sweeps_once_and_writes_identity_once(self):
        self.conf.config(power_sync_interval=0, group='baremetal')
        self.power.fail[('get_power_state', 'node-2')] = timeout('node-2')
        self.driver.init_host(HOST)
        self.addCleanup(self.driver.cleanup_host, HOST)
        self.assertEqual([('get_power_state', 'node-1'),
                          ('get_power_state', 'node-2')], self.power.calls)
        self.assertEqual(1, resources_reserved(self.driver, 'node-2'))
        identity_file = os.path.join(self.state, 'compute_id')
        with open(identity_file) as f:
            identity = f.read()
        self.assertTrue(uuidutils.is_uuid_like(identity))
        # A restart keeps the identity Nova checks for.
        restarted = bm_driver.BareMetalDriver(None, power=self.power)
        restarted.init_host(HOST)
        self.addCleanup(restarted.cleanup_host, HOST)
        with open(identity_file) as f:
            self.assertEqual(identity, f.read())

    def test_periodic_sweep_runs_until_cleanup(self):
        self.conf.config(power_sync_interval=1, group='baremetal')
        self.driver.init_host(HOST)
        self.power.states['node-1'] = power_base.POWER_ON
        deadline = time.monotonic() + 10
        while db_api.get_node('node-1').power_state != 'on':
            self.assertLess(time.monotonic(), deadline,
                            'no sweep within 10 s')
            time.sleep(0.05)
        self.driver.cleanup_host(HOST)
        calls = len(self.power.calls)
        time.sleep(1.5)
        self.assertEqual(calls, len(self.power.calls))


def inventory_of(driver, name):
    tree = provider_tree.ProviderTree()
    tree.new_root(name, db_api.get_node(name).uuid)
    driver.update_provider_tree(tree, name)
    return tree.data(name).inventory


def resources_reserved(driver, name):
    return inventory_of(driver, name)['CUSTOM_BAREMETAL']['reserved']
