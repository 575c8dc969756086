"""The node database's engine and transactions; nothing here queries a
table.

One oslo.db enginefacade, configured from ``[baremetal_database]`` and
kept apart from Nova's own database; :func:`transaction` opens the one
transaction each function of the modules above runs in (``BEGIN
IMMEDIATE`` for SQLite writers), and turns a database that cannot be
reached or has no (or an older) schema into
:class:`nova_bm.exception.DatabaseUnavailable` or
:class:`~nova_bm.exception.DatabaseNotReady`, with the server's own words
and never its SQL.

Secrecy: node rows hold IPMI passwords, stored as given. The engine hides
SQL parameters from every error message and echo log line, and a log
filter drops the result rows SQLAlchemy would log at DEBUG.
"""

import contextlib
import itertools
import logging
import threading
import weakref

from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import enginefacade
import sqlalchemy as sa

from nova_bm.common import safe_text
from nova_bm.conf import CONF
from nova_bm import exception

# Rows per INSERT batch and values per IN (...) list: well under every
# backend's limit on bound parameters.
CHUNK = 500

_lock = threading.Lock()
_context_manager = None


@enginefacade.transaction_context_provider
class _Context:
    """A private transaction holder, so that no caller's context (Nova's
    RequestContext carries Nova's own database transaction) is mixed with
    the node database's."""


def _db_options():
    options = dict(CONF.baremetal_database.items())
    # oslo.db's transaction factory takes these; drop what it does not.
    for name in ('backend', 'use_db_reconnect', 'db_retry_interval',
                 'db_inc_retry_interval', 'db_max_retry_interval',
                 'db_max_retries', 'asyncio_connection',
                 'asyncio_slave_connection'):
        options.pop(name, None)
    options['sqlite_fk'] = True
    return options


def check_connection_url():
    """Refuse a connection URL naming no database SQLAlchemy can drive.

    Without this, oslo.db first warns about the URL, then SQLAlchemy fails
    with "Can't load plugin": two lines, neither naming the option. Only
    the scheme is quoted: the rest of the URL may hold a password.

    :raises: ConfigInvalid.
    """
    url = CONF.baremetal_database.connection
    try:
        sa.engine.make_url(url).get_dialect()
    except Exception:
        scheme = url.split(':', 1)[0] if ':' in url else url
        raise exception.ConfigInvalid(
            reason='[baremetal_database] connection: %s is not a database '
                   'SQLAlchemy can use (sqlite:///PATH, '
                   'mysql+pymysql://…, postgresql+psycopg2://…)'
            % safe_text.quote(scheme[:40] + ':')) from None


def _get_context_manager():
    global _context_manager
    with _lock:
        if _context_manager is None:
            check_connection_url()
            manager = enginefacade.transaction_context()
            manager.configure(**_db_options())
            _context_manager = manager
        return _context_manager


def dispose():
    """Forget the engine, so the next call reads the configuration again.

    Tests call this after changing ``[baremetal_database] connection``.
    """
    global _context_manager
    with _lock:
        manager, _context_manager = _context_manager, None
    if manager is not None:
        manager.dispose_pool()


def engine():
    """The writer engine (for migrations and tests)."""
    with _translate_errors():
        return _engine(_get_context_manager().writer)


class _NoResultRows(logging.Filter):
    """Drops SQLAlchemy's "Row (…)" debug records.

    With ``[baremetal_database] connection_debug = 100`` (or the
    ``sqlalchemy.engine`` logger at DEBUG) SQLAlchemy logs every result row,
    and node rows hold IPMI passwords. Statements are still logged.
    """

    def filter(self, record):
        return not (isinstance(record.msg, str)
                    and record.msg.startswith('Row '))


_NO_RESULT_ROWS = _NoResultRows()


def _engine(mode):
    eng = mode.get_engine()
    # SQL parameters include IPMI passwords: keep them out of every error
    # message and echo log line SQLAlchemy would otherwise write.
    eng.hide_parameters = True
    logger = getattr(eng.logger, 'logger', eng.logger)  # InstanceLogger
    if _NO_RESULT_ROWS not in logger.filters:
        logger.addFilter(_NO_RESULT_ROWS)
    if eng.dialect.name == 'sqlite' and eng not in _sqlite_engines:
        sa.event.listen(eng, 'begin', _sqlite_begin)
        _sqlite_engines.add(eng)
    return eng


# Set while a writer session is open on this thread.
_write_intent = threading.local()
_sqlite_engines = weakref.WeakSet()


def _sqlite_begin(connection):
    """Make SQLite write transactions BEGIN IMMEDIATE.

    oslo.db starts every SQLite transaction with a plain (deferred) BEGIN
    from its own "begin" listener, which runs before this one. A deferred
    transaction that reads and then writes fails at once with "database is
    locked", without waiting, when another writer got there first; one that
    takes the write lock up front waits its turn (pysqlite's busy timeout).
    The deferred BEGIN has taken no lock yet, so swapping it is harmless.
    """
    if not getattr(_write_intent, 'active', False):
        return
    if 'in_transaction' in connection.info:
        connection.exec_driver_sql('ROLLBACK')
    connection.exec_driver_sql('BEGIN IMMEDIATE')
    connection.info['in_transaction'] = True


@contextlib.contextmanager
def _translate_errors():
    try:
        yield
    except db_exc.DBConnectionError as e:
        raise exception.DatabaseUnavailable(reason=_reason(e)) from None
    except db_exc.DBNonExistentDatabase as e:
        raise exception.DatabaseUnavailable(reason=_reason(e)) from None
    except db_exc.DBNonExistentTable as e:
        raise exception.DatabaseNotReady(reason=_reason(e)) from None
    except (db_exc.DBError, sa.exc.DBAPIError) as e:
        if _is_missing_table(e):
            raise exception.DatabaseNotReady(reason=_reason(e)) from None
        raise


# What MySQL/MariaDB (errors 1146, 1054) and PostgreSQL (SQLSTATE 42P01,
# 42703) say of a table or column that does not exist: a schema older than
# this code. oslo.db names only SQLite's missing table.
_MYSQL_OLD_SCHEMA = (1146, 1054)
_PG_OLD_SCHEMA = ('42P01', '42703')


def _is_missing_table(error):
    inner = getattr(error, 'inner_exception', None) or error
    orig = getattr(inner, 'orig', None) or inner
    if getattr(orig, 'pgcode', None) in _PG_OLD_SCHEMA:
        return True
    args = getattr(orig, 'args', ())
    if args and args[0] in _MYSQL_OLD_SCHEMA:
        return True
    return bool(args) and str(args[0]).startswith('no such column')


def _reason(error):
    """The database server's own words, without SQL or parameters."""
    inner = getattr(error, 'inner_exception', None) or error
    inner = getattr(inner, 'orig', None) or inner
    args = getattr(inner, 'args', ())
    text = str(args[-1]) if args else str(inner)
    return ' '.join(text.split())


@contextlib.contextmanager
def transaction(writer=False):
    """One transaction of the node database: yields its ORM session,
    commits on leaving (rolls back on an exception). ``writer`` for one
    that writes."""
    manager = _get_context_manager()
    mode = manager.writer if writer else manager.reader
    with _translate_errors():
        _engine(mode)
        # The transaction begins at the session's first statement.
        _write_intent.active = writer
        try:
            with mode.using(_Context()) as session:
                yield session
        finally:
            _write_intent.active = False


def chunks(values, size=CHUNK):
    """``values`` in lists of at most ``size``: one INSERT or IN list
    each."""
    iterator = iter(values)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
