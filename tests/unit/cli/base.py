"""Runs nova-bm-manage in-process against a throwaway SQLite node DB."""

import io
import logging
import os

import fixtures

from nova_bm.cmd import manage
from nova_bm.db import api as db_api
from tests import base


class ManageTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.state = self.useFixture(fixtures.TempDir()).path
        self.config_file = self.write_config(
            '[DEFAULT]\nstate_path = %s\nhost = proxy-1\n' % self.state)
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level

        def restore_logging():
            root.handlers[:] = handlers
            root.setLevel(level)
        self.addCleanup(restore_logging)

    def write_config(self, text, name='nova.conf'):
        path = os.path.join(self.state, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def write_file(self, name, text):
        path = os.path.join(self.state, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def manage(self, *args, config_file=None):
        """Run one command; return ``(exit status, stdout, stderr)``."""
        stdout, stderr = io.StringIO(), io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', stdout))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        db_api.dispose()
        argv = ['--config-file', config_file or self.config_file] + list(args)
        code = manage.main(argv)
        return code, stdout.getvalue(), stderr.getvalue()

    def assertManage(self, *args, **kwargs):
        code, out, err = self.manage(*args, **kwargs)
        self.assertEqual(0, code, 'stdout: %s\nstderr: %s' % (out, err))
        return out

    def assertRefused(self, expected_code, expected_text, *args, **kwargs):
        """The command fails with one line naming the problem, no trace."""
        code, out, err = self.manage(*args, **kwargs)
        self.assertEqual(expected_code, code, 'stderr: %s' % err)
        lines = err.strip().splitlines()
        self.assertEqual(1, len(lines), err)
        self.assertIn(expected_text, lines[0])
        self.assertNotIn('Traceback', err + out)
        return lines[0]

    def assertRefusedLines(self, expected_code, expected_lines, *args,
                           **kwargs):
        """The command fails with these lines (each containing its
        expected text, in order), no trace; :returns: the lines."""
        code, out, err = self.manage(*args, **kwargs)
        self.assertEqual(expected_code, code, 'stderr: %s' % err)
        lines = err.strip().splitlines()
        self.assertEqual(len(expected_lines), len(lines), err)
        for expected, line in zip(expected_lines, lines, strict=True):
            self.assertIn(expected, line)
        self.assertNotIn('Traceback', err + out)
        return lines
