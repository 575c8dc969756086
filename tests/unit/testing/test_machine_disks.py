"""Lab machines with several disks: the QEMU command line they ask for.

The lab boots them for real; these check what QEMU is asked for, and that
values that would break its command line are refused.
"""

import io
import os

import fixtures

from nova_bm.testing import fakebmc
from nova_bm.testing import machine
from tests import base

MAC = machine.mac_for_port(6230)
URL = 'http://10.0.2.2:8089/boot.ipxe'
WWN = 0x5000c50015ea71ac
THREE = [
    {'name': 'a', 'bytes': 64 << 20, 'bus': 'virtio', 'serial': 'AAA'},
    {'name': 'b', 'bytes': 256 << 20, 'bus': 'scsi', 'serial': 'BBB',
     'wwn': WWN, 'rotation_rate': 1},
    {'name': 'c', 'bytes': 128 << 20, 'bus': 'nvme', 'serial': 'CCC'},
]


def devices(command, option='-device'):
    return [command[i + 1] for i, word in enumerate(command)
            if word == option]


class DefaultDiskTestCase(base.TestCase):

    def test_one_virtio_disk_as_ever(self):
        m = machine.Machine('/m', MAC, URL, 1 << 20)
        command = m.command('default', False)
        self.assertEqual(['file=/m/disk.img,format=raw,if=virtio'],
                         devices(command, '-drive'))
        self.assertEqual(['virtio-net-pci,netdev=n0,mac=%s' % MAC],
                         devices(command))
        self.assertEqual('order=cn', command[command.index('-boot') + 1])
        self.assertEqual('/m/disk.img', m.disk)
        self.assertEqual({'disk': '/m/disk.img'}, m.disk_paths)
        self.assertIsNone(m.disks)
        self.assertNotIn('bootindex', ' '.join(command))

    def test_commas_in_a_path_are_doubled(self):
        m = machine.Machine('/m,x', MAC, URL, 1 << 20)
        self.assertEqual(['file=/m,,x/disk.img,format=raw,if=virtio'],
                         devices(m.command('default', False), '-drive'))


class DisksTestCase(base.TestCase):

    def machine(self, disks=THREE, directory='/m'):
        return machine.Machine(directory, MAC, URL, 1 << 20, disks=disks)

    def test_paths(self):
        m = self.machine()
        self.assertEqual({'a': '/m/disk-a.img', 'b': '/m/disk-b.img',
                          'c': '/m/disk-c.img'}, m.disk_paths)
        self.assertEqual(['a', 'b', 'c'], list(m.disk_paths))
        self.assertEqual('/m/disk-a.img', m.disk)

    def test_three_buses(self):
        command = self.machine().command('default', False)
        self.assertEqual([
            'if=none,id=drive-a,file=/m/disk-a.img,format=raw',
            'if=none,id=drive-b,file=/m/disk-b.img,format=raw',
            'if=none,id=drive-c,file=/m/disk-c.img,format=raw',
        ], devices(command, '-drive'))
        self.assertEqual([
            'virtio-net-pci,netdev=n0,mac=%s,id=nic0,bootindex=4' % MAC,
            'virtio-blk-pci,drive=drive-a,id=disk-a,serial=AAA,bootindex=1',
            'virtio-scsi-pci,id=scsi0',
            'scsi-hd,bus=scsi0.0,channel=0,scsi-id=0,lun=0,drive=drive-b,'
            'id=disk-b,serial=BBB,wwn=0x5000c50015ea71ac,rotation_rate=1,'
            'bootindex=2',
            'nvme,drive=drive-c,id=disk-c,serial=CCC,bootindex=3',
        ], devices(command))
        # bootindex and -boot do not mix (QEMU's and SeaBIOS's rule).
        self.assertNotIn('-boot', command)
        # The rest is the default machine's.
        default = machine.Machine('/m', MAC, URL, 1 << 20).command(
            'default', False)
        self.assertEqual(default[:default.index('-device')],
                         command[:command.index('-device')])

    def test_virtio_only(self):
        command = self.machine([
            {'name': 'vda', 'bytes': 1 << 20},
            {'name': 'vdb', 'bytes': 2 << 20, 'bus': 'virtio',
             'serial': 'S-2.b_x'}]).command('default', False)
        self.assertEqual([
            'virtio-net-pci,netdev=n0,mac=%s,id=nic0,bootindex=3' % MAC,
            'virtio-blk-pci,drive=drive-vda,id=disk-vda,bootindex=1',
            'virtio-blk-pci,drive=drive-vdb,id=disk-vdb,serial=S-2.b_x,'
            'bootindex=2',
        ], devices(command))

    def test_scsi_disks_share_one_controller(self):
        command = self.machine([
            {'name': 's0', 'bytes': 1 << 20, 'bus': 'scsi'},
            {'name': 'v', 'bytes': 1 << 20},
            {'name': 's1', 'bytes': 1 << 20, 'bus': 'scsi',
             'model': 'FASTDISK', 'rotation_rate': 7200},
        ]).command('default', False)
        self.assertEqual([
            'virtio-net-pci,netdev=n0,mac=%s,id=nic0,bootindex=4' % MAC,
            'virtio-scsi-pci,id=scsi0',
            'scsi-hd,bus=scsi0.0,channel=0,scsi-id=0,lun=0,drive=drive-s0,'
            'id=disk-s0,bootindex=1',
            'virtio-blk-pci,drive=drive-v,id=disk-v,bootindex=2',
            'scsi-hd,bus=scsi0.0,channel=0,scsi-id=1,lun=0,drive=drive-s1,'
            'id=disk-s1,rotation_rate=7200,product=FASTDISK,bootindex=3',
        ], devices(command))

    def test_nvme_serial_defaults_to_the_name(self):
        m = self.machine([{'name': 'nvme0', 'bytes': 1 << 20,
                           'bus': 'nvme'}])
        self.assertEqual('nvme0', m.disks[0]['serial'])
        self.assertIn('nvme,drive=drive-nvme0,id=disk-nvme0,serial=nvme0,'
                      'bootindex=1', devices(m.command('default', False)))

    def test_small_wwn_is_written_in_16_digits(self):
        m = self.machine([{'name': 'b', 'bytes': 512, 'bus': 'scsi',
                           'wwn': 0x1234}])
        self.assertIn('wwn=0x0000000000001234',
                      ' '.join(m.command('default', False)))

    def test_a_readonly_disk(self):
        m = self.machine([
            {'name': 'vda', 'bytes': 1 << 20},
            {'name': 'ro', 'bytes': 1 << 20, 'readonly': True},
            {'name': 'rw', 'bytes': 1 << 20, 'bus': 'nvme',
             'readonly': False}])
        self.assertEqual([False, True, False],
                         [d['readonly'] for d in m.disks])
        self.assertEqual([
            'if=none,id=drive-vda,file=/m/disk-vda.img,format=raw',
            'if=none,id=drive-ro,file=/m/disk-ro.img,format=raw,'
            'readonly=on',
            'if=none,id=drive-rw,file=/m/disk-rw.img,format=raw',
        ], devices(m.command('default', False), '-drive'))
        self.assertIn('virtio-blk-pci,drive=drive-ro,id=disk-ro,bootindex=2',
                      devices(m.command('default', False)))

    def test_commas_in_a_path_are_doubled(self):
        m = self.machine(directory='/m,x')
        self.assertIn('if=none,id=drive-a,file=/m,,x/disk-a.img,format=raw',
                      devices(m.command('default', False), '-drive'))

    def test_boot_order_by_bootindex(self):
        m = self.machine()

        def nic(*args):
            return devices(m.command(*args))[0]

        # The disks are 1..3 whatever the boot device; the NIC goes first
        # (0) for a network boot, after the disks (4) otherwise.
        for args in (('network', False), ('network', True)):
            self.assertEqual('virtio-net-pci,netdev=n0,mac=%s,id=nic0,'
                             'bootindex=0' % MAC, nic(*args))
        for args in (('default', False), ('hd', True), ('cdrom', False)):
            self.assertTrue(nic(*args).endswith(',bootindex=4'), args)

    def test_one_time_network_boot_moves_the_nic_after_the_disks(self):
        m = self.machine(directory=self.useFixture(fixtures.TempDir()).path)
        calls = []
        self.useFixture(fixtures.MonkeyPatch(
            'subprocess.Popen', lambda *a, **k: 'process'))
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.testing.machine.Machine._qmp',
            lambda self, *a, **k: calls.append((a, k)) or True))
        m.power_on('network', False)
        m._network_once_undo.join(10)
        self.assertEqual([(('qom-set',), {
            'timeout': 120, 'process': 'process', 'arguments': {
                'path': '/machine/peripheral/nic0', 'property': 'bootindex',
                'value': 4}})], calls)
        # Persistent: the NIC stays first.
        m._process = None
        calls.clear()
        m.power_on('network', True)
        self.assertIsNone(m._network_once_undo)
        self.assertEqual([], calls)

    def test_power_on_makes_sparse_disks_once(self):
        directory = self.useFixture(fixtures.TempDir()).path
        m = self.machine(directory=directory)
        self.useFixture(fixtures.MonkeyPatch(
            'subprocess.Popen', lambda *a, **k: None))
        m.power_on('default', False)
        for disk in THREE:
            path = os.path.join(directory, 'disk-%s.img' % disk['name'])
            self.assertEqual(disk['bytes'], os.path.getsize(path))
            self.assertLess(os.stat(path).st_blocks * 512, 1 << 20)
        self.assertFalse(os.path.exists(os.path.join(directory, 'disk.img')))
        # An existing disk is kept as it is.
        with open(m.disk_paths['b'], 'r+b') as f:
            f.write(b'kept')
        m._process = None
        m.power_on('default', False)
        with open(m.disk_paths['b'], 'rb') as f:
            self.assertEqual(b'kept', f.read(4))


class RefusalsTestCase(base.TestCase):

    def refused(self, disks, message):
        error = self.assertRaises(ValueError, machine.Machine, '/m', MAC,
                                  URL, 1 << 20, disks=disks)
        self.assertIn(message, str(error))

    def disk(self, **values):
        disk = {'name': 'd', 'bytes': 1 << 20}
        disk.update(values)
        return [disk]

    def test_words_that_would_break_the_command_line(self):
        for key in ('serial', 'name'):
            for bad in ('A,B', 'A=B', 'a b', 'a/b', '', 'x' * 21, 'é',
                        'a\nb', 'a\n', 7, None if key == 'name' else b'AAA'):
                self.refused(self.disk(**{key: bad}), key)
        self.refused(self.disk(bus='scsi', model='FAST,DISK'), 'model')
        # SCSI's product identification: 16 bytes.
        self.refused(self.disk(bus='scsi', model='M' * 17), 'model must be '
                     '1-16 characters')
        # 20 is allowed.
        machine.Machine('/m', MAC, URL, 1, disks=self.disk(serial='S' * 20))

    def test_scsi_only_values(self):
        for bus in ('virtio', 'nvme'):
            for key, value in (('wwn', WWN), ('rotation_rate', 1),
                               ('model', 'M')):
                self.refused(self.disk(bus=bus, **{key: value}),
                             '%s is for scsi disks only' % key)

    def test_numbers(self):
        self.refused(self.disk(bytes=1000), 'multiple of 512')
        for bad in (0, -512, '512', 512.0, True, None):
            self.refused(self.disk(bytes=bad), 'bytes must be an integer')
        for bad in (0, 1 << 64, -1, '0x5000', True):
            self.refused(self.disk(bus='scsi', wwn=bad), 'wwn')
        for bad in (-1, 0x10000, '1'):
            self.refused(self.disk(bus='scsi', rotation_rate=bad),
                         'rotation_rate')
        for bad in (1, 0, 'on', 'yes'):
            self.refused(self.disk(readonly=bad),
                         'readonly must be True or False')

    def test_lists(self):
        self.refused([], 'non-empty list')
        self.refused('a:1', 'non-empty list')
        self.refused(['a'], 'must be a dict')
        self.refused(self.disk(bus='ide'), 'bus must be one of virtio, '
                     'scsi, nvme')
        self.refused(self.disk(size=1), 'unknown keys size')
        self.refused(self.disk() + self.disk(), 'two disks have that name')


class FleetDisksTestCase(base.TestCase):

    def test_disks_for_every_machine_or_by_port(self):
        machines = {'directory': '/lab', 'boot_url': URL, 'disks': THREE,
                    'disks_by_port': {6231: [{'name': 'x',
                                              'bytes': 1 << 20}]}}
        every = fakebmc._machine(machines, 6230)
        self.assertEqual('/lab/6230/disk-a.img', every.disk)
        self.assertEqual(['a', 'b', 'c'], list(every.disk_paths))
        self.assertEqual({'x': '/lab/6231/disk-x.img'},
                         fakebmc._machine(machines, 6231).disk_paths)
        plain = fakebmc._machine({'directory': '/lab', 'boot_url': URL},
                                 6230)
        self.assertEqual({'disk': '/lab/6230/disk.img'}, plain.disk_paths)

    def test_fleet_refuses_bad_disks_at_once(self):
        for machines in (
                {'directory': '/lab', 'boot_url': URL,
                 'disks': [{'name': 'a,b', 'bytes': 512}]},
                {'directory': '/lab', 'boot_url': URL,
                 'disks_by_port': {1: [{'name': 'a', 'bytes': 5}]}}):
            self.assertRaises(ValueError, fakebmc.Fleet, 1, 7001,
                              machines=machines)


class CommandLineTestCase(base.TestCase):
    """``nova-bm-fakebmc --machines DIR --disk ...``."""

    def main(self, *extra):
        """:returns: the ``machines`` the fleet was given, or the usage
        error."""
        stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        self.useFixture(fixtures.MonkeyPatch(
            'shutil.which', lambda name: '/usr/bin/' + name))
        given = {}

        class Fleet:
            def __init__(self, *args, **kwargs):
                given.update(kwargs)
                raise RuntimeError('stop here')

        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.testing.fakebmc.Fleet', Fleet))
        directory = self.useFixture(fixtures.TempDir()).path
        try:
            fakebmc.main(['--count', '1', '--base-port', '7001',
                          '--machines', directory, '--boot-url', URL]
                         + list(extra))
        except RuntimeError:
            return given['machines']
        except SystemExit as e:
            self.assertEqual(2, e.code)
            return stderr.getvalue()
        raise AssertionError('main() went on')

    def test_disks(self):
        machines = self.main('--disk', 'a:64:virtio:AAA', '--disk',
                             'b:256:scsi:BBB', '--disk', 'c:128:nvme',
                             '--disk', 'd:1')
        self.assertEqual([
            {'name': 'a', 'bytes': 64 << 20, 'bus': 'virtio',
             'serial': 'AAA', 'wwn': None, 'rotation_rate': None,
             'model': None, 'readonly': False},
            {'name': 'b', 'bytes': 256 << 20, 'bus': 'scsi',
             'serial': 'BBB', 'wwn': None, 'rotation_rate': None,
             'model': None, 'readonly': False},
            {'name': 'c', 'bytes': 128 << 20, 'bus': 'nvme', 'serial': 'c',
             'wwn': None, 'rotation_rate': None, 'model': None,
             'readonly': False},
            {'name': 'd', 'bytes': 1 << 20, 'bus': 'virtio', 'serial': None,
             'wwn': None, 'rotation_rate': None, 'model': None,
             'readonly': False},
        ], machines['disks'])

    def test_disk_mb_as_ever(self):
        self.assertEqual(64 << 20, self.main()['disk_bytes'])
        machines = self.main('--disk-mb', '8')
        self.assertEqual(8 << 20, machines['disk_bytes'])
        self.assertNotIn('disks', machines)

    def test_bad_disks(self):
        for extra, message in (
                (['--disk', 'a'], "--disk: 'a' is not NAME:SIZE_MB"),
                (['--disk', 'a:1:virtio:S:x'], 'is not NAME:SIZE_MB'),
                (['--disk', 'a:x'], 'SIZE_MB must be a whole number'),
                (['--disk', 'a:0'], 'SIZE_MB must be at least 1'),
                (['--disk', 'a:1:ide'], 'bus must be one of'),
                (['--disk', 'a:1:virtio:A,B'], 'serial must be'),
                (['--disk', 'a:1', '--disk', 'a:2'], 'two disks have'),
                (['--disk', 'a:1', '--disk-mb', '64'],
                 'not allowed with argument'),
                (['--disk-mb', '0'], '--disk-mb must be at least 1')):
            self.assertIn(message, self.main(*extra))
