"""nova-bm-demo, run as a user runs it (the README's first command).

Here the power-only demo (``--no-machines``); tests/lab/test_demo.py runs
the default one, with real deploys on QEMU machines."""

import os
import shutil
import subprocess
import sys

from tests import base

BIN = os.path.dirname(sys.executable)


def demo_command():
    path = os.path.join(BIN, 'nova-bm-demo')
    return [path if os.path.exists(path) else shutil.which('nova-bm-demo')]


def node_rows(table_lines):
    """The node rows of a printed table, as lists of cells."""
    return [[cell.strip() for cell in line.strip('|').split('|')]
            for line in table_lines if line.startswith('| bm-')]


def run(args, prelude=None, timeout=180):
    """Run nova-bm-demo with ``args``; ``prelude``: Python run first in
    the demo's process (to break a step)."""
    env = dict(os.environ, OS_NOVA_DISABLE_EVENTLET_PATCHING='1')
    command = demo_command() + args
    if prelude:
        command = [sys.executable, '-c', prelude +
                   '; from nova_bm.cmd import demo; '
                   'raise SystemExit(demo.main(%r))' % args]
    return subprocess.run(command, capture_output=True, text=True,
                          timeout=timeout, env=env,
                          stdin=subprocess.DEVNULL)


class DemoTestCase(base.TestCase):

    def run_demo(self, args, prelude=None):
        return run(args, prelude)

    def test_boots_on_distinct_nodes_powered_on_then_off(self):
        result = self.run_demo(['--nodes', '4', '--servers', '2',
                                '--no-machines'])
        self.assertEqual(0, result.returncode, result.stderr[-3000:])
        self.assertNotIn('Traceback', result.stdout + result.stderr)
        lines = result.stdout.splitlines()
        delete = next(i for i, line in enumerate(lines)
                      if 'delete the servers' in line)
        booted, released = node_rows(lines[:delete]), node_rows(
            lines[delete:])
        self.assertEqual(4, len(booted))
        self.assertEqual(4, len(released))
        # node | BMC | power | boot device | instance | hypervisor_hostname
        holding = [row for row in booted if row[4] != '-']
        self.assertEqual(2, len(holding))
        for row in holding:
            self.assertEqual(['on', 'pxe'], row[2:4])
            self.assertTrue(row[4].startswith('demo-'), row)
            self.assertEqual(row[0], row[5])
        self.assertEqual({'off'}, {row[2] for row in booted
                                   if row[4] == '-'})
        self.assertEqual(2, len({row[0] for row in holding}))
        self.assertEqual({'off'}, {row[2] for row in released})
        self.assertEqual({'-'}, {row[4] for row in released})
        self.assertIn('done: 2 servers booted on 2 distinct nodes',
                      result.stdout)
        self.assertIn('scheduler: BareMetalHostManager, filters ',
                      result.stdout)
        self.assertIn('ExactRamFilter, ExactCoreFilter, ExactDiskFilter',
                      result.stdout)

    def test_bad_arguments_are_one_line(self):
        for args, message in (
                (['--nodes', '2', '--servers', '3'],
                 '--servers must be between 1 and --nodes (2)'),
                (['--nodes', '9'], '--nodes must be between 1 and 8 with '
                                   'machines'),
                (['--nodes', '201', '--no-machines'],
                 '--nodes must be between 1 and 200')):
            result = self.run_demo(args)
            self.assertEqual(2, result.returncode)
            self.assertEqual('nova-bm-demo: error: ' + message,
                             result.stderr.strip().splitlines()[-1])

    def test_a_failed_step_is_named(self):
        result = self.run_demo(
            ['--nodes', '2', '--servers', '1', '--no-machines'],
            prelude='from nova_bm.testing import fakebmc; '
                    'fakebmc.Fleet.start = lambda self, timeout=60: '
                    '(_ for _ in ()).throw(OSError("no free UDP ports"))')
        self.assertEqual(1, result.returncode, result.stderr[-3000:])
        self.assertEqual(
            'nova-bm-demo: step "start 2 fake BMCs (IPMI 2.0 over UDP on '
            '127.0.0.1)" failed: OSError: no free UDP ports',
            result.stderr.strip().splitlines()[-1])
