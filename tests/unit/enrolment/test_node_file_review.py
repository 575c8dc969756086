"""Node files, issue 33: ignored keys named, lifecycle keys honoured, every
error of a file at once (duplicates within it included), no password."""

import json
import os

import fixtures
import yaml

from nova_bm.db import api as db_api
from nova_bm import exception
from nova_bm.enrolment import bounded_load
from nova_bm.enrolment import node_file
from nova_bm.enrolment import node_spec
from tests import base
from tests.unit.cli import base as cli_base
from tests import utils

PASSWORD = 'pw-TOPSECRET-4242'  # valid: 17 bytes
LONG_PASSWORD = 'pw-TOPSECRET-too-long-by-far'  # over IPMI's 20 bytes
UUID = '6f1c0a52-1b7e-4c1e-9a0e-2a4f3c5d6e72'


class NodeFileTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def write(self, nodes=None, document=None, name='nodes.json'):
        path = os.path.join(self.dir, name)
        if document is None:
            document = {'nodes': nodes}
        with open(path, 'w') as f:
            if name.endswith('.json'):
                json.dump(document, f)
            else:
                yaml.safe_dump(document, f)
        return path

    def refused(self, path, **kwargs):
        return self.assertRaises(exception.NodeFileInvalid, node_file.load,
                                 path, 'proxy-1', **kwargs)


class BootModeTestCase(NodeFileTestCase):
    """Ironic's boot_mode capability, as Ironic stores it (a string) or as
    a mapping, or the node's own key; the option's default otherwise."""

    def test_capabilities_string_mapping_own_key_and_default(self):
        nodes = [utils.ironic_node(i) for i in range(5)]
        nodes[0]['properties']['capabilities'] = 'boot_mode:bios'
        nodes[1]['properties']['capabilities'] = {'boot_mode': 'UEFI'}
        nodes[2]['boot_mode'] = 'bios'
        nodes[3]['properties']['capabilities'] = 'secure_boot:true'
        # Both, in different cases: the same mode.
        nodes[4]['properties']['capabilities'] = 'boot_mode:uefi'
        nodes[4]['boot_mode'] = 'UEFI'
        specs, ignored = node_file.load_report(self.write(nodes), 'proxy-1')
        self.assertEqual(['bios', 'uefi', 'bios', 'uefi', 'uefi'],
                         [row['boot_mode'] for row, _ in specs])
        self.assertEqual(['nodes[3].properties.capabilities.secure_boot'],
                         ignored)

    def test_bad_boot_modes_are_refused_with_their_place(self):
        nodes = [utils.ironic_node(i) for i in range(7)]
        nodes[0]['properties']['capabilities'] = 'boot_mode:legacy'
        nodes[1]['properties']['capabilities'] = 'boot_mode'
        nodes[2]['properties']['capabilities'] = ['boot_mode:uefi']
        nodes[3]['properties']['capabilities'] = 'boot_mode:uefi'
        nodes[3]['boot_mode'] = 'bios'
        nodes[4]['properties']['capabilities'] = (
            'boot_mode:uefi,boot_mode:bios')
        nodes[5]['properties']['capabilities'] = 'boot_mode:'
        nodes[6]['boot_mode'] = False
        error = self.refused(self.write(nodes))
        self.assertEqual([
            "nodes[0] (node-0): properties.capabilities.boot_mode: must be "
            "uefi or bios, got 'legacy'",
            'nodes[1] (node-1): properties.capabilities: must be '
            '"key:value" pairs separated by commas, got \'boot_mode\'',
            'nodes[2] (node-2): properties.capabilities: must be '
            '"key:value,..." or a mapping, got [\'boot_mode:uefi\']',
            "nodes[3] (node-3): boot_mode: 'bios' differs from "
            "properties.capabilities boot_mode 'uefi'; give one of them",
            "nodes[4] (node-4): properties.capabilities: gives 'boot_mode' "
            "twice",
            "nodes[5] (node-5): properties.capabilities.boot_mode: must be "
            "uefi or bios, got ''",
            'nodes[6] (node-6): boot_mode: must be uefi or bios, got False'],
            error.errors)


class IgnoredKeysTestCase(NodeFileTestCase):
    """Finding 3: what nova-bm does not import is named, never dropped
    silently; with strict=True it is refused."""

    def ironic_nodes(self):
        nodes = [utils.ironic_node(i) for i in range(12)]
        first = nodes[0]
        first['properties']['vendor'] = 'Supermicro'
        first['properties']['capabilities'] = 'boot_mode:uefi,secure_boot:x'
        first['driver_info']['deploy_kernel'] = 'glance://kernel'
        first['ipmi_address'] = '10.9.9.9'  # stray: not under driver_info
        nodes[10]['extra'] = {'rack': 1}
        nodes[2]['ports'][0]['uuid'] = UUID
        # Empty values say nothing: not listed.
        nodes[3].update(description=None, extra={}, owner='')
        return nodes

    def test_ignored_keys_are_listed(self):
        path = self.write(self.ironic_nodes())
        specs, ignored = node_file.load_report(path, 'proxy-1')
        self.assertEqual(12, len(specs))
        self.assertEqual(['nodes[0].driver_info.deploy_kernel',
                          'nodes[0].ipmi_address',
                          'nodes[0].properties.capabilities.secure_boot',
                          'nodes[0].properties.vendor',
                          'nodes[2].ports.uuid',
                          'nodes[10].extra'], ignored)
        # The stray key did not leak into the node.
        self.assertEqual('10.0.0.0', specs[0][0]['ipmi_address'])

    def test_load_still_returns_the_specs(self):
        path = self.write(self.ironic_nodes())
        specs = node_file.load(path, 'proxy-1')
        report, _ = node_file.load_report(path, 'proxy-1')
        self.assertEqual([(row['name'], ports) for row, ports in report],
                         [(row['name'], ports) for row, ports in specs])

    def test_chassis_portgroups_and_odd_keys(self):
        node = utils.ironic_node(1)
        node['ports'] = []
        node['portgroups'] = [{'name': 'bond0', 'mode': '802.3ad', 'ports': [
            {'address': utils.mac(1), 'extra': {'a': 1}},
            {'address': utils.mac(2)}]}]
        node['properties']['root device'] = 'sda'
        node[7] = 'seven'
        path = self.write(document={'chassis': [
            {'description': 'rack 1', 'extra': {}, 'nodes': [node]}]},
            name='nodes.yaml')
        _, ignored = node_file.load_report(path, 'proxy-1')
        self.assertEqual([
            'chassis[0].description',
            'chassis[0].nodes[0].portgroups[0].mode',
            'chassis[0].nodes[0].portgroups[0].name',
            'chassis[0].nodes[0].portgroups[0].ports[0].extra',
            "chassis[0].nodes[0].properties['root device']",
            'chassis[0].nodes[0][7]'],
            ignored)

    def test_described_short_for_one_warning_line(self):
        ignored = (['nodes[%d].driver_info.deploy_kernel' % i
                    for i in range(2000)]
                   + ['nodes[3].ipmi_address', 'chassis[0].description',
                      'chassis[1].nodes[0].ports[1].uuid'])
        self.assertEqual(
            'driver_info.deploy_kernel in nodes[0], nodes[1], nodes[2] and '
            '1997 more; ipmi_address in nodes[3]; description in chassis[0]; '
            'ports[1].uuid in chassis[1].nodes[0]',
            node_file.describe_ignored(ignored))
        self.assertEqual('k0 in nodes[0]; k1 in nodes[1]; and 3 more keys',
                         node_file.describe_ignored(
                             ['nodes[%d].k%d' % (i, i) for i in range(5)],
                             keys=2))

    def test_strict_refuses_them_all(self):
        path = self.write(self.ironic_nodes())
        error = self.refused(path, strict=True)
        self.assertCountEqual([
            'nodes[0] (node-0): driver_info.deploy_kernel: is not used by '
            'nova-bm',
            'nodes[0] (node-0): properties.vendor: is not used by '
            'nova-bm',
            'nodes[0] (node-0): properties.capabilities.secure_boot: is not '
            'used by nova-bm',
            'nodes[0] (node-0): ipmi_address: is not used by nova-bm (it '
            'belongs in driver_info)',
            'nodes[2] (node-2): ports.uuid: is not used by nova-bm',
            'nodes[10] (node-10): extra: is not used by nova-bm'],
            error.errors)
        self.assertTrue(error.errors[-1].startswith('nodes[10] '))
        self.assertIn('6 errors', str(error))
        chassis = self.write(document={'chassis': [
            {'description': 'rack 1', 'nodes': [utils.ironic_node(1)]}]},
            name='chassis.json')
        self.assertEqual(['chassis[0].description: is not used by nova-bm'],
                         self.refused(chassis, strict=True).errors)
        # Without strict the same files import.
        self.assertEqual(12, len(node_file.load(path, 'proxy-1')))


class LifecycleTestCase(NodeFileTestCase):
    """Finding 1 (node files' part): provision_state, maintenance and
    maintenance_reason reach node_spec, as Ironic's node files mean them."""

    def test_passed_to_node_spec_as_given(self):
        seen = []
        real = node_spec.new_node

        def new_node(values, macs=()):
            seen.append(dict(values))
            return real({k: v for k, v in values.items()
                         if k not in node_file._LIFECYCLE_KEYS}, macs)
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.enrolment.node_spec.new_node', new_node))
        path = self.write([
            utils.ironic_node(1, provision_state='manageable',
                              maintenance='yes', maintenance_reason='fan'),
            utils.ironic_node(2, maintenance=False),
            utils.ironic_node(3)])
        node_file.load(path, 'proxy-1')
        self.assertEqual(
            [{'provision_state': 'manageable', 'maintenance': 'yes',
              'maintenance_reason': 'fan'}, {'maintenance': False}, {}],
            [{k: v for k, v in values.items()
              if k in ('provision_state', 'maintenance',
                       'maintenance_reason')} for values in seen])

    def test_enrolled_as_the_file_says(self):
        path = self.write([
            utils.ironic_node(1, provision_state='manageable',
                              maintenance=True, maintenance_reason='fan'),
            utils.ironic_node(2, provision_state='enroll')])
        rows = [row for row, _ in node_file.load(path, 'proxy-1')]
        self.assertEqual([('manageable', True, 'fan'),
                          ('enroll', False, None)],
                         [(row['provision_state'], row['maintenance'],
                           row.get('maintenance_reason')) for row in rows])
        bad = self.write([utils.ironic_node(1, provision_state='active'),
                          utils.ironic_node(2, maintenance_reason='fan')],
                         name='bad.json')
        errors = self.refused(bad).errors
        self.assertEqual(2, len(errors), errors)
        self.assertTrue(errors[0].startswith(
            'nodes[0] (node-1): provision_state: '), errors)
        self.assertTrue(errors[1].startswith(
            'nodes[1] (node-2): maintenance_reason: '), errors)


class AllErrorsTestCase(NodeFileTestCase):
    """Finding 10 (node files' part): every error at once, each naming the
    node and the field; duplicates within the file among them."""

    def test_every_field_of_every_node(self):
        nodes = [utils.ironic_node(i) for i in range(5)]
        nodes[0]['properties']['memory_mb'] = 0
        nodes[0]['driver_info']['ipmi_port'] = 'x'
        nodes[0]['driver'] = 'redfish'
        del nodes[2]['properties']['cpus']
        nodes[2]['portgroups'] = [{'ports': [{'address': utils.mac(50)},
                                             {'address': 'zz'}]}]
        nodes[3]['driver_info'] = 'not a mapping'
        nodes[4].update(partition_key='a', conductor_group='b')
        error = self.refused(self.write(nodes))
        expected = ['nodes[0] (node-0): driver: ',
                    'nodes[0] (node-0): properties.memory_mb: ',
                    'nodes[0] (node-0): driver_info.ipmi_port: ',
                    'nodes[2] (node-2): properties.cpus: is required',
                    'nodes[2] (node-2): portgroups[0].ports[1].address: ',
                    'nodes[3] (node-3): driver_info: must be a mapping',
                    'nodes[4] (node-4): partition_key: differs from']
        self.assertEqual(7, len(error.errors), error.errors)
        for text, prefix in zip(error.errors, expected, strict=True):
            self.assertTrue(text.startswith(prefix), (text, prefix))
        lines = str(error).splitlines()
        self.assertEqual('%s: 7 errors:' % os.path.join(self.dir,
                                                        'nodes.json'),
                         lines[0])
        self.assertEqual(['  ' + e for e in error.errors], lines[1:])

    def test_duplicates_within_the_file_in_the_first_pass(self):
        nodes = [utils.ironic_node(i) for i in range(6)]
        nodes[1]['ports'].append({'address': utils.mac(0).upper()})
        nodes[2]['ports'].append({'address': utils.mac(2)})
        nodes[3]['name'] = 'node-0'
        nodes[4]['uuid'] = UUID
        nodes[5]['uuid'] = UUID.upper().replace('-', '')
        nodes[5]['driver_info']['ipmi_address'] = '10.0.0.4'
        nodes[5]['properties']['local_gb'] = -1
        error = self.refused(self.write(nodes))
        self.assertEqual([
            'MAC address %s is given to more than one port: nodes[0] '
            '(node-0) ports, nodes[1] (node-1) ports[1]' % utils.mac(0),
            'MAC address %s is given to more than one port: nodes[2] '
            '(node-2) ports[0], nodes[2] (node-2) ports[1]' % utils.mac(2),
            "name 'node-0' is given to more than one node: nodes[0], "
            "nodes[3]",
            'nodes[5] (node-5): properties.local_gb: must be a whole number '
            'from 1 to 2147483647, got -1',
            "UUID '%s' is given to more than one node: nodes[4] (node-4), "
            "nodes[5] (node-5)" % UUID,
            "BMC address:port '10.0.0.4:623' is given to more than one "
            "node: nodes[4] (node-4), nodes[5] (node-5)"],
            error.errors)

    def test_one_error_is_one_line(self):
        nodes = [utils.ironic_node(i) for i in range(3)]
        del nodes[1]['properties']['cpus']
        path = self.write(nodes)
        error = self.refused(path)
        self.assertEqual('%s: nodes[1] (node-1): properties.cpus: is '
                         'required but missing (give cpus, memory_mb and '
                         'local_gb, or none of them and inspect the node)'
                         % path, str(error))

    def test_at_most_fifty_shown(self):
        nodes = [utils.ironic_node(i) for i in range(60)]
        for node in nodes:
            node['properties']['memory_mb'] = 0
        error = self.refused(self.write(nodes))
        lines = str(error).splitlines()
        self.assertEqual(60, len(error.errors))
        self.assertEqual(52, len(lines))
        self.assertTrue(lines[0].endswith(': 60 errors:'), lines[0])
        self.assertTrue(lines[50].startswith('  nodes[49] (node-49): '
                                             'properties.memory_mb:'))
        self.assertEqual('  and 10 more', lines[51])

    def test_each_line_escaped(self):
        nodes = [utils.ironic_node(i) for i in range(2)]
        nodes[0]['name'] = 'bad\x1b[2J\nname'
        nodes[1]['properties']['cpus'] = 'x\x07'
        error = self.refused(self.write(nodes))
        lines = str(error).splitlines()
        self.assertEqual(3, len(lines), lines)
        for line in lines:
            self.assertTrue(line.isprintable(), line)


class PasswordTestCase(NodeFileTestCase):
    """No message shows a node's ipmi_password, whatever else is wrong."""

    def test_never_in_an_error(self):
        nodes = [utils.ironic_node(i) for i in range(8)]
        for node in nodes:
            node['driver_info']['ipmi_password'] = PASSWORD
        nodes[0]['driver_info']['ipmi_password'] = LONG_PASSWORD
        nodes[0]['properties']['cpus'] = 0
        nodes[1]['driver_info']['ipmi_password'] = [PASSWORD]
        nodes[2]['driver_info']['ipmi_password'] = PASSWORD + '\n'
        nodes[3]['ipmi_password'] = PASSWORD  # stray, strict refuses it
        nodes[4]['driver_info']['redfish_password'] = PASSWORD
        nodes[5]['driver_info'] = 'ipmi_password=%s' % PASSWORD
        nodes[6]['name'] = nodes[7]['name']  # duplicates, same password
        nodes[6]['ports'] = nodes[7]['ports']
        nodes[6]['driver_info'] = nodes[7]['driver_info']
        for strict in (False, True):
            error = self.refused(self.write(nodes), strict=strict)
            self.assertGreaterEqual(len(error.errors), 6, error.errors)
            for text in [str(error)] + error.errors:
                self.assertNotIn('TOPSECRET', text)

    def test_never_in_a_parse_error(self):
        path = os.path.join(self.dir, 'nodes.yaml')
        with open(path, 'w') as f:
            f.write('nodes:\n  - driver_info: {ipmi_password: %s: x}\n'
                    % PASSWORD)
        for loader in (bounded_load._Loader, yaml.SafeLoader):
            # PyYAML's own parser (no libyaml) quotes the line it fails on.
            self.useFixture(fixtures.MonkeyPatch(
                'nova_bm.enrolment.bounded_load._Loader', loader))
            error = self.refused(path)
            self.assertIn('is not valid YAML', str(error))
            self.assertIn('line 2, column', str(error))
            self.assertNotIn('TOPSECRET', str(error))


class ImportCommandTestCase(cli_base.ManageTestCase):
    """How nova-bm-manage node import shows several errors."""

    def setUp(self):
        super().setUp()
        self.assertManage('db', 'sync')

    def test_one_line_per_error_nothing_written(self):
        nodes = [utils.ironic_node(i) for i in range(4)]
        nodes[1]['properties']['memory_mb'] = 0
        nodes[2]['name'] = 'node-1'
        nodes[3]['driver_info']['ipmi_password'] = LONG_PASSWORD
        path = self.write_file('nodes.json', json.dumps({'nodes': nodes}))
        code, out, err = self.manage('node', 'import', path, '--host',
                                     'proxy-1')
        self.assertEqual(2, code, err)
        self.assertEqual('', out)
        lines = err.strip().splitlines()
        self.assertEqual(4, len(lines), err)
        self.assertIn('%s: 3 errors:' % path, lines[0])
        self.assertTrue(lines[1].startswith(
            '  nodes[1] (node-1): properties.memory_mb: '), lines)
        self.assertIn("name 'node-1' is given to more than one node: "
                      "nodes[1], nodes[2]", lines[2])
        self.assertTrue(lines[3].startswith(
            '  nodes[3] (node-3): driver_info.ipmi_password: '), lines)
        self.assertNotIn('TOPSECRET', err)
        self.assertNotIn('Traceback', err)
        self.assertEqual(0, db_api.count_nodes())


class RootDeviceTestCase(NodeFileTestCase):
    """Ironic's properties.root_device is imported, validated like every
    field."""

    def test_imported(self):
        nodes = [utils.ironic_node(0), utils.ironic_node(1)]
        nodes[0]['properties']['root_device'] = {'wwn': '0x5000C500'}
        specs, ignored = node_file.load_report(self.write(nodes), 'proxy-1')
        self.assertEqual([], ignored)
        self.assertEqual({'wwn': 's== 0x5000c500'},
                         specs[0][0]['root_device_hints'])
        self.assertIsNone(specs[1][0].get('root_device_hints'))

    def test_refused_with_its_path(self):
        nodes = [utils.ironic_node(0)]
        nodes[0]['properties']['root_device'] = {'serial': 'S1', 'tran': 'x'}
        error = self.refused(self.write(nodes))
        self.assertIn('nodes[0] (node-0): properties.root_device: ',
                      str(error))
        self.assertIn('tran', str(error))

