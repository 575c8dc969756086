"""The operator's road into service and faults in plain sight (issue 33):
enroll -> manage -> provide against fake BMCs over UDP, held nodes, the
fault column, every lister's -c, traits added and removed."""

import json

from nova_bm.cmd import manage
from nova_bm.common import states
from nova_bm.db import api as db_api
from nova_bm import exception
from nova_bm.proxy import resources
from tests.unit.cli import base
from tests.unit.cli import test_manage
from tests import fleet as fleet_fixture

PASSWORD = 'Life-pw-5c1d'
WRONG = 'not-the-password'


class LifecycleTestCase(base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.conf.config(enrolled_node_state='enroll', group='baremetal')
        self.config_file = self.write_config(
            '[DEFAULT]\nstate_path = %s\nhost = proxy-1\n'
            '[baremetal]\nipmi_timeout = 2.0\nipmi_retries = 1\n'
            % self.state)
        self.fleet = self.useFixture(
            fleet_fixture.FleetFixture(2, password=PASSWORD))
        self.assertManage('db', 'sync')

    def create(self, index, *extra, password=PASSWORD, port=None):
        return self.assertManage(*test_manage.create_args(index, **{
            '--ipmi-port': str(port or self.fleet.ports[index - 1]),
            '--ipmi-password': password}), *extra)

    def rows(self, *args):
        code, out, err = self.manage(*args, '-f', 'json')
        return code, {row['Name']: row for row in json.loads(out)}, err

    def test_a_new_node_is_never_offered_until_managed_and_provided(self):
        self.create(1, '--deploy-interface', 'netboot')
        node = db_api.get_node('node-1')
        self.assertEqual(states.ENROLL, node.provision_state)
        self.assertTrue(resources.is_unusable(node))

        # provide before manage: refused, with the way forward.
        code, rows, err = self.rows('node', 'provide', 'node-1')
        self.assertEqual(1, code)
        self.assertIn('node manage', rows['node-1']['Result'])
        self.assertEqual(states.ENROLL,
                         db_api.get_node('node-1').provision_state)

        code, rows, err = self.rows('node', 'manage', 'node-1')
        self.assertEqual(0, code, err)
        self.assertEqual(('manageable', 'ok: power off'),
                         (rows['node-1']['Provision State'],
                          rows['node-1']['Result']))
        self.assertTrue(resources.is_unusable(db_api.get_node('node-1')))

        # A netboot node has nothing to clean: available at once.
        code, rows, err = self.rows('node', 'provide', 'node-1')
        self.assertEqual(0, code, err)
        node = db_api.get_node('node-1')
        self.assertEqual(states.AVAILABLE, node.provision_state)
        self.assertFalse(resources.is_unusable(node))

    def test_all_means_the_nodes_waiting_for_that_step(self):
        # Found in review: "node manage --all" took every available node
        # out of service.
        self.create(1, '--provision-state', 'available')
        self.create(2, '--deploy-interface', 'netboot')
        code, rows, err = self.rows('node', 'manage', '--all')
        self.assertEqual(0, code, err)
        self.assertEqual(['node-2'], sorted(rows))
        self.assertEqual('available',
                         db_api.get_node('node-1').provision_state)
        code, rows, err = self.rows('node', 'provide', '--all')
        self.assertEqual((0, ['node-2']), (code, sorted(rows)), err)
        self.assertEqual('available',
                         db_api.get_node('node-2').provision_state)

    def test_an_image_node_is_cleaned_before_it_is_offered(self):
        self.create(1, '--deploy-interface', 'image',
                    '--provision-state', 'manageable')
        code, rows, err = self.rows('node', 'provide', 'node-1')
        self.assertEqual(0, code, err)
        self.assertEqual('cleaning', rows['node-1']['Provision State'])
        self.assertIn('cleans it', rows['node-1']['Result'])
        self.assertTrue(resources.is_unusable(db_api.get_node('node-1')))

    def test_manage_leaves_a_node_whose_bmc_refuses_or_is_silent(self):
        self.create(1, password=WRONG)
        self.create(2, port=fleet_fixture.unused_port())
        code, rows, err = self.rows('node', 'manage', 'node-1', 'node-2')
        self.assertEqual(1, code)
        self.assertIn('did not move', err)
        for name in ('node-1', 'node-2'):
            self.assertEqual('enroll', rows[name]['Provision State'])
            self.assertIn('did not answer with its credentials',
                          rows[name]['Result'])
        self.assertNotIn(WRONG, json.dumps(rows) + err)
        faults = {n.name: (n.fault, n.power_state)
                  for n in db_api.list_nodes()}
        self.assertEqual({'node-1': (states.FAULT_CREDENTIALS, None),
                          'node-2': (states.FAULT_BMC, None)}, faults)

    def test_maintenance_and_state_at_enrolment(self):
        self.create(1, '--maintenance', '--reason', 'new rack, not burned in',
                    '--provision-state', 'available')
        node = db_api.get_node('node-1')
        self.assertEqual((True, 'new rack, not burned in', 'available'),
                         (node.maintenance, node.maintenance_reason,
                          node.provision_state))
        self.assertTrue(resources.is_unusable(node))
        self.assertRefused(2, 'maintenance_reason',
                           *test_manage.create_args(2, **{
                               '--reason': 'why'}))
        self.assertRefused(2, '--provision-state',
                           *test_manage.create_args(3, **{
                               '--provision-state': 'active'}))

    def test_node_file_lifecycle_keys_are_honoured(self):
        path = self.write_file('nodes.yaml', '''
nodes:
  - name: rack-1
    maintenance: true
    maintenance_reason: new rack, not burned in
    provision_state: manageable
    driver_info: {ipmi_address: 127.0.0.1, ipmi_username: admin,
                  ipmi_password: pw}
    properties: {cpus: 8, memory_mb: 1024, local_gb: 10}
    ports: [{address: "52:54:00:aa:00:01"}]
''')
        self.assertManage('node', 'import', path, '--host', 'proxy-1')
        node = db_api.get_node('rack-1')
        self.assertEqual((True, 'new rack, not burned in', 'manageable'),
                         (node.maintenance, node.maintenance_reason,
                          node.provision_state))


class HeldNodeTestCase(base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.assertManage('db', 'sync')
        self.assertManage(*test_manage.create_args(1))
        self.instance = 'a1b2c3d4-0000-4000-8000-000000000001'
        db_api.claim_node('node-1', self.instance)

    def test_what_nova_holds_the_instance_against_cannot_change(self):
        for option, value in (('--resource-class', 'other'),
                              ('--memory-mb', '1024'), ('--cpus', '2'),
                              ('--local-gb', '5'),
                              ('--trait', 'CUSTOM_NEW')):
            code, out, err = self.manage('node', 'update', 'node-1',
                                         option, value)
            self.assertEqual(1, code, option)
            self.assertIn('held by instance %s' % self.instance, err)
        node = db_api.get_node('node-1')
        self.assertEqual(('baremetal', 16384, []),
                         (node.resource_class, node.memory_mb, node.traits))
        code, out, err = self.manage('interface', 'add', 'node-1',
                                     '52:54:00:aa:00:09')
        self.assertEqual(1, code)
        self.assertIn('interfaces cannot change', err)
        # What does not touch the allocation still changes.
        self.assertManage('node', 'update', 'node-1', '--maintenance',
                          '--reason', 'fan noise')


class FaultsAndColumnsTestCase(base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.assertManage('db', 'sync')
        for index in (1, 2):
            self.assertManage(*test_manage.create_args(index))

    def test_fault_column_and_filter(self):
        node = db_api.get_node('node-1')
        db_api.record_power_states({node.uuid: 'on'})
        db_api.record_power_states({node.uuid: exception.BmcTimeout(
            bmc='127.0.0.1', command='power status', timeout=1)})
        rows = {row['Name']: row for row in json.loads(self.assertManage(
            'node', 'list', '-f', 'json'))}
        # Not the last value read: unknown while the BMC does not answer.
        self.assertEqual((None, 'bmc unreachable'),
                         (rows['node-1']['Power State'],
                          rows['node-1']['Fault']))
        self.assertIsNone(rows['node-2']['Fault'])
        names = [row['Name'] for row in json.loads(self.assertManage(
            'node', 'list', '--fault', '-f', 'json'))]
        self.assertEqual(['node-1'], names)
        names = json.loads(self.assertManage(
            'node', 'list', '--fault', 'clean failed', '-f', 'json'))
        self.assertEqual([], names)
        # The BMC answers again: the fault goes.
        db_api.record_power_states({node.uuid: 'off'})
        self.assertIsNone(db_api.get_node('node-1').fault)
        show = json.loads(self.assertManage('node', 'show', 'node-1',
                                            '-f', 'json'))
        self.assertIn('fault', show)

    def test_every_lister_takes_its_columns(self):
        commands = {
            ('node', 'list'): (),
            ('node', 'show'): ('node-1',),
            ('interface', 'list'): ('node-1',),
            ('node', 'power', 'status'): ('node-1',),
            ('node', 'manage'): ('node-1',),
            ('node', 'provide'): ('node-1',),
        }
        listers = {name for name, cls in manage.COMMANDS.items()
                   if getattr(cls, 'COLUMNS', None) is not None}
        self.assertGreater(len(listers), 5)
        for words, args in commands.items():
            cls = manage.COMMANDS[' '.join(words)]
            column = cls.COLUMNS[0]
            code, out, err = self.manage(*words, *args, '-c', column,
                                         '-f', 'value')
            self.assertNotIn('not iterable', err, words)
            self.assertNotIn('no such column', err, words)
            code, out, err = self.manage(*words, *args, '-c', 'Nonsense')
            self.assertEqual(2, code, (words, err))
            self.assertIn('no such column', err)

    def test_interface_list_value_of_one_column(self):
        out = self.assertManage('interface', 'list', 'node-1', '-f', 'value',
                                '-c', 'Address')
        self.assertEqual('52:54:00:00:00:01', out.strip())

    def test_traits_are_added_and_removed_one_by_one(self):
        self.assertManage('node', 'update', 'node-1', '--trait', 'CUSTOM_A')
        self.assertManage('node', 'update', 'node-1', '--trait', 'CUSTOM_B')
        self.assertEqual(['CUSTOM_A', 'CUSTOM_B'],
                         db_api.get_node('node-1').traits)
        self.assertManage('node', 'update', 'node-1', '--remove-trait',
                          'CUSTOM_A')
        self.assertEqual(['CUSTOM_B'], db_api.get_node('node-1').traits)
        self.assertRefused(2, 'has no trait CUSTOM_Z', 'node', 'update',
                           'node-1', '--remove-trait', 'CUSTOM_Z')
        self.assertManage('node', 'update', 'node-1', '--no-traits')
        self.assertEqual([], db_api.get_node('node-1').traits)

    def test_plurals(self):
        path = self.write_file('one.yaml', '''
nodes:
  - name: solo
    driver_info: {ipmi_address: 10.9.9.9, ipmi_username: admin,
                  ipmi_password: pw}
    properties: {cpus: 8, memory_mb: 1024, local_gb: 10}
    ports: [{address: "52:54:00:aa:00:01"}]
''')
        out = self.assertManage('node', 'import', path, '--host', 'proxy-1')
        self.assertIn('Created 1 node and 1 port from', out)


class ImportSilenceTestCase(base.ManageTestCase):
    """Issue 33, findings 3 and 5: nothing of a node file is dropped
    without a word, and no node gets this machine's name as its proxy."""

    FILE = '''
nodes:
  - name: rack-1
    ipmi_address: 10.0.0.9
    driver_info: {ipmi_address: 10.0.0.1, ipmi_username: admin,
                  ipmi_password: pw-Import-9, deploy_kernel: k}
    properties: {cpus: 8, memory_mb: 1024, local_gb: 10,
                 vendor: Acme, capabilities: "boot_mode:bios,x:y"}
    ports: [{address: "52:54:00:aa:00:01"}]
'''

    def setUp(self):
        super().setUp()
        self.assertManage('db', 'sync')
        self.path = self.write_file('nodes.yaml', self.FILE)

    def test_ignored_keys_are_named_in_one_warning(self):
        code, out, err = self.manage('node', 'import', self.path, '--host',
                                     'proxy-1')
        self.assertEqual(0, code, err)
        warning = [line for line in err.splitlines()
                   if line.startswith('Warning')]
        self.assertEqual(1, len(warning), err)
        for key in ('properties.vendor', 'properties.capabilities.x',
                    'driver_info.deploy_kernel', 'ipmi_address'):
            self.assertIn(key, warning[0])
        # The boot mode capability is read, not ignored.
        self.assertNotIn('boot_mode', warning[0])
        self.assertEqual('bios', db_api.get_node('rack-1').boot_mode)
        self.assertNotIn('pw-Import-9', out + err)

    def test_boot_mode_default_for_nodes_that_give_none(self):
        path = self.write_file('two.yaml', self.FILE.replace(
            'capabilities: "boot_mode:bios,x:y"', 'capabilities: "x:y"')
            + """  - name: rack-2
    driver_info: {ipmi_address: 10.0.0.2, ipmi_username: admin,
                  ipmi_password: pw-Import-9}
    properties: {cpus: 8, memory_mb: 1024, local_gb: 10,
                 capabilities: "boot_mode:uefi"}
""")
        code, out, err = self.manage('node', 'import', path, '--host',
                                     'proxy-1', '--boot-mode', 'bios')
        self.assertEqual(0, code, err)
        self.assertEqual(('bios', 'uefi'), (
            db_api.get_node('rack-1').boot_mode,
            db_api.get_node('rack-2').boot_mode))

    def test_strict_refuses_them(self):
        code, out, err = self.manage('node', 'import', self.path, '--host',
                                     'proxy-1', '--strict')
        self.assertEqual(2, code)
        self.assertIn('properties.vendor', err)
        self.assertEqual(0, db_api.count_nodes())

    def test_no_proxy_no_import(self):
        code, out, err = self.manage('node', 'import', self.path)
        self.assertEqual(2, code)
        self.assertIn('nodes[0] (rack-1) names no proxy (service_host): '
                      'give --host', err)
        self.assertEqual(0, db_api.count_nodes())
