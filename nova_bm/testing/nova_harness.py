"""One lock order for Nova 34's functional harness in native threads.

Nova's ``CellDatabases`` fixture guards which cell database an untargeted
query uses with a reader/writer lock (``target_cell`` takes it to write,
then holds it to read for its whole body; every untargeted query takes it
to read for a moment). In native-thread mode it also adds
``DatabaseWriteLock``, a lock per database around every writer
transaction (SQLite has one writer). The two are taken in both orders:

* a thread inside ``target_cell`` (holding the read lock) starts a writer
  transaction (waits for the database's write lock), e.g. the conductor
  burying a build in cell0;
* a thread inside a writer transaction (holding the database's write
  lock) makes an untargeted query (waits for the read lock), e.g. a
  service's heartbeat, ``Service.save``;

and the read lock gives way to a waiting writer (fasteners prefers
writers), e.g. the scheduler entering ``target_cell``. With all three at
once nobody moves: seen here as a functional test blocked for good on a
busy machine. :class:`ConsistentCellLockOrder` makes every writer
transaction take the read lock first, before the database's write lock:
one order, no cycle (the read lock is re-entrant, so a writer inside
``target_cell`` or nested in another writer takes it again at once).

What a caller may not do under it: switch cells (``target_cell`` to
another cell) inside a writer transaction of a cell database; fasteners
refuses a reader's write lock (``RuntimeError``). Only Nova's online data
migrations do that; nova-bm's tests and demo do not run them.
"""

import contextlib

import fixtures
from nova.tests import fixtures as nova_fixtures
from nova import utils as nova_utils
from oslo_db.sqlalchemy import enginefacade

_SCOPE = enginefacade._TransactionContextManager


class ConsistentCellLockOrder(fixtures.Fixture):
    """Use before Nova's test case sets up its cell databases.
    ``cell_databases``: the ``CellDatabases`` fixtures set up since."""

    def _setUp(self):
        self.cell_databases = []
        original = nova_fixtures.CellDatabases.setUp

        def setUp(celldbs):
            original(celldbs)
            self.cell_databases.append(celldbs)
            if not nova_utils.concurrency_mode_threading():
                return  # eventlet: no DatabaseWriteLock, no threads
            locked_scope = _SCOPE._transaction_scope
            # The cells' databases only: the node database's writers and
            # placement's do not wait for Nova's cell lock.
            cells = {id(manager) for manager in celldbs._ctxt_mgrs.values()}

            @contextlib.contextmanager
            def scope(tcm_self, context):
                if (tcm_self._mode is enginefacade._WRITER
                        and id(tcm_self._root) in cells):
                    with celldbs._cell_lock.read_lock():
                        with locked_scope(tcm_self, context) as resource:
                            yield resource
                else:
                    with locked_scope(tcm_self, context) as resource:
                        yield resource

            celldbs.useFixture(fixtures.MockPatchObject(
                _SCOPE, '_transaction_scope', scope))

        self.useFixture(fixtures.MockPatchObject(
            nova_fixtures.CellDatabases, 'setUp', setUp))
