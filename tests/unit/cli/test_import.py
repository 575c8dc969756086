"""nova-bm-manage node import: Ironic node files, all or nothing."""

import json
import os

import yaml

from nova_bm.db import api as db_api
from tests.unit.cli import base
from tests import utils


class ImportTestCase(base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.assertManage('db', 'sync')

    def write_nodes(self, name, nodes, dump=json.dumps):
        return self.write_file(name, dump({'nodes': nodes}))

    def test_import_2000_nodes_in_one_command(self):
        path = self.write_nodes('nodes.json', [utils.ironic_node(i)
                                               for i in range(2000)])
        out = self.assertManage('node', 'import', path, '--host',
                                'proxy-1')
        self.assertEqual('Created 2000 nodes and 2000 ports from %s.\n' % path,
                         out)
        self.assertEqual(2000, db_api.count_nodes())
        node = db_api.get_node('node-1999', with_interfaces=True)
        self.assertEqual(('proxy-1', 16, 'baremetal-gold', '10.0.7.207', 623),
                         (node.service_host, node.cpus, node.resource_class,
                          node.ipmi_address, node.ipmi_port))
        self.assertEqual([utils.mac(1999)],
                         [i.address for i in node.interfaces])

    def test_one_bad_mac_refuses_the_whole_file(self):
        nodes = [utils.ironic_node(i) for i in range(100)]
        nodes[57]['ports'] = [{'address': '52:54:00:zz:00:57'}]
        path = self.write_nodes('nodes.json', nodes)
        line = self.assertRefused(2, 'nodes[57] (node-57): ports.address',
                                  'node', 'import', path, '--host', 'p1')
        self.assertIn('52:54:00:zz:00:57', line)
        self.assertEqual(0, db_api.count_nodes())

    def test_clash_with_enrolled_node_refuses_the_whole_file(self):
        self.assertManage('node', 'import', self.write_nodes(
            'one.json', [utils.ironic_node(7)]), '--host', 'proxy-1')
        path = self.write_nodes('many.json', [utils.ironic_node(i)
                                              for i in range(50)])
        self.assertRefused(2, "name 'node-7' already exists", 'node',
                           'import', path, '--host', 'proxy-1')
        self.assertEqual(1, db_api.count_nodes())

    def test_yaml_with_chassis_portgroups_and_host(self):
        node = utils.ironic_node(1)
        node['ports'] = []
        node['portgroups'] = [{'ports': [{'address': utils.mac(1)},
                                         {'address': utils.mac(2)}]}]
        other = utils.ironic_node(3, service_host='proxy-9')
        other['driver_info']['ipmi_port'] = '6230'
        path = self.write_file('nodes.yaml', yaml.safe_dump(
            {'chassis': [{'description': 'rack 1', 'nodes': [node]}],
             'nodes': [other]}))
        out = self.assertManage('node', 'import', path, '--host', 'proxy-2')
        self.assertIn('Created 2 nodes and 3 ports', out)
        self.assertEqual('proxy-2', db_api.get_node('node-1').service_host)
        third = db_api.get_node('node-3')
        self.assertEqual(('proxy-9', 6230),
                         (third.service_host, third.ipmi_port))

    def test_ironic_port_networking_fields(self):
        node = utils.ironic_node(1)
        node['ports'] = [
            {'address': utils.mac(1), 'pxe_enabled': True,
             'physical_network': 'physnet1', 'uuid': 'ignored',
             'extra': {'ignored': 1},
             'local_link_connection': {'switch_id': '00:1A:2B:3C:4D:5E',
                                       'port_id': 'Ethernet1/7'}},
            {'address': utils.mac(2), 'pxe_enabled': False}]
        path = self.write_nodes('nodes.json', [node])
        # "1 node", not "1 nodes" (issue 33).
        self.assertIn('Created 1 node and 2 ports',
                      self.assertManage('node', 'import', path, '--host',
                                        'proxy-1'))
        first, second = [i for i, _, _ in db_api.list_interfaces('node-1')]
        self.assertEqual((True, 'physnet1', {'switch_id': '00:1a:2b:3c:4d:5e',
                                             'port_id': 'Ethernet1/7'}),
                         (first.pxe_enabled, first.physical_network,
                          first.local_link_connection))
        self.assertEqual((False, None, None), (
            second.pxe_enabled, second.physical_network,
            second.local_link_connection))
        bad = utils.ironic_node(2)
        bad['ports'] = [{'address': utils.mac(3),
                         'local_link_connection': {'port_id': 'p1'}}]
        self.assertRefused(
            2, 'ports.local_link_connection.switch_id: is required', 'node',
            'import', self.write_nodes('bad.json', [bad]), '--host', 'p1')
        self.assertEqual(1, db_api.count_nodes())

    def test_partition_keys_from_file_ironic_key_or_option(self):
        nodes = [utils.ironic_node(1, partition_key='rack-1'),
                 utils.ironic_node(2, conductor_group='rack-2'),
                 utils.ironic_node(3)]
        path = self.write_nodes('nodes.json', nodes)
        self.assertManage('node', 'import', path, '--partition-key', 'row-9',
                          '--host', 'proxy-1')
        self.assertEqual(['rack-1', 'rack-2', 'row-9'], [
            n.partition_key for n in db_api.list_nodes()])
        bad = self.write_nodes('bad.json', [
            utils.ironic_node(4, partition_key='rack 4!'),
            utils.ironic_node(5, partition_key='a', conductor_group='b')])
        # Every error at once (issue 33), not the first and a count.
        self.assertRefusedLines(2, ['bad.json: 2 errors:',
                                    'nodes[0] (node-4): partition_key',
                                    'nodes[1] (node-5)'],
                                'node', 'import', bad, '--host', 'proxy-1')
        self.assertEqual(3, db_api.count_nodes())

    def test_file_refusals(self):
        good = [utils.ironic_node(1)]
        redfish = utils.ironic_node(2, driver='redfish')
        no_cpus = utils.ironic_node(3)
        del no_cpus['properties']['cpus']
        cases = [
            (self.write_file('bad.json', '{"nodes": [}'), 'not valid JSON'),
            (self.write_file('bad.yaml', 'nodes: [a: b: c'),
             'not valid YAML'),
            (self.write_file('nodes.txt', '{}'), 'must end in .json'),
            (os.path.join(self.state, 'missing.json'),
             'No such file or directory'),
            (self.write_file('list.json', '[]'), 'must be a mapping'),
            (self.write_file('ports.json', json.dumps(
                {'nodes': good, 'ports': []})), "top-level key 'ports'"),
            (self.write_nodes('empty.json', []), 'it has no nodes'),
            (self.write_nodes('redfish.json', good + [redfish]),
             "nodes[1] (node-2): driver: 'redfish' is not an IPMI driver"),
            (self.write_nodes('nocpu.json', good + [no_cpus]),
             'nodes[1] (node-3): properties.cpus: is required'),
            (self.write_nodes('twice.json', good + [utils.ironic_node(
                2, name='node-1')]),
             "name 'node-1' is given to more than one node"),
        ]
        for path, expected in cases:
            line = self.assertRefused(2, expected, 'node', 'import', path,
                                      '--host', 'proxy-1')
            self.assertIn(path, line)
            self.assertNotIn('file-secret', line)
        self.assertEqual(0, db_api.count_nodes())

    def test_several_errors_are_counted(self):
        nodes = [utils.ironic_node(i) for i in range(5)]
        for node in nodes[2:]:
            node['properties']['memory_mb'] = 0
        # Every error at once (issue 33), not the first and a count.
        self.assertRefusedLines(
            2, ['n.json: 3 errors:',
                'nodes[2] (node-2): properties.memory_mb',
                'nodes[3] (node-3): properties.memory_mb',
                'nodes[4] (node-4): properties.memory_mb'],
            'node', 'import', self.write_nodes('n.json', nodes),
            '--host', 'proxy-1')
