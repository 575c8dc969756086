"""Cleanings: at most [baremetal] max_concurrent_cleanings at once, the
others waiting in order; and one cleaning (run_cleaning): its clean mode,
its proof, its failure. A real node database (every backend), the
proxy's provisioner and task, and erases the test holds and lets go."""

import logging
import threading
import time
import types

import fixtures

from nova_bm.common import states
from nova_bm.db import api as db_api
from nova_bm.deploy import flow as deploy_flow
from nova_bm.enrolment import node_spec
from nova_bm.proxy import cleaning
from tests.unit.db import base
from tests.unit.proxy import steps
from tests.unit import test_driver
from tests import utils

#: How long a test waits for a thread to get somewhere.
WAIT = 20


def wait_for(predicate, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting for %s' % what)
        time.sleep(0.01)


def known_of(node):
    """The disks the node is known to have after proof_of(node)."""
    return [{'name': '/dev/sda', 'serial': 'S-%s' % node, 'wwn': None}]


def proof_of(node):
    return [{'name': '/dev/sda', 'size': 8 << 30, 'serial': 'S-%s' % node,
             'wwn': None, 'model': None, 'method': 'metadata',
             'bytes': 86016000, 'seconds': 1.5, 'verified': 3,
             'note': None}]


class FakeDeploys:
    """The proxy's deploys: ``started()``, ``stopping()`` and an
    ``erase`` that blocks until the test lets that node's erase go
    (``finish``)."""

    def __init__(self):
        self.is_started = True
        self.is_stopping = False
        self.lock = threading.Lock()
        self.calls = []      # (node name, job's clean mode, previous)
        self.now = set()     # nodes whose erase runs
        self.most = 0        # the most erases that ran at once
        self.gates = {}      # node name -> Event
        self.failures = {}   # node name -> DeployFailed
        self.results = {}    # node name -> proof returned

    def started(self):
        return self.is_started

    def stopping(self):
        return self.is_stopping

    def gate(self, name):
        with self.lock:
            return self.gates.setdefault(name, threading.Event())

    def finish(self, name, failure=None):
        if failure is not None:
            self.failures[name] = failure
        self.gate(name).set()

    def erase(self, node, job_id, previous=()):
        job = db_api.get_job(node.uuid)
        assert job is not None and job.id == job_id, (job, job_id)
        with self.lock:
            self.calls.append((node.name, job.clean_mode, list(previous)))
            self.now.add(node.name)
            self.most = max(self.most, len(self.now))
        try:
            if not self.gate(node.name).wait(WAIT):
                raise deploy_flow.DeployFailed('the test never let it go')
            failure = self.failures.get(node.name)
            if failure is not None:
                raise failure
            return self.results.get(node.name, proof_of(node.name))
        finally:
            with self.lock:
                self.now.discard(node.name)

    def erased(self):
        with self.lock:
            return [name for name, _, _ in self.calls]


class CleaningTestBase(base.DbTestCase):

    NODES = 1

    def setUp(self):
        super().setUp()
        self.conf.config(automated_clean='metadata', group='baremetal')
        self.deploys = FakeDeploys()
        self.proxy = steps.ProxySteps(self.deploys,
                                      test_driver.ScriptedPower())
        self.parts = types.SimpleNamespace(
            task=self.proxy.task, deploys=self.deploys,
            provisioner=self.proxy.provisioner,
            cache=types.SimpleNamespace(host='proxy-1'))
        db_api.create_nodes([
            node_spec.new_node(
                utils.node_values(index, deploy_interface='image',
                                  provision_state='available'),
                [utils.mac(index)])
            for index in range(1, self.NODES + 1)])
        for index in range(1, self.NODES + 1):
            db_api.set_provision_state('node-%d' % index, states.CLEANING)
        self.uuids = {node.name: node.uuid for node in db_api.list_nodes()}
        # Whatever a test leaves blocked ends with it.
        self.addCleanup(self.release_all)

    def release_all(self):
        self.deploys.is_started = False
        for index in range(1, self.NODES + 1):
            self.deploys.gate('node-%d' % index).set()
        # Every cleaning thread, those a reset forgot too: none may touch
        # the database of the next test.
        wait_for(lambda: not [
            thread for thread in threading.enumerate()
            if thread.name.startswith('nova-bm-clean-')],
            'the cleaning threads to end')

    def node(self, name):
        return db_api.get_node(name, with_interfaces=True)

    def names(self, uuids):
        by_uuid = {uuid: name for name, uuid in self.uuids.items()}
        return [by_uuid[uuid] for uuid in uuids]


class QueueTestCase(CleaningTestBase):

    NODES = 5

    def setUp(self):
        super().setUp()
        self.conf.config(max_concurrent_cleanings=2, group='baremetal')
        self.cleanings = cleaning.Cleanings(self.parts)

    def nodes(self, *names):
        return [self.node(name) for name in names]

    def running(self):
        return sorted(self.names(self.cleanings.running()))

    def waiting(self):
        return self.names(self.cleanings.waiting())

    def test_at_most_two_at_once_the_others_in_order(self):
        names = ['node-%d' % i for i in range(1, 6)]
        self.cleanings.resume(self.nodes(*names))
        wait_for(lambda: len(self.deploys.erased()) == 2, 'two erases')
        self.assertEqual(['node-1', 'node-2'], self.running())
        self.assertEqual(['node-3', 'node-4', 'node-5'], self.waiting())
        self.assertEqual(['node-1', 'node-2'], sorted(self.deploys.erased()))
        # Nobody else starts while both run.
        time.sleep(0.2)
        self.assertEqual(2, len(self.deploys.erased()))
        for name in names[2:]:
            self.assertEqual(states.CLEANING, self.node(name).provision_state)
            self.assertIsNone(db_api.get_job(name))

        # One ends: the longest waiting starts, in its place.
        self.deploys.finish('node-2')
        wait_for(lambda: len(self.deploys.erased()) == 3, 'node-3 to start')
        self.assertEqual('node-3', self.deploys.erased()[2])
        wait_for(lambda: self.running() == ['node-1', 'node-3'],
                 'node-2 to leave the running ones')
        self.assertEqual(['node-4', 'node-5'], self.waiting())
        self.assertEqual(states.AVAILABLE,
                         self.node('node-2').provision_state)

        self.deploys.finish('node-1')
        wait_for(lambda: len(self.deploys.erased()) == 4, 'node-4 to start')
        self.assertEqual('node-4', self.deploys.erased()[3])
        wait_for(lambda: self.waiting() == ['node-5'], 'node-5 to wait')

        for name in ('node-3', 'node-4', 'node-5'):
            self.deploys.finish(name)
        wait_for(lambda: not self.cleanings.running(), 'every cleaning')
        self.assertEqual([], self.waiting())
        self.assertEqual(names[2:], self.deploys.erased()[2:])
        self.assertEqual(2, self.deploys.most)
        for name in names:
            node = self.node(name)
            self.assertEqual((states.AVAILABLE, False),
                             (node.provision_state, node.maintenance), name)
            self.assertEqual('ok', node.last_cleaning['result'])
            self.assertEqual(proof_of(name), node.last_cleaning['disks'])
        self.assertEqual(sorted(names), sorted(self.deploys.erased()))

    def test_a_node_started_twice_runs_once(self):
        node_1, node_2, node_3 = self.nodes('node-1', 'node-2', 'node-3')
        self.cleanings.start(node_1)
        self.cleanings.start(node_1)
        wait_for(lambda: self.deploys.erased() == ['node-1'], 'node-1')
        self.cleanings.start(node_1)
        self.cleanings.resume([node_1, node_2])
        self.cleanings.resume([node_2])
        wait_for(lambda: len(self.deploys.erased()) == 2, 'node-2')
        # Both slots taken: node-3 waits, once however often it is named.
        for _ in range(3):
            self.cleanings.resume([node_3, node_1, node_2])
        self.assertEqual(['node-3'], self.waiting())
        self.assertEqual(['node-1', 'node-2'], self.running())

        for name in ('node-1', 'node-2', 'node-3'):
            self.deploys.finish(name)
        wait_for(lambda: not self.cleanings.running(), 'every cleaning')
        self.assertEqual(['node-1', 'node-2', 'node-3'],
                         sorted(self.deploys.erased()))
        # Done: resumed again with what the cycle reads, none is cleaned
        # again (they are available).
        self.cleanings.resume(self.nodes('node-1', 'node-2', 'node-3'))
        time.sleep(0.2)
        self.assertEqual(3, len(self.deploys.erased()))
        self.assertEqual([], self.waiting())

    def test_a_queued_node_that_left_cleaning_is_not_cleaned(self):
        self.conf.config(max_concurrent_cleanings=1, group='baremetal')
        self.cleanings.resume(self.nodes('node-1', 'node-2', 'node-3',
                                         'node-4'))
        wait_for(lambda: self.deploys.erased() == ['node-1'], 'node-1')
        self.assertEqual(['node-2', 'node-3', 'node-4'], self.waiting())
        # Meanwhile: an operator took node-2 back, node-3 went into
        # maintenance, node-4 moved to another proxy.
        db_api.set_provision_state('node-2', states.AVAILABLE)
        db_api.update_node('node-3', {'maintenance': True})
        db_api.update_node('node-4', {'service_host': 'proxy-2'})
        self.cleanings.resume(self.nodes('node-5'))
        self.assertEqual(['node-2', 'node-3', 'node-4', 'node-5'],
                         self.waiting())
        self.deploys.finish('node-1')
        wait_for(lambda: self.deploys.erased() == ['node-1', 'node-5'],
                 'node-5 to start')
        self.deploys.finish('node-5')
        wait_for(lambda: not self.cleanings.running(), 'every cleaning')
        self.assertEqual([], self.waiting())
        self.assertEqual(['node-1', 'node-5'], self.deploys.erased())
        node_2, node_3, node_4 = self.nodes('node-2', 'node-3', 'node-4')
        self.assertEqual((states.AVAILABLE, None),
                         (node_2.provision_state, node_2.last_cleaning))
        self.assertEqual((states.CLEANING, True, None),
                         (node_3.provision_state, node_3.maintenance,
                          node_3.last_cleaning))
        self.assertEqual((states.CLEANING, 'proxy-2', None),
                         (node_4.provision_state, node_4.service_host,
                          node_4.last_cleaning))
        for name in ('node-2', 'node-3', 'node-4'):
            self.assertIsNone(db_api.get_job(name))

    def test_nothing_starts_before_the_deploys_are_started(self):
        self.deploys.is_started = False
        self.cleanings.resume(self.nodes('node-1', 'node-2', 'node-3'))
        time.sleep(0.2)
        self.assertEqual([], self.deploys.erased())
        self.assertEqual([], self.running())
        self.assertEqual([], self.waiting())
        self.assertEqual(states.CLEANING, self.node('node-1').provision_state)
        self.assertIsNone(db_api.get_job('node-1'))

        # Started: the next resume cleans them.
        self.deploys.is_started = True
        self.cleanings.resume(self.nodes('node-1', 'node-2', 'node-3'))
        wait_for(lambda: len(self.deploys.erased()) == 2, 'two erases')
        self.assertEqual(['node-3'], self.waiting())

        # Stopping: an ending cleaning starts no other.
        self.deploys.is_started = False
        self.deploys.finish('node-1')
        wait_for(lambda: self.running() == ['node-2'], 'node-1 to end')
        time.sleep(0.2)
        self.assertEqual(['node-1', 'node-2'],
                         sorted(self.deploys.erased()))

    def test_a_stopping_proxy_starts_no_cleaning(self):
        self.cleanings.resume(self.nodes('node-1', 'node-2', 'node-3'))
        wait_for(lambda: len(self.deploys.erased()) == 2, 'two erases')
        self.assertEqual(['node-3'], self.waiting())
        # Stopping (its deploys still started): a cleaning that ends
        # starts no queued one, and a resume starts none.
        self.deploys.is_stopping = True
        self.deploys.finish('node-1')
        wait_for(lambda: self.running() == ['node-2'], 'node-1 to end')
        self.cleanings.resume(self.nodes('node-3', 'node-4'))
        time.sleep(0.2)
        self.assertEqual(['node-1', 'node-2'],
                         sorted(self.deploys.erased()))
        self.assertEqual(['node-2'], self.running())
        # The one that ended keeps its outcome; those not started are
        # left in cleaning for the next start.
        self.assertEqual(states.AVAILABLE,
                         self.node('node-1').provision_state)
        for name in ('node-3', 'node-4'):
            self.assertEqual(states.CLEANING,
                             self.node(name).provision_state)
            self.assertIsNone(db_api.get_job(name))

    def test_nodes_that_need_no_cleaning_are_left_alone(self):
        db_api.set_provision_state('node-1', states.AVAILABLE)
        db_api.update_node('node-2', {'maintenance': True})
        db_api.set_provision_state('node-3', states.CLEAN_FAILED)
        self.cleanings.resume(self.nodes('node-1', 'node-2', 'node-3'))
        time.sleep(0.2)
        self.assertEqual(([], [], []), (self.deploys.erased(),
                                        self.running(), self.waiting()))

    def test_reset_forgets_the_queue(self):
        self.cleanings.resume(self.nodes('node-1', 'node-2', 'node-3'))
        wait_for(lambda: len(self.deploys.erased()) == 2, 'two erases')
        self.cleanings.reset()
        self.assertEqual(([], []), (self.running(), self.waiting()))
        # The forgotten threads end on their own; the queue is not run.
        self.deploys.finish('node-1')
        self.deploys.finish('node-2')
        wait_for(lambda: not self.deploys.now, 'the erases to end')
        wait_for(lambda: self.node('node-2').provision_state
                 == states.AVAILABLE, 'node-2 to be cleaned')
        time.sleep(0.2)
        self.assertEqual(2, len(self.deploys.erased()))
        self.assertEqual(([], []), (self.running(), self.waiting()))
        self.assertEqual(states.CLEANING, self.node('node-3').provision_state)


class RunCleaningTestCase(CleaningTestBase):

    def clean(self, release=True, failure=None):
        """run_cleaning of node-1, its erase let go at once."""
        if release:
            self.deploys.finish('node-1', failure)
        result = cleaning.run_cleaning(
            self.proxy.provisioner, self.proxy.task(self.node('node-1')),
            self.deploys)
        self.deploys.gates.pop('node-1', None)
        self.deploys.failures.pop('node-1', None)
        return result

    def modes(self):
        return [mode for _, mode, _ in self.deploys.calls]

    def test_mode_none_is_available_without_an_erase(self):
        self.conf.config(automated_clean='none', group='baremetal')
        self.assertTrue(self.clean(release=False))
        node = self.node('node-1')
        self.assertEqual((states.AVAILABLE, False, None),
                         (node.provision_state, node.maintenance,
                          node.last_cleaning))
        self.assertEqual([], self.deploys.calls)
        self.assertIsNone(db_api.get_job('node-1'))

        # The node's own mode none, too.
        self.conf.config(automated_clean='full', group='baremetal')
        db_api.update_node('node-1', {'clean_mode': 'none'})
        db_api.set_provision_state('node-1', states.CLEANING)
        self.assertTrue(self.clean(release=False))
        self.assertEqual(states.AVAILABLE, self.node('node-1').provision_state)
        self.assertEqual([], self.deploys.calls)

    def again(self, **fields):
        db_api.set_provision_state('node-1', states.CLEANING, **fields)

    def test_the_mode_request_then_node_then_default(self):
        # [baremetal] automated_clean.
        self.assertTrue(self.clean())
        self.conf.config(automated_clean='express', group='baremetal')
        self.again()
        self.assertTrue(self.clean())
        # The node's own.
        db_api.update_node('node-1', {'clean_mode': 'full'})
        self.again()
        self.assertTrue(self.clean())
        # The operator's request, over the node's.
        self.again(clean_request='metadata')
        self.assertTrue(self.clean())
        # ... over the node's none too.
        db_api.update_node('node-1', {'clean_mode': 'none'})
        self.again(clean_request='express')
        self.assertTrue(self.clean())
        self.assertEqual(['metadata', 'express', 'full', 'metadata',
                          'express'], self.modes())
        # Each proof says its mode.
        self.assertEqual('express', self.node('node-1').last_cleaning['mode'])

    def test_success_keeps_the_proof_and_spends_the_request(self):
        self.again(clean_request='full')
        self.assertTrue(self.clean())
        node = self.node('node-1')
        self.assertEqual((states.AVAILABLE, False, None),
                         (node.provision_state, node.maintenance,
                          node.clean_request))
        last = node.last_cleaning
        self.assertEqual(('full', 'ok', [], proof_of('node-1')),
                         (last['mode'], last['result'], last['problems'],
                          last['disks']))
        self.assertLessEqual(last['started_at'], last['finished_at'])
        # The disks it saw, by serial or WWN: the node is known to have
        # them from now on.
        self.assertEqual(known_of('node-1'), last['known_disks'])
        # Its first cleaning: no disk was known yet.
        self.assertEqual([], self.deploys.calls[0][2])

        # The next cleaning: the known disks must still be there.
        self.again()
        self.assertTrue(self.clean())
        self.assertEqual(known_of('node-1'), self.deploys.calls[1][2])
        self.assertEqual('metadata', self.node('node-1').last_cleaning['mode'])
        # An operator's request (node clean --mode) requires them all the
        # same: only --forget-disks forgets them.
        self.again(clean_request='express')
        self.assertTrue(self.clean())
        self.assertEqual(known_of('node-1'), self.deploys.calls[2][2])
        self.assertEqual(('express', None),
                         (self.node('node-1').last_cleaning['mode'],
                          self.node('node-1').clean_request))

    def test_a_failure_holds_the_node_with_its_proof(self):
        said = proof_of('node-1')
        said[0].update(method='failed', note='cannot write sda')
        self.assertFalse(self.clean(failure=deploy_flow.DeployFailed(
            'the disks were not erased as required: /dev/sda was not '
            'erased: cannot write sda', proof=said)))
        node = self.node('node-1')
        self.assertEqual((states.CLEAN_FAILED, True, states.FAULT_CLEAN),
                         (node.provision_state, node.maintenance, node.fault))
        self.assertIn('cleaning (metadata) failed', node.maintenance_reason)
        self.assertIn('cannot write sda', node.maintenance_reason)
        self.assertIn('cannot write sda', node.last_error)
        last = node.last_cleaning
        self.assertEqual(('metadata', 'failed', said), (last['mode'],
                                                        last['result'],
                                                        last['disks']))
        self.assertEqual(1, len(last['problems']))
        self.assertIn('cannot write sda', last['problems'][0])

        # Each problem the flow found is kept, one line each.
        db_api.update_node('node-1', {'maintenance': False}, force=True)
        self.assertFalse(self.clean(failure=deploy_flow.DeployFailed(
            'the disks were not erased as required: two', proof=said,
            problems=['/dev/sda: one', '/dev/sdb: two'])))
        self.assertEqual(['/dev/sda: one', '/dev/sdb: two'],
                         self.node('node-1').last_cleaning['problems'])

        # A failure the ramdisk said nothing of: no disks, still a record;
        # a power off not confirmed is that fault.
        db_api.update_node('node-1', {'maintenance': False}, force=True)
        self.assertEqual(states.CLEANING, self.node('node-1').provision_state)
        self.assertFalse(self.clean(failure=deploy_flow.DeployFailed(
            'the deploy ramdisk did not report', off_error='BMC timed out')))
        node = self.node('node-1')
        self.assertEqual((states.CLEAN_FAILED, True, states.FAULT_POWER_OFF),
                         (node.provision_state, node.maintenance, node.fault))
        self.assertIn('power off not confirmed', node.maintenance_reason)
        self.assertEqual(('failed', []), (node.last_cleaning['result'],
                                          node.last_cleaning['disks']))

    def previous(self):
        return [previous for _, _, previous in self.deploys.calls]

    def test_a_failed_cleaning_keeps_the_known_disks(self):
        self.assertTrue(self.clean())
        self.again()
        # A failed cleaning that saw a disk more (not erased): it is known
        # from now on, with the disks known before.
        seen = proof_of('node-1') + [dict(
            proof_of('node-1')[0], name='/dev/sdb', serial=None,
            wwn='0x5000c500beef', method='failed', note='busy')]
        self.assertFalse(self.clean(failure=deploy_flow.DeployFailed(
            'no', proof=seen)))
        last = self.node('node-1').last_cleaning
        both = [{'name': '/dev/sdb', 'serial': None,
                 'wwn': '0x5000c500beef'}] + known_of('node-1')
        self.assertEqual(('failed', seen), (last['result'], last['disks']))
        self.assertEqual(both, last['known_disks'])
        # A failure the ramdisk said nothing of forgets none of them.
        db_api.update_node('node-1', {'maintenance': False}, force=True)
        self.assertFalse(self.clean(failure=deploy_flow.DeployFailed(
            'the deploy ramdisk did not report')))
        last = self.node('node-1').last_cleaning
        self.assertEqual(('failed', [], both),
                         (last['result'], last['disks'], last['known_disks']))
        # Nor does one that failed before any erase (no interface).
        db_api.update_node('node-1', {'maintenance': False}, force=True)
        interfaces = self.node('node-1').interfaces
        for interface in interfaces:
            db_api.delete_interface(interface.address)
        self.assertFalse(self.clean(release=False))
        self.assertEqual(both,
                         self.node('node-1').last_cleaning['known_disks'])
        db_api.add_interface('node-1', utils.mac(1))
        # Taken out by force (cleaned again): each known disk is required.
        db_api.update_node('node-1', {'maintenance': False}, force=True)
        self.assertTrue(self.clean(failure=None))
        self.assertEqual([[], known_of('node-1'), both, both],
                         self.previous())
        # The ok one that did not see sdb (here, the fake does not judge)
        # keeps it known all the same.
        self.assertEqual(both,
                         self.node('node-1').last_cleaning['known_disks'])

    def test_an_operators_node_clean_requires_the_known_disks(self):
        # A cleaning failed (sdb known); the operator runs "node clean"
        # (no --mode): the next cleaning still requires every known disk.
        seen = proof_of('node-1') + [dict(proof_of('node-1')[0],
                                          name='/dev/sdb', serial='S-other')]
        self.deploys.results['node-1'] = seen
        self.assertTrue(self.clean())
        self.again()
        self.assertFalse(self.clean(failure=deploy_flow.DeployFailed(
            'no', proof=[])))
        node = db_api.change_provision_state(
            'node-1', (states.CLEAN_FAILED,), states.CLEANING, 'refused',
            clean_request=None, out_of_maintenance=True)
        self.assertTrue(self.clean())
        known = [{'name': '/dev/sda', 'serial': 'S-node-1', 'wwn': None},
                 {'name': '/dev/sdb', 'serial': 'S-other', 'wwn': None}]
        self.assertEqual([[], known, known], self.previous())
        # Until the operator forgets them (node clean --forget-disks).
        db_api.set_provision_state(
            'node-1', states.CLEANING,
            last_cleaning=dict(node.last_cleaning, known_disks=[]))
        self.deploys.results['node-1'] = proof_of('node-1')
        self.assertTrue(self.clean())
        self.assertEqual([], self.previous()[3])
        self.assertEqual(known[:1],
                         self.node('node-1').last_cleaning['known_disks'])

    def test_a_proof_of_an_earlier_proxy_without_known_disks(self):
        # Before known_disks: the disks of an ok last cleaning are known,
        # none of a failed one.
        older = {'mode': 'metadata', 'result': 'ok', 'problems': [],
                 'started_at': '2026-01-01T00:00:00',
                 'finished_at': '2026-01-01T00:01:00',
                 'disks': proof_of('node-1')}
        self.again(last_cleaning=older)
        self.assertTrue(self.clean())
        self.again(last_cleaning=dict(older, result='failed'))
        self.assertTrue(self.clean())
        self.assertEqual([proof_of('node-1'), []], self.previous())

    def test_an_outcome_of_a_node_no_longer_cleaning_changes_nothing(self):
        # The erase runs; meanwhile the node left cleaning (an operator,
        # another proxy's outcome): the late outcome leaves it as it is.
        logs = self.useFixture(fixtures.FakeLogger(level=logging.WARNING))
        for failure in (None, deploy_flow.DeployFailed(
                'no', proof=proof_of('node-1'))):
            outcome = []
            thread = threading.Thread(target=lambda out: out.append(
                self.clean(release=False)), args=(outcome,))
            thread.start()
            wait_for(lambda: self.deploys.now, 'the erase to start')
            db_api.set_provision_state('node-1', states.MANAGEABLE)
            self.deploys.finish('node-1', failure)
            thread.join(WAIT)
            self.deploys.gates.pop('node-1', None)
            self.deploys.failures.pop('node-1', None)
            self.assertEqual(1, len(outcome))
            node = self.node('node-1')
            self.assertEqual(
                (states.MANAGEABLE, False, None, None, None, None),
                (node.provision_state, node.maintenance,
                 node.maintenance_reason, node.fault, node.last_error,
                 node.last_cleaning))
            self.assertIn('node-1', logs.output)
            self.assertIn('left as it is', logs.output)
            self.again()
        # A node an instance holds by then is left alone too.
        db_api.set_provision_state('node-1', states.CLEANING,
                                   instance_uuid='inst-1')
        self.assertTrue(self.clean())
        node = self.node('node-1')
        self.assertEqual((states.CLEANING, 'inst-1', None),
                         (node.provision_state, node.instance_uuid,
                          node.last_cleaning))

    def test_a_node_without_interfaces_fails_without_a_job(self):
        for interface in self.node('node-1').interfaces:
            db_api.delete_interface(interface.address)
        self.assertFalse(self.clean(release=False))
        node = self.node('node-1')
        self.assertEqual((states.CLEAN_FAILED, True),
                         (node.provision_state, node.maintenance))
        self.assertIn('no enrolled interface', node.maintenance_reason)
        self.assertEqual([], self.deploys.calls)
