"""Migrations build the schema the models describe, on every backend."""

from alembic import autogenerate
from alembic import migration as alembic_migration
import testscenarios

from nova_bm.db import api as db_api
from nova_bm.db import migration
from nova_bm.db import models
from nova_bm import exception
from tests import base
from tests import db_backends


class MigrationTestCase(testscenarios.WithScenarios, base.TestCase):

    scenarios = db_backends.scenarios()

    def setUp(self):
        super().setUp()
        url, drop = db_backends.new_database(self.backend)
        self.addCleanup(drop)
        self.addCleanup(db_api.dispose)
        self.conf.config(connection=url, group='baremetal_database')

    def test_upgrade_from_empty_to_head_twice(self):
        self.assertIsNone(migration.version())
        migration.upgrade()
        self.assertEqual(migration.head(), migration.version())
        migration.upgrade()  # db sync is safe to run again
        self.assertEqual(migration.head(), migration.version())

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
