"""An operator's cleaning: ``node clean``, ``node update --clean-mode`` and
``--no-maintenance --force`` of a clean failed node, and the proof of the
last cleaning in ``node show`` (nova-bm-manage in-process, SQLite)."""

import json

from nova_bm.common import node_fields
from nova_bm.common import states
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from tests.unit.cli import base
from tests.unit.cli import test_manage

HOSTILE = 'a\x1b[2Jb'

#: A last cleaning as the proxy keeps it (nova_bm.proxy.cleaning._proof).
PROOF = {
    'mode': 'express', 'started_at': '2026-12-05T10:00:00',
    'finished_at': '2026-12-05T10:00:42', 'result': 'ok', 'problems': [],
    'disks': [
        {'name': '/dev/nvme0n1', 'size': 4 << 30, 'serial': 'NV1',
         'wwn': '0x5000c5001', 'model': 'QEMU NVMe Ctrl',
         'method': 'nvme-format', 'bytes': 4 << 30, 'seconds': 0.41,
         'verified': 17, 'note': None},
        {'name': '/dev/vda', 'size': 10 << 30, 'serial': HOSTILE,
         'wwn': None, 'model': None, 'method': 'metadata',
         'bytes': 92274688, 'seconds': 1.2, 'verified': 8,
         'note': 'no hardware secure erase: not an NVMe disk'}],
}


class CleanTestCase(base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.assertManage('db', 'sync')

    def create(self, index, *extra, interface='image', state='available'):
        return self.assertManage(*test_manage.create_args(index, **{
            '--deploy-interface': interface,
            '--provision-state': state}), *extra)

    def clean_failed(self, name, maintenance=True):
        """The node's cleaning failed, as the proxy leaves it."""
        reason = 'cleaning (metadata) failed: /dev/sda was not erased'
        db_api.set_provision_state(
            name, states.CLEAN_FAILED, last_error=reason,
            maintenance_reason=reason if maintenance else None,
            fault=states.FAULT_CLEAN if maintenance else None)
        node = db_api.get_node(name)
        self.assertEqual((states.CLEAN_FAILED, maintenance),
                         (node.provision_state, node.maintenance))

    def rows(self, *args):
        code, out, err = self.manage(*args, '-f', 'json')
        self.assertNotIn('Traceback', out + err)
        return code, {row['Name']: row for row in json.loads(out)}, err

    def effective(self, name):
        return node_fields.effective_clean_mode(
            db_api.get_node(name), CONF.baremetal.automated_clean)

    # -- node clean ------------------------------------------------------

    def test_an_available_image_node_is_cleaned_in_the_mode_given(self):
        self.create(1, '--maintenance', '--reason', 'look at it')
        code, rows, err = self.rows('node', 'clean', 'node-1', '--mode',
                                    'FULL')
        self.assertEqual(0, code, err)
        self.assertEqual(states.CLEANING, rows['node-1']['Provision State'])
        self.assertIn('ok', rows['node-1']['Result'])
        self.assertIn('full', rows['node-1']['Result'])
        node = db_api.get_node('node-1')
        self.assertEqual((states.CLEANING, 'full', False, None),
                         (node.provision_state, node.clean_request,
                          node.maintenance, node.maintenance_reason))
        self.assertEqual('full', self.effective('node-1'))
        self.assertIsNone(node.instance_uuid)

    def test_without_mode_the_nodes_own_mode_runs(self):
        self.create(1, '--clean-mode', 'express')
        self.create(2)
        code, rows, err = self.rows('node', 'clean', 'node-1', 'node-2')
        self.assertEqual(0, code, err)
        self.assertEqual('ok: its proxy cleans it (express), then it is '
                         'available', rows['node-1']['Result'])
        # The default is the proxy's [baremetal] automated_clean, which
        # this command cannot know: the proxy resolves it.
        self.assertEqual('ok: its proxy cleans it (its default mode), then '
                         'it is available', rows['node-2']['Result'])
        self.assertEqual('express', self.effective('node-1'))
        self.assertEqual('metadata', self.effective('node-2'))
        for name in ('node-1', 'node-2'):
            node = db_api.get_node(name)
            self.assertEqual((states.CLEANING, None),
                             (node.provision_state, node.clean_request))

    def test_a_stale_request_goes_without_mode(self):
        # The request of an earlier, failed cleaning is not this one's.
        self.create(1, '--clean-mode', 'express')
        db_api.set_provision_state('node-1', states.CLEANING,
                                   clean_request='full')
        self.clean_failed('node-1')
        self.assertEqual('full', db_api.get_node('node-1').clean_request)
        code, rows, err = self.rows('node', 'clean', 'node-1')
        self.assertEqual(0, code, err)
        self.assertIn('(express)', rows['node-1']['Result'])
        node = db_api.get_node('node-1')
        self.assertEqual((states.CLEANING, None, 'express'),
                         (node.provision_state, node.clean_request,
                          node.clean_mode))

    def test_a_clean_failed_node_in_maintenance_leaves_it(self):
        self.create(1)
        self.clean_failed('node-1')
        code, rows, err = self.rows('node', 'clean', 'node-1')
        self.assertEqual(0, code, err)
        node = db_api.get_node('node-1')
        self.assertEqual((states.CLEANING, False, None, None, None),
                         (node.provision_state, node.maintenance,
                          node.maintenance_reason, node.fault,
                          node.last_error))
        # Not in maintenance either: cleaned all the same.
        self.create(2)
        self.clean_failed('node-2', maintenance=False)
        code, rows, err = self.rows('node', 'clean', 'node-2', '--mode',
                                    'express')
        self.assertEqual(0, code, err)
        node = db_api.get_node('node-2')
        self.assertEqual((states.CLEANING, 'express', False),
                         (node.provision_state, node.clean_request,
                          node.maintenance))

    def assertOneRefused(self, name, text, *args):
        code, rows, err = self.rows('node', 'clean', name, *args)
        self.assertEqual(1, code, err)
        result = rows[name]['Result']
        self.assertTrue(result.startswith('failed: '), result)
        self.assertEqual(1, len(result.splitlines()), result)
        self.assertIn(text, result)
        self.assertEqual(['1 of the nodes did not move.'],
                         err.strip().splitlines())
        return result

    def test_an_active_node_is_refused(self):
        self.create(1)
        db_api.claim_node('node-1', 'inst-1')
        db_api.set_provision_state('node-1', states.ACTIVE)
        self.assertOneRefused('node-1', 'inst-1', '--mode', 'full')
        node = db_api.get_node('node-1')
        self.assertEqual((states.ACTIVE, 'inst-1', None),
                         (node.provision_state, node.instance_uuid,
                          node.clean_request))

    def test_nodes_in_other_states_are_refused(self):
        for index, state in enumerate(('manageable', 'enroll'), start=1):
            self.create(index, state=state)
            name = 'node-%d' % index
            self.assertOneRefused(name, 'available and clean failed')
            self.assertEqual(state, db_api.get_node(name).provision_state)
        self.create(3)
        db_api.set_provision_state('node-3', states.CLEANING)
        self.assertOneRefused('node-3', 'cleaning')

    def test_a_netboot_node_is_refused(self):
        self.create(1, interface='netboot')
        self.assertOneRefused('node-1', 'only image nodes', '--mode', 'full')
        node = db_api.get_node('node-1')
        self.assertEqual((states.AVAILABLE, None),
                         (node.provision_state, node.clean_request))

    def test_a_node_whose_mode_is_none_needs_mode(self):
        self.create(1, '--clean-mode', 'none')
        self.assertOneRefused('node-1', '--mode')
        self.assertEqual(states.AVAILABLE,
                         db_api.get_node('node-1').provision_state)
        self.assertIsNone(db_api.get_node('node-1').clean_request)
        # Only the node's own none: a node without a mode has its
        # proxy's default (this command's [baremetal] automated_clean is
        # not the proxy's), resolved by the proxy.
        self.conf.config(automated_clean='none', group='baremetal')
        self.create(2)
        code, rows, err = self.rows('node', 'clean', 'node-2')
        self.assertEqual(0, code, err)
        self.assertIn('its default mode', rows['node-2']['Result'])
        node = db_api.get_node('node-2')
        self.assertEqual((states.CLEANING, None),
                         (node.provision_state, node.clean_request))
        db_api.set_provision_state('node-2', states.AVAILABLE)
        # With --mode: cleaned, in it.
        code, rows, err = self.rows('node', 'clean', 'node-1', 'node-2',
                                    '--mode', 'metadata')
        self.assertEqual(0, code, err)
        for name in ('node-1', 'node-2'):
            node = db_api.get_node(name)
            self.assertEqual((states.CLEANING, 'metadata'),
                             (node.provision_state, node.clean_request))
            self.assertIn('(metadata)', rows[name]['Result'])
        # The node's own mode stays none.
        self.assertEqual('none', db_api.get_node('node-1').clean_mode)
        # A clean failed node of mode none needs --mode too.
        self.clean_failed('node-1')
        self.assertOneRefused('node-1', 'its clean mode is none: give '
                                        '--mode')
        self.assertEqual((states.CLEAN_FAILED, True), (
            db_api.get_node('node-1').provision_state,
            db_api.get_node('node-1').maintenance))

    def test_forget_disks(self):
        self.create(1)
        failed = dict(PROOF, result='failed', problems=['sdb is missing'],
                      known_disks=[{'name': '/dev/sdb', 'serial': 'GONE',
                                    'wwn': None}])
        db_api.set_provision_state('node-1', states.CLEANING)
        self.clean_failed('node-1')
        db_api.update_node('node-1', {'last_cleaning': failed})
        code, rows, err = self.rows('node', 'clean', 'node-1',
                                    '--forget-disks')
        self.assertEqual(0, code, err)
        node = db_api.get_node('node-1')
        self.assertEqual((states.CLEANING, False),
                         (node.provision_state, node.maintenance))
        last = dict(node.last_cleaning)
        forgotten_at = last.pop('disks_forgotten_at')
        self.assertTrue(forgotten_at.startswith('20'), forgotten_at)
        # The record of the last cleaning is kept; no disk is known.
        self.assertEqual(dict(failed, known_disks=[]), last)

        # A node never cleaned: a record of the forgetting alone.
        self.create(2)
        self.assertManage('node', 'clean', 'node-2', '--forget-disks',
                          '--mode', 'full')
        node = db_api.get_node('node-2')
        self.assertEqual((states.CLEANING, 'full', []),
                         (node.provision_state, node.clean_request,
                          node.last_cleaning['known_disks']))
        self.assertIn('disks_forgotten_at', node.last_cleaning)

        # Refused: nothing forgotten.
        self.create(3)
        known = dict(PROOF, known_disks=[{'name': '/dev/sda',
                                          'serial': 'S1', 'wwn': None}])
        db_api.claim_node('node-3', 'inst-3')
        db_api.set_provision_state('node-3', states.ACTIVE,
                                   last_cleaning=known)
        self.assertOneRefused('node-3', 'inst-3', '--forget-disks')
        self.assertEqual(known, db_api.get_node('node-3').last_cleaning)
        # Without it, the known disks stay.
        self.create(4)
        db_api.set_provision_state('node-4', states.AVAILABLE,
                                   last_cleaning=known)
        self.assertManage('node', 'clean', 'node-4')
        self.assertEqual(known, db_api.get_node('node-4').last_cleaning)

    def test_all_failed_takes_only_the_clean_failed_nodes(self):
        self.create(1)
        self.clean_failed('node-1')
        self.create(2)
        self.create(3)
        self.clean_failed('node-3', maintenance=False)
        self.create(4, state='manageable')
        self.create(5, '--maintenance')
        code, rows, err = self.rows('node', 'clean', '--all-failed')
        self.assertEqual(0, code, err)
        self.assertEqual(['node-1', 'node-3'], sorted(rows))
        states_now = {node.name: (node.provision_state, node.maintenance)
                      for node in db_api.list_nodes()}
        self.assertEqual({'node-1': (states.CLEANING, False),
                          'node-2': (states.AVAILABLE, False),
                          'node-3': (states.CLEANING, False),
                          'node-4': (states.MANAGEABLE, False),
                          'node-5': (states.AVAILABLE, True)}, states_now)
        # None left: nothing to do, no failure.
        code, rows, err = self.rows('node', 'clean', '--all-failed')
        self.assertEqual((0, {}), (code, rows), err)

    def test_mode_none_and_unknown_are_usage_errors(self):
        self.create(1)
        for mode in ('none', 'wipe', ''):
            self.assertRefused(2, '--mode', 'node', 'clean', 'node-1',
                               '--mode', mode)
        self.assertEqual(states.AVAILABLE,
                         db_api.get_node('node-1').provision_state)

    def test_nodes_or_all_not_both(self):
        self.create(1)
        code, out, err = self.manage('node', 'clean', 'node-1',
                                     '--all-failed')
        self.assertNotEqual(0, code)
        self.assertEqual(1, len(err.strip().splitlines()), err)
        code, out, err = self.manage('node', 'clean')
        self.assertNotEqual(0, code)
        self.assertEqual(states.AVAILABLE,
                         db_api.get_node('node-1').provision_state)

    # -- node update -----------------------------------------------------

    def test_no_maintenance_of_a_clean_failed_node_needs_node_clean(self):
        self.create(1)
        self.clean_failed('node-1')
        code, out, err = self.manage('node', 'update', 'node-1',
                                     '--no-maintenance')
        self.assertNotEqual(0, code)
        lines = err.strip().splitlines()
        self.assertEqual(1, len(lines), err)
        self.assertIn('node clean', lines[0])
        self.assertNotIn('Traceback', out + err)
        node = db_api.get_node('node-1')
        self.assertEqual((states.CLEAN_FAILED, True, states.FAULT_CLEAN),
                         (node.provision_state, node.maintenance, node.fault))

        # --force without --no-maintenance: refused, nothing changed.
        for extra in (('--maintenance',), ('--cpus', '4'), ()):
            code, out, err = self.manage('node', 'update', 'node-1',
                                         '--force', *extra)
            self.assertNotEqual(0, code, extra)
            self.assertEqual(1, len(err.strip().splitlines()), err)
            self.assertNotIn('Traceback', out + err)
        code, out, err = self.manage('node', 'update', 'node-1', '--force',
                                     '--cpus', '4')
        self.assertIn('--no-maintenance', err)
        node = db_api.get_node('node-1')
        self.assertEqual((states.CLEAN_FAILED, True, 8),
                         (node.provision_state, node.maintenance, node.cpus))

        # With --force: out of maintenance, and cleaned again.
        out = self.assertManage('node', 'update', 'node-1',
                                '--no-maintenance', '--force', '-f', 'json')
        self.assertEqual((states.CLEANING, False),
                         (json.loads(out)['provision_state'],
                          json.loads(out)['maintenance']))
        node = db_api.get_node('node-1')
        self.assertEqual((states.CLEANING, False, None, None),
                         (node.provision_state, node.maintenance,
                          node.maintenance_reason, node.fault))

    def test_force_refused_when_the_clean_mode_is_none(self):
        # Nothing would erase it: it would be available uncleaned.
        self.create(1, '--clean-mode', 'none')
        self.clean_failed('node-1')
        for extra in ((), ('--clean-mode', 'none')):
            code, out, err = self.manage('node', 'update', 'node-1',
                                         '--no-maintenance', '--force',
                                         *extra)
            self.assertNotEqual(0, code)
            lines = err.strip().splitlines()
            self.assertEqual(1, len(lines), err)
            self.assertIn('its clean mode is none', lines[0])
            self.assertNotIn('Traceback', out + err)
            node = db_api.get_node('node-1')
            self.assertEqual((states.CLEAN_FAILED, True, 'none'),
                             (node.provision_state, node.maintenance,
                              node.clean_mode))
        # Another mode in the same command: cleaned again, in it.
        self.assertManage('node', 'update', 'node-1', '--no-maintenance',
                          '--force', '--clean-mode', 'express')
        node = db_api.get_node('node-1')
        self.assertEqual((states.CLEANING, False, 'express', None),
                         (node.provision_state, node.maintenance,
                          node.clean_mode, node.clean_request))

    def test_no_maintenance_of_other_nodes_needs_no_force(self):
        self.create(1, '--maintenance')
        self.assertManage('node', 'update', 'node-1', '--no-maintenance')
        node = db_api.get_node('node-1')
        self.assertEqual((states.AVAILABLE, False),
                         (node.provision_state, node.maintenance))
        # A clean failed node out of maintenance stays clean failed.
        self.create(2)
        self.clean_failed('node-2', maintenance=False)
        self.assertManage('node', 'update', 'node-2', '--no-maintenance')
        self.assertEqual(states.CLEAN_FAILED,
                         db_api.get_node('node-2').provision_state)

    def show(self, name, *args):
        return self.assertManage('node', 'show', name, *args)

    def test_clean_mode_update_and_default(self):
        self.create(1)
        shown = json.loads(self.show('node-1', '-f', 'json'))
        self.assertEqual('metadata (default)', shown['clean_mode'])
        self.assertManage('node', 'update', 'node-1', '--clean-mode', 'Full')
        self.assertEqual('full', db_api.get_node('node-1').clean_mode)
        shown = json.loads(self.show('node-1', '-f', 'json'))
        self.assertEqual('full', shown['clean_mode'])
        self.assertManage('node', 'update', 'node-1', '--clean-mode',
                          'default')
        self.assertIsNone(db_api.get_node('node-1').clean_mode)
        self.conf.config(automated_clean='express', group='baremetal')
        shown = json.loads(self.show('node-1', '-f', 'json'))
        self.assertEqual('express (default)', shown['clean_mode'])
        self.assertRefused(2, '--clean-mode', 'node', 'update', 'node-1',
                           '--clean-mode', 'wipe')
        # "default" is no mode a node is created with.
        self.assertRefused(2, '--clean-mode', *test_manage.create_args(
            2, **{'--clean-mode': 'default'}))

    # -- node show -------------------------------------------------------

    def test_show_prints_the_last_cleaning_escaped(self):
        self.create(1)
        db_api.set_provision_state('node-1', states.AVAILABLE,
                                   last_cleaning=PROOF)
        out = self.show('node-1')
        self.assertNotIn('\x1b', out)
        self.assertIn('a\\x1b[2Jb', out)
        self.assertIn('express ok, 2026-12-05T10:00:00 to '
                      '2026-12-05T10:00:42', out)
        self.assertIn('/dev/nvme0n1', out)
        self.assertIn('nvme-format', out)
        self.assertIn('NV1', out)
        self.assertIn('0x5000c5001', out)
        self.assertIn('no hardware secure erase: not an NVMe disk', out)
        # One line per disk, each disk's name on its own.
        for name, method in (('/dev/nvme0n1', 'nvme-format'),
                             ('/dev/vda', 'metadata')):
            lines = [line for line in out.splitlines() if name in line]
            self.assertEqual(1, len(lines), out)
            self.assertIn(method, lines[0])

        # JSON: the record as kept (a program escapes for itself).
        shown = json.loads(self.show('node-1', '-f', 'json'))
        self.assertEqual(PROOF, shown['last_cleaning'])
        for form in ('yaml', 'value', 'shell'):
            self.assertNotIn('\x1b', self.show('node-1', '-f', form))

    def test_show_prints_problems_and_never(self):
        self.create(1)
        out = self.show('node-1')
        self.assertIn('never', out)
        self.assertIsNone(json.loads(self.show('node-1', '-f', 'json'))
                          ['last_cleaning'])
        failed = dict(PROOF, result='failed', problems=[
            '/dev/vda was not reported erased', 'x\x1b]0;owned\x07y'])
        db_api.set_provision_state('node-1', states.CLEAN_FAILED,
                                   last_cleaning=failed)
        out = self.show('node-1')
        self.assertIn('express failed', out)
        self.assertIn('/dev/vda was not reported erased', out)
        self.assertNotIn('\x1b', out)
        self.assertNotIn('\x07', out)
