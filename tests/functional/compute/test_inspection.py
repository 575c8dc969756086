"""Inspection through nova-bm-manage and Nova's API: a node enrolled with
its BMC alone is inspected, provided and deployed; a node with hand-set
values keeps them and says where they disagree; a ramdisk that reports
garbage or nothing fails the inspection.

Real Nova services in-process, the driver's deploy HTTP server, fake BMCs
over IPMI (each answering Get System GUID), and the test playing the
deploy ramdisk over real HTTP (``tests.deploy_ramdisk``).
"""

import json
import threading

from nova_bm.db import api as db_api
from nova_bm.testing import machine
from tests import deploy_ramdisk
from tests.functional.compute import base
from tests.functional.compute import test_cleaning


class InspectionTestCase(test_cleaning.ManagedTestCase):

    NODES = 3
    #: Node 0 enrolled as ever (hardware and MAC given); 1 and 2 by BMC.
    ENROLLED = 1

    def setUp(self):
        super().setUp()
        self.flags(inspect_timeout=30, group='baremetal')

    def start_proxy(self):
        proxy = super().start_proxy()
        for index in (1, 2):
            self.ramdisk.system_uuids[self.node_name(index)] = (
                machine.system_uuid_for_port(self.fleet.ports[index]))
        return proxy

    def enrol_by_bmc(self, index):
        status, _, err = self.manage(
            'node', 'create', '--name', self.node_name(index),
            '--host', self.PROXY, '--resource-class', base.RESOURCE_CLASS,
            '--deploy-interface', 'image', '--provision-state', 'enroll',
            '--ipmi-address', '127.0.0.1',
            '--ipmi-port', str(self.fleet.ports[index]),
            '--ipmi-username', self.fleet.username,
            '--ipmi-password', base.PASSWORD)
        self.assertEqual(0, status, err)

    def inspect_and_wait(self, index, *options):
        """``node inspect --wait`` while the test runs the proxy's
        resource cycle (which starts what nova-bm-manage asked for: no
        message bus here)."""
        outcome = []
        command = threading.Thread(target=lambda: outcome.append(
            self.manage('node', 'inspect', self.node_name(index), '--wait',
                        '--timeout', '90', *options)))
        command.start()
        deploy_ramdisk.wait_for(
            lambda: self.node(self.node_name(index)).provision_state
            == 'inspecting', 60, 'the inspection to be asked for')
        self.wait_cleaned(index, 'manageable')
        command.join(120)
        return outcome[0]

    def test_a_node_enrolled_by_its_bmc_is_inspected_then_deployed(self):
        self.enrol_by_bmc(1)
        self.start_proxy()
        name = self.node_name(1)
        node = db_api.get_node(name, with_interfaces=True)
        self.assertEqual((0, 0, 0, [], 'enroll'), (
            node.cpus, node.memory_mb, node.local_gb,
            [i.address for i in node.interfaces], node.provision_state))
        self.assertEqual(1, self.reserved(1))

        status, out, err = self.manage('node', 'inspect', name)
        self.assertEqual(0, status, err)
        self.assertIn('inspecting', out)
        self.wait_cleaned(1, 'manageable')
        node = db_api.get_node(name, with_interfaces=True)
        # local_gb: the smallest disk of at least 4 GiB (Ironic's rule).
        self.assertEqual((8, 16384, 4, 'x86_64', 'bios'), (
            node.cpus, node.memory_mb, node.local_gb, node.cpu_arch,
            node.boot_mode))
        self.assertEqual([(self.mac(1), True)], [
            (i.address, i.pxe_enabled) for i in node.interfaces])
        shown = self.show(1)
        self.assertEqual('ok', shown['last_inspection']['result'])
        self.assertEqual([], shown['last_inspection']['disagreements'])
        status, out, err = self.manage('node', 'inventory', name, '-f',
                                       'json')
        self.assertEqual(0, status, err)
        found = json.loads(out)
        self.assertEqual(8, found['cpu']['count'])
        self.assertEqual([self.mac(1)],
                         [nic['mac'] for nic in found['interfaces']])
        self.assertEqual(['/dev/vda', '/dev/nvme0n1'],
                         [d['name'] for d in found['disks']])
        # The machine booted the ramdisk through unknown.ipxe, which no
        # longer boots it once the inspection ended.
        self.assertNotIn('nbm_api', self.ramdisk.get('/unknown.ipxe'))

        # Provided (cleaned first), then a server lands on it.
        status, _, err = self.manage('node', 'provide', name)
        self.assertEqual(0, status, err)
        self.wait_cleaned(1, 'available')
        self._run_periodics()
        self.assertEqual(0, self.reserved(1))
        server = self.boot_on(1)
        self.assertEqual(name, self.hypervisor_of(server))

    def test_hand_set_values_are_kept_unless_overwritten(self):
        self.start_proxy()
        name = self.node_name(0)
        # An available node is not inspected: it is offered to tenants.
        status, out, _ = self.manage('node', 'inspect', name)
        self.assertEqual(1, status)
        self.assertIn('only enroll, manageable and inspect failed', out)
        status, out, err = self.manage('node', 'manage', name)
        self.assertEqual(0, status, out + err)
        before = self.node(name)
        self.ramdisk.inventories[name] = deploy_ramdisk.inventory(
            self.mac(0), test_cleaning.DISKS, cpus=16, memory_mb=32768)
        status, _, err = self.inspect_and_wait(0)
        self.assertEqual(0, status, err)
        self.assertIn('0 of 1 inspected, 0 failed, 1 inspecting', err)
        self.assertIn('1 of 1 inspected, 0 failed, 0 inspecting', err)
        node = self.node(name)
        self.assertEqual('manageable', node.provision_state)
        self.assertEqual((before.cpus, before.memory_mb),
                         (node.cpus, node.memory_mb))
        said = node.last_inspection['disagreements']
        self.assertIn('cpus: node %d, inspected 16' % before.cpus, said)
        status, _, err = self.inspect_and_wait(0, '--overwrite')
        self.assertEqual(0, status, err)
        node = self.node(name)
        self.assertEqual((16, 32768, 4), (node.cpus, node.memory_mb,
                                           node.local_gb))
        self.assertIn('cpus', node.last_inspection['set'])

    def test_garbage_or_silence_fails_the_inspection(self):
        self.enrol_by_bmc(1)
        self.enrol_by_bmc(2)
        self.flags(inspect_timeout=3, group='baremetal')
        self.start_proxy()
        self.ramdisk.inspect_behaviour[self.node_name(1)] = 'garbage'
        self.ramdisk.inspect_behaviour[self.node_name(2)] = 'silent'
        status, out, err = self.manage('node', 'inspect', self.node_name(1),
                                       self.node_name(2))
        self.assertEqual(0, status, err)
        self.wait_cleaned(1, 'inspect failed')
        self.wait_cleaned(2, 'inspect failed')
        garbled = db_api.get_node(self.node_name(1), with_interfaces=True)
        self.assertIn('the inventory is malformed', garbled.last_error)
        self.assertEqual((0, []), (garbled.cpus, garbled.interfaces))
        silent = self.node(self.node_name(2))
        self.assertIn('inspect_timeout', silent.last_error)
        self.assertEqual('off', self.bmc(self.node_name(2))['power'])
        self.assertEqual('failed', silent.last_inspection['result'])
        # Never offered.
        self._run_periodics()
        self.assertEqual(1, self.reserved(1))
        # Inspected again once the ramdisk behaves.
        self.ramdisk.inspect_behaviour[self.node_name(1)] = 'ok'
        status, _, err = self.manage('node', 'inspect', '--all-uninspected')
        self.assertEqual(0, status, err)
        self.wait_cleaned(1, 'manageable')
        self.assertEqual(8, self.node(self.node_name(1)).cpus)
