"""The install guide's production nova.conf snippet works as pasted.

The snippet is the literal block after the marker comment in
doc/source/install/nova-compute.rst (it moved there from README.rst)."""

import json
import os
import re
import shutil
import subprocess
import sys

import fixtures

from tests import base
from tests import db_backends

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SNIPPET_FILE = os.path.join('doc', 'source', 'install', 'nova-compute.rst')
MARKER = '.. production-nova-conf:'


def production_snippet():
    """The literal block (``::`` or ``.. code-block::``) that follows the
    marker comment, dedented."""
    with open(os.path.join(ROOT, SNIPPET_FILE)) as f:
        lines = f.read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(MARKER))
    opener = next(i for i in range(start, len(lines))
                  if lines[i] == '::'
                  or lines[i].startswith('.. code-block::'))
    block = []
    for line in lines[opener + 1:]:
        if line and not line.startswith('    '):
            break
        block.append(line[4:])
    return '\n'.join(block).strip() + '\n'


class ProductionSnippetTestCase(base.TestCase):

    def test_snippet_is_accepted_by_db_sync_on_mariadb(self):
        snippet = production_snippet()
        self.assertIn('compute_driver = nova_bm.BareMetalDriver', snippet)
        url, drop = db_backends.new_database('mysql')
        self.addCleanup(drop)
        conf_text, count = re.subn(r'(?m)^connection = mysql\+pymysql://.*$',
                                   'connection = %s' % url, snippet)
        self.assertEqual(1, count, 'no MariaDB URL in the snippet')
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        with open(path, 'w') as f:
            f.write(conf_text)
        manage = os.path.join(os.path.dirname(sys.executable),
                              'nova-bm-manage')
        if not os.path.exists(manage):
            manage = shutil.which('nova-bm-manage')
        for args in (['db', 'sync'], ['db', 'version'],
                     ['node', 'list', '-f', 'value']):
            result = subprocess.run(
                [manage, '--config-file', path] + args, capture_output=True,
                text=True, timeout=120, stdin=subprocess.DEVNULL)
            self.assertEqual(0, result.returncode, '%s: %s' % (
                args, result.stderr[-2000:]))
        self.assertEqual('', result.stdout.strip())
        # Every value reads as what it says (a comment at the end of a line
        # would have become part of the value and failed here).
        check = subprocess.run(
            [sys.executable, '-c',
             'import json, sys; from nova_bm.conf import CONF, check; '
             'CONF(["--config-file", sys.argv[1]], project="nova"); '
             'print(json.dumps([check.invalid_options(CONF, '
             'check.DRIVER_GROUPS), CONF.host, CONF.compute_driver, '
             'CONF.reserved_host_memory_mb, '
             'CONF.baremetal.power_sync_interval]))', path],
            capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL)
        self.assertEqual(0, check.returncode, check.stderr[-2000:])
        self.assertEqual(
            [[], 'compute-proxy-1', 'nova_bm.BareMetalDriver', 0, 60],
            json.loads(check.stdout.strip().splitlines()[-1]))
