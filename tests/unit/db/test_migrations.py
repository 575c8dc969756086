"""Migrations build the schema the models describe, on every backend."""

from alembic import autogenerate
from alembic import migration as alembic_migration
import sqlalchemy as sa
import testscenarios

from nova_bm.db import api as db_api
from nova_bm.db import migration
from nova_bm.db import models
from nova_bm import exception
from tests import base
from tests import db_backends
from tests import utils


class MigrationTestCase(testscenarios.WithScenarios, base.TestCase):

    scenarios = db_backends.scenarios()

    def setUp(self):
        super().setUp()
        url, drop = db_backends.new_database(self.backend)
        self.addCleanup(drop)
        self.addCleanup(db_api.dispose)
        self.conf.config(connection=url, group='baremetal_database')

    @staticmethod
    def insert_node(connection, row, traits='[]'):
        """A node row as an older release wrote it (its columns only)."""
        row = {k: v for k, v in row.items()
               if k not in ('maintenance', 'provision_state')}
        connection.execute(sa.text(
            'INSERT INTO bm_nodes (%s, maintenance, provision_state) '
            'VALUES (%s, :m, :p)' % (
                ', '.join(row), ', '.join(':' + k for k in row))),
            dict(row, traits=traits, m=False, p='available'))

    def test_upgrade_from_empty_to_head_twice(self):
        self.assertIsNone(migration.version())
        migration.upgrade()
        self.assertEqual(migration.head(), migration.version())
        migration.upgrade()  # db sync is safe to run again
        self.assertEqual(migration.head(), migration.version())

    def test_upgrade_keeps_nodes_of_the_first_release(self):
        migration.upgrade('2f1a9c0e4b7d')
        row, _ = utils.node_spec_for(1)
        row.pop('partition_key', None)
        row.pop('deploy_interface', None)
        row.pop('boot_mode')
        with db_api.engine().begin() as connection:
            self.insert_node(connection, row)
        # The code of this release against the old schema: one line.
        error = self.assertRaises(exception.DatabaseNotReady,
                                  db_api.list_nodes)
        self.assertIn('db sync', str(error))
        migration.upgrade()
        (node,) = db_api.list_nodes()
        self.assertEqual(('node-1', None), (node.name, node.partition_key))
        self.assertEqual([], db_api.list_proxies())
        # Nodes from before deploys existed keep booting from the network.
        self.assertEqual('netboot', node.deploy_interface)
        # ... and from before boot modes on the legacy path they were
        # deployed on, whatever default_boot_mode says for new nodes.
        self.assertEqual('bios', node.boot_mode)

    def test_a_uefi_trait_given_by_hand_becomes_the_boot_mode(self):
        # Before boot modes, the standard trait was how an operator
        # marked a UEFI node: it becomes the node's boot mode, and no boot
        # mode trait stays among the operator's (the mode reports one).
        migration.upgrade('a7d3f5b9c2e1')
        with db_api.engine().begin() as connection:
            for index, traits in ((1, '["CUSTOM_A", "COMPUTE_FIRMWARE_UEFI"]'),
                                  (2, '["COMPUTE_FIRMWARE_BIOS"]'),
                                  (3, '["CUSTOM_B"]')):
                row, _ = utils.node_spec_for(index)
                row.pop('boot_mode')
                self.insert_node(connection, row, traits=traits)
        migration.upgrade()
        self.assertEqual(
            [('node-1', 'uefi', ['CUSTOM_A']), ('node-2', 'bios', []),
             ('node-3', 'bios', ['CUSTOM_B'])],
            [(n.name, n.boot_mode, n.traits) for n in db_api.list_nodes()])

    def test_upgrade_keeps_interfaces_booting_from_the_network(self):
        migration.upgrade('9d4b2e7f1a36')
        row, _ = utils.node_spec_for(1)
        row.pop('boot_mode')
        with db_api.engine().begin() as connection:
            self.insert_node(connection, row)
            connection.execute(sa.text(
                "INSERT INTO bm_interfaces (node_id, address) SELECT id, "
                "'52:54:00:00:00:01' FROM bm_nodes"))
        migration.upgrade()
        ((interface, name, _),) = db_api.list_interfaces()
        self.assertEqual(('node-1', True, None, None), (
            name, interface.pxe_enabled, interface.physical_network,
            interface.local_link_connection))

    def test_models_match_migrated_schema(self):
        migration.upgrade()
        with db_api.engine().connect() as connection:
            context = alembic_migration.MigrationContext.configure(
                connection, opts={'compare_type': True})
            diff = autogenerate.compare_metadata(context,
                                                 models.Base.metadata)
        self.assertEqual([], diff)

    def test_queries_before_sync_say_to_sync(self):
        error = self.assertRaises(exception.DatabaseNotReady,
                                  db_api.list_nodes)
        self.assertIn('db sync', str(error))

    def test_clean_failed_out_of_maintenance_is_cleaned_again(self):
        # Before clean modes, taking a clean failed node out of
        # maintenance had it cleaned again: it is "cleaning" now; one still
        # in maintenance waits for "node clean". No node has a proof yet.
        migration.upgrade('b8e2d4f6a1c3')
        with db_api.engine().begin() as connection:
            for index, maintenance in ((1, False), (2, True)):
                row, _ = utils.node_spec_for(index)
                self.insert_node(connection, row)
                connection.execute(sa.text(
                    "UPDATE bm_nodes SET provision_state = 'clean failed', "
                    "maintenance = :m WHERE name = :n"),
                    {'m': maintenance, 'n': row['name']})
        migration.upgrade()
        self.assertEqual(
            [('node-1', 'cleaning', None, None, None),
             ('node-2', 'clean failed', None, None, None)],
            [(n.name, n.provision_state, n.clean_mode, n.clean_request,
              n.last_cleaning) for n in db_api.list_nodes()])
