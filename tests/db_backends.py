"""Throwaway databases on SQLite, MariaDB/MySQL and PostgreSQL for tests.

Each test process creates at most one database per server backend, named
``nova_bm_test_<random>``, migrates it, empties its tables before every
test and drops it when the process exits, so runs never share state.

Which backends: all three. Outside CI, ``NOVA_BM_TEST_DB_BACKENDS`` may
narrow a local run (e.g. ``sqlite``); under ``CI=true`` it is ignored and a
server that does not answer fails the test, with the address tried.
"""

import atexit
import os
import tempfile
import threading

from oslo_utils import uuidutils
import sqlalchemy as sa

from tests import utils

ALL_BACKENDS = ('sqlite', 'mysql', 'postgresql')

ADMIN_URLS = {
    'mysql': os.environ.get('NOVA_BM_TEST_MYSQL_URL',
                            'mysql+pymysql://root@127.0.0.1:3306/'),
    'postgresql': os.environ.get(
        'NOVA_BM_TEST_POSTGRESQL_URL',
        'postgresql+psycopg2://postgres@127.0.0.1:5432/postgres'),
}

# Captured at import: oslotest's NestedTempfile points tempfile at a
# per-test directory that vanishes with the test.
_TEMP_ROOT = tempfile.gettempdir()

_lock = threading.Lock()
_databases = {}


class BackendUnavailable(Exception):
    pass


def selected_backends():
    """The backends this run must test."""
    if utils.under_ci():
        return ALL_BACKENDS
    wanted = os.environ.get('NOVA_BM_TEST_DB_BACKENDS')
    if not wanted:
        return ALL_BACKENDS
    names = tuple(n.strip() for n in wanted.split(',') if n.strip())
    unknown = set(names) - set(ALL_BACKENDS)
    if unknown:
        raise ValueError('NOVA_BM_TEST_DB_BACKENDS: unknown backend(s) %s'
                         % ', '.join(sorted(unknown)))
    return names


def scenarios():
    return [(name, {'backend': name}) for name in selected_backends()]


def new_database(backend):
    """Create an empty database; return ``(url, drop)``."""
    if backend == 'sqlite':
        fd, path = tempfile.mkstemp(prefix='nova_bm_test_', suffix='.sqlite',
                                    dir=_TEMP_ROOT)
        os.close(fd)
        return 'sqlite:///%s' % path, lambda: os.path.exists(path) and \
            os.unlink(path)
    admin_url = sa.engine.make_url(ADMIN_URLS[backend])
    name = 'nova_bm_test_%s' % uuidutils.generate_uuid(dashed=False)[:12]
    admin = sa.create_engine(admin_url, isolation_level='AUTOCOMMIT',
                             poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text('CREATE DATABASE %s' % name))
    except sa.exc.OperationalError as e:
        raise BackendUnavailable(
            'The %s test server at %s does not answer (%s). Start it (see '
            'README: Quick start), point NOVA_BM_TEST_%s_URL at one, or, '
            'outside CI, leave %s out of NOVA_BM_TEST_DB_BACKENDS.' % (
                backend, admin_url.render_as_string(hide_password=True),
                ' '.join(str(e.orig).split()), backend.upper(),
                backend)) from None

    def drop():
        with admin.connect() as connection:
            if backend == 'postgresql':
                connection.execute(sa.text(
                    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
                    'WHERE datname = :name AND pid <> pg_backend_pid()'),
                    {'name': name})
            connection.execute(sa.text('DROP DATABASE IF EXISTS %s' % name))
        admin.dispose()

    if backend == 'mysql':
        url = admin_url.set(database=name, query={'charset': 'utf8mb4'})
    else:
        url = admin_url.set(database=name)
    return url.render_as_string(hide_password=False), drop


def shared_database(backend):
    """This process's migrated database for ``backend``; returns its URL."""
    with _lock:
        if backend not in _databases:
            url, drop = new_database(backend)
            atexit.register(drop)
            _databases[backend] = url
            _migrate(url)
        return _databases[backend]


def _migrate(url):
    from nova_bm.conf import CONF
    from nova_bm.db import api as db_api
    from nova_bm.db import migration
    CONF.set_override('connection', url, group='baremetal_database')
    try:
        db_api.dispose()
        migration.upgrade()
    finally:
        db_api.dispose()
        CONF.clear_override('connection', group='baremetal_database')


def empty_tables(url):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text('DELETE FROM bm_deploy_jobs'))
            connection.execute(sa.text('DELETE FROM bm_interfaces'))
            connection.execute(sa.text('DELETE FROM bm_inventories'))
            connection.execute(sa.text('DELETE FROM bm_nodes'))
            connection.execute(sa.text('DELETE FROM bm_proxies'))
    finally:
        engine.dispose()
