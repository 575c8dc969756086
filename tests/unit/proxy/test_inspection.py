"""Inspections: at most [baremetal] max_concurrent_inspections at once;
and one inspection (run_inspection): the BMC's GUID for a node without
MACs, what is filled and what is kept, its failures. A real node database
(every backend), the proxy's provisioner and task, and an inspection the
test scripts."""

import threading
import time
import types

from nova_bm.common import states
from nova_bm.db import api as db_api
from nova_bm.deploy import flow as deploy_flow
from nova_bm.enrolment import node_spec
from nova_bm.inspection import inventory as inventory_report
from nova_bm.proxy import inspection
from tests import deploy_ramdisk
from tests import base
from tests.unit.db import base as db_base
from tests.unit.proxy import steps
from tests.unit.proxy import test_cleaning_queue
from tests.unit import test_driver
from tests import utils

GUID = '00112233-4455-6677-8899-aabbccddeeff'
WAIT = test_cleaning_queue.WAIT
wait_for = test_cleaning_queue.wait_for


def found(mac, cpus=4, memory_mb=8192, disk_gb=200, boot_mode='bios'):
    """A parsed inventory: one NIC ``mac`` (booted from), one disk."""
    return inventory_report.parse(deploy_ramdisk.inventory(
        mac, 'name=/dev/sda size=%d' % (disk_gb << 30), cpus=cpus,
        memory_mb=memory_mb, boot_mode=boot_mode).encode())


class GuidPower(test_driver.ScriptedPower):
    """Also tells each BMC's system GUID (``guids``, None by default)."""

    def __init__(self):
        super().__init__()
        self.guids = {}

    def get_system_guid(self, node):
        self._do('get_system_guid', node)
        return self.guids.get(node.name)


class FakeInspections:
    """The proxy's deploys: ``inspect`` returns ``results[name]`` or
    raises ``failures[name]``, once the test lets it go (``gates``)."""

    def __init__(self):
        self.is_started = True
        self.lock = threading.Lock()
        self.calls = []      # (node name, the job's system_uuid)
        self.now = set()
        self.most = 0
        self.gates = {}
        self.results = {}
        self.failures = {}
        self.during = {}     # node name -> called while it "runs"

    def started(self):
        return self.is_started

    def stopping(self):
        return False

    def gate(self, name):
        with self.lock:
            return self.gates.setdefault(name, threading.Event())

    def inspect(self, node, job_id):
        job = db_api.get_job(node.uuid)
        assert job is not None and job.id == job_id, (job, job_id)
        assert job.mode == states.INSPECT, job.mode
        with self.lock:
            self.calls.append((node.name, job.system_uuid))
            self.now.add(node.name)
            self.most = max(self.most, len(self.now))
        try:
            if node.name in self.during:
                self.during[node.name]()
            if not self.gate(node.name).wait(WAIT):
                raise deploy_flow.DeployFailed('the test never let it go')
            failure = self.failures.get(node.name)
            if failure is not None:
                raise failure
            return self.results[node.name]
        finally:
            with self.lock:
                self.now.discard(node.name)

    def inspected(self):
        with self.lock:
            return [name for name, _ in self.calls]


class InspectionTestBase(db_base.DbTestCase):

    def setUp(self):
        super().setUp()
        self.deploys = FakeInspections()
        self.power = GuidPower()
        self.proxy = steps.ProxySteps(self.deploys, self.power)
        self.parts = types.SimpleNamespace(
            task=self.proxy.task, deploys=self.deploys, power=self.power,
            provisioner=self.proxy.provisioner,
            cache=types.SimpleNamespace(host='proxy-1'))
        self.addCleanup(self.release_all)

    def release_all(self):
        self.deploys.is_started = False
        for gate in list(self.deploys.gates.values()):
            gate.set()
        wait_for(lambda: not [
            thread for thread in threading.enumerate()
            if thread.name.startswith('nova-bm-inspect-')],
            'the inspection threads to end')

    def enrol(self, index, bmc_only=False, overwrite=False, **values):
        hardware = dict.fromkeys(node_spec.HARDWARE_FIELDS) if bmc_only \
            else {}
        db_api.create_node(*node_spec.new_node(
            utils.node_values(index, provision_state='enroll',
                              **dict(hardware, **values)),
            [] if bmc_only else [utils.mac(index)]))
        name = 'node-%d' % index
        db_api.set_provision_state(name, states.INSPECTING, last_inspection={
            'requested_at': '2026-01-01T00:00:00', 'overwrite': overwrite})
        return name

    def node(self, name):
        return db_api.get_node(name, with_interfaces=True)

    def inspect(self, name, result=None, failure=None):
        if result is not None:
            self.deploys.results[name] = result
        if failure is not None:
            self.deploys.failures[name] = failure
        self.deploys.gate(name).set()
        return inspection.run_inspection(
            self.parts, self.proxy.task(self.node(name)))

    def interfaces(self, name):
        return {i.address: (i.pxe_enabled, i.local_link_connection or None)
                for i in self.node(name).interfaces}


class RunInspectionTestCase(InspectionTestBase):

    def test_a_node_without_macs_is_found_by_its_guid(self):
        name = self.enrol(1, bmc_only=True)
        self.power.guids[name] = GUID
        self.assertTrue(self.inspect(name, found(utils.mac(9))))
        self.assertEqual([('get_system_guid', name)],
                         [c for c in self.power.calls
                          if c[0] == 'get_system_guid'])
        self.assertEqual([(name, GUID)], self.deploys.calls)
        node = self.node(name)
        # Every field was unknown: all filled, the defaults of cpu_arch
        # and boot_mode (uefi) replaced, nothing disagrees.
        self.assertEqual(
            (states.MANAGEABLE, 4, 8192, 200, 'x86_64', 'bios'),
            (node.provision_state, node.cpus, node.memory_mb, node.local_gb,
             node.cpu_arch, node.boot_mode))
        self.assertEqual({utils.mac(9): (True, None)},
                         self.interfaces(name))
        record = node.last_inspection
        self.assertEqual(('ok', [], '2026-01-01T00:00:00', False),
                         (record['result'], record['disagreements'],
                          record['requested_at'], record['overwrite']))
        self.assertEqual({'cpus': 4, 'memory_mb': 8192, 'local_gb': 200,
                          'cpu_arch': 'x86_64', 'boot_mode': 'bios'},
                         record['set'])
        self.assertEqual(found(utils.mac(9)), db_api.get_inventory(name))

    def test_no_guid_fails_before_any_job(self):
        name = self.enrol(1, bmc_only=True)
        for error, text in (
                (test_driver.timeout(name), 'did not tell its system GUID'),
                (None, 'reports no system GUID')):
            self.power.fail[('get_system_guid', name)] = error
            self.assertFalse(self.inspect(name, found(utils.mac(9))))
            node = self.node(name)
            self.assertEqual(states.INSPECT_FAILED, node.provision_state)
            self.assertIn(text, node.last_error)
            self.assertEqual(('failed', [node.last_error]),
                             (node.last_inspection['result'],
                              node.last_inspection['problems']))
            self.assertIsNone(db_api.get_job(name))
            self.assertEqual([], self.deploys.calls)
            self.assertEqual(0, node.cpus)
            self.assertIsNone(db_api.get_inventory(name))
            db_api.set_provision_state(name, states.INSPECTING)
        self.assertNotIn('power_on', [c[0] for c in self.power.calls])

    def test_a_node_with_macs_does_not_ask_its_bmc(self):
        name = self.enrol(1)
        self.assertTrue(self.inspect(name, found(utils.mac(1))))
        self.assertNotIn('get_system_guid', [c[0] for c in self.power.calls])
        self.assertEqual([(name, None)], self.deploys.calls)

    def test_deploy_failed_is_inspect_failed(self):
        name = self.enrol(1)
        self.assertFalse(self.inspect(name, failure=deploy_flow.DeployFailed(
            'the deploy ramdisk did not report', off_error='BMC gone')))
        node = self.node(name)
        self.assertEqual(states.INSPECT_FAILED, node.provision_state)
        self.assertEqual('inspection failed: the deploy ramdisk did not '
                         'report; power off not confirmed: BMC gone',
                         node.last_error)
        self.assertEqual((8, 'failed'),
                         (node.cpus, node.last_inspection['result']))
        self.assertIsNone(db_api.get_inventory(name))

    def test_hand_set_values_are_kept_and_reported(self):
        name = self.enrol(1, boot_mode='uefi')
        self.assertTrue(self.inspect(name, found(
            utils.mac(1), cpus=16, memory_mb=16384, disk_gb=100)))
        node = self.node(name)
        self.assertEqual((states.MANAGEABLE, 8, 16384, 100, 'uefi'),
                         (node.provision_state, node.cpus, node.memory_mb,
                          node.local_gb, node.boot_mode))
        self.assertEqual({}, node.last_inspection['set'])
        self.assertEqual(['cpus: node 8, inspected 16',
                          'boot_mode: node uefi, inspected bios'],
                         node.last_inspection['disagreements'])

    def test_overwrite_takes_what_was_found(self):
        name = self.enrol(1, overwrite=True, boot_mode='uefi')
        self.assertTrue(self.inspect(name, found(
            utils.mac(1), cpus=16, memory_mb=16384, disk_gb=100)))
        node = self.node(name)
        self.assertEqual((16, 'bios'), (node.cpus, node.boot_mode))
        self.assertEqual({'cpus': 16, 'boot_mode': 'bios'},
                         node.last_inspection['set'])
        self.assertTrue(node.last_inspection['overwrite'])

    def test_a_mac_of_another_node_fails_and_changes_nothing(self):
        self.enrol(2)
        name = self.enrol(1, bmc_only=True)
        self.power.guids[name] = GUID
        self.assertFalse(self.inspect(name, found(utils.mac(2))))
        node = self.node(name)
        self.assertEqual((states.INSPECT_FAILED, 0, {}),
                         (node.provision_state, node.cpus,
                          self.interfaces(name)))
        self.assertIn('%s (node node-2)' % utils.mac(2), node.last_error)
        self.assertIsNone(db_api.get_inventory(name))

    def test_a_node_moved_meanwhile_is_left_as_it_is(self):
        # The ramdisk runs; meanwhile an operator (or a restart) moved the
        # node: neither a late success nor a late failure touches it.
        name = self.enrol(1)
        for result, failure in ((found(utils.mac(100), cpus=64), None),
                                (None, deploy_flow.DeployFailed('late'))):
            db_api.set_provision_state(name, states.INSPECTING)
            self.deploys.during[name] = lambda name=name: (
                db_api.set_provision_state(name, states.MANAGEABLE))
            self.assertFalse(self.inspect(name, result, failure))
            node = self.node(name)
            self.assertEqual((states.MANAGEABLE, 8, None),
                             (node.provision_state, node.cpus,
                              node.last_error))
            self.assertEqual('2026-01-01T00:00:00',
                             node.last_inspection['requested_at'])
            self.assertNotIn('result', node.last_inspection)
            self.assertEqual({utils.mac(1): (True, None)},
                             self.interfaces(name))
            self.assertIsNone(db_api.get_inventory(name))
            self.deploys.failures.pop(name, None)


class InterfacesTestCase(base.TestCase):
    """_interfaces on its own: what a known interface keeps."""

    @staticmethod
    def node(*interfaces):
        return types.SimpleNamespace(interfaces=[
            types.SimpleNamespace(address=address, pxe_enabled=pxe,
                                  local_link_connection=link)
            for address, pxe, link in interfaces])

    SWITCH = {'switch_id': '00:11:22:33:44:55', 'port_id': 'Ethernet7'}
    SEEN = {'switch_id': '00:11:22:33:44:66', 'port_id': 'Ethernet9'}

    def test_known_interfaces_keep_their_pxe_flag_and_port(self):
        node = self.node(('aa:00:00:00:00:01', False, self.SWITCH),
                         ('aa:00:00:00:00:02', True, None),
                         ('aa:00:00:00:00:03', True, None))
        entries = [
            {'address': 'aa:00:00:00:00:01', 'pxe_enabled': True,
             'local_link_connection': self.SEEN},
            {'address': 'aa:00:00:00:00:02', 'pxe_enabled': True,
             'local_link_connection': self.SEEN},
            {'address': 'aa:00:00:00:00:04', 'pxe_enabled': False,
             'local_link_connection': None}]
        rows, disagreements = inspection._interfaces(node, entries, False)
        self.assertEqual([
            {'address': 'aa:00:00:00:00:01', 'pxe_enabled': False,
             'local_link_connection': self.SWITCH},
            # No port known: it gets the one seen.
            {'address': 'aa:00:00:00:00:02', 'pxe_enabled': True,
             'local_link_connection': self.SEEN},
            entries[2]], rows)
        self.assertEqual([
            'interface aa:00:00:00:00:01: PXE off, found on',
            'interface aa:00:00:00:00:03: not found on the machine'],
            disagreements)

        rows, disagreements = inspection._interfaces(node, entries, True)
        self.assertEqual(entries, rows)
        self.assertEqual(
            ['interface aa:00:00:00:00:03: not found on the machine'],
            disagreements)


class QueueTestCase(InspectionTestBase):

    def test_one_at_a_time_the_other_waits(self):
        self.conf.config(max_concurrent_inspections=1, group='baremetal')
        inspections = inspection.Inspections(self.parts)
        for index in (1, 2):
            self.enrol(index)
            self.deploys.results['node-%d' % index] = found(utils.mac(index))
        by_uuid = {self.node(n).uuid: n for n in ('node-1', 'node-2')}
        inspections.resume([self.node('node-1'), self.node('node-2')])
        wait_for(lambda: self.deploys.inspected() == ['node-1'], 'node-1')
        self.assertEqual(['node-2'],
                         [by_uuid[u] for u in inspections.waiting()])
        time.sleep(0.2)
        self.assertEqual(['node-1'], self.deploys.inspected())
        self.assertIsNone(db_api.get_job('node-2'))
        self.assertEqual(states.INSPECTING,
                         self.node('node-2').provision_state)

        self.deploys.gate('node-1').set()
        wait_for(lambda: self.deploys.inspected() == ['node-1', 'node-2'],
                 'node-2 to start')
        self.deploys.gate('node-2').set()
        wait_for(lambda: not inspections.running(), 'every inspection')
        self.assertEqual(1, self.deploys.most)
        for name in ('node-1', 'node-2'):
            self.assertEqual(states.MANAGEABLE,
                             self.node(name).provision_state)

    def test_only_nodes_inspecting_are_started(self):
        inspections = inspection.Inspections(self.parts)
        self.enrol(1)
        self.enrol(2)
        self.enrol(3)
        db_api.set_provision_state('node-1', states.MANAGEABLE)
        db_api.update_node('node-2', {'maintenance': True})
        inspections.resume([self.node(n) for n in ('node-1', 'node-2',
                                                   'node-3')])
        wait_for(lambda: self.deploys.inspected() == ['node-3'], 'node-3')
        time.sleep(0.2)
        self.assertEqual(['node-3'], self.deploys.inspected())
