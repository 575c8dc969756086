"""An inspection's side of the ramdisk API (every database backend): a
node enrolled without MACs found by its system UUID, its inventory
report; and unknown.ipxe, the script machines without one boot while such
a node is inspected."""

import datetime
import json
import os
import urllib.parse
import urllib.request

import fixtures
from oslo_utils import timeutils

from nova_bm.common import states
from nova_bm.common import system_uuid
from nova_bm.db import api as db_api
from nova_bm.deploy import http_server
from nova_bm.deploy import ipxe
from nova_bm.deploy import ramdisk_api
from nova_bm.inspection import inventory as inventory_report
from tests import base as tests_base
from tests import deploy_ramdisk
from tests.unit.db import base as db_base
from tests.unit.deploy import test_pieces
from tests import utils

FORM = 'application/x-www-form-urlencoded'
RAMDISK = '127.0.0.7'
#: The BMC's GUID, as IPMI Get System GUID reads it.
GUID = '00112233-4455-6677-8899-aabbccddeeff'
UNKNOWN_MACS = '52:54:00:ff:00:01,52:54:00:ff:00:02'


def lookup_body(macs=UNKNOWN_MACS, uuid=None):
    fields = {'macs': macs}
    if uuid is not None:
        fields['system_uuid'] = uuid
    return urllib.parse.urlencode(fields).encode()


def report(mac=None):
    return deploy_ramdisk.inventory(
        mac or utils.mac(50), 'name=/dev/sda size=%d' % (100 << 30)).encode()


class InspectionAPITestCase(db_base.DbTestCase):

    def setUp(self):
        super().setUp()
        self.reports = []
        self.api = ramdisk_api.RamdiskAPI('http://h:1',
                                          on_report=self.reports.append)
        row, macs = utils.node_spec_for(1, macs=[], provision_state='enroll')
        self.node = db_api.create_node(row, macs)
        row, macs = utils.node_spec_for(2, provision_state='available')
        db_api.create_node(row, macs)

    def start(self, name='node-1', mode=states.INSPECT, guid=GUID):
        state = {states.INSPECT: states.INSPECTING,
                 states.DEPLOY: states.DEPLOYING}[mode]
        job = db_api.start_job(name, mode, state, system_uuid=guid)
        db_api.mark_job_booted(
            job.id, timeutils.utcnow() - datetime.timedelta(minutes=5))
        return job

    def lookup(self, body):
        """``(token, config)`` or the Refused status."""
        try:
            answer = self.api.lookup(body, FORM, RAMDISK)
        except ramdisk_api.Refused as e:
            return e.status
        fields = dict(line.split('=', 1) for line in answer.splitlines())
        return fields.pop('token'), fields

    def token(self):
        self.start()
        token, config = self.lookup(lookup_body(uuid=GUID))
        return token

    def refused(self, call, *args):
        error = self.assertRaises(ramdisk_api.Refused, call, *args)
        return error.status, str(error)

    def test_found_by_the_guid_in_each_byte_order(self):
        forms = system_uuid.product_uuids(GUID)
        self.assertEqual(3, len(forms))
        for form in sorted(forms) + [form.upper() for form in forms]:
            db_api.set_provision_state('node-1', states.ENROLL)
            self.start()
            token, config = self.lookup(lookup_body(uuid=form))
            self.assertEqual({'mode': 'inspect', 'node': self.node.uuid},
                             config, form)
            job = db_api.get_job('node-1')
            self.assertEqual((RAMDISK, None),
                             (job.holder_address, job.suspicion))

    def test_not_found_without_or_with_another_uuid(self):
        self.start()
        for body in (lookup_body(),
                     lookup_body(uuid='5a6b7c8d-0000-4000-8000-0123456789ab'),
                     # A placeholder: ignored, not malformed.
                     lookup_body(uuid='00000000-0000-0000-0000-000000000000'),
                     lookup_body(uuid='FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'),
                     lookup_body(uuid='03000200-0400-0500-0006-000700080009')):
            self.assertEqual(404, self.lookup(body), body)
        # None of them spent the token.
        self.assertIsNone(db_api.get_job('node-1').token_hash)
        self.assertIsNone(db_api.get_job('node-1').suspicion)

    def test_a_bad_uuid_is_400(self):
        self.start()
        for uuid in ('nope', GUID + '0', '{%s}' % GUID, GUID[:-1] + 'g'):
            status, text = self.refused(self.api.lookup,
                                        lookup_body(uuid=uuid), FORM,
                                        RAMDISK)
            self.assertEqual(400, status, uuid)
            self.assertIn('system_uuid', text)
        self.assertIsNone(db_api.get_job('node-1').token_hash)

    def test_a_deploy_job_is_not_found_by_uuid(self):
        db_api.set_provision_state('node-1', states.AVAILABLE)
        self.start(mode=states.DEPLOY)
        self.assertEqual(404, self.lookup(lookup_body(uuid=GUID)))

    def test_known_macs_win_over_the_uuid(self):
        # node-2's MAC names node-2 (nothing to do): no fallback.
        self.start()
        self.assertEqual(404, self.lookup(lookup_body(
            macs=utils.mac(2), uuid=GUID)))
        self.assertIsNone(db_api.get_job('node-1').token_hash)

    def test_the_inventory_is_the_outcome(self):
        token = self.token()
        self.assertEqual('ok\n', self.api.inventory(token, report(),
                                                    RAMDISK))
        job = db_api.get_job('node-1')
        self.assertEqual(states.DONE, job.status)
        self.assertEqual(inventory_report.parse(report()),
                         json.loads(job.inventory))
        self.assertEqual([self.node.uuid], self.reports)
        # Once.
        status, _ = self.refused(self.api.inventory, token,
                                 report(utils.mac(51)), RAMDISK)
        self.assertEqual(409, status)
        self.assertEqual(inventory_report.parse(report()),
                         json.loads(
                             db_api.get_job('node-1').inventory))

    def test_a_malformed_inventory_fails_the_job(self):
        token = self.token()
        status, text = self.refused(self.api.inventory, token,
                                    b'cpu count=2\n', RAMDISK)
        self.assertEqual(400, status)
        job = db_api.get_job('node-1')
        self.assertEqual(states.FAILED, job.status)
        self.assertTrue(job.error.startswith('the inventory is malformed: '),
                        job.error)
        self.assertIsNone(job.inventory)
        self.assertEqual([self.node.uuid], self.reports)
        # A good one after it changes nothing.
        self.assertEqual(409, self.refused(self.api.inventory, token,
                                           report(), RAMDISK)[0])
        self.assertEqual(states.FAILED, db_api.get_job('node-1').status)

    def test_not_an_inspection_is_404(self):
        db_api.set_provision_state('node-2', states.MANAGEABLE)
        job = db_api.start_job('node-2', states.CLEAN, states.CLEANING)
        db_api.mark_job_booted(
            job.id, timeutils.utcnow() - datetime.timedelta(minutes=5))
        token, config = self.lookup(lookup_body(macs=utils.mac(2)))
        self.assertEqual('clean', config['mode'])
        self.assertEqual(404, self.refused(self.api.inventory, token,
                                           report(), RAMDISK)[0])
        job = db_api.get_job('node-2')
        self.assertEqual((states.WAITING, None),
                         (job.status, job.inventory))

    def test_the_token_rules_apply(self):
        token = self.token()
        for bad in (None, '', 'x' * 43):
            self.assertEqual(403, self.refused(self.api.inventory, bad,
                                               report(), RAMDISK)[0])
        self.assertEqual(states.WAITING, db_api.get_job('node-1').status)
        # From another address: the job is suspect and fails.
        self.assertEqual(403, self.refused(self.api.inventory, token,
                                           report(), '127.0.0.66')[0])
        job = db_api.get_job('node-1')
        self.assertEqual(states.FAILED, job.status)
        self.assertIn('127.0.0.66', job.suspicion)
        # Its holder gets nothing more.
        self.assertEqual(403, self.refused(self.api.inventory, token,
                                           report(), RAMDISK)[0])
        self.assertIsNone(db_api.get_job('node-1').inventory)

    def test_a_second_lookup_by_uuid_makes_it_suspect(self):
        self.token()
        self.assertEqual(404, self.lookup(lookup_body(uuid=GUID)))
        job = db_api.get_job('node-1')
        self.assertEqual(states.FAILED, job.status)
        self.assertIn('second lookup', job.suspicion)


class UnknownScriptTestCase(tests_base.TestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.store = ipxe.ScriptStore(self.root)
        self.path = os.path.join(self.root, ipxe.UNKNOWN_SCRIPT_NAME)

    def text(self):
        with open(self.path) as f:
            return f.read()

    def test_open_while_any_key_is_open(self):
        self.assertFalse(os.path.exists(self.path))
        first = self.store.open_to_unknown('#!ipxe\necho a\n')
        self.assertEqual('#!ipxe\necho a\n', self.text())
        second = self.store.open_to_unknown('#!ipxe\necho b\n')
        self.store.close_to_unknown(first)
        self.assertTrue(os.path.exists(self.path))
        # Closing a key twice, or one never opened, keeps the other's.
        self.store.close_to_unknown(first)
        self.store.close_to_unknown(object())
        self.assertTrue(os.path.exists(self.path))
        self.store.close_to_unknown(second)
        self.assertFalse(os.path.exists(self.path))
        self.store.close_to_unknown(second)  # gone already: no error
        self.assertFalse(os.path.exists(self.path))

    def test_an_earlier_lifes_script_goes_at_start(self):
        # A proxy killed mid-inspection left it: the next start (which
        # writes boot.ipxe) removes it, and a key of the earlier life
        # closes nothing of the new one's.
        old = self.store.open_to_unknown('#!ipxe\necho old\n')
        store = ipxe.ScriptStore(self.root)
        store.write_boot_script('http://10.0.0.5:8089')
        self.assertFalse(os.path.exists(self.path))
        self.store.write_boot_script('http://10.0.0.5:8089')
        new = self.store.open_to_unknown('#!ipxe\necho new\n')
        self.store.close_to_unknown(old)
        self.assertEqual('#!ipxe\necho new\n', self.text())
        self.store.close_to_unknown(new)
        self.assertFalse(os.path.exists(self.path))

    def test_boot_script_chains_to_it_before_giving_up(self):
        self.store.write_boot_script('http://10.0.0.5:8089')
        with open(os.path.join(self.root, 'boot.ipxe')) as f:
            text = f.read()
        chain = 'chain --autofree http://10.0.0.5:8089/unknown.ipxe ||'
        self.assertIn(chain, text)
        no_script = text.index(':no_script\n')
        self.assertLess(no_script, text.index(chain))
        self.assertLess(text.index(chain), text.index('exit 1', no_script))


class UnknownScriptServedTestCase(tests_base.TestCase):
    """The deploy HTTP server: /unknown.ipxe is the script while open,
    NO_SCRIPT otherwise (as tests/unit/deploy/test_pieces.py serves)."""

    def setUp(self):
        super().setUp()
        root = self.useFixture(fixtures.TempDir()).path
        for name in ('http/nodes', 'images'):
            os.makedirs(os.path.join(root, name))
        self.store = ipxe.ScriptStore(os.path.join(root, 'http'))
        self.store.write_boot_script('http://x')
        self.server = http_server.DeployHTTPServer(
            '127.0.0.1', 0, http_server.Files(
                os.path.join(root, 'http'), os.path.join(root, 'kernel'),
                os.path.join(root, 'missing'), os.path.join(root, 'images')),
            test_pieces._API('unused', 'img.raw'))
        self.server.start()
        self.addCleanup(self.server.stop)
        self.base = 'http://127.0.0.1:%d' % self.server.port

    def get(self, path):
        with urllib.request.urlopen(  # noqa: S310 (http://127.0.0.1)
                self.base + path, timeout=30) as response:
            return response.status, response.read()

    def test_unknown_ipxe(self):
        self.assertEqual((200, ipxe.NO_SCRIPT.encode()),
                         self.get('/unknown.ipxe'))
        key = self.store.open_to_unknown('#!ipxe\necho inspect\n')
        self.assertEqual((200, b'#!ipxe\necho inspect\n'),
                         self.get('/unknown.ipxe'))
        self.store.close_to_unknown(key)
        self.assertEqual((200, ipxe.NO_SCRIPT.encode()),
                         self.get('/unknown.ipxe'))
