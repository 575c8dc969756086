"""A node's properties from an inventory (derive), and which of them to
set on the node (compare)."""

import json

import testtools

from nova_bm.common import root_device_hints
from nova_bm.inspection import inventory as inventory_report
from nova_bm.inspection import properties

GIB = 1 << 30
MIB = 1 << 20
MIN_ROOT = root_device_hints.MIN_GUESS_BYTES
#: chassis 6c:3b:e5:a1:b2:c3, port eth1, system name leaf-1.
LLDPDU = '0207046c3be5a1b2c3' '04050565746831' '0a066c6561662d31' '0000'


def inventory(cpu='cpu count=8 architecture=x86_64',
              memory='memory total_bytes=16651145216 physical_mb=16384',
              boot='boot mode=uefi pxe_mac=52:54:00:00:00:01',
              disks=('disk name=/dev/sda size=%d serial=BIG rotational=1'
                     % (500 * GIB),
                     'disk name=/dev/sdb size=%d serial=SMALL rotational=0'
                     % (64 * GIB + 5 * MIB)),
              nics=('nic name=eth0 mac=52:54:00:00:00:01 carrier=1',
                    'nic name=eth1 mac=52:54:00:00:00:02 carrier=0 lldp=%s'
                    % LLDPDU)):
    """An inventory as :func:`inventory.parse` reads a ramdisk's report."""
    lines = (cpu, memory, boot) + tuple(disks) + tuple(nics)
    return inventory_report.parse(('\n'.join(lines) + '\n').encode())


class DeriveTestCase(testtools.TestCase):

    def test_a_machine(self):
        values, problems = properties.derive(inventory(), None, MIN_ROOT)
        self.assertEqual([], problems)
        self.assertEqual({
            'cpus': 8, 'memory_mb': 16384, 'cpu_arch': 'x86_64',
            'boot_mode': 'uefi',
            # The smallest disk of at least 4 GiB, its whole GiB: nothing
            # taken off for partitioning (whole-disk images).
            'local_gb': 64,
            'interfaces': [
                {'address': '52:54:00:00:00:01', 'pxe_enabled': True,
                 'local_link_connection': None},
                {'address': '52:54:00:00:00:02', 'pxe_enabled': False,
                 'local_link_connection': {
                     'switch_id': '6c:3b:e5:a1:b2:c3', 'port_id': 'eth1',
                     'switch_info': 'leaf-1'}}]}, values)
        self.assertEqual(values, json.loads(json.dumps(values)))

    def test_root_device_hints_choose_the_disk(self):
        for hints in ({'serial': 'BIG'}, {'name': 'sda'},
                      {'size': '>= 100'}, {'rotational': True},
                      {'serial': 's== big'}):
            values, problems = properties.derive(inventory(), hints,
                                                 MIN_ROOT)
            self.assertEqual(([], 500), (problems, values['local_gb']),
                             hints)
        # Hints as the node stores them (normalised) are the same hints.
        stored = root_device_hints.parse({'serial': 'SMALL'})
        self.assertEqual(64, properties.derive(inventory(), stored,
                                               MIN_ROOT)[0]['local_gb'])

    def test_the_least_root_disk_size_without_hints(self):
        values, _ = properties.derive(inventory(), {}, 100 * GIB)
        self.assertEqual(500, values['local_gb'])
        # Hints override it: the disk they name, however small.
        values, _ = properties.derive(inventory(), {'serial': 'SMALL'},
                                      100 * GIB)
        self.assertEqual(64, values['local_gb'])

    def test_no_disk_matches_the_hints(self):
        values, problems = properties.derive(
            inventory(), {'serial': 'NONE', 'rotational': False}, MIN_ROOT)
        self.assertNotIn('local_gb', values)
        self.assertEqual(
            ['local_gb: no disk matches the root device hints (rotational '
             'false, serial s== none); the disks are /dev/sda (500 GiB, '
             'serial BIG, rotational), /dev/sdb (64 GiB, serial SMALL, SSD)'],
            problems)
        # The other values are derived all the same.
        self.assertEqual(8, values['cpus'])

    def test_no_disk_big_enough(self):
        values, problems = properties.derive(inventory(), None, 1024 * GIB)
        self.assertNotIn('local_gb', values)
        self.assertEqual(['local_gb: no disk of at least 1024 GiB for the '
                          'image; the disks are /dev/sda (500 GiB, serial '
                          'BIG), /dev/sdb (64 GiB, serial SMALL)'], problems)
        values, problems = properties.derive(inventory(disks=()), None,
                                             MIN_ROOT)
        self.assertNotIn('local_gb', values)
        self.assertEqual(['local_gb: no disk of at least 4 GiB for the '
                          'image; the disks are none'], problems)
        _, problems = properties.derive(inventory(), None, 500 * GIB + 1)
        self.assertIn('at least 536870912001 bytes', problems[0])

    def test_a_root_disk_under_a_gib(self):
        values, problems = properties.derive(inventory(disks=(
            'disk name=/dev/vda size=%d' % (512 * MIB),)), {'name': 'vda'},
            MIN_ROOT)
        self.assertNotIn('local_gb', values)
        self.assertEqual(['local_gb: the root disk /dev/vda is smaller than '
                          '1 GiB'], problems)

    def test_hints_refused(self):
        values, problems = properties.derive(inventory(), {'colour': 'red'},
                                             MIN_ROOT)
        self.assertNotIn('local_gb', values)
        self.assertEqual(1, len(problems))
        self.assertIn('local_gb: unknown root device hint', problems[0])

    def test_memory(self):
        def memory_mb(line):
            return properties.derive(inventory(memory=line), None,
                                     MIN_ROOT)[0]['memory_mb']
        # The RAM installed, when the ramdisk could tell it.
        self.assertEqual(512, memory_mb('memory total_bytes=503316480 '
                                        'physical_mb=512'))
        # Else the kernel's total, rounded up to a MiB.
        self.assertEqual(480, memory_mb('memory total_bytes=503316480'))
        self.assertEqual(481, memory_mb('memory total_bytes=503316481'))
        self.assertEqual(481, memory_mb('memory total_bytes=%d'
                                        % (481 * MIB - 1)))
        self.assertEqual(1, memory_mb('memory total_bytes=1'))

    def test_values_a_node_cannot_take(self):
        values, problems = properties.derive(inventory(
            cpu='cpu count=2 architecture=riscv64',
            memory='memory total_bytes=1 physical_mb=%d' % (1 << 40)),
            None, MIN_ROOT)
        self.assertNotIn('cpu_arch', values)
        self.assertNotIn('memory_mb', values)
        self.assertEqual(2, len(problems), problems)
        self.assertIn('memory_mb: must be a whole number from 1 to '
                      '2147483647', problems[0])
        self.assertIn("cpu_arch: is not a CPU architecture Nova knows: "
                      "'riscv64'", problems[1])

    def test_pxe_enabled_without_the_boot_mac(self):
        def pxe(*nics):
            values, _ = properties.derive(inventory(
                boot='boot mode=bios', nics=nics), None, MIN_ROOT)
            return [i['pxe_enabled'] for i in values['interfaces']]
        # The NICs with a link.
        self.assertEqual([False, True, True, False], pxe(
            'nic name=eth0 mac=52:54:00:00:00:01 carrier=0',
            'nic name=eth1 mac=52:54:00:00:00:02 carrier=1',
            'nic name=eth2 mac=52:54:00:00:00:03 carrier=1',
            'nic name=eth3 mac=52:54:00:00:00:04'))
        # None with one known: every NIC.
        self.assertEqual([True, True], pxe(
            'nic name=eth0 mac=52:54:00:00:00:01 carrier=0',
            'nic name=eth3 mac=52:54:00:00:00:04'))
        # The boot MAC known: that NIC alone, link or not.
        values, _ = properties.derive(inventory(
            boot='boot mode=bios pxe_mac=52:54:00:00:00:02'), None, MIN_ROOT)
        self.assertEqual([False, True], [i['pxe_enabled']
                                         for i in values['interfaces']])

    def test_boot_mode_and_architecture(self):
        values, problems = properties.derive(inventory(
            cpu='cpu count=1 architecture=aarch64',
            boot='boot mode=bios'), None, MIN_ROOT)
        self.assertEqual([], problems)
        self.assertEqual(('aarch64', 'bios'),
                         (values['cpu_arch'], values['boot_mode']))


class CompareTestCase(testtools.TestCase):

    DERIVED = {'cpus': 8, 'memory_mb': 16384, 'local_gb': 64,
               'cpu_arch': 'x86_64', 'boot_mode': 'uefi',
               'interfaces': []}

    def test_a_node_enrolled_with_its_bmc_alone(self):
        for unset in ({}, {'cpus': 0, 'memory_mb': 0, 'local_gb': 0,
                           'cpu_arch': '', 'boot_mode': None},
                      dict.fromkeys(properties.FIELDS)):
            for overwrite in (False, True):
                to_set, disagreements = properties.compare(
                    unset, self.DERIVED, overwrite)
                self.assertEqual(
                    {field: self.DERIVED[field]
                     for field in properties.FIELDS}, to_set)
                self.assertEqual([], disagreements)

    def test_a_node_that_agrees(self):
        node = {field: self.DERIVED[field] for field in properties.FIELDS}
        self.assertEqual(({}, []),
                         properties.compare(node, self.DERIVED, False))
        self.assertEqual(({}, []),
                         properties.compare(node, self.DERIVED, True))

    def test_values_that_differ(self):
        node = {'cpus': 8, 'memory_mb': 1024, 'local_gb': 0,
                'cpu_arch': 'aarch64', 'boot_mode': 'uefi'}
        disagreements = ['memory_mb: node 1024, inspected 16384',
                         'cpu_arch: node aarch64, inspected x86_64']
        # Kept, and said.
        self.assertEqual(({'local_gb': 64}, disagreements),
                         properties.compare(node, self.DERIVED, False))
        # Overwritten, and said.
        self.assertEqual(({'memory_mb': 16384, 'local_gb': 64,
                           'cpu_arch': 'x86_64'}, disagreements),
                         properties.compare(node, self.DERIVED, True))

    def test_a_value_not_derived_is_left_alone(self):
        derived = {'cpus': 4}
        self.assertEqual(({'cpus': 4}, []), properties.compare(
            {'cpus': None, 'local_gb': 0, 'memory_mb': 100}, derived, True))

    def test_a_nodes_value_is_escaped(self):
        _, disagreements = properties.compare(
            {'cpu_arch': 'x86\x1b[2J\n'}, self.DERIVED, False)
        self.assertEqual(['cpu_arch: node x86\\x1b[2J\\n, inspected x86_64'],
                         disagreements)

    def test_the_ironic_subtraction_is_not_made(self):
        # A node whose local_gb an Ironic inspector filled (a GiB less)
        # disagrees: the whole disk is what nova-bm deploys to.
        _, disagreements = properties.compare({'local_gb': 63},
                                              self.DERIVED, False)
        self.assertEqual(['local_gb: node 63, inspected 64'], disagreements)
