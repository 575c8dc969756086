"""``nova-bm-demo --keep``: the commands it prints work, pasted as printed.

The demo is run as a user runs it; while it waits for Ctrl-C, every
command line it printed is run with ``/bin/sh -c`` from another directory,
with the virtualenv's ``bin`` off PATH (the user's shell has not activated
it), then the demo gets its Ctrl-C and must finish cleanly."""

import os
import queue
import shlex
import signal
import subprocess
import threading
import time

import fixtures

from nova_bm.demo import commands
from tests import base
from tests.functional import test_demo
from tests.unit import test_demo_printed_commands as printed_commands

START_TIMEOUT = 180


class DemoKeepTestCase(base.TestCase):

    def start_demo(self, args):
        env = dict(os.environ, OS_NOVA_DISABLE_EVENTLET_PATCHING='1')
        process = subprocess.Popen(
            test_demo.demo_command() + args, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            env=env)
        self.addCleanup(self._stop, process)
        lines = queue.Queue()

        def read(stream, into):
            for line in stream:
                into.put(line)
            into.put(None)
        self.stderr = []
        threading.Thread(target=read, args=(process.stdout, lines),
                         daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(process.stderr),
                         daemon=True).start()
        return process, lines

    @staticmethod
    def _stop(process):
        if process.poll() is None:
            process.kill()
            process.wait(30)

    def read_until_keep(self, lines):
        """The demo's output up to the blank line after its commands."""
        text, deadline, keeping = [], time.monotonic() + START_TIMEOUT, False
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                self.fail('the demo ended before it printed its commands: '
                          '%s%s' % (''.join(text)[-2000:],
                                    ''.join(self.stderr)[-2000:]))
            text.append(line)
            if 'keeps running until Ctrl-C' in line:
                keeping = True
            elif keeping and not line.strip():
                return ''.join(text)

    def test_printed_commands_run_as_printed_then_ctrl_c_ends_it(self):
        process, lines = self.start_demo(
            ['--no-machines', '--nodes', '1', '--servers', '1', '--keep'])
        text = self.read_until_keep(lines)
        printed = commands.command_lines(text[text.index('Ctrl-C'):])
        self.assertGreaterEqual(len(printed), 2, text)
        elsewhere = self.useFixture(fixtures.TempDir()).path
        env = printed_commands.user_environment()
        for line in printed:
            program = shlex.split(line)[0]
            self.assertIsNotNone(printed_commands.resolve(program, env),
                                 '%s: not found from the user\'s shell'
                                 % program)
            result = subprocess.run(
                ['/bin/sh', '-c', line], cwd=elsewhere, env=env,
                capture_output=True, text=True, timeout=120,
                stdin=subprocess.DEVNULL)
            self.assertEqual(0, result.returncode,
                             '%s: %s' % (line, result.stderr[-2000:]))
            if 'ipmitool' in program:
                # The node holding the server, as the table says.
                self.assertEqual('Chassis Power is on',
                                 result.stdout.strip())
            else:
                self.assertIn('bm-00', result.stdout)
        process.send_signal(signal.SIGINT)
        self.assertEqual(0, process.wait(START_TIMEOUT),
                         ''.join(self.stderr)[-3000:])
