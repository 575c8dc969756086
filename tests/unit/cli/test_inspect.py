"""An operator's inspection: ``node inspect`` (--all-uninspected,
--overwrite), ``node inventory``, ``node import --inspect`` and nodes
created without their hardware (nova-bm-manage in-process, SQLite)."""

import json

from nova_bm.common import states
from nova_bm.db import api as db_api
from nova_bm import exception
from nova_bm.inspection import inventory as inventory_report
from tests.unit.cli import base
from tests.unit.cli import test_manage
from tests import deploy_ramdisk
from tests import utils

NO_HARDWARE = {'--cpus': None, '--memory-mb': None, '--local-gb': None}


class InspectTestCase(base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.conf.config(enrolled_node_state='enroll', group='baremetal')
        self.assertManage('db', 'sync')

    def create(self, index, state='enroll', **overrides):
        return self.assertManage(*test_manage.create_args(index, **dict(
            {'--provision-state': state}, **overrides)))

    def rows(self, *args):
        code, out, err = self.manage(*args, '-f', 'json')
        self.assertNotIn('Traceback', out + err)
        return code, {row['Name']: row for row in json.loads(out)}, err

    def test_inspect_moves_only_nodes_not_offered(self):
        self.create(1, 'enroll')
        self.create(2, 'manageable')
        self.create(3, 'manageable')
        db_api.set_provision_state('node-3', states.INSPECT_FAILED,
                                   last_error='earlier')
        code, rows, _ = self.rows('node', 'inspect', 'node-1', 'node-2',
                                  'node-3', '--overwrite')
        self.assertEqual(0, code)
        for name in ('node-1', 'node-2', 'node-3'):
            self.assertEqual(states.INSPECTING,
                             rows[name]['Provision State'])
            node = db_api.get_node(name)
            self.assertEqual(states.INSPECTING, node.provision_state)
            self.assertTrue(node.last_inspection['overwrite'])
            self.assertIn('requested_at', node.last_inspection)
        # Without --overwrite the request says so.
        db_api.set_provision_state('node-1', states.MANAGEABLE)
        self.assertManage('node', 'inspect', 'node-1')
        self.assertFalse(db_api.get_node('node-1').last_inspection[
            'overwrite'])

    def test_inspect_refuses_offered_held_or_maintenance_nodes(self):
        self.create(1, 'available')
        self.create(2, 'available')
        db_api.set_provision_state('node-2', states.ACTIVE,
                                   instance_uuid='inst-2')
        self.create(3, 'manageable')
        db_api.update_node('node-3', {'maintenance': True,
                                      'maintenance_reason': 'fan'})
        for name in ('node-1', 'node-2', 'node-3'):
            before = db_api.get_node(name)
            code, rows, err = self.rows('node', 'inspect', name)
            self.assertEqual(1, code, err)
            self.assertTrue(rows[name]['Result'].startswith('failed: '),
                            rows[name])
            after = db_api.get_node(name)
            self.assertEqual(
                (before.provision_state, None),
                (after.provision_state, after.last_inspection), name)

    def test_all_uninspected_skips_nodes_inspected_ok(self):
        self.create(1, 'manageable')
        self.create(2, 'manageable')
        self.create(3, 'available')
        self.create(4, 'enroll')
        db_api.set_provision_state('node-1', states.MANAGEABLE,
                                   last_inspection={'result': 'ok'})
        db_api.set_provision_state('node-2', states.INSPECT_FAILED,
                                   last_inspection={'result': 'failed'})
        code, rows, _ = self.rows('node', 'inspect', '--all-uninspected')
        self.assertEqual(0, code)
        self.assertEqual(['node-2', 'node-4'], sorted(rows))
        self.assertEqual(
            [states.MANAGEABLE, states.INSPECTING, states.AVAILABLE,
             states.INSPECTING],
            [db_api.get_node('node-%d' % i).provision_state
             for i in range(1, 5)])

    def test_inventory(self):
        self.create(1, 'manageable')
        line = self.assertRefused(2, 'never inspected', 'node',
                                  'inventory', 'node-1')
        self.assertIn('node-1', line)
        found = inventory_report.parse(deploy_ramdisk.inventory(
            utils.mac(1), 'name=/dev/sda size=%d' % (100 << 30)).encode())
        db_api.set_provision_state('node-1', states.INSPECTING)
        self.assertEqual((True, None), db_api.end_inspection(
            'node-1', states.MANAGEABLE, {}, [], found))
        out = self.assertManage('node', 'inventory', 'node-1', '-f', 'json')
        self.assertEqual(found, json.loads(out))
        table = self.assertManage('node', 'inventory', 'node-1')
        self.assertIn('/dev/sda', table)
        self.assertIn(utils.mac(1), table)
        code, _, err = self.manage('node', 'inventory', 'nope')
        self.assertNotEqual(0, code)
        self.assertIn('nope', err)

    def test_create_without_hardware(self):
        self.create(1, 'enroll', **NO_HARDWARE)
        node = db_api.get_node('node-1')
        self.assertEqual((states.ENROLL, 0, 0, 0),
                         (node.provision_state, node.cpus, node.memory_mb,
                          node.local_gb))
        self.create(2, 'manageable', **dict(NO_HARDWARE, **{'--mac': None}))
        self.assertEqual([], db_api.get_node(
            'node-2', with_interfaces=True).interfaces)
        self.assertRefused(2, 'cpus', *test_manage.create_args(
            3, **dict(NO_HARDWARE, **{'--provision-state': 'available'})))
        self.assertRaises(exception.NodeNotFound, db_api.get_node,
                          'node-3')
        self.assertEqual(2, db_api.count_nodes())


class ImportInspectTestCase(base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.conf.config(enrolled_node_state='enroll', group='baremetal')
        self.assertManage('db', 'sync')

    @staticmethod
    def bmc_only(index, **overrides):
        node = utils.ironic_node(index)
        node = {'name': node['name'], 'driver': 'ipmi',
                'driver_info': node['driver_info'],
                'resource_class': 'baremetal-gold'}
        node.update(overrides)
        return node

    def write(self, nodes):
        return self.write_file('nodes.json', json.dumps({'nodes': nodes}))

    def test_import_inspect_enrols_nodes_inspecting(self):
        path = self.write([self.bmc_only(1), self.bmc_only(2),
                           utils.ironic_node(3)])
        self.assertManage('node', 'import', path, '--host', 'proxy-1',
                          '--inspect')
        for name in ('node-1', 'node-2', 'node-3'):
            node = db_api.get_node(name)
            self.assertEqual(states.INSPECTING, node.provision_state, name)
            self.assertIn('requested_at', node.last_inspection)
            self.assertFalse(node.last_inspection['overwrite'])
        node = db_api.get_node('node-1', with_interfaces=True)
        self.assertEqual((0, 0, 0, [], 'baremetal-gold'),
                         (node.cpus, node.memory_mb, node.local_gb,
                          node.interfaces, node.resource_class))
        self.assertEqual(16, db_api.get_node('node-3').cpus)

    def test_import_inspect_refuses_an_available_node(self):
        path = self.write([self.bmc_only(1), utils.ironic_node(
            2, provision_state='available')])
        line = self.assertRefused(2, 'node-2 is available', 'node',
                                  'import', path, '--host', 'proxy-1',
                                  '--inspect')
        self.assertIn('--inspect', line)
        self.assertEqual(0, db_api.count_nodes())
        path = self.write([self.bmc_only(1), utils.ironic_node(
            2, maintenance=True)])
        self.assertRefused(2, 'in maintenance', 'node', 'import', path,
                           '--host', 'proxy-1', '--inspect')
        self.assertEqual(0, db_api.count_nodes())

    def test_without_inspect_bmc_only_nodes_wait_in_enroll(self):
        path = self.write([self.bmc_only(1)])
        self.assertManage('node', 'import', path, '--host', 'proxy-1')
        node = db_api.get_node('node-1')
        self.assertEqual((states.ENROLL, 0, None),
                         (node.provision_state, node.cpus,
                          node.last_inspection))
