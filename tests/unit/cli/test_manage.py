"""nova-bm-manage: what operators type, what they get back."""

import datetime
import json

from oslo_utils import timeutils
from oslo_utils import uuidutils

from nova_bm.db import api as db_api
from tests.unit.cli import base
from tests import utils

PASSWORD = 'Sup3r-secret-pw'


def create_args(index=1, **overrides):
    options = {
        '--name': 'node-%d' % index, '--host': 'proxy-1', '--cpus': '8',
        '--memory-mb': '16384', '--local-gb': '100',
        '--ipmi-address': '127.0.0.1', '--ipmi-port': str(6230 + index),
        '--ipmi-username': 'admin', '--ipmi-password': PASSWORD,
        '--mac': utils.mac(index),
    }
    options.update(overrides)
    args = ['node', 'create']
    for option, value in options.items():
        if value is not None:
            args += [option, value]
    return args


class DbCommandsTestCase(base.ManageTestCase):

    def test_sync_and_version(self):
        self.assertEqual('None\n', self.assertManage('db', 'version'))
        out = self.assertManage('db', 'sync')
        self.assertIn('Node database at revision', out)
        version = self.assertManage('db', 'version').strip()
        self.assertIn(version, out)
        self.assertManage('db', 'sync')  # again: nothing to do, no error

    def test_commands_before_sync_say_to_sync(self):
        self.assertRefused(1, 'db sync', 'node', 'list')

    def test_unreachable_database(self):
        config = self.write_config(
            '[baremetal_database]\n'
            'connection = mysql+pymysql://nova:%s@127.0.0.1:1/nova_bm\n'
            % PASSWORD, name='dead.conf')
        line = self.assertRefused(1, 'node database is unavailable',
                                  'node', 'list', config_file=config)
        self.assertNotIn(PASSWORD, line)

    def test_missing_config_file(self):
        self.assertRefused(2, 'Configuration error', 'node', 'list',
                           config_file='/nonexistent/nova.conf')


class NodeCommandsTestCase(base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.assertManage('db', 'sync')

    def count(self):
        return db_api.count_nodes()

    def test_create_show_list_json_without_password(self):
        out = self.assertManage(*create_args(1, **{'--trait': 'CUSTOM_R1'}),
                                '-f', 'json')
        created = json.loads(out)
        self.assertEqual('******', created['ipmi_password'])
        self.assertEqual(['CUSTOM_R1'], created['traits'])
        self.assertEqual([utils.mac(1)], created['interfaces'])
        shown = json.loads(self.assertManage('node', 'show', created['uuid'],
                                             '-f', 'json'))
        self.assertEqual(created, shown)
        self.assertEqual('node-1', shown['name'])
        self.assertEqual(16384, shown['memory_mb'])
        listed = json.loads(self.assertManage('node', 'list', '-f', 'json'))
        self.assertEqual(['node-1'], [n['Name'] for n in listed])
        for text in (out, json.dumps(shown), json.dumps(listed),
                     self.assertManage('node', 'show', 'node-1', '-f',
                                       'yaml')):
            self.assertNotIn(PASSWORD, text)
        self.assertEqual(PASSWORD, db_api.get_node('node-1').ipmi_password)

    def test_password_from_file(self):
        path = self.write_file('pw', PASSWORD + '\n')
        self.assertManage(*create_args(1, **{'--ipmi-password': None,
                                             '--ipmi-password-file': path}))
        self.assertEqual(PASSWORD, db_api.get_node('node-1').ipmi_password)

    def test_bad_input_refused_nothing_written(self):
        self.assertManage(*create_args(1))
        cases = [
            ('--mac', 'zz:54:00:00:00:02', 'mac', 'zz:54:00:00:00:02'),
            ('--ipmi-address', '300.1.1.1', 'ipmi_address', '300.1.1.1'),
            ('--ipmi-address', 'bad host!', 'ipmi_address', 'bad host!'),
            ('--ipmi-port', '0', 'ipmi_port', "'0'"),
            ('--ipmi-port', '65536', 'ipmi_port', '65536'),
            ('--cpus', '0', 'cpus', "'0'"),
            ('--cpus', '-4', 'cpus', '-4'),
            ('--memory-mb', 'lots', 'memory_mb', 'lots'),
            ('--local-gb', '0', 'local_gb', "'0'"),
            ('--cpu-arch', 'z80', 'cpu_arch', 'z80'),
            ('--resource-class', 'gold class!', 'resource_class',
             'gold class!'),
            ('--trait', 'custom_lower', 'trait', 'custom_lower'),
            ('--name', 'node-1', 'name', 'node-1'),
            ('--name', 'bad name', 'name', 'bad name'),
            ('--mac', utils.mac(1), 'MAC address', utils.mac(1)),
            ('--ipmi-port', '6231', 'BMC address:port', '127.0.0.1:6231'),
            ('--ipmi-password-file', '/nonexistent/pw',
             '--ipmi-password-file', '/nonexistent/pw'),
        ]
        for option, value, field, shown in cases:
            overrides = {'--name': 'node-2', '--ipmi-port': '6232',
                         '--mac': utils.mac(2), option: value}
            if option == '--ipmi-password-file':
                overrides['--ipmi-password'] = None
            line = self.assertRefused(2, field, *create_args(**overrides))
            self.assertIn(shown, line)
            self.assertNotIn(PASSWORD, line)
            self.assertEqual(1, self.count(), (option, value))

    def test_part_of_the_hardware_is_refused(self):
        # All of cpus, memory_mb and local_gb, or none (and inspection).
        code, out, err = self.manage(*create_args(2, **{'--cpus': None}))
        self.assertEqual(2, code)
        self.assertIn('cpus: is required but missing (give cpus, memory_mb '
                      'and local_gb, or none of them and inspect the node)',
                      err)
        self.assertEqual(0, self.count())

    def test_list_filters(self):
        self.assertManage(*create_args(1))
        self.assertManage(*create_args(2, **{'--host': 'proxy-2'}))
        self.assertManage('node', 'update', 'node-2', '--maintenance',
                          '--reason', 'fan')
        names = lambda *a: [n['Name'] for n in json.loads(self.assertManage(
            'node', 'list', '-f', 'json', *a))]
        self.assertEqual(['node-1', 'node-2'], names())
        self.assertEqual(['node-2'], names('--host', 'proxy-2'))
        self.assertEqual(['node-2'], names('--maintenance'))
        self.assertEqual(['node-1'], names('--no-maintenance'))
        self.assertEqual('node-1\nnode-2\n', self.assertManage(
            'node', 'list', '-f', 'value', '-c', 'Name'))
        csv = self.assertManage('node', 'list', '-f', 'csv')
        self.assertTrue(csv.startswith('"UUID","Name"'), csv)

    def test_partition_key_create_update_remove(self):
        shown = json.loads(self.assertManage(
            *create_args(1, **{'--partition-key': 'rack-1'}), '-f', 'json'))
        self.assertEqual('rack-1', shown['partition_key'])
        self.assertRefused(2, 'partition_key', *create_args(
            2, **{'--partition-key': 'rack 2'}))
        shown = json.loads(self.assertManage(
            'node', 'update', 'node-1', '--partition-key', 'dc1:room3',
            '-f', 'json'))
        self.assertEqual('dc1:room3', shown['partition_key'])
        self.assertManage('node', 'update', 'node-1', '--partition-key', '')
        self.assertIsNone(db_api.get_node('node-1').partition_key)

    def test_root_device_hints_create_update_remove(self):
        shown = json.loads(self.assertManage(
            *create_args(1, **{'--root-device': '{"serial": "S3Z1NB0K"}'}),
            '-f', 'json'))
        self.assertEqual('{"serial": "s== s3z1nb0k"}',
                         shown['root_device_hints'])
        self.assertRefused(2, 'root_device', *create_args(
            2, **{'--root-device': '{"serial": "A", "colour": "red"}'}))
        self.assertRefused(2, 'root_device', *create_args(
            2, **{'--root-device': '{"size": "huge"}'}))
        self.assertManage('node', 'update', 'node-1', '--root-device',
                          '{"size": ">= 400", "rotational": false}')
        self.assertEqual({'size': '>= 400', 'rotational': False},
                         db_api.get_node('node-1').root_device_hints)
        self.assertManage('node', 'update', 'node-1', '--root-device', '{}')
        self.assertFalse(db_api.get_node('node-1').root_device_hints)

    def test_deploy_interface_create_update_import(self):
        shown = json.loads(self.assertManage(*create_args(1), '-f', 'json'))
        self.assertEqual('image', shown['deploy_interface'])
        shown = json.loads(self.assertManage(
            *create_args(2, **{'--deploy-interface': 'netboot'}),
            '-f', 'json'))
        self.assertEqual('netboot', shown['deploy_interface'])
        self.assertRefused(2, 'invalid choice', *create_args(
            3, **{'--deploy-interface': 'iscsi'}))
        listed = json.loads(self.assertManage('node', 'list', '-f', 'json'))
        self.assertEqual(['image', 'netboot'],
                         [n['Deploy Interface'] for n in listed])
        self.assertManage('node', 'update', 'node-1', '--deploy-interface',
                          'netboot')
        self.assertEqual('netboot',
                         db_api.get_node('node-1').deploy_interface)
        # Not while an instance holds the node: its teardown depends on it.
        db_api.claim_node('node-1', uuidutils.generate_uuid())
        self.assertRefused(1, 'is held by instance', 'node', 'update',
                           'node-1', '--deploy-interface', 'image')
        self.assertEqual('netboot',
                         db_api.get_node('node-1').deploy_interface)
        # Node files: ours, Ironic's names, or the command's default.
        path = self.write_file('nodes.json', json.dumps({'nodes': [
            utils.ironic_node(4, deploy_interface='direct'),
            utils.ironic_node(5, deploy_interface='ramdisk'),
            utils.ironic_node(6)]}))
        self.assertManage('node', 'import', path, '--deploy-interface',
                          'netboot', '--host', 'proxy-1')
        self.assertEqual(
            ['image', 'netboot', 'netboot'],
            [db_api.get_node('node-%d' % i).deploy_interface
             for i in (4, 5, 6)])
        path = self.write_file('bad.json', json.dumps({'nodes': [
            utils.ironic_node(7, deploy_interface='anaconda')]}))
        self.assertRefused(2, 'deploy_interface', 'node', 'import', path,
                           '--host', 'proxy-1')

    def test_list_orphaned(self):
        for index, host in ((1, 'proxy-1'), (2, 'proxy-2'), (3, 'proxy-2'),
                            (4, 'proxy-3')):
            self.assertManage(*create_args(index, **{'--host': host}))
        for name in ('node-1', 'node-2', 'node-4'):
            db_api.claim_node(name, uuidutils.generate_uuid())
        now = timeutils.utcnow()
        db_api.record_proxy('proxy-1', None, 'hash_ring', now)
        db_api.record_proxy('proxy-2', None, 'hash_ring',
                            now - datetime.timedelta(seconds=600))
        # proxy-2 has not reported for 10 minutes, proxy-3 never did;
        # node-3 is free, so it is not orphaned (a peer takes it).
        names = lambda *a: [n['Name'] for n in json.loads(self.assertManage(
            'node', 'list', '--orphaned', '-f', 'json', *a))]
        self.assertEqual(['node-2', 'node-4'], names())
        self.assertEqual(['node-2'], names('--host', 'proxy-2'))
        self.write_config('[DEFAULT]\nstate_path = %s\nhost = proxy-1\n'
                          '[baremetal]\nproxy_down_time = 900\n'
                          % self.state)
        self.assertEqual(['node-4'], names())

    def test_update(self):
        self.assertManage(*create_args(1))
        shown = json.loads(self.assertManage(
            'node', 'update', 'node-1', '--cpus', '16', '--maintenance',
            '--reason', 'bad DIMM', '-f', 'json'))
        self.assertEqual((16, True, 'bad DIMM'),
                         (shown['cpus'], shown['maintenance'],
                          shown['maintenance_reason']))
        shown = json.loads(self.assertManage(
            'node', 'update', 'node-1', '--no-maintenance', '-f', 'json'))
        self.assertEqual((False, None), (shown['maintenance'],
                                         shown['maintenance_reason']))

    def test_update_refusals(self):
        self.assertManage(*create_args(1))
        self.assertManage(*create_args(2))
        self.assertRefused(2, 'cannot be renamed', 'node', 'update',
                           'node-1', '--name', 'node-9')
        self.assertRefused(2, 'ipmi_port', 'node', 'update', 'node-1',
                           '--ipmi-port', '99999')
        self.assertRefused(2, '127.0.0.1:6232', 'node', 'update', 'node-1',
                           '--ipmi-port', '6232')
        self.assertRefused(2, 'Nothing to update', 'node', 'update',
                           'node-1')
        self.assertRefused(1, 'could not be found', 'node', 'update', 'nope',
                           '--cpus', '2')
        node = db_api.get_node('node-1')
        self.assertEqual(('node-1', 6231, 8),
                         (node.name, node.ipmi_port, node.cpus))

    def test_delete(self):
        self.assertManage(*create_args(1))
        self.assertManage(*create_args(2))
        db_api.claim_node('node-2', '9d0a3c4e-5b6f-4a1b-8c2d-3e4f5a6b7c8d')
        self.assertRefused(1, 'held by instance', 'node', 'delete', 'node-2')
        self.assertIn('Deleted node node-1',
                      self.assertManage('node', 'delete', 'node-1'))
        self.assertEqual(['node-2'],
                         [n.name for n in db_api.list_nodes()])
        self.assertRefused(1, 'could not be found', 'node', 'delete',
                           'node-1')


class InterfaceCommandsTestCase(base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.assertManage('db', 'sync')
        self.assertManage(*create_args(1))
        self.assertManage(*create_args(2))

    def test_add_list_delete(self):
        self.assertManage('interface', 'add', 'node-1', '52-54-00-AA-BB-CC')
        rows = json.loads(self.assertManage('interface', 'list', 'node-1',
                                            '-f', 'json'))
        self.assertEqual([utils.mac(1), '52:54:00:aa:bb:cc'],
                         [r['Address'] for r in rows])
        self.assertEqual(3, len(json.loads(self.assertManage(
            'interface', 'list', '-f', 'json'))))
        self.assertManage('interface', 'delete', '52:54:00:aa:bb:cc')
        self.assertEqual(2, len(db_api.list_interfaces()))

    def test_refusals(self):
        self.assertRefused(2, 'not a valid MAC', 'interface', 'add', 'node-1',
                           'nonsense')
        self.assertRefused(2, 'node-2', 'interface', 'add', 'node-1',
                           utils.mac(2))
        self.assertRefused(1, 'could not be found', 'interface', 'add',
                           'nope', '52:54:00:aa:bb:cc')
        self.assertRefused(1, 'No interface', 'interface', 'delete',
                           '52:54:00:aa:bb:cc')
        self.assertEqual(2, len(db_api.list_interfaces()))

    def test_networking_fields_add_update_list(self):
        out = self.assertManage(
            'interface', 'add', 'node-1', '52:54:00:aa:bb:cc', '--no-pxe',
            '--physical-network', 'physnet1', '--switch-id',
            '00-1A-2B-3C-4D-5E', '--port-id', 'Ethernet1/7',
            '--switch-info', 'rack1-tor', '-f', 'json')
        added = json.loads(out)
        self.assertEqual((False, 'physnet1', {
            'switch_id': '00:1a:2b:3c:4d:5e', 'port_id': 'Ethernet1/7',
            'switch_info': 'rack1-tor'}), (
            added['PXE'], added['Physical Network'],
            added['Local Link Connection']))
        rows = {r['Address']: r for r in json.loads(self.assertManage(
            'interface', 'list', 'node-1', '-f', 'json'))}
        # Interfaces enrolled with the node boot it from the network.
        self.assertEqual((True, None, {}), (
            rows[utils.mac(1)]['PXE'], rows[utils.mac(1)]['Physical Network'],
            rows[utils.mac(1)]['Local Link Connection']))
        self.assertEqual('physnet1',
                         rows['52:54:00:aa:bb:cc']['Physical Network'])

        # Update: only what is given changes; "no" options forget.
        self.assertManage('interface', 'update', '52:54:00:aa:bb:cc',
                          '--pxe', '--switch-id', '0x00000000000000ab',
                          '--port-id', 'xe-0/0/1')
        (interface, _, _), = [r for r in db_api.list_interfaces('node-1')
                              if r[0].address == '52:54:00:aa:bb:cc']
        self.assertEqual((True, 'physnet1', {
            'switch_id': '0x00000000000000ab', 'port_id': 'xe-0/0/1'}), (
            interface.pxe_enabled, interface.physical_network,
            interface.local_link_connection))
        out = self.assertManage(
            'interface', 'update', '52:54:00:aa:bb:cc',
            '--no-physical-network', '--no-local-link-connection', '-f',
            'json')
        self.assertEqual((True, None, {}), tuple(json.loads(out)[k] for k in (
            'PXE', 'Physical Network', 'Local Link Connection')))

    def test_networking_field_refusals(self):
        mac = '52:54:00:aa:bb:cc'
        for args, message in (
                (['--physical-network', 'phys net'],
                 'physical_network: must be a physical network name'),
                (['--physical-network', 'x' * 65],
                 'physical_network: must be a physical network name'),
                (['--switch-id', '00:1a:2b:3c:4d:5e'],
                 'local_link_connection.port_id: is required'),
                (['--port-id', 'Ethernet1/7'],
                 'local_link_connection.switch_id: is required'),
                (['--switch-id', 'switch-1', '--port-id', 'Ethernet1/7'],
                 'local_link_connection.switch_id: must be a MAC address or '
                 'an OpenFlow datapath id'),
                (['--switch-id', '00:1a:2b:3c:4d:5e', '--port-id',
                  'bad\tport'], 'local_link_connection.port_id: must be '
                                'printable text')):
            self.assertRefused(2, message, 'interface', 'add', 'node-1', mac,
                               *args)
        self.assertRefused(2, 'not allowed with argument', 'interface',
                           'add', 'node-1', mac, '--pxe', '--no-pxe')
        self.assertEqual(2, len(db_api.list_interfaces()))
        self.assertRefused(2, 'Nothing to update', 'interface', 'update',
                           utils.mac(1))
        self.assertRefused(1, 'No interface has MAC address', 'interface',
                           'update', mac, '--pxe')
        self.assertRefused(2, 'cannot go with --switch-id', 'interface',
                           'update', utils.mac(1),
                           '--no-local-link-connection', '--switch-id',
                           '00:1a:2b:3c:4d:5e', '--port-id', 'p1')

    def test_update_refused_while_an_instance_holds_the_node(self):
        node = db_api.get_node('node-1')
        db_api.claim_node(node.uuid, 'a' * 8 + '-1111-2222-3333-' + 'b' * 12,
                          'proxy-1')
        self.assertRefused(1, 'is held by instance', 'interface', 'update',
                           utils.mac(1), '--no-pxe')
        (interface, _, _), = db_api.list_interfaces('node-1')
        self.assertTrue(interface.pxe_enabled)
