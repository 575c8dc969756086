"""Cleanings through Nova's API and nova-bm-manage: clean modes, the proof
kept with the node, failures that hold it back, an operator's cleaning,
and the bound on concurrent cleanings.

Real Nova services in-process, the driver's deploy HTTP server, fake BMCs
over IPMI, and the test playing the deploy ramdisk over real HTTP
(``tests.deploy_ramdisk``: it reports its disks, erases as the clean mode
says and reports per disk). ``nova-bm-manage`` runs as an operator runs
it, in a process of its own on the same node database; with no message
bus configured, the proxy sees its changes at its next resource cycle.
"""

import json
import os
import subprocess
import sys

import fixtures

from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from tests import deploy_ramdisk
from tests.functional.compute import test_deploy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
#: Two disks: the report must cover both.
DISKS = ('name=/dev/vda size=%d serial=VDA1\n'
         'name=/dev/nvme0n1 size=%d serial=NV1 wwn=0x5000c5001\n'
         % (10 << 30, 4 << 30))


class ManagedTestCase(test_deploy.DeployTestCase):
    """Deploys with the test as the ramdisk, ``nova-bm-manage`` as an
    operator runs it, and every node reporting :data:`DISKS`."""

    def start_proxy(self):
        proxy = super().start_proxy()
        for index in range(self.NODES):
            self.ramdisk.disk_facts[self.node_name(index)] = DISKS
        return proxy

    def manage(self, *args):
        """nova-bm-manage, in a process of its own: ``(status, stdout,
        stderr)``."""
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'nova.conf')
        with open(path, 'w') as f:
            f.write('[baremetal_database]\nconnection = %s\n'
                    % CONF.baremetal_database.connection)
        env = {name: value for name, value in os.environ.items()
               if not name.startswith('OS_')}
        env['PYTHONPATH'] = ROOT
        result = subprocess.run(
            [sys.executable, '-m', 'nova_bm.cmd.manage', '--config-file',
             path] + list(args), capture_output=True, text=True,
            timeout=120, env=env, stdin=subprocess.DEVNULL)
        self.assertNotIn('Traceback', result.stdout + result.stderr)
        return result.returncode, result.stdout, result.stderr

    def show(self, index):
        status, out, err = self.manage('node', 'show', self.node_name(index),
                                       '-f', 'json')
        self.assertEqual(0, status, err)
        return json.loads(out)

    def wait_cleaned(self, index, state='available', timeout=120):
        """Run the resource cycle (which starts what nova-bm-manage asked
        for) until the node is ``state``."""
        name = self.node_name(index)

        def reached():
            if self.node(name).provision_state != state:
                self._run_periodics()
            return self.node(name).provision_state == state
        deploy_ramdisk.wait_for(reached, timeout, '%s to be %s (it is %s)' % (
            name, state, self.node(name).provision_state))



class CleaningTestCase(ManagedTestCase):

    NODES = 3

    def test_proof_failure_and_an_operators_cleaning(self):
        self.start_proxy()
        name = self.node_name(0)
        server = self.boot_on(0)
        self._delete_server(server)
        self.wait_provision(0, 'available')
        shown = self.show(0)
        self.assertEqual('metadata (default)', shown['clean_mode'])
        last = shown['last_cleaning']
        self.assertEqual(('metadata', 'ok', []),
                         (last['mode'], last['result'], last['problems']))
        self.assertEqual(
            [('/dev/vda', 'VDA1', None, 'metadata'),
             ('/dev/nvme0n1', 'NV1', '0x5000c5001', 'metadata')],
            [(d['name'], d['serial'], d['wwn'], d['method'])
             for d in last['disks']])
        status, out, _ = self.manage('node', 'show', name, '-c',
                                     'last_cleaning')
        self.assertEqual(0, status)
        self.assertIn('metadata ok', out)
        self.assertIn('/dev/nvme0n1 (4 GiB, serial NV1, wwn 0x5000c5001): '
                      'metadata', out)

        # A report that leaves a disk out: clean failed, in maintenance,
        # never available; the proof says what it did say.
        self.ramdisk.clean_behaviour[name] = 'skip_disk'
        self._run_periodics()  # placement offers it again
        server = self.boot_on(0)
        self._delete_server(server)
        self.wait_provision(0, 'clean failed')
        node = self.node(name)
        self.assertTrue(node.maintenance)
        self.assertIn('/dev/nvme0n1 was not reported erased',
                      node.maintenance_reason)
        self.assertEqual('failed', node.last_cleaning['result'])
        self._run_periodics()
        self.assertEqual(1, self.reserved(0))
        self.assertEqual('clean failed', self.node(name).provision_state)

        # Out of maintenance only by a cleaning that succeeds.
        status, _, err = self.manage('node', 'update', name,
                                     '--no-maintenance')
        self.assertEqual(1, status)
        self.assertEqual(1, len(err.strip().splitlines()), err)
        self.assertIn('nova-bm-manage node clean %s' % name, err)
        self.ramdisk.clean_behaviour[name] = 'ok'
        status, out, err = self.manage('node', 'clean', name, '--mode',
                                       'full', '-f', 'json')
        self.assertEqual(0, status, err)
        self.assertEqual('cleaning', json.loads(out)[0]['Provision State'])
        self.wait_cleaned(0)
        node = self.node(name)
        self.assertEqual((False, None, None),
                         (node.maintenance, node.clean_request, node.fault))
        last = node.last_cleaning
        self.assertEqual(('full', 'ok'), (last['mode'], last['result']))
        self.assertEqual([('overwrite', 10 << 30), ('overwrite', 4 << 30)],
                         [(d['method'], d['bytes']) for d in last['disks']])
        # The request was for once: the node's mode is still the default.
        self.assertIn(('bm-00', 'clean', 'ok', 204), self.ramdisk.reports)
        self._run_periodics()
        self.assertEqual(0, self.reserved(0))

    def test_a_disk_not_erased_and_a_silent_ramdisk_hold_the_node(self):
        self.flags(clean_timeout=5, group='baremetal')
        self.start_proxy()
        self.ramdisk.clean_behaviour[self.node_name(0)] = 'disk_failed'
        self.ramdisk.clean_behaviour[self.node_name(1)] = 'silent'
        servers = [self.boot_on(0), self.boot_on(1)]
        for server in servers:
            self._delete_server(server)
        self.wait_provision(0, 'clean failed')
        self.wait_provision(1, 'clean failed', timeout=60)
        first, second = self.node(self.node_name(0)), self.node(
            self.node_name(1))
        self.assertIn('not erased: nvme0n1', first.maintenance_reason)
        self.assertIn('/dev/nvme0n1 was not erased: read-only disk',
                      first.last_cleaning['problems'][0])
        self.assertIn('did not report within 5 s ([baremetal] '
                      'clean_timeout)', second.maintenance_reason)
        self.assertEqual('off', self.bmc(self.node_name(1))['power'])
        for node in (first, second):
            self.assertEqual(('clean failed', True),
                             (node.provision_state, node.maintenance))

    def test_cleanings_beyond_the_bound_wait_their_turn(self):
        self.flags(max_concurrent_cleanings=1, group='baremetal')
        self.start_proxy()
        first, second = self.node_name(0), self.node_name(1)
        self.ramdisk.clean_behaviour[first] = 'silent'
        servers = [self.boot_on(0), self.boot_on(1)]
        for server in servers:
            self._delete_server(server)
        deploy_ramdisk.wait_for(
            lambda: (first, 'clean', 'silent', None) in self.ramdisk.reports,
            60, 'the first cleaning ramdisk to boot')
        # The second waits, in cleaning (reserved), with no job and its
        # machine untouched.
        self._run_periodics()
        self.assertEqual('cleaning', self.node(second).provision_state)
        self.assertIsNone(db_api.get_job(second))
        self.assertEqual(1, self.reserved(1))
        self.ramdisk.clean_behaviour[first] = 'ok'
        self.report_clean(0)
        self.wait_provision(0, 'available')
        self.wait_provision(1, 'available')
        self.assertEqual('ok', self.node(second).last_cleaning['result'])

    def test_a_node_of_its_own_mode(self):
        self.start_proxy()
        name = self.node_name(2)
        status, out, err = self.manage('node', 'update', name,
                                       '--clean-mode', 'none', '-f', 'json')
        self.assertEqual((0, 'none'), (status, json.loads(out)['clean_mode']),
                         err)
        server = self.boot_on(2)
        self._delete_server(server)
        self.assertEqual('available', self.node(name).provision_state)
        self.assertEqual([], [r for r in self.ramdisk.reports
                              if r[1] == 'clean'])
        # Its mode none refuses an operator's cleaning without --mode.
        status, out, _ = self.manage('node', 'clean', name)
        self.assertEqual(1, status)
        self.assertIn('its clean mode is none: give --mode', out)
        status, _, err = self.manage('node', 'update', name, '--clean-mode',
                                     'express')
        self.assertEqual(0, status, err)
        self.assertEqual(0, self.manage('node', 'clean', name)[0])
        self.wait_cleaned(2)
        last = self.node(name).last_cleaning
        self.assertEqual('express', last['mode'])
        self.assertEqual(['not an NVMe disk'] * 2,
                         [d['note'] for d in last['disks']])
