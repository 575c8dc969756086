"""The README's first command as it runs by default: nova-bm-demo with
real deploys onto QEMU machines (tests/functional/test_demo.py runs the
power-only demo)."""

from nova_bm.demo import cloud
from tests import base
from tests.functional import test_demo as demo_tests
from tests import lab


class LabDemoTestCase(base.TestCase):

    def test_servers_deployed_boot_their_own_disks_then_are_cleaned(self):
        lab.require(self)
        result = demo_tests.run(['--nodes', '3', '--servers', '2'],
                                timeout=900)
        self.assertEqual(0, result.returncode, result.stderr[-3000:])
        self.assertNotIn('Traceback', result.stdout + result.stderr)
        lines = result.stdout.splitlines()

        def first(text):
            return next(i for i, line in enumerate(lines) if text in line)
        # Enrolled by their BMCs alone, then inspected: what each machine
        # is (1 CPU, 512 MiB, a 4 GiB disk; the first one UEFI).
        inspected = demo_tests.node_rows(
            lines[first('inspect them'):first('provide them')])
        # node | cpus | memory_mb | local_gb | boot mode | disks | NICs |
        # provision state
        self.assertEqual(
            [['bm-00', '1', '512', '4', 'uefi', 'manageable'],
             ['bm-01', '1', '512', '4', 'bios', 'manageable'],
             ['bm-02', '1', '512', '4', 'bios', 'manageable']],
            [row[:5] + row[7:] for row in inspected])
        self.assertEqual(['/dev/vda 4294967296'] * 3,
                         [row[5] for row in inspected])
        delete = first('delete the servers')
        cleaned = first('read every node over IPMI again')
        booted = demo_tests.node_rows(
            lines[first('read every node over IPMI'):delete])
        cleaning = demo_tests.node_rows(lines[delete:cleaned])
        released = demo_tests.node_rows(lines[cleaned:])
        # node | BMC | power | boot device | instance | hypervisor_hostname
        # | provision state | console, last line
        holding = [row for row in booted if row[4] != '-']
        self.assertEqual(2, len(holding), booted)
        for row in holding:
            self.assertEqual(['on', 'disk'], row[2:4])
            # The image's system read its config drive.
            self.assertEqual([row[0], 'active',
                              'nova-bm-lab: config-drive done'], row[5:])
        # Each server's console log through the Nova API (SOL): what its
        # system read from its config drive.
        logs = {cells[0]: cells[1:] for cells in (
            [cell.strip() for cell in line.strip('|').split('|')]
            for line in lines[:delete] if line.startswith('| demo-'))}
        # demo-1 is the UEFI image, on the UEFI machine (OVMF).
        self.assertEqual(
            {name: ['image %s booted' % name, cloud.KEY_COMMENT,
                    'hello from %s' % name, 'its own', firmware]
             for name, firmware in (('demo-1', 'uefi'),
                                    ('demo-2', 'bios'))}, logs)
        self.assertEqual({'cleaning'}, {row[6] for row in cleaning
                                        if row[0] in {r[0] for r in holding}})
        self.assertEqual({('off', '-', 'available')},
                         {(row[2], row[4], row[6]) for row in released})
        self.assertIn('done: 2 servers deployed on 2 distinct machines, each '
                      'booted its own disk; deleted and cleaned',
                      result.stdout)
