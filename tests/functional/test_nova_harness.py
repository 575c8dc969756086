"""Nova's harness under nova_bm.testing.nova_harness: the three threads
that blocked each other for good (a functional test hung on a busy
machine) all finish.

The same three as then: a thread inside ``target_cell`` (the conductor
burying a build) starts a writer transaction; a thread in a writer
transaction (a service heartbeat) makes an untargeted query; the
scheduler waits to enter ``target_cell``. Without the fixture the second
holds the database's write lock while it waits for the cell lock, behind
the waiting scheduler, which waits for the first, which waits for the
database's write lock: this test then fails with "a thread is blocked"
(checked by hand with the fixture disabled).
"""

import threading
import time

from nova import context as nova_context
from nova.db.main import api as db
from nova import objects
from nova import test

from nova_bm.testing import nova_harness

#: Ample on a busy machine; the blocked threads of the old order never end.
TIMEOUT = 60


class CellLockOrderTestCase(test.TestCase):

    def setUp(self):
        self.lock_order = self.useFixture(
            nova_harness.ConsistentCellLockOrder())
        super().setUp()
        self.context = nova_context.get_admin_context()
        self.service = db.service_create(self.context, {
            'host': 'h', 'binary': 'nova-compute', 'topic': 'compute',
            'report_count': 0})

    def run_thread(self, target):
        errors = []

        def run():
            try:
                target()
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread, errors

    def test_the_three_threads_finish(self):
        cell1 = self.cell_mappings['cell1']
        cell0 = self.cell_mappings['cell0']
        inside, go = threading.Event(), threading.Event()
        (cell_databases,) = self.lock_order.cell_databases
        cell_lock = cell_databases._cell_lock

        def conductor():
            with nova_context.target_cell(self.context, cell1) as cctxt:
                inside.set()
                go.wait(TIMEOUT)
                db.service_update(cctxt, self.service['id'],
                                  {'report_count': 1})

        def scheduler():
            with nova_context.target_cell(self.context, cell0):
                pass

        in_transaction = threading.Event()

        @db.pick_context_manager_writer
        def heartbeat(context):
            # As Service.save: a writer transaction, then (service_get)
            # an untargeted read inside it, once the scheduler waits.
            in_transaction.set()
            wait_for(lambda: cell_lock.has_pending_writers)
            db.service_get(context, self.service['id'])
            db.service_update(context, self.service['id'],
                              {'report_count': 2})

        def wait_for(condition):
            deadline = time.monotonic() + TIMEOUT
            while not condition():
                if time.monotonic() > deadline:
                    raise AssertionError('timed out')
                time.sleep(0.01)

        threads = [self.run_thread(conductor)]
        self.assertTrue(inside.wait(TIMEOUT))
        threads.append(self.run_thread(lambda: heartbeat(self.context)))
        self.assertTrue(in_transaction.wait(TIMEOUT))
        threads.append(self.run_thread(scheduler))
        wait_for(lambda: cell_lock.has_pending_writers)
        time.sleep(0.5)  # the heartbeat is where it blocked before
        go.set()
        for thread, errors in threads:
            thread.join(TIMEOUT)
            self.assertFalse(thread.is_alive(), 'a thread is blocked')
            self.assertEqual([], errors)
        service = objects.Service.get_by_id(self.context, self.service['id'])
        self.assertIn(service.report_count, (1, 2))
