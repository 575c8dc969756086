"""Inspection on a QEMU machine: a node enrolled with its BMC alone.

The machine has hardware of its own (2 CPUs, 768 MiB, a virtio disk, a
SCSI disk that says it spins at 7200 rpm and an NVMe disk, each with its
serial, and a second NIC on a wire without DHCP). It is enrolled with its
BMC's address and credentials only, inspected with ``nova-bm-manage node
inspect``: the real deploy ramdisk boots through ``unknown.ipxe``, is
found by the system UUID its BMC reports, and reads the machine. The node
then has exactly what QEMU was started with; it is provided (cleaned) and
a server deploys on it through Nova's API.
"""

import json
import time

from nova_bm.common import states
from tests.lab import test_cleaning
from tests.lab import test_deploy

GIB = 1 << 30


class LabInspectionTestCase(test_cleaning.LabCleaningTestCase):

    NODES = 1
    ENROLLED = 0
    DISKS = (
        {'name': 'root', 'bytes': GIB, 'serial': 'ROOT1'},
        {'name': 'spin', 'bytes': 2 * GIB, 'bus': 'scsi', 'serial': 'SPIN1',
         'rotation_rate': 7200, 'model': 'LABDISK'},
        {'name': 'fast', 'bytes': 3 * GIB // 2, 'bus': 'nvme',
         'serial': 'NV1'},
    )
    CPUS = 2
    MEMORY_MB = 768

    def machines(self):
        return dict(super().machines(), cpus=self.CPUS,
                    memory_mb=self.MEMORY_MB, extra_nics=1)

    def wait_inspected(self, name):
        deadline = time.monotonic() + test_deploy.SETTLE
        while True:
            node = self.node(name)
            if node.provision_state != states.INSPECTING:
                return node
            if time.monotonic() > deadline:
                self.fail('%s still inspecting after %d s; its console '
                          'ends: %s' % (name, test_deploy.SETTLE,
                                        self.console(0)[-3000:]))
            self._run_periodics()
            time.sleep(1)

    def test_a_machine_enrolled_by_its_bmc_is_read_then_deployed(self):
        name = self.node_name(0)
        port = self.fleet.ports[0]
        result = self.manage(
            'node', 'create', '--name', name, '--host', self.PROXY,
            '--resource-class', 'baremetal-gold', '--deploy-interface',
            'image', '--provision-state', 'enroll', '--ipmi-address',
            '127.0.0.1', '--ipmi-port', str(port), '--ipmi-username',
            self.fleet.username, '--ipmi-password', self.fleet.password)
        self.assertEqual(0, result.returncode, result.stderr)
        self.start_proxy()
        result = self.manage('node', 'inspect', name)
        self.assertEqual(0, result.returncode, result.stderr)
        node = self.wait_inspected(name)
        self.assertEqual(
            (states.MANAGEABLE, None),
            (node.provision_state, node.last_error),
            self.console(0)[-3000:])
        # Exactly what QEMU was started with; the root disk is the
        # smallest ([baremetal] root_disk_min_gb = 0 here), of 1 GiB.
        self.assertEqual(
            (self.CPUS, self.MEMORY_MB, 1, 'x86_64', 'bios'),
            (node.cpus, node.memory_mb, node.local_gb, node.cpu_arch,
             node.boot_mode))
        state = self.fleet.fleet.state(port)
        macs = [self.fleet.fleet.mac(port)] + state['machine']['extra_macs']
        found = self.inventory(name)
        self.assertEqual(sorted(macs),
                         sorted(nic['mac'] for nic in found['interfaces']))
        self.assertEqual(macs[0], found['boot']['pxe_mac'])
        self.assertEqual(state['system_uuid'], found['system']['uuid'])
        disks = {disk['serial']: disk for disk in found['disks']}
        self.assertEqual(
            {'ROOT1': GIB, 'SPIN1': 2 * GIB, 'NV1': 3 * GIB // 2},
            {serial: disk['size'] for serial, disk in disks.items()})
        self.assertTrue(disks['SPIN1']['rotational'])
        self.assertFalse(disks['NV1']['rotational'])
        interfaces = {i['address']: i['pxe_enabled']
                      for i in self.interfaces(name)}
        self.assertEqual({macs[0]: True, macs[1]: False}, interfaces)

        # Provided (cleaned first), then Nova deploys a server on it.
        result = self.manage('node', 'provide', name)
        self.assertEqual(0, result.returncode, result.stderr)
        self._run_periodics()
        node = self.wait_cleaned(0)
        self.assert_available(node)
        self._run_periodics()
        server = self.boot_on(0, image=self.glance_image('inspected'))
        self.assertEqual(name, self.hypervisor_of(server))

    def inventory(self, name):
        result = self.manage('node', 'inventory', name, '-f', 'json')
        self.assertEqual(0, result.returncode, result.stderr)
        return json.loads(result.stdout)

    def interfaces(self, name):
        result = self.manage('interface', 'list', name, '-f', 'json')
        self.assertEqual(0, result.returncode, result.stderr)
        return [{'address': row['Address'], 'pxe_enabled': row['PXE']}
                for row in json.loads(result.stdout)]
