"""A hostile machine on the provisioning network, against the proxy's own
deploy HTTP server and flows (every database backend).

Each test is an attack of the security issue, played over real HTTP from
loopback source addresses of its own (127.0.0.66 is the attacker, 127.0.0.7
the node's real ramdisk), against a :class:`DeployManager` whose power
layer is scripted: what the attacker can learn, take or finish, and what
becomes of the node. None of them passes on the release before the agent
token.
"""

import hashlib
import http.client
import os
import re
import threading
import time
import urllib.parse

import fixtures

from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.deploy import configdrive
from nova_bm.deploy import flow as deploy_flow
from nova_bm.deploy import image_cache
from nova_bm.deploy import ipxe
from nova_bm.deploy import manager as deploy_manager
from nova_bm.deploy import ramdisk_api
from nova_bm.enrolment import node_spec
from nova_bm.power import base as power_base
from tests.unit.db import base
from tests.unit.proxy import steps
from tests.unit import test_driver
from tests import utils

ATTACKER = '127.0.0.66'
RAMDISK = '127.0.0.7'
IMAGE_BYTES = os.urandom(256 * 1024)


class AttackBase(base.DbTestCase):
    """The proxy's deploy side, its node and the two machines' HTTP."""

    def setUp(self):
        super().setUp()
        self.conf.config(deploy_timeout=30, deploy_poll_interval=0.05,
                         deploy_shutdown_timeout=2,
                         power_state_poll_interval=0.05, group='baremetal')
        self.power = test_driver.ScriptedPower()
        self.manager = deploy_manager.DeployManager(self.power)
        self.proxy = steps.ProxySteps(self.manager, self.power)
        self.manager.start()
        self.addCleanup(self.manager.stop)
        self.port = self.manager.port()
        cache = CONF.baremetal.image_cache_dir
        os.makedirs(cache, exist_ok=True)
        with open(os.path.join(cache, 'tenant-a.raw'), 'wb') as f:
            f.write(IMAGE_BYTES)
        self.image = image_cache.CachedImage(
            'tenant-a.raw', os.path.join(cache, 'tenant-a.raw'),
            len(IMAGE_BYTES), hashlib.sha256(IMAGE_BYTES).hexdigest())
        db_api.create_nodes([
            node_spec.new_node(utils.node_values(i, deploy_interface='image'),
                               [utils.mac(i)]) for i in (1, 2)])
        self.node = db_api.get_node('node-1', with_interfaces=True)
        self.mac = utils.mac(1)
        self.logs = self.useFixture(fixtures.FakeLogger(level='INFO'))

    # -- the network -------------------------------------------------------

    def http(self, method, path, source, token=None, fields=None):
        """``(status, body)`` of one request from ``source``."""
        connection = http.client.HTTPConnection(
            '127.0.0.1', self.port, timeout=30, source_address=(source, 0))
        headers = {}
        body = None
        if token is not None:
            headers[ramdisk_api.TOKEN_HEADER] = token
        if isinstance(fields, bytes):
            body = fields
            headers['Content-Type'] = 'text/plain'
        elif fields is not None:
            body = urllib.parse.urlencode(fields)
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def lookup(self, source, mac=None):
        """``(token, config)`` or ``(None, status)``."""
        status, body = self.http('POST', '/api/v1/lookup', source,
                                 fields={'macs': mac or self.mac})
        if status != 200:
            return None, status
        fields = dict(line.split('=', 1)
                      for line in body.decode().splitlines())
        return fields.pop('token'), fields

    # -- the node ------------------------------------------------------------

    def start_flow(self, flow_call, *args):
        """Run a flow in a thread; :returns: a dict that gets its
        ``result`` or ``error`` when it ends."""
        outcome = {}

        def target():
            try:
                outcome['result'] = flow_call(*args)
            except Exception as e:  # noqa: BLE001 (kept for asserts)
                outcome['error'] = e
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 60)
        outcome['thread'] = thread
        return outcome

    def finished(self, outcome):
        outcome['thread'].join(60)
        self.assertFalse(outcome['thread'].is_alive(), 'the flow hangs')
        return outcome

    def wait_on(self):
        deadline = time.monotonic() + 30
        while self.power.states.get('node-1') != power_base.POWER_ON:
            self.assertLess(time.monotonic(), deadline, 'never powered on')
            time.sleep(0.01)

    def real_ramdisk(self, report=True, image=True):
        """What nova-bm's ramdisk does, from its own address."""
        token, config = self.lookup(RAMDISK)
        self.assertIsNotNone(token, config)
        self.assertEqual(200, self.http(
            'POST', '/api/v1/disks', RAMDISK, token,
            b'name=/dev/sda size=%d\n' % (8 << 30))[0])
        if image and config['mode'] == 'deploy':
            status, data = self.http('GET', '/api/v1/image', RAMDISK, token)
            self.assertEqual((200, IMAGE_BYTES), (status, data))
        if report:
            fields = {'status': 'ok'}
            if config['mode'] == 'deploy':
                fields['sha256'] = config['image_sha256']
            else:
                fields = (b'status=ok\ndisk name=/dev/sda method=metadata '
                          b'bytes=86016000 seconds=1.5 verified=3\n')
            self.assertEqual(204, self.http('POST', '/api/v1/done', RAMDISK,
                                            token, fields)[0])
            self.power.states['node-1'] = power_base.POWER_OFF
        return token, config


class ProvisioningAttackTestCase(AttackBase):

    # -- attack 1: the token in the iPXE script ---------------------------

    def test_scripts_hold_no_token_and_tell_no_enrolled_mac_apart(self):
        deploy = self.start_flow(self.proxy.deploy, self.node, 'inst-1',
                          self.image)
        self.wait_on()
        status, script = self.http(
            'GET', '/nodes/%s.ipxe' % self.mac.replace(':', '-'), ATTACKER)
        self.assertEqual(200, status)
        self.assertIn(b'nbm_api=', script)
        self.assertNotIn(b'token', script)
        self.assertNotIn(self.node.uuid.encode(), script)
        # An idle enrolled node's MAC and a MAC nobody enrolled: one answer.
        answers = {self.http('GET', '/nodes/%s.ipxe' % mac, ATTACKER)
                   for mac in (utils.mac(2).replace(':', '-'),
                               'fe-ed-fa-ce-00-01')}
        self.assertEqual({(200, ipxe.NO_SCRIPT.encode())}, answers)
        # And the lookup of either is the same 404.
        self.assertEqual({(None, 404)},
                         {self.lookup(ATTACKER, mac) for mac in
                          (utils.mac(2), 'fe:ed:fa:ce:00:01')})
        self.real_ramdisk()
        self.assertNotIn('error', self.finished(deploy))
        self.assertEqual('active', db_api.get_node('node-1').provision_state)

    def test_polling_lookups_get_no_token_and_fail_the_deploy(self):
        # The attacker polls the lookup from power on; no real ramdisk
        # boots within ramdisk_min_boot_time.
        self.conf.config(ramdisk_min_boot_time=5, group='baremetal')
        deploy = self.start_flow(self.proxy.deploy, self.node, 'inst-1',
                          self.image)
        self.wait_on()
        answers = set()
        while deploy['thread'].is_alive():
            answers.add(self.lookup(ATTACKER))
            time.sleep(0.05)
        self.assertEqual({(None, 404)}, answers)
        error = self.finished(deploy)['error']
        self.assertIsInstance(error, deploy_flow.DeployFailed)
        self.assertTrue(error.suspect)
        self.assertIn('sooner than a ramdisk boots', error.reason)
        self.assertIn(ATTACKER, error.reason)
        # Nothing left: no job, no script, the node off.
        self.assertIsNone(db_api.get_job('node-1'))
        self.assertEqual('power_off', self.power.calls[-1][0])

    def test_lookup_before_power_on_makes_the_job_suspect(self):
        api = ramdisk_api.RamdiskAPI('http://x')
        job = db_api.start_job('node-1', 'clean', db_api.CLEANING)
        error = self.assertRaises(ramdisk_api.Refused, api.lookup,
                                  ('macs=' + self.mac).encode(), None,
                                  ATTACKER)
        self.assertEqual(404, error.status)
        job = db_api.get_job('node-1')
        self.assertIn('before the node was powered on', job.suspicion)
        self.assertIsNone(job.token_hash)
        self.assertEqual('failed', job.status)

    def test_second_lookup_fails_the_job_loudly(self):
        clean = self.start_flow(self.proxy.clean, self.node)
        self.wait_on()
        token, _ = self.lookup(RAMDISK)
        self.assertIsNotNone(token)
        self.assertEqual((None, 404), self.lookup(ATTACKER))
        self.assertFalse(self.finished(clean)['result'])
        node = db_api.get_node('node-1')
        self.assertEqual(('clean failed', True),
                         (node.provision_state, node.maintenance))
        self.assertIn('a second lookup: the token was handed out already, '
                      'to %s (lookup from %s)' % (RAMDISK, ATTACKER),
                      node.maintenance_reason)
        self.assertIn('cannot be trusted', self.logs.output)
        # The first holder's token died with the job.
        self.assertEqual(403, self.http('GET', '/api/v1/config', RAMDISK,
                                        token)[0])

    # -- attack 2: a cleaning finished by someone else ---------------------

    def test_cleaning_reported_by_an_impostor_is_not_available(self):
        clean = self.start_flow(self.proxy.clean, self.node)
        self.wait_on()
        # The attacker wins the race for the token and reports at once;
        # no ramdisk ran, so nothing powers the node off.
        token, config = self.lookup(ATTACKER)
        self.assertEqual('clean', config['mode'])
        self.http('POST', '/api/v1/done', ATTACKER, token, {'status': 'ok'})
        self.assertFalse(self.finished(clean)['result'])
        node = db_api.get_node('node-1')
        self.assertEqual(('clean failed', True),
                         (node.provision_state, node.maintenance))
        self.assertIn('did not power off', node.maintenance_reason)
        self.assertEqual('power_off', self.power.calls[-1][0])

    def test_cleaning_reported_by_an_impostor_then_the_real_ramdisk(self):
        clean = self.start_flow(self.proxy.clean, self.node)
        self.wait_on()
        token, _ = self.lookup(ATTACKER)
        self.http('POST', '/api/v1/done', ATTACKER, token, {'status': 'ok'})
        # The real ramdisk boots, is refused, and powers the node off.
        self.assertEqual((None, 404), self.lookup(RAMDISK))
        self.power.states['node-1'] = power_base.POWER_OFF
        self.assertFalse(self.finished(clean)['result'])
        node = db_api.get_node('node-1')
        self.assertEqual('clean failed', node.provision_state)
        self.assertIn('a second lookup', node.maintenance_reason)

    def test_real_cleaning_makes_the_node_available(self):
        clean = self.start_flow(self.proxy.clean, self.node)
        self.wait_on()
        self.real_ramdisk()
        self.assertTrue(self.finished(clean)['result'])
        self.assertEqual('available',
                         db_api.get_node('node-1').provision_state)

    # -- attack 3: another tenant's image ------------------------------------

    def test_image_only_to_the_token_holder_at_its_address(self):
        deploy = self.start_flow(self.proxy.deploy, self.node, 'inst-1',
                          self.image)
        self.wait_on()
        token, config = self.lookup(RAMDISK)
        self.assertEqual('%s/api/v1/image' % self.manager.base_url(),
                         config['image_url'])
        for path in ('/api/v1/image', '/images/tenant-a.raw',
                     '/images/' + token):
            status, body = self.http('GET', path, ATTACKER)
            self.assertIn(status, (403, 404), path)
            self.assertNotIn(IMAGE_BYTES[:64], body)
        # The token, sniffed, is no use from another machine: and the
        # deploy can no longer be trusted.
        status, body = self.http('GET', '/api/v1/image', ATTACKER, token)
        self.assertEqual(403, status)
        self.assertNotIn(IMAGE_BYTES[:64], body)
        error = self.finished(deploy)['error']
        self.assertTrue(error.suspect)
        self.assertIn('its token was shown from %s, not from %s'
                      % (ATTACKER, RAMDISK), error.reason)

    # -- attack 4: a deploy "done" with nothing written ----------------------

    def test_deploy_reported_before_its_image_was_read(self):
        deploy = self.start_flow(self.proxy.deploy, self.node, 'inst-1',
                          self.image)
        self.wait_on()
        token, config = self.lookup(ATTACKER)
        status, _ = self.http('POST', '/api/v1/done', ATTACKER, token,
                              {'status': 'ok',
                               'sha256': config['image_sha256']})
        self.assertEqual(409, status)
        error = self.finished(deploy)['error']
        self.assertTrue(error.suspect)
        self.assertIn('before it had read the whole image', error.reason)
        self.assertNotEqual('active',
                            db_api.get_node('node-1').provision_state)

    def test_token_handed_out_once_on_every_backend(self):
        # Eight lookups at once (any of several proxies may answer): one
        # gets the token, and the job is suspect.
        clean = self.start_flow(self.proxy.clean, self.node)
        self.wait_on()
        results = []
        threads = [threading.Thread(
            target=lambda: results.append(self.lookup(RAMDISK)))
            for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        tokens = [token for token, _ in results if token is not None]
        self.assertEqual(1, len(tokens))
        self.assertTrue(re.match(r'[A-Za-z0-9_-]{43}\Z', tokens[0]))
        self.assertFalse(self.finished(clean)['result'])
        self.assertIn('lookup', db_api.get_node('node-1').maintenance_reason)

    # -- hostile bodies, and a suspect job's holder ---------------------------

    def test_hostile_lookup_bodies_are_400_without_a_traceback(self):
        for body in ('[' * 16000, '{"macs": "%s", "macs": "x"}' % self.mac,
                     '"macs"', '{"macs": 1}'):
            connection = http.client.HTTPConnection(
                '127.0.0.1', self.port, timeout=30,
                source_address=(ATTACKER, 0))
            try:
                connection.request('POST', '/api/v1/lookup', body=body,
                                   headers={'Content-Type':
                                            'application/json'})
                self.assertEqual(400, connection.getresponse().status, body)
            finally:
                connection.close()
        self.assertNotIn('Traceback', self.logs.output)
        self.assertIsNone(db_api.get_job('node-1'))

    def test_a_suspect_jobs_holder_gets_nothing_more(self):
        deploy = self.start_flow(self.proxy.deploy, self.node,
                                 'inst-1', self.image)
        self.wait_on()
        token, _ = self.lookup(ATTACKER)
        # The real ramdisk's lookup makes the job suspect; the winner of
        # the race may not read the image after that.
        self.assertEqual((None, 404), self.lookup(RAMDISK))
        for path in ('/api/v1/image', '/api/v1/config'):
            status, body = self.http('GET', path, ATTACKER, token)
            self.assertIn(status, (403,), path)
            self.assertNotIn(IMAGE_BYTES[:64], body)
        self.assertTrue(self.finished(deploy)['error'].suspect)

    def test_a_suspicion_at_the_last_moment_is_not_lost(self):
        job = db_api.start_job('node-1', 'clean', db_api.CLEANING)
        db_api.suspect_job(job.id, 'a second lookup')
        self.assertFalse(db_api.end_job('node-1', job.id, trusted=True))
        self.assertIsNotNone(db_api.get_job('node-1'))
        self.assertTrue(db_api.end_job('node-1', job.id))


def mbr_image(size):
    """A raw disk image with one MBR partition (sector 1 to its end)."""
    image = bytearray(os.urandom(size))
    image[446:462] = bytes([0, 0, 2, 0, 0x83, 0, 0, 0]) + (1).to_bytes(
        4, 'little') + (size // 512 - 1).to_bytes(4, 'little')
    image[462:510] = bytes(48)
    image[510:512] = b'\x55\xaa'
    return bytes(image)


class ConfigDriveAttackTestCase(AttackBase):
    """The config drive holds the tenant's admin password and user-data:
    only its job's token holder gets it, only once it reported its
    disks; the disk report is hostile input."""

    DISK = b'name=/dev/sda size=%d serial=S1\n' % (8 << 30)

    def setUp(self):
        super().setUp()
        data = mbr_image(len(IMAGE_BYTES))
        with open(self.image.path, 'wb') as f:
            f.write(data)
        self.image = self.image._replace(
            sha256=hashlib.sha256(data).hexdigest())
        self.image_bytes = data
        self.secret = b'admin_pass=' + os.urandom(8).hex().encode()
        self.drive_bytes = self.secret.ljust(4096, b'\0')
        path = configdrive.path_of('inst-1-x' + configdrive.SUFFIX)
        with open(path, 'wb') as f:
            f.write(self.drive_bytes)
        self.drive = configdrive.ConfigDrive(
            os.path.basename(path), path, len(self.drive_bytes),
            hashlib.sha256(self.drive_bytes).hexdigest())

    def test_served_to_the_token_holder_after_its_disks_only(self):
        deploy = self.start_flow(self.proxy.deploy, self.node, 'inst-1',
                                 self.image, self.drive)
        self.wait_on()
        token, config = self.lookup(RAMDISK)
        self.assertEqual('yes', config['configdrive'])
        # Nothing before the disks are reported, nothing without the token.
        self.assertEqual(404, self.http('GET', '/api/v1/configdrive/0',
                                        RAMDISK, token)[0])
        status, placement = self.http('POST', '/api/v1/disks', RAMDISK,
                                      token, self.DISK)
        self.assertEqual(200, status, placement)
        lines = dict(line.split('=', 1)
                     for line in placement.decode().splitlines())
        self.assertEqual('/dev/sda', lines['root_device'])
        sector, size, drive_sha = lines['drive'].split()
        self.assertEqual((str(len(self.drive_bytes)), self.drive.sha256),
                         (size, drive_sha))
        index, at, length, sha = lines['table'].split()
        self.assertEqual(('1', '0', '512'), (index, at, length))
        # (The token shown from another address fails the job: attack 3.)
        for source, key in ((ATTACKER, None), (RAMDISK, 'x' * 43),
                            (RAMDISK, None)):
            status, body = self.http('GET', '/api/v1/configdrive/0',
                                     source, key)
            self.assertEqual(403, status)
            self.assertNotIn(self.secret, body)
        status, drive = self.http('GET', '/api/v1/configdrive/0', RAMDISK,
                                  token)
        self.assertEqual((200, self.drive_bytes), (status, drive))
        status, table = self.http('GET', '/api/v1/configdrive/1', RAMDISK,
                                  token)
        self.assertEqual((200, sha), (status,
                                      hashlib.sha256(table).hexdigest()))
        self.assertEqual(404, self.http('GET', '/api/v1/configdrive/2',
                                        RAMDISK, token)[0])
        # A second disk report changes nothing.
        self.assertEqual(409, self.http(
            'POST', '/api/v1/disks', RAMDISK, token,
            b'name=/dev/sdb size=%d\n' % (9 << 30))[0])
        self.assertEqual(200, self.http('GET', '/api/v1/image', RAMDISK,
                                        token)[0])
        self.assertEqual(204, self.http(
            'POST', '/api/v1/done', RAMDISK, token,
            {'status': 'ok', 'sha256': self.image.sha256,
             'device': '/dev/sda',
             'configdrive_sha256': self.drive.sha256})[0])
        self.power.states['node-1'] = power_base.POWER_OFF
        outcome = self.finished(deploy)
        self.assertNotIn('error', outcome)
        self.assertEqual('active', db_api.get_node('node-1').provision_state)
        # The token died with the job: nothing more of the drive.
        self.assertEqual(403, self.http('GET', '/api/v1/configdrive/0',
                                        RAMDISK, token)[0])

    def test_a_drive_not_read_back_fails_the_deploy(self):
        deploy = self.start_flow(self.proxy.deploy, self.node, 'inst-1',
                                 self.image, self.drive)
        self.wait_on()
        token, _ = self.lookup(RAMDISK)
        self.http('POST', '/api/v1/disks', RAMDISK, token, self.DISK)
        self.http('GET', '/api/v1/image', RAMDISK, token)
        self.http('POST', '/api/v1/done', RAMDISK, token,
                  {'status': 'ok', 'sha256': self.image.sha256,
                   'device': '/dev/sda'})
        self.power.states['node-1'] = power_base.POWER_OFF
        error = self.finished(deploy)['error']
        self.assertIn('the config drive read back from /dev/sda has sha256 '
                      'None', error.reason)

    def test_a_report_on_another_disk_fails_the_deploy(self):
        deploy = self.start_flow(self.proxy.deploy, self.node, 'inst-1',
                                 self.image)
        self.wait_on()
        token, _ = self.lookup(RAMDISK)
        self.http('GET', '/api/v1/image', RAMDISK, token)
        self.http('POST', '/api/v1/disks', RAMDISK, token, self.DISK)
        self.assertEqual(204, self.http(
            'POST', '/api/v1/done', RAMDISK, token,
            {'status': 'ok', 'sha256': self.image.sha256,
             'device': '/dev/sdz'})[0])
        self.power.states['node-1'] = power_base.POWER_OFF
        error = self.finished(deploy)['error']
        self.assertIn('the image was written to /dev/sdz, not to the disk '
                      'chosen, /dev/sda', error.reason)

    def test_a_ramdisk_that_reports_no_disks_fails_at_once(self):
        # A ramdisk built before the proxy chose disks: its "done" fails
        # the deploy with what to do, not after deploy_timeout.
        deploy = self.start_flow(self.proxy.deploy, self.node, 'inst-1',
                                 self.image)
        self.wait_on()
        token, _ = self.lookup(RAMDISK)
        self.http('GET', '/api/v1/image', RAMDISK, token)
        self.assertEqual(204, self.http(
            'POST', '/api/v1/done', RAMDISK, token,
            {'status': 'ok', 'sha256': self.image.sha256,
             'device': '/dev/vda'})[0])
        self.power.states['node-1'] = power_base.POWER_OFF
        error = self.finished(deploy)['error']
        self.assertIn('without reporting its disks first', error.reason)
        self.assertIn('nova-bm-build-ramdisk', error.reason)
        self.assertFalse(error.suspect)

    def test_hostile_disk_reports_are_refused_and_escaped(self):
        db_api.update_node('node-1', {'root_device_hints': {
            'serial': 'S9'}})
        deploy = self.start_flow(self.proxy.deploy, self.node, 'inst-1',
                                 self.image)
        self.wait_on()
        token, _ = self.lookup(RAMDISK)
        for body, status in (
                (b'name=/dev/sda size=-1\n', 400),
                (b'size=100\n', 400),
                (b'name=/etc/passwd size=100\n', 400),
                (b'name=/dev/sda size=100 colour=red\n', 400),
                (b'name=/dev/sda size=1\nname=/dev/sda size=1\n', 400),
                (b''.join(b'name=/dev/sd%d size=1\n' % i
                          for i in range(65)), 400),
                (b'name=/dev/sda size=1 serial=%s\n' % (b'A' * 300), 400),
                (b'name=/dev/sda size=%C2%B2\n', 400),  # a Unicode digit
                (b'name=/dev/nvme0c0n1 size=100\n', 400),
                (b'x' * (70 * 1024), 413)):
            self.assertEqual(status, self.http(
                'POST', '/api/v1/disks', RAMDISK, token, body)[0], body[:60])
        # Control characters are refused; what is printable is kept,
        # decoded, and the job fails with the disks seen.
        self.assertEqual(400, self.http(
            'POST', '/api/v1/disks', RAMDISK, token,
            b'name=/dev/sda size=%d serial=%%1b[2JX\n' % (8 << 30))[0])
        self.assertNotIn('Traceback', self.logs.output)
        status, _ = self.http(
            'POST', '/api/v1/disks', RAMDISK, token,
            b'name=/dev/sda size=%d serial=S%%209\n' % (8 << 30))
        self.assertEqual(409, status)
        error = self.finished(deploy)['error']
        self.assertIn('no disk matches the root device hints (serial s== s9)'
                      '; disks seen: /dev/sda (8 GiB, serial S 9)',
                      error.reason)
        self.assertIsNone(db_api.get_job('node-1'))

