"""A test case that runs once per database backend (SQLite, MariaDB,
PostgreSQL) against a real, migrated, emptied node database."""

import testscenarios

from tests import base
from tests import db_backends


class DbTestCase(testscenarios.WithScenarios, base.TestCase):

    scenarios = db_backends.scenarios()

    def setUp(self):
        super().setUp()
        self.db_url = db_backends.shared_database(self.backend)
        db_backends.empty_tables(self.db_url)
        self.conf.config(connection=self.db_url, group='baremetal_database')
