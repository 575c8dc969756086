"""An inspecting ramdisk's inventory report, read as hostile input."""

import json

import testtools

from nova_bm.deploy import disk_facts
from nova_bm.inspection import inventory
from nova_bm.inspection import lldp

PXE_MAC = '52:54:00:4c:27:11'
#: A switch's LLDPDU: chassis 6c:3b:e5:a1:b2:c3, port eth1, TTL 120,
#: system name leaf-1, End.
LLDPDU = ('0207046c3be5a1b2c3' '04050565746831' '06020078'
          '0a066c6561662d31' '0000')

CPU = ('cpu count=2 architecture=x86_64 '
       'model=QEMU%20Virtual%20CPU%20version%202.5%2B')
MEMORY = 'memory total_bytes=503316480 physical_mb=512'
SYSTEM = ('system vendor=QEMU product=Standard%20PC%20%28i440FX%20%2B%20'
          'PIIX%2C%201996%29 serial=S1 '
          'uuid=1c2d3e4f-0000-4000-8000-0123456789ab')
BOOT = 'boot mode=bios pxe_mac=%s' % PXE_MAC
DISK = ('disk name=/dev/vda size=104857600 rotational=1 model=QEMU%20HARDDISK '
        'serial=D1 by_path=/dev/disk/by-path/pci-0000:00:05.0')
NIC0 = 'nic name=eth0 mac=%s speed_mbps=1000 carrier=1' % PXE_MAC
NIC1 = 'nic name=eth1 mac=52:54:00:4d:27:11 carrier=0 lldp=%s' % LLDPDU


def report(*lines, cpu=CPU, memory=MEMORY, system=SYSTEM, boot=BOOT,
           disks=(DISK,), nics=(NIC0, NIC1)):
    """A report as the ramdisk's ``inventory`` prints it; a kind given
    None is left out, ``lines`` replace the disk and nic lines."""
    if not lines:
        lines = tuple(disks) + tuple(nics)
    head = tuple(line for line in (cpu, memory, system, boot) if line)
    return ('\n'.join(head + lines) + '\n').encode('ascii')


def nic(index, **facts):
    """A nic line; nic 0's MAC is the one the machine booted from."""
    words = {'name': 'eth%d' % index,
             'mac': '52:54:00:4c:27:%02x' % (0x11 + index)}
    words.update(facts)
    return 'nic ' + ' '.join('%s=%s' % pair for pair in words.items()
                             if pair[1] is not None)


class ParseTestCase(testtools.TestCase):

    def assertMalformed(self, body, reason):
        error = self.assertRaises(inventory.Malformed, inventory.parse, body)
        self.assertIn(reason, str(error))
        self.assertEqual(1, len(str(error).splitlines()), str(error))
        self.assertTrue(str(error).isprintable(), str(error))
        return error

    def test_a_whole_report(self):
        found = inventory.parse(report())
        disk = dict.fromkeys(disk_facts.FIELDS)
        disk.update(name='/dev/vda', size=104857600, rotational=True,
                    model='QEMU HARDDISK', serial='D1',
                    by_path='/dev/disk/by-path/pci-0000:00:05.0')
        self.assertEqual({
            'cpu': {'count': 2, 'architecture': 'x86_64',
                    'model': 'QEMU Virtual CPU version 2.5+'},
            'memory': {'total_bytes': 503316480, 'physical_mb': 512},
            'system': {'vendor': 'QEMU',
                       'product': 'Standard PC (i440FX + PIIX, 1996)',
                       'serial': 'S1',
                       'uuid': '1c2d3e4f-0000-4000-8000-0123456789ab'},
            'boot': {'mode': 'bios', 'pxe_mac': PXE_MAC},
            'disks': [disk],
            'interfaces': [
                {'name': 'eth0', 'mac': PXE_MAC, 'speed_mbps': 1000,
                 'carrier': True, 'lldp': None},
                {'name': 'eth1', 'mac': '52:54:00:4d:27:11',
                 'speed_mbps': None, 'carrier': False,
                 'lldp': {'chassis_id': '6c:3b:e5:a1:b2:c3',
                          'port_id': 'eth1', 'system_name': 'leaf-1',
                          'port_description': None}}]}, found)
        # What the proxy keeps: JSON, and back the same.
        self.assertEqual(found, json.loads(json.dumps(found)))

    def test_the_least_a_report_says(self):
        found = inventory.parse(
            b'cpu count=1 architecture=aarch64\n'
            b'memory total_bytes=1073741824\n'
            b'boot mode=uefi\n'
            b'nic name=enp1s0 mac=52:54:00:4c:27:11\n')
        self.assertEqual({
            'cpu': {'count': 1, 'architecture': 'aarch64', 'model': None},
            'memory': {'total_bytes': 1073741824, 'physical_mb': None},
            'system': None,
            'boot': {'mode': 'uefi', 'pxe_mac': None},
            'disks': [],
            'interfaces': [{'name': 'enp1s0', 'mac': PXE_MAC,
                            'speed_mbps': None, 'carrier': None,
                            'lldp': None}]}, found)

    def test_a_system_line_says_what_firmware_filled_in(self):
        self.assertEqual(dict.fromkeys(('vendor', 'product', 'serial',
                                        'uuid')),
                         inventory.parse(report(system='system'))['system'])
        system = inventory.parse(report(
            system='system serial=AB%2012 uuid=1C2D3E4F-0000-4000-8000-'
                   '0123456789AB'))['system']
        self.assertEqual({'vendor': None, 'product': None,
                          'serial': 'AB 12',
                          'uuid': '1c2d3e4f-0000-4000-8000-0123456789ab'},
                         system)
        # A placeholder UUID names no machine: as if not given.
        for placeholder in ('00000000-0000-0000-0000-000000000000',
                            'FFFFFFFF-ffff-ffff-ffff-ffffffffffff'):
            self.assertIsNone(inventory.parse(report(
                system='system uuid=%s' % placeholder))['system']['uuid'])

    def test_macs_are_lower_case_and_blank_text_is_none(self):
        found = inventory.parse(report(
            boot='boot mode=bios pxe_mac=52:54:00:4C:27:1A',
            cpu='cpu count=4 architecture=ppc64le model=%20%20',
            nics=(nic(1, mac='52:54:00:4C:27:1A'),)))
        self.assertEqual('52:54:00:4c:27:1a', found['boot']['pxe_mac'])
        self.assertEqual('52:54:00:4c:27:1a', found['interfaces'][0]['mac'])
        self.assertIsNone(found['cpu']['model'])

    def test_blank_lines_and_crlf(self):
        body = report().replace(b'\n', b'\r\n\r\n  \t\n')
        self.assertEqual(inventory.parse(report()), inventory.parse(body))

    def test_as_many_disks_and_nics_as_allowed(self):
        disks = ['disk name=/dev/sd%d size=%d' % (i, (i + 1) << 30)
                 for i in range(inventory.MAX_DISKS)]
        nics = [nic(i, speed_mbps=100000, carrier=1, lldp=LLDPDU)
                for i in range(inventory.MAX_NICS)]
        found = inventory.parse(report(boot='boot mode=uefi', disks=disks,
                                       nics=nics))
        self.assertEqual((64, 32), (len(found['disks']),
                                    len(found['interfaces'])))
        self.assertLess(len(report(disks=disks, nics=nics)),
                        inventory.MAX_BODY)

    # -- Refusals -----------------------------------------------------------

    def test_size_and_encoding(self):
        self.assertMalformed(report() + b' ' * inventory.MAX_BODY,
                             'larger than %d bytes' % inventory.MAX_BODY)
        self.assertMalformed(report().replace(b'QEMU', b'QEM\xc3\x9c'),
                             'not ASCII')
        self.assertMalformed(report().replace(b'eth0', b'eth\xff'),
                             'not ASCII')
        self.assertMalformed(b'', 'no cpu line')
        self.assertMalformed(b'\n\n', 'no cpu line')

    def test_the_number_of_lines_is_bounded(self):
        # Before any line is read: a flood of short lines is refused.
        self.assertMalformed(report(*['disk'] * 200),
                             'more than %d lines' % inventory.MAX_LINES)

    def test_unknown_kinds_and_facts(self):
        for line in ('gpu count=1', 'CPU count=1', 'nics name=eth0',
                     'disk: name=/dev/sda', 'count=2'):
            self.assertMalformed(report(line, NIC0), 'unknown kind')
        for line, kind in ((CPU + ' flags=sse', 'cpu'),
                           (MEMORY + ' swap=0', 'memory'),
                           (SYSTEM + ' sku=X', 'system'),
                           (BOOT + ' secure_boot=1', 'boot'),
                           (NIC0 + ' ip=10.0.0.1', 'nic'),
                           (NIC0 + ' carrier', 'nic'),
                           (DISK + ' tran=sata', 'disk')):
            self.assertMalformed(_replaced(line), 'unknown %s fact' % kind)

    def test_a_fact_given_twice_or_empty(self):
        self.assertMalformed(_replaced(CPU + ' count=3'), 'cpu count is '
                                                          'given twice')
        # disk_facts alone would take the last: refused here.
        self.assertMalformed(_replaced(DISK + ' size=1'), 'disk size is '
                                                          'given twice')
        self.assertMalformed(_replaced(NIC0 + ' carrier=1'), 'twice')
        self.assertMalformed(report(nics=(nic(0, speed_mbps=''),)),
                             'nic speed_mbps is given without a value')
        self.assertMalformed(report(system='system vendor='),
                             'system vendor is given without a value')

    def test_kinds_once_and_in_order(self):
        for kind in ('cpu', 'memory', 'system', 'boot'):
            line = {'cpu': CPU, 'memory': MEMORY, 'system': SYSTEM,
                    'boot': BOOT}[kind]
            self.assertMalformed(report().replace(
                line.encode(), (line + '\n' + line).encode()),
                '%s is reported twice' % kind)
        self.assertMalformed(report(NIC0, DISK), 'a disk line after a nic '
                                                 'line')
        self.assertMalformed(report(boot=None, system=BOOT + '\n' + SYSTEM),
                             'a system line after a boot line')
        self.assertMalformed(report(cpu=None, memory=MEMORY + '\n' + CPU),
                             'a cpu line after a memory line')

    def test_required_kinds(self):
        self.assertMalformed(report(cpu=None), 'no cpu line')
        self.assertMalformed(report(memory=None), 'no memory line')
        self.assertMalformed(report(boot=None), 'no boot line')
        self.assertMalformed(report(nics=()), 'no nic reported')
        # No disk is a machine without one (or without a driver for it).
        self.assertEqual([], inventory.parse(report(disks=()))['disks'])

    def test_required_facts(self):
        self.assertMalformed(report(cpu='cpu architecture=x86_64'),
                             'cpu has no count')
        self.assertMalformed(report(cpu='cpu count=2'),
                             'cpu has no architecture')
        self.assertMalformed(report(memory='memory physical_mb=512'),
                             'memory has no total_bytes')
        self.assertMalformed(report(boot='boot pxe_mac=%s' % PXE_MAC),
                             'boot mode must be uefi or bios')
        self.assertMalformed(report(nics=('nic mac=%s' % PXE_MAC,)),
                             'a nic has no name')
        self.assertMalformed(report(nics=('nic name=eth0',)),
                             'nic eth0 has no mac')
        self.assertMalformed(report(disks=('disk size=1',)),
                             'a disk has no /dev name')
        self.assertMalformed(report(disks=('disk name=/dev/sda',)),
                             'disk /dev/sda has no size')

    def test_numbers_are_whole_and_bounded(self):
        for count in ('0', '-1', '+2', '1.5', '0x10', 'two', '16385',
                      '9' * 20, '%2D1'):
            self.assertMalformed(
                report(cpu='cpu count=%s architecture=x86_64' % count),
                'cpu count must be a whole number from 1 to 16384')
        for total in ('0', '-512', str((1 << 60) + 1), '9' * 255):
            self.assertMalformed(
                report(memory='memory total_bytes=%s' % total),
                'memory total_bytes must be a whole number from 1 to')
        self.assertMalformed(
            report(memory='memory total_bytes=1 physical_mb=-1'),
            'memory physical_mb must be a whole number')
        for speed in ('-1', '0', '10000001', 'unknown'):
            self.assertMalformed(report(nics=(nic(0, speed_mbps=speed),)),
                                 'nic eth0 speed_mbps must be a whole '
                                 'number from 1 to 10000000')
        self.assertMalformed(
            report(disks=('disk name=/dev/sda size=-1',)),
            'size must be a number of bytes')
        self.assertMalformed(
            report(disks=('disk name=/dev/sda size=%d' % ((1 << 60) + 1),)),
            'size must be a number of bytes')
        # The largest believed.
        found = inventory.parse(report(
            cpu='cpu count=16384 architecture=x86_64',
            memory='memory total_bytes=%d physical_mb=%d'
                   % (1 << 60, 1 << 40),
            nics=(nic(0, speed_mbps=10 ** 7),)))
        self.assertEqual((16384, 1 << 60, 1 << 40, 10 ** 7), (
            found['cpu']['count'], found['memory']['total_bytes'],
            found['memory']['physical_mb'],
            found['interfaces'][0]['speed_mbps']))

    def test_words_of_a_grammar(self):
        for arch in ('X86_64', 'x86-64', 'a' * 33, 'x86%2064', '%2F'):
            self.assertMalformed(
                report(cpu='cpu count=1 architecture=%s' % arch),
                'cpu architecture must be')
        for mode in ('UEFI', 'efi', 'legacy', 'bios%20x'):
            self.assertMalformed(report(boot='boot mode=%s' % mode),
                                 'boot mode must be uefi or bios')
        for name in ('a' * 16, 'eth%200', 'eth/0', 'eth%2A', 'eth%C3%A90'):
            self.assertMalformed(report(nics=(nic(0, name=name),)),
                                 'a nic has no name of 1 to 15')
        for carrier in ('2', 'true', 'up', '-1'):
            self.assertMalformed(report(nics=(nic(0, carrier=carrier),)),
                                 'nic eth0 carrier must be 0 or 1')

    def test_bad_macs(self):
        for mac in ('52:54:00:4c:27', '52:54:00:4c:27:11:00',
                    '52-54-00-4c-27-11', '5254004c2711', '52:54:00:4c:27:1g',
                    '52:54:00:4c:27:%0a'):
            self.assertMalformed(report(boot='boot mode=bios',
                                        nics=(nic(0, mac=mac),)),
                                 'nic eth0 mac must be a MAC address')
            self.assertMalformed(report(boot='boot mode=bios pxe_mac=%s'
                                        % mac),
                                 'boot pxe_mac must be a MAC address')

    def test_unique_names_and_macs(self):
        self.assertMalformed(report(nics=(NIC0, NIC0.replace('eth0',
                                                             'eth2'))),
                             'MAC 52:54:00:4c:27:11 is reported twice')
        # The same MAC in another case is the same MAC.
        self.assertMalformed(report(nics=(NIC0, NIC0.replace(
            'eth0', 'eth2').replace('4c', '4C'))), 'MAC 52:54:00:4c:27:11')
        self.assertMalformed(report(nics=(NIC0, NIC1.replace('eth1',
                                                             'eth0'))),
                             'nic eth0 is reported twice')
        self.assertMalformed(report(disks=(DISK, DISK)),
                             'disk /dev/vda is reported twice')

    def test_too_many_disks_or_nics(self):
        disks = ['disk name=/dev/sd%d size=1073741824' % i
                 for i in range(inventory.MAX_DISKS + 1)]
        self.assertMalformed(report(disks=disks), 'more than 64 disks')
        nics = [nic(i) for i in range(inventory.MAX_NICS + 1)]
        self.assertMalformed(report(boot='boot mode=bios', nics=nics),
                             'more than 32 nics')

    def test_pxe_mac_is_a_reported_nics(self):
        self.assertMalformed(report(boot='boot mode=bios '
                                         'pxe_mac=52:54:00:ff:ff:ff'),
                             'pxe_mac 52:54:00:ff:ff:ff is the MAC of no '
                             'reported nic')

    def test_bad_uuids(self):
        for uuid in ('1c2d3e4f00004000800001234567', '1c2d3e4f',
                     '{1c2d3e4f-0000-4000-8000-0123456789ab}',
                     'urn:uuid:1c2d3e4f-0000-4000-8000-0123456789ab',
                     '1c2d3e4f-0000-4000-8000-0123456789ag',
                     '1c2d3e4f-0000-4000-8000-0123456789ab0'):
            self.assertMalformed(report(system='system uuid=%s' % uuid),
                                 'system uuid must be a UUID')

    def test_text_values_are_printable_and_bounded(self):
        longest = 'x' * inventory.MAX_VALUE
        self.assertEqual(longest, inventory.parse(report(
            system='system vendor=%s' % longest))['system']['vendor'])
        # The decoded length counts.
        self.assertMalformed(report(system='system vendor=%s'
                                    % ('%41' * 256)),
                             'system vendor is longer than 255 characters')
        for hostile in ('a%1b[2Jb', 'a%0ab', 'a%0db', 'a%00b', 'a%7fb',
                        'a%c2%9bb', 'a%e2%80%aeb'):
            error = self.assertMalformed(
                report(cpu='cpu count=1 architecture=x86_64 model=%s'
                       % hostile), 'cpu model holds unprintable characters')
            self.assertNotIn(hostile, str(error))
            self.assertMalformed(report(system='system serial=%s' % hostile),
                                 'system serial holds unprintable')
            self.assertMalformed(report(disks=('disk name=/dev/sda size=1 '
                                               'model=%s' % hostile,)),
                                 'model holds unprintable')

    def test_a_reason_never_echoes_raw_unprintable_input(self):
        for body in (report(b'\x1b[2Jgpu count=1'.decode()),
                     report(cpu=CPU.replace('model', '\x1b[2Jmodel')),
                     report(cpu=CPU + ' \x07bell=1'),
                     report(disks=(DISK + ' \x1bx=1',))):
            error = self.assertMalformed(body, 'unknown')
            self.assertNotIn('\x1b', str(error))
            self.assertNotIn('\x07', str(error))
        # A raw control character in a value: refused, not echoed.
        error = self.assertMalformed(report(system='system vendor=a\x1bb'),
                                     'unprintable')
        self.assertNotIn('\x1b', str(error))
        # A long unknown word is cut.
        error = self.assertMalformed(report('x' * 5000), 'unknown kind')
        self.assertLess(len(str(error)), 100)

    def test_lldp_of_a_nic(self):
        found = inventory.parse(report(nics=(nic(0, lldp=LLDPDU),)))
        self.assertEqual(lldp.parse(LLDPDU), found['interfaces'][0]['lldp'])
        for text, reason in ((LLDPDU[:-6], 'the TLV of type 5 at byte 20 '
                                           'is cut short'),
                             (LLDPDU.upper(), 'the LLDPDU must be an even'),
                             ('0' * (lldp.MAX_HEX + 2), 'the LLDPDU is '
                                                        'longer than 1500'),
                             ('%0a', 'the LLDPDU must be an even')):
            self.assertMalformed(report(nics=(nic(0, lldp=text),)),
                                 'nic eth0 lldp: ' + reason)


def _replaced(line):
    """The whole report, with the line of ``line``'s kind (and name)
    replaced by it."""
    kind = line.split()[0]
    if kind in ('cpu', 'memory', 'system', 'boot'):
        return report(**{kind: line})
    if kind == 'disk':
        return report(disks=(line,))
    return report(nics=(line, NIC1))
