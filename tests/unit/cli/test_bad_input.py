"""What nova-bm-manage does with bad input (the hardening issue's list).

Each row is an input an operator, a script or a fuzzer gave, with what must
come back: exit 2, one line on stderr that names the problem, nothing on
stdout, no traceback, no password, and the node database unchanged.
"""

import json
import logging
import os
import time

import fixtures
from oslo_db import exception as db_exc
import sqlalchemy as sa
import testscenarios

from nova_bm.db import api as db_api
from tests import db_backends
from tests.unit.cli import base
from tests.unit.cli import test_manage
from tests import utils

PASSWORD = test_manage.PASSWORD
create_args = test_manage.create_args
UUID = '6f1c0a52-1b7e-4c1e-9a0e-2a4f3c5d6e72'
# Spellings of UUID that oslo's is_uuid_like accepts.
UUID_SPELLINGS = ('6F1C0A521B7E4C1E9A0E2A4F3C5D6E72',
                  '{6F1C0A52-1B7E-4C1E-9A0E-2A4F3C5D6E72}',
                  'urn:uuid:6f1c0a52-1b7e-4c1e-9a0e-2a4f3c5d6e72',
                  '6F1C0A52-1B7E-4C1E-9A0E-2A4F3C5D6E72')
HUGE_NUMBER = '9' * 5000


class RefusalMixin:

    def assertRefusedUnchanged(self, expected_text, *args, code=2,
                               config_file=None):
        """Refused with one line, nothing written, no secret shown."""
        before = self.snapshot()
        code_, out, err = self.manage(*args, config_file=config_file)
        self.assertEqual(code, code_, 'stdout: %r\nstderr: %r' % (out, err))
        lines = err.strip().splitlines()
        self.assertEqual(1, len(lines), err)
        self.assertIn(expected_text, lines[0])
        self.assertTrue(lines[0].isprintable(), lines[0])
        self.assertNotIn('Traceback', err + out)
        self.assertNotIn(PASSWORD, err + out)
        self.assertEqual('', out)
        self.assertEqual(before, self.snapshot())
        return lines[0]

    def snapshot(self):
        """Every row of the node database, read past the code under test."""
        url = getattr(self, 'db_url', None) or (
            'sqlite:///%s/nova_bm.sqlite' % self.state)
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                return [sorted(
                    tuple(map(str, row)) for row in connection.execute(
                        sa.text('SELECT * FROM %s' % table)))
                    for table in ('bm_nodes', 'bm_interfaces')]
        finally:
            engine.dispose()


class UuidOnEveryBackendTestCase(testscenarios.WithScenarios, RefusalMixin,
                                 base.ManageTestCase):
    """A UUID in any spelling is one node, on SQLite, MariaDB, PostgreSQL."""

    scenarios = db_backends.scenarios()

    def setUp(self):
        super().setUp()
        self.db_url = db_backends.shared_database(self.backend)
        db_backends.empty_tables(self.db_url)
        self.config_file = self.write_config(
            '[DEFAULT]\nstate_path = %s\nhost = proxy-1\n'
            '[baremetal_database]\nconnection = %s\n'
            % (self.state, self.db_url))

    def test_stored_canonical_and_duplicates_refused(self):
        for index, spelling in enumerate(UUID_SPELLINGS):
            args = create_args(index + 1, **{'--uuid': spelling})
            if index == 0:
                shown = json.loads(self.assertManage(*args, '-f', 'json'))
                self.assertEqual(UUID, shown['uuid'])
                continue
            self.assertRefusedUnchanged(
                "A node with UUID '%s' already exists" % UUID, *args)
        self.assertEqual([UUID], [n.uuid for n in db_api.list_nodes()])
        for spelling in UUID_SPELLINGS:  # any spelling finds the node
            self.assertEqual('node-1\n', self.assertManage(
                'node', 'show', spelling, '-f', 'value', '-c', 'name'))

    def test_node_file_duplicates_refused(self):
        inside = self.write_file('inside.json', json.dumps({'nodes': [
            utils.ironic_node(1, uuid=UUID_SPELLINGS[0]),
            utils.ironic_node(2, uuid=UUID_SPELLINGS[2])]}))
        self.assertRefusedUnchanged(
            "UUID '%s' is given to more than one node" % UUID,
            'node', 'import', inside, '--host', 'proxy-1')
        self.assertManage(*create_args(9, **{'--uuid': UUID}))
        against_db = self.write_file('against.json', json.dumps({'nodes': [
            utils.ironic_node(1, uuid=UUID_SPELLINGS[1])]}))
        self.assertRefusedUnchanged("UUID '%s' already exists" % UUID,
                                    'node', 'import', against_db,
                                    '--host', 'proxy-1')


class CommandLineTestCase(RefusalMixin, base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.assertManage('db', 'sync')
        self.assertManage(*create_args(1))

    def test_field_values(self):
        eighteen_bytes = 'é' * 9
        cases = [
            # A final newline passed the old "$"-anchored patterns.
            ('--name', 'nl1\n', 'name', r"'nl1\n'"),
            ('--resource-class', 'gold\n', 'resource_class', r"'gold\n'"),
            ('--partition-key', 'rack\n', 'partition_key', r"'rack\n'"),
            ('--trait', 'CUSTOM_X\n', 'trait', r"'CUSTOM_X\n'"),
            ('--ipmi-address', 'bmc.example.org\n', 'ipmi_address',
             r"'bmc.example.org\n'"),
            # More digits than Python converts.
            ('--cpus', HUGE_NUMBER, 'cpus', 'at most 20 digits'),
            ('--memory-mb', HUGE_NUMBER, 'memory_mb', '5000 digits'),
            ('--ipmi-port', HUGE_NUMBER, 'ipmi_port', '5000 digits'),
            # What IPMI 2.0 cannot carry.
            ('--ipmi-username', 'u' * 17, 'ipmi_username', '1 to 16 bytes'),
            ('--ipmi-username', eighteen_bytes, 'ipmi_username',
             '1 to 16 bytes'),
            ('--ipmi-username', '', 'ipmi_username', '1 to 16 bytes'),
            ('--ipmi-password', 'p' * 21, 'ipmi_password',
             'at most 20 bytes'),
            # Terminal escape sequences are shown escaped.
            ('--name', 'bad\x1b[2Jname', 'name', r"'bad\x1b[2Jname'"),
        ]
        for option, value, field, shown in cases:
            args = create_args(2, **{option: value})
            line = self.assertRefusedUnchanged(field, *args)
            self.assertIn(shown, line, (option, value))
            self.assertLess(len(line), 300)
        # node update takes the same rules.
        for option, value, field in [
                ('--ipmi-username', 'u' * 17, 'ipmi_username'),
                ('--ipmi-password', 'p' * 21, 'ipmi_password'),
                ('--cpus', HUGE_NUMBER, 'cpus'),
                ('--partition-key', 'rack\n', 'partition_key')]:
            self.assertRefusedUnchanged(field, 'node', 'update', 'node-1',
                                        option, value)

    def test_names_with_control_characters_are_escaped(self):
        line = self.assertRefusedUnchanged(
            r"Node bad\x1b[2Jname\n could not be found", 'node', 'show',
            'bad\x1b[2Jname\n', code=1)
        self.assertNotIn('\x1b', line)
        path = os.path.join(self.state, 'evil\x1b]0;x\x07\n.yaml')
        line = self.assertRefusedUnchanged(
            r'evil\x1b]0;x\x07\n.yaml: No such file', 'node', 'import',
            path)

    def test_soft_off_timeout_range(self):
        for value in ('-5', '0', '86401', 'soon'):
            self.assertRefusedUnchanged(
                'argument --timeout', 'node', 'power', 'off', '--soft',
                '--timeout', value, 'node-1')

    def test_usage_errors_are_one_line_without_passwords(self):
        cases = [
            (('frobnicate', '--ipmi-password', PASSWORD),
             '"frobnicate" is not a command'),
            (('node', 'frob', '--ipmi-password=%s' % PASSWORD),
             '"node frob" is not a command'),
            (('--ipmi-password', PASSWORD), 'give a command first'),
            (('node', 'list', '--ipmi-password', PASSWORD),
             'unrecognized arguments: --ipmi-password ******'),
            (('node', 'list', '--ipmi-passw', PASSWORD),
             'unrecognized arguments: --ipmi-passw ******'),
            (('node', 'create', '--name', 'x', '--ipmi-password', PASSWORD),
             'the following arguments are required'),
            (('node', 'power', 'off', '--soft', '--timeout'),
             'expected one argument'),
            (('--config-file',), 'expected one argument'),
            (('node', 'list', '-f', 'xml'), 'invalid choice'),
            (('help', '--bogus', '--ipmi-password', PASSWORD),
             'nova-bm-manage help: unrecognized arguments: --bogus'),
            (('complete', '--shell', 'tcsh'), 'invalid choice'),
        ]
        for args, expected in cases:
            line = self.assertRefusedUnchanged(expected, *args)
            self.assertIn('--help', line)

    def test_unknown_column_refused_before_anything_is_written(self):
        self.assertRefusedUnchanged(
            "-c 'NoSuchColumn': no such column", 'node', 'list', '-c',
            'NoSuchColumn')
        self.assertRefusedUnchanged(
            "-c 'NoSuchColumn': no such column",
            *create_args(2), '-c', 'NoSuchColumn')
        self.assertEqual('node-1\n', self.assertManage(
            'node', 'list', '-c', 'name', '-f', 'value'))

    def test_configuration_files(self):
        binary = os.path.join(self.state, 'binary.conf')
        with open(binary, 'wb') as f:
            f.write(b'[DEFAULT]\nhost = \xb5\xff\x00\n')
        line = self.assertRefusedUnchanged(
            'binary.conf: is not UTF-8 text', 'node', 'list',
            config_file=binary)
        self.assertIn(binary, line)
        not_a_db = self.write_config(
            '[baremetal_database]\nconnection = notadb://u:%s@h/x\n'
            % PASSWORD, name='notadb.conf')
        self.assertRefusedUnchanged(
            "[baremetal_database] connection: 'notadb:' is not a database",
            'node', 'list', config_file=not_a_db)

    def test_unrecognised_database_error_is_one_line(self):
        def list_nodes(**kwargs):
            # What oslo.db does with a DBAPI error it has no filter for.
            try:
                raise ValueError('value too long for type character(36)')
            except ValueError:
                logging.getLogger('oslo_db.sqlalchemy.exc_filters').exception(
                    'DBAPIError exception wrapped.')
                raise db_exc.DBError('wrapped') from None
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.db.api.list_nodes', list_nodes))
        self.assertRefusedUnchanged(
            'Database error (DBError); run with --debug for details.',
            'node', 'list', code=1)

    def test_connection_debug_logs_no_password(self):
        config = self.write_config(
            '[DEFAULT]\nstate_path = %s\nhost = proxy-1\n'
            '[baremetal_database]\nconnection_debug = 100\n' % self.state,
            name='debug.conf')
        for args in (create_args(2), ('node', 'show', 'node-2'),
                     ('node', 'list'), ('node', 'update', 'node-2',
                                        '--cpus', '4')):
            code, out, err = self.manage('-v', '-v', *args,
                                         config_file=config)
            self.assertEqual(0, code, err)
            self.assertIn('SELECT', err)  # statements are still logged
            self.assertNotIn(PASSWORD, out + err)
            self.assertNotIn('pw-secret', out + err)


class NodeFileTestCase(RefusalMixin, base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.assertManage('db', 'sync')
        self.assertManage(*create_args(1))

    def refuse_file(self, name, data, expected):
        path = os.path.join(self.state, name)
        with open(path, 'w' if isinstance(data, str) else 'wb') as f:
            f.write(data)
        start = time.monotonic()
        line = self.assertRefusedUnchanged(expected, 'node', 'import', path,
                                           '--host', 'proxy-1')
        self.assertIn(name, line)
        self.assertLess(len(line), 400, line)
        return line, time.monotonic() - start

    def test_values_that_escaped_validation(self):
        node = json.dumps(utils.ironic_node(2, driver=['ipmi']))
        self.refuse_file('list-driver.json', '{"nodes": [%s]}' % node,
                         "nodes[0] (node-2): driver: ['ipmi'] is not an "
                         "IPMI driver")
        node = json.dumps(utils.ironic_node(2, driver={'ipmi': 1}))
        self.refuse_file('map-driver.json', '{"nodes": [%s]}' % node,
                         "driver: {'ipmi': 1} is not an IPMI driver")
        self.refuse_file('mixed-keys.yaml', 'nodes: []\n1: x\nb: y\n',
                         'top-level key 1 is not supported')
        for name, field in [('memory.json', 'properties.memory_mb'),
                            ('memory.yaml', 'properties.memory_mb'),
                            ('port.yaml', 'driver_info.ipmi_port')]:
            node = utils.ironic_node(2)
            if field.endswith('memory_mb'):
                node['properties']['memory_mb'] = '@@'
            else:
                node['driver_info']['ipmi_port'] = '@@'
            text = json.dumps({'nodes': [node]}).replace('"@@"',
                                                         HUGE_NUMBER)
            self.refuse_file(name, text, '%s: must be a whole number of at '
                                         'most 20 digits' % field)

    def test_hostile_files_end_quickly(self):
        depth = 100000
        self.refuse_file('deep.yaml', 'nodes: ' + '[' * depth + ']' * depth,
                         'is nested more than 32 levels deep')
        self.refuse_file('deep-map.yaml', ''.join(
            '%sa:\n' % (' ' * i) for i in range(2000)),
            'is nested more than 32 levels deep')
        for depth in (1000, 100000):
            self.refuse_file('deep.json', '{"nodes": ' + '[' * depth
                             + ']' * depth + '}',
                             'is nested more than 32 levels deep')
        bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol",'
                '"lol"]']
        for level in 'bcdefghi':
            previous = chr(ord(level) - 1)
            bomb.append('%s: &%s [%s]' % (level, level,
                                          ','.join(['*' + previous] * 9)))
        bomb.append('nodes: [{name: n, traits: *i}]')
        _, seconds = self.refuse_file('bomb.yaml', '\n'.join(bomb),
                                      'its aliases expand to more than')
        self.assertLess(len('\n'.join(bomb)), 1024)
        self.refuse_file('loop.yaml', 'nodes: &n [*n]',
                         'alias *n refers to a collection it is part of')
        line, _ = self.refuse_file(
            'long.yaml', json.dumps({'nodes': [
                utils.ironic_node(2, name='x' * 1000000)]}), 'name')
        self.assertIn('...', line)
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.enrolment.bounded_load.MAX_BYTES', 4096))
        self.refuse_file('big.json', json.dumps({'nodes': [
            utils.ironic_node(i) for i in range(2, 40)]}),
            'is larger than 4096 bytes')

    def test_anchors_within_limits_still_work(self):
        path = self.write_file('anchors.yaml', '\n'.join([
            'nodes:',
            '  - {name: n0, driver_info: &bmc {ipmi_address: 10.0.0.1,',
            '      ipmi_username: admin, ipmi_password: file-secret},',
            '     properties: &size {cpus: 1, memory_mb: 1, local_gb: 1}}',
        ] + ['  - {name: n%d, driver_info: {<<: *bmc, ipmi_port: %d},'
             ' properties: *size}' % (i, 7000 + i) for i in range(1, 4)]))
        self.assertIn('Created 4 nodes', self.assertManage(
            'node', 'import', path, '--host', 'proxy-1'))
        self.assertEqual(7003, db_api.get_node('n3').ipmi_port)
