"""The deploy and cleaning state machine (the proxy over the deploy
steps), against a real node database (every backend), a scripted power
layer and a ramdisk played through the ramdisk API's own code (no HTTP:
tests/unit/deploy/test_pieces has that)."""

import threading
import time

import fixtures

from nova_bm.db import api as db_api
from nova_bm.deploy import flow as deploy_flow
from nova_bm.deploy import image_cache
from nova_bm.deploy import ipxe
from nova_bm.deploy import ramdisk_api
from nova_bm.enrolment import node_spec
from nova_bm.power import base as power_base
from tests.unit.db import base
from tests.unit.proxy import steps
from tests.unit import test_driver
from tests import utils

IMAGE = image_cache.CachedImage('img.raw', '/nowhere', 1000, 'ab' * 32)
RAMDISK_ADDRESS = '10.0.0.7'
DISKS = 'name=/dev/sda size=%d serial=S1\n' % (8 << 30)
#: A cleaning ramdisk's report of DISKS erased.
ERASED = ('status=ok\ndisk name=/dev/sda method=metadata bytes=86016000 '
          'seconds=1.5 verified=3\n')


class FlowTestCase(base.DbTestCase):

    def setUp(self):
        super().setUp()
        self.conf.config(deploy_timeout=30, deploy_poll_interval=0.05,
                         deploy_shutdown_timeout=1,
                         power_state_poll_interval=0.05, group='baremetal')
        self.power = test_driver.ScriptedPower()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.scripts = ipxe.ScriptStore(self.root)
        self.waiters = deploy_flow.Waiters()
        self.flow = deploy_flow.Flow(
            self.power, self.scripts, 'http://proxy:8089', self.waiters)
        self.proxy = steps.ProxySteps(self.flow, self.power)
        self.api = ramdisk_api.RamdiskAPI('http://proxy:8089',
                                          on_report=self.waiters.wake)
        db_api.create_nodes([node_spec.new_node(
            utils.node_values(1, deploy_interface='image'),
            [utils.mac(1)])])
        self.node = db_api.get_node('node-1', with_interfaces=True)
        self.mac = utils.mac(1)

    def ramdisk(self, report, power_off=True, read_image=True, delay=0):
        """Answer the next boot of node-1's ramdisk with ``report``, from
        ``RAMDISK_ADDRESS``: look up, (``delay`` seconds later) read the
        image, report."""
        def run():
            while True:
                script = self.scripts.read(self.mac) or ''
                if 'nbm_api=' in script and (
                        self.power.states.get('node-1') == 'on'):
                    break
                if done.wait(0.01):
                    return
            answer = self.api.lookup(('macs=' + self.mac).encode(), None,
                                     RAMDISK_ADDRESS)
            token = answer.split('\n', 1)[0].split('=', 1)[1]
            if delay and done.wait(delay):
                return
            self.config = answer.split('\n', 1)[1]
            self.answer = self.api.disks(
                token, DISKS.encode(), RAMDISK_ADDRESS)
            if 'mode=deploy' in self.config and read_image:
                _, on_sent = self.api.image(token, RAMDISK_ADDRESS)
                on_sent()
            self.api.done(token, report.encode(),
                          'text/plain' if report.startswith('status=ok\n')
                          else None, RAMDISK_ADDRESS)
            self.token = token
            if power_off:
                self.power.states['node-1'] = power_base.POWER_OFF
        done = threading.Event()
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(done.set)

    def calls(self):
        return [call for call, _ in self.power.calls]

    def test_deploy_steps_in_order(self):
        self.ramdisk('status=ok&sha256=%s&device=/dev/sda' % IMAGE.sha256)
        self.proxy.deploy(self.node, 'inst-1', IMAGE)
        self.assertEqual(
            ['power_off', 'set_boot_device_pxe', 'power_on',
             'get_power_state', 'set_boot_device_disk', 'power_on'],
            self.calls())
        self.assertIn('image_url=http://proxy:8089/api/v1/image\n',
                      self.config)
        self.assertIn('image_sha256=%s' % IMAGE.sha256, self.config)
        node = db_api.get_node('node-1')
        self.assertEqual('active', node.provision_state)
        self.assertIsNone(db_api.get_job('node-1'))
        self.assertIn('sanboot', self.scripts.read(self.mac))
        # The token died with the job.
        error = self.assertRaises(ramdisk_api.Refused, self.api.config,
                                  self.token, RAMDISK_ADDRESS)
        self.assertEqual(403, error.status)

    def assert_stopped(self):
        self.assertIsNone(db_api.get_job('node-1'))
        self.assertIsNone(self.scripts.read(self.mac))
        self.assertEqual('power_off', self.calls()[-1])

    def test_ramdisk_failure_mismatch_and_timeout_stop_the_node(self):
        self.ramdisk('status=failed&error=no+disk')
        error = self.assertRaises(deploy_flow.DeployFailed, self.proxy.deploy,
                                  self.node, 'inst-1', IMAGE)
        self.assertEqual('the deploy ramdisk failed: no disk', error.reason)
        self.assertIsNone(error.off_error)
        self.assert_stopped()

        self.ramdisk('status=ok&sha256=%s' % ('cd' * 32))
        error = self.assertRaises(deploy_flow.DeployFailed, self.proxy.deploy,
                                  self.node, 'inst-1', IMAGE)
        self.assertIn("not the image's", error.reason)
        self.assert_stopped()

        self.ramdisk('status=ok')  # no sha256: nothing proves the write
        error = self.assertRaises(deploy_flow.DeployFailed, self.proxy.deploy,
                                  self.node, 'inst-1', IMAGE)
        self.assertIn('has sha256 None', error.reason)

        self.conf.config(deploy_timeout=1, group='baremetal')
        error = self.assertRaises(deploy_flow.DeployFailed, self.proxy.deploy,
                                  self.node, 'inst-1', IMAGE)
        self.assertEqual('the deploy ramdisk did not report within 1 s '
                         '([baremetal] deploy_timeout)', error.reason)
        self.assert_stopped()

    def test_bmc_failure_and_unconfirmed_off(self):
        self.power.fail[('power_on', 'node-1')] = test_driver.timeout(
            'node-1')
        self.power.fail[('power_off', 'node-1')] = test_driver.timeout(
            'node-1')
        error = self.assertRaises(deploy_flow.DeployFailed, self.proxy.deploy,
                                  self.node, 'inst-1', IMAGE)
        self.assertIn('the BMC of node node-1', error.reason)
        self.assertIn('did not answer', error.off_error)
        self.assertIsNone(db_api.get_job('node-1'))
        self.assertIsNone(self.scripts.read(self.mac))

    def test_ramdisk_that_does_not_power_off_fails_the_deploy(self):
        # A report counts only once the BMC reads the node off.
        self.ramdisk('status=ok&sha256=%s' % IMAGE.sha256, power_off=False)
        error = self.assertRaises(deploy_flow.DeployFailed, self.proxy.deploy,
                                  self.node, 'inst-1', IMAGE)
        self.assertTrue(error.suspect)
        self.assertIn('did not power off within 1 s', error.reason)
        calls = self.calls()
        # Polled until deploy_shutdown_timeout, then off over IPMI.
        self.assertGreater(calls.count('get_power_state'), 1)
        self.assertEqual('power_off', calls[-1])
        self.assertNotIn('set_boot_device_disk', calls)
        self.assert_stopped()

    def test_stopping_proxy_leaves_everything_as_it_is(self):
        thread = threading.Thread(target=self.waiters.stop)
        self.power.states['node-1'] = power_base.POWER_OFF
        timer = threading.Timer(0.3, thread.start)
        timer.start()
        self.addCleanup(timer.cancel)
        self.assertRaises(deploy_flow.ProxyStopping, self.proxy.deploy,
                          self.node, 'inst-1', IMAGE)
        # Left for the next start to recover: job, script, node on.
        self.assertEqual('waiting', db_api.get_job('node-1').status)
        self.assertIn('nbm_api=', self.scripts.read(self.mac))
        self.assertEqual('power_on', self.calls()[-1])
        self.assertEqual('deploying',
                         db_api.get_node('node-1').provision_state)

    def test_job_replaced_by_another_ends_this_one(self):
        def replace():
            db_api.start_job('node-1', 'clean', db_api.CLEANING)
            self.waiters.wake(self.node.uuid)
        threading.Timer(0.3, replace).start()
        error = self.assertRaises(deploy_flow.DeployFailed, self.proxy.deploy,
                                  self.node, 'inst-1', IMAGE)
        self.assertEqual('the job was ended by someone else', error.reason)

    def test_cleaning(self):
        self.ramdisk(ERASED)
        self.assertTrue(self.proxy.clean(self.node))
        self.assertIn('mode=clean\n', self.config)
        self.assertIn('clean_mode=metadata\n', self.config)
        self.assertEqual('erase=metadata\n', self.answer)
        self.assertNotIn('image_url', self.config)
        node = db_api.get_node('node-1')
        self.assertEqual('available', node.provision_state)
        self.assertEqual(('metadata', 'ok', []),
                         (node.last_cleaning['mode'],
                          node.last_cleaning['result'],
                          node.last_cleaning['problems']))
        self.assertEqual([{'name': '/dev/sda', 'size': 8 << 30,
                           'serial': 'S1', 'wwn': None, 'model': None,
                           'method': 'metadata', 'bytes': 86016000,
                           'seconds': 1.5, 'verified': 3, 'note': None}],
                         node.last_cleaning['disks'])
        self.assertIsNone(self.scripts.read(self.mac))

        # A report that leaves a disk out holds the node back, with the
        # proof of what it did say.
        self.ramdisk('status=ok\n')
        self.assertFalse(self.proxy.clean(self.node))
        node = db_api.get_node('node-1')
        self.assertEqual(('clean failed', True), (node.provision_state,
                                                  node.maintenance))
        self.assertIn('/dev/sda was not reported erased',
                      node.maintenance_reason)
        self.assertEqual(('failed', 'failed'),
                         (node.last_cleaning['result'],
                          node.last_cleaning['disks'][0]['method']))
        db_api.update_node('node-1', {'maintenance': False}, force=True)

        self.ramdisk('status=failed&error=disk+busy')
        self.assertFalse(self.proxy.clean(self.node))
        node = db_api.get_node('node-1')
        self.assertEqual(('clean failed', True), (node.provision_state,
                                                  node.maintenance))
        self.assertIn('disk busy', node.maintenance_reason)
        self.assertIsNone(db_api.get_job('node-1'))

    def test_a_cleaning_ramdisk_looks_itself_up_within_deploy_timeout(self):
        # A ramdisk that never boots (no lookup) gives the node back at
        # deploy_timeout, though clean_timeout is longer.
        self.conf.config(deploy_timeout=1, clean_timeout=60,
                         group='baremetal')
        started = time.monotonic()
        self.assertFalse(self.proxy.clean(self.node))
        self.assertLess(time.monotonic() - started, 30)
        node = db_api.get_node('node-1')
        self.assertEqual(('clean failed', True), (node.provision_state,
                                                  node.maintenance))
        self.assertIn('the deploy ramdisk did not look itself up within '
                      '1 s of power on ([baremetal] deploy_timeout)',
                      node.maintenance_reason)
        self.assert_stopped()

        # One that looked itself up has clean_timeout for its report.
        db_api.update_node('node-1', {'maintenance': False}, force=True)
        self.ramdisk(ERASED, delay=1.5)
        self.assertTrue(self.proxy.clean(self.node))
        self.assertEqual('available',
                         db_api.get_node('node-1').provision_state)

        # clean_timeout the shorter: it alone counts, and says so.
        self.conf.config(deploy_timeout=30, clean_timeout=1,
                         group='baremetal')
        db_api.set_provision_state('node-1', 'cleaning')
        self.assertFalse(self.proxy.clean(self.node))
        self.assertIn('the deploy ramdisk did not report within 1 s '
                      '([baremetal] clean_timeout)',
                      db_api.get_node('node-1').maintenance_reason)
        self.assert_stopped()

    def test_node_without_interfaces(self):
        db_api.delete_interface(self.mac)
        node = db_api.get_node('node-1', with_interfaces=True)
        error = self.assertRaises(deploy_flow.DeployFailed, self.proxy.deploy,
                                  node, 'inst-1', IMAGE)
        self.assertIn('no enrolled interface', error.reason)
        self.assertEqual([], self.calls())
