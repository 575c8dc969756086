"""The simulated machine speaks the deploy ramdisk's protocol over real
HTTP (against a stub of the proxy's server), and fake BMCs run it when
powered on to boot from the network (``Fleet(simulate=...)``)."""

import hashlib
import http.server
import io
import socket
import threading
import time
import urllib.parse

import fixtures
from pyghmi.ipmi import command as pyghmi_command

from nova_bm.common import states
from nova_bm.deploy import disk_facts
from nova_bm.deploy import erase_report
from nova_bm.deploy import ipxe
from nova_bm.inspection import inventory as inventory_report
from nova_bm.testing import fakebmc
from nova_bm.testing import machine
from nova_bm.testing import simulated_ramdisk
from tests import base
from tests import fleet as fleet_fixture

MAC = '52:54:00:4c:01:02'
MAC2 = '52:54:00:4d:01:02'
UUID = '0f9d2a2c-5e1b-4c7a-9a41-3b1f7e6d5c4b'
NODE = '7e1f4c1a-3b0e-4f4a-9a0e-2d8c5b6a7f10'
TOKEN = 'T' * 43  # noqa: S105 (a test token)
IMAGE = b'nova-bm simulated image ' * 4096
DISKS = '\n'.join([
    simulated_ramdisk.disk_line('/dev/vda', 8 << 30, rotational=0,
                                serial='AAA'),
    simulated_ramdisk.disk_line('/dev/nvme0n1', 16 << 30, model='NVMe Disk',
                                serial='BBB')])


class _Handler(http.server.BaseHTTPRequestHandler):

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.stub.answer(self, 'GET', b'')

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        self.server.stub.answer(self, 'POST', body)


class StubProxy:
    """The proxy's deploy server as a ramdisk sees it: scripts, lookup,
    and the token holder's calls, recorded; what it answers is set per
    test."""

    def __init__(self):
        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      _Handler)
        self.server.daemon_threads = True
        self.server.stub = self
        self.base = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.api = self.base + '/api/v1'
        #: ``{path: script}``; a path not here is iPXE's NO_SCRIPT.
        self.scripts = {}
        self.lookup_answer = (200, 'token=%s\nmode=inspect\nnode=%s\n'
                              % (TOKEN, NODE))
        self.disks_answer = 'erase=metadata\n'
        #: ``(method, path, headers, body, client address)`` per call.
        self.calls = []

    def start(self):
        threading.Thread(target=self.server.serve_forever,
                         kwargs={'poll_interval': 0.05}, daemon=True).start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def boot_ramdisk(self, path):
        self.scripts[path] = ipxe.deploy_script(self.base)

    def paths(self):
        return [(method, path) for method, path, _, _, _ in self.calls]

    def body(self, path):
        return [body for _, p, _, body, _ in self.calls if p == path]

    def answer(self, handler, method, body):
        path = handler.path
        self.calls.append((method, path, dict(handler.headers), body,
                           handler.client_address[0]))
        if method == 'GET' and path.endswith('.ipxe'):
            return self._send(handler, 200,
                              self.scripts.get(path, ipxe.NO_SCRIPT))
        if method == 'GET' and path == '/api/v1/image':
            return self._send(handler, 200, IMAGE)
        if path == '/api/v1/lookup':
            return self._send(handler, *self.lookup_answer)
        if handler.headers.get(simulated_ramdisk.TOKEN_HEADER) != TOKEN:
            return self._send(handler, 403, 'no valid token\n')
        if path == '/api/v1/inventory':
            try:
                inventory_report.parse(body)
            except inventory_report.Malformed as e:
                return self._send(handler, 400, '%s\n' % e)
            return self._send(handler, 200, 'ok\n')
        if path == '/api/v1/disks':
            return self._send(handler, 200, self.disks_answer)
        if path == '/api/v1/done':
            return self._send(handler, 204, '')
        return self._send(handler, 404, 'not found\n')

    @staticmethod
    def _send(handler, status, text):
        data = text if isinstance(text, bytes) else text.encode()
        handler.send_response(status)
        handler.send_header('Content-Length', str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


class SimulatedMachineTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.proxy = StubProxy().start()
        self.addCleanup(self.proxy.stop)
        self.offs = []

    def machine(self, macs=(MAC,), **kwargs):
        hardware = simulated_ramdisk.Hardware(
            list(macs), UUID, cpus=kwargs.pop('cpus', 4),
            memory_mb=kwargs.pop('memory_mb', 8192), disks=DISKS)
        kwargs.setdefault('timeout', 5)
        return simulated_ramdisk.SimulatedMachine(
            kwargs.pop('url', self.proxy.base + '/boot.ipxe'), hardware,
            power_off=lambda: self.offs.append(time.monotonic()), **kwargs)

    def test_inspection_of_a_machine_no_mac_of_which_is_known(self):
        self.proxy.boot_ramdisk('/unknown.ipxe')
        sim = self.machine(macs=(MAC, MAC2))
        self.assertEqual('inspected', sim.boot())
        self.assertEqual([
            ('GET', '/nodes/52-54-00-4c-01-02.ipxe'),
            ('GET', '/nodes/52-54-00-4d-01-02.ipxe'),
            ('GET', '/unknown.ipxe'),
            ('POST', '/api/v1/lookup'),
            ('POST', '/api/v1/inventory')], self.proxy.paths())
        self.assertEqual({'macs': [MAC + ',' + MAC2], 'system_uuid': [UUID]},
                         urllib.parse.parse_qs(
                             self.proxy.body('/api/v1/lookup')[0].decode()))
        _, _, headers, body, _ = self.proxy.calls[-1]
        self.assertEqual('text/plain', headers['Content-Type'])
        found = inventory_report.parse(body)
        self.assertEqual((4, 8192, 'bios', MAC, UUID), (
            found['cpu']['count'], found['memory']['physical_mb'],
            found['boot']['mode'], found['boot']['pxe_mac'],
            found['system']['uuid']))
        self.assertEqual(['/dev/vda', '/dev/nvme0n1'],
                         [disk['name'] for disk in found['disks']])
        self.assertEqual([MAC, MAC2],
                         [nic['mac'] for nic in found['interfaces']])
        self.assertEqual({'mode': 'inspect', 'node': NODE}, sim.config)
        self.assertEqual(1, len(self.offs))
        self.assertEqual([], sim.errors)

    def test_a_nic_with_a_script_boots_first(self):
        self.proxy.boot_ramdisk('/nodes/52-54-00-4d-01-02.ipxe')
        self.proxy.boot_ramdisk('/unknown.ipxe')
        sim = self.machine(macs=(MAC, MAC2))
        self.assertEqual('inspected', sim.boot())
        self.assertNotIn(('GET', '/unknown.ipxe'), self.proxy.paths())
        found = inventory_report.parse(self.proxy.body(
            '/api/v1/inventory')[0])
        # BOOTIF: the NIC whose script booted the ramdisk.
        self.assertEqual(MAC2, found['boot']['pxe_mac'])

    def test_no_script_stays_on_without_a_word(self):
        sim = self.machine()
        self.assertEqual('no script', sim.boot())
        self.assertEqual([('GET', '/nodes/52-54-00-4c-01-02.ipxe'),
                          ('GET', '/unknown.ipxe')], self.proxy.paths())
        self.assertEqual([], self.offs)
        # A local boot script is no ramdisk either.
        self.proxy.scripts['/unknown.ipxe'] = ipxe.local_boot_script()
        self.assertEqual('no script', self.machine().boot())

    def test_no_token_holds_the_machine_on(self):
        self.proxy.boot_ramdisk('/unknown.ipxe')
        self.proxy.lookup_answer = (404, ' nothing to do for these MACs\n')
        sim = self.machine()
        self.assertEqual('no token', sim.boot())
        self.assertEqual([], self.offs)
        self.assertIn('404', sim.errors[0])
        self.assertEqual(1, self.proxy.paths().count(
            ('POST', '/api/v1/lookup')))

    def test_silent_looks_itself_up_and_says_nothing(self):
        self.proxy.boot_ramdisk('/unknown.ipxe')
        sim = self.machine(behaviour='silent')
        self.assertEqual('silent', sim.boot())
        self.assertEqual(('POST', '/api/v1/lookup'), self.proxy.paths()[-1])
        self.assertEqual([], self.offs)

    def test_garbage_is_refused_then_the_ramdisk_fails_and_powers_off(self):
        self.proxy.boot_ramdisk('/unknown.ipxe')
        sim = self.machine(behaviour='garbage')
        outcome = sim.boot()
        self.assertTrue(outcome.startswith(
            'failed: the proxy did not take the inventory: 400'), outcome)
        self.assertEqual([simulated_ramdisk.GARBAGE.encode()],
                         self.proxy.body('/api/v1/inventory'))
        done = urllib.parse.parse_qs(
            self.proxy.body('/api/v1/done')[0].decode())
        self.assertEqual(['failed'], done['status'])
        self.assertIn('did not take the inventory', done['error'][0])
        self.assertEqual(1, len(self.offs))

    def test_cleaning_reports_what_each_mode_requires(self):
        self.proxy.boot_ramdisk('/unknown.ipxe')
        for mode in ('metadata', 'express', 'full'):
            self.proxy.calls = []
            self.proxy.lookup_answer = (
                200, 'token=%s\nmode=clean\nnode=%s\nclean_mode=%s\n'
                % (TOKEN, NODE, mode))
            self.proxy.disks_answer = 'erase=%s\n' % mode
            self.assertEqual('cleaned', self.machine().boot())
            disks = disk_facts.parse(self.proxy.body('/api/v1/disks')[0])
            status, error, entries = erase_report.parse(
                self.proxy.body('/api/v1/done')[0])
            self.assertEqual((states.DONE, None), (status, error))
            proof, problems = erase_report.judge(mode, disks, entries)
            self.assertEqual([], problems, mode)
            self.assertEqual(['/dev/vda', '/dev/nvme0n1'],
                             [disk['name'] for disk in proof])
        self.assertEqual(3, len(self.offs))

    def test_deploy_hashes_the_image_and_reports_the_chosen_disk(self):
        self.proxy.boot_ramdisk('/nodes/52-54-00-4c-01-02.ipxe')
        self.proxy.lookup_answer = (200, (
            'token=%s\nmode=deploy\nnode=%s\nimage_url=%s/image\n'
            'image_size=%d\nimage_sha256=x\nroot_device=\nconfigdrive=no\n'
            % (TOKEN, NODE, self.proxy.api, len(IMAGE))))
        self.proxy.disks_answer = 'root_device=/dev/nvme0n1\n'
        sim = self.machine()
        self.assertEqual('deployed', sim.boot())
        done = urllib.parse.parse_qs(
            self.proxy.body('/api/v1/done')[0].decode())
        self.assertEqual({'status': ['ok'], 'device': ['/dev/nvme0n1'],
                          'sha256': [hashlib.sha256(IMAGE).hexdigest()]},
                         done)
        _, _, headers, _, _ = [c for c in self.proxy.calls
                               if c[1] == '/api/v1/image'][0]
        self.assertEqual(TOKEN, headers[simulated_ramdisk.TOKEN_HEADER])
        self.assertEqual(1, len(self.offs))

    def test_a_proxy_that_is_not_there_is_recorded(self):
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            port = probe.getsockname()[1]
        sim = self.machine(url='http://127.0.0.1:%d' % port)
        self.assertEqual('no script', sim.boot())
        self.assertEqual(2, len(sim.errors))
        self.assertIn('ConnectionRefusedError', sim.errors[0])
        self.assertEqual([], self.offs)

    def test_an_answer_that_never_comes_is_waited_for_timeout_only(self):
        # Connections queue in the backlog; nothing ever answers.
        deaf = socket.socket()
        self.addCleanup(deaf.close)
        deaf.bind(('127.0.0.1', 0))
        deaf.listen(8)
        sim = self.machine(url='http://127.0.0.1:%d' % deaf.getsockname()[1],
                           timeout=0.3)
        start = time.monotonic()
        self.assertEqual('no script', sim.boot())
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(2, len(sim.errors))
        self.assertIn('timed out', sim.errors[0])

    def test_power_lost_during_the_firmware_self_test(self):
        stopped = threading.Event()
        sim = self.machine(firmware_delay=30, stopped=stopped)
        threading.Timer(0.1, stopped.set).start()
        start = time.monotonic()
        self.assertEqual('powered off', sim.boot())
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual([], self.proxy.calls)

    def test_calls_from_its_own_address(self):
        self.proxy.boot_ramdisk('/unknown.ipxe')
        address = simulated_ramdisk.loopback_address(20301)
        self.assertEqual('127.1.79.77', address)
        self.assertEqual('inspected',
                         self.machine(source_address=address).boot())
        self.assertEqual({address}, {c[4] for c in self.proxy.calls})

    def test_refuses_an_unknown_behaviour(self):
        self.assertRaises(ValueError, self.machine, behaviour='loud')


class FleetSimulationTestCase(base.TestCase):
    """Fake BMCs run the simulated machine in their worker process."""

    def setUp(self):
        super().setUp()
        self.proxy = StubProxy().start()
        self.addCleanup(self.proxy.stop)
        self.proxy.boot_ramdisk('/unknown.ipxe')

    def start(self, count, **simulate):
        simulate.setdefault('base_url', self.proxy.base)
        return self.useFixture(fleet_fixture.FleetFixture(
            count, simulate=simulate)).fleet

    @staticmethod
    def ipmi(fleet, port):
        # Credentials as bytes (see test_fakebmc).
        return pyghmi_command.Command(
            '127.0.0.1', fleet.username.encode(), fleet.password.encode(),
            port=port, keepalive=False)

    @staticmethod
    def wait(fleet, port, predicate, what):
        deadline = time.monotonic() + 30
        while True:
            state = fleet.state(port)
            if predicate(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError('%s: %s' % (what, state))
            time.sleep(0.05)

    def test_network_boot_inspects_and_powers_the_bmc_off(self):
        fleet = self.start(2)
        port = fleet.ports[1]
        client = self.ipmi(fleet, port)
        client.set_bootdev('network', persist=True)
        client.set_power('on')
        state = self.wait(fleet, port, lambda s: s['power'] == 'off'
                          and s['simulation']['outcomes'], 'the boot')
        self.assertEqual({'boots': 1, 'running': False, 'behaviour': 'ok',
                          'outcomes': ['inspected'], 'errors': []},
                         state['simulation'])
        lookup = urllib.parse.parse_qs(
            self.proxy.body('/api/v1/lookup')[0].decode())
        self.assertEqual([machine.system_uuid_for_port(port)],
                         lookup['system_uuid'])
        self.assertEqual([machine.mac_for_port(port)], lookup['macs'])
        found = inventory_report.parse(self.proxy.body(
            '/api/v1/inventory')[0])
        self.assertEqual(machine.mac_for_port(port),
                         found['boot']['pxe_mac'])
        # Its own source address on loopback, as a machine of its own.
        self.assertEqual({simulated_ramdisk.loopback_address(port)},
                         {c[4] for c in self.proxy.calls})
        # Persistent: the next power on boots the network again.
        self.assertEqual('network', state['boot_device'])
        self.assertEqual('off', fleet.state(fleet.ports[0])['power'])

    def test_booting_the_disk_does_nothing(self):
        fleet = self.start(1)
        port = fleet.ports[0]
        fleet.control(port, boot_device='hd', power='on')
        time.sleep(0.5)
        state = fleet.state(port)
        self.assertEqual(('on', 0), (state['power'],
                                     state['simulation']['boots']))
        self.assertEqual([], self.proxy.calls)

    def test_a_one_time_network_boot_lasts_one_boot(self):
        fleet = self.start(1)
        port = fleet.ports[0]
        fleet.control(port, boot_device='network', boot_persistent=False,
                      power='on')
        state = self.wait(fleet, port, lambda s: s['power'] == 'off',
                          'the boot')
        self.assertEqual('default', state['boot_device'])
        fleet.control(port, power='on')
        time.sleep(0.3)
        self.assertEqual(1, fleet.state(port)['simulation']['boots'])

    def test_power_off_ends_the_boot(self):
        fleet = self.start(1, delay=30)
        slow = fleet.ports[0]
        fleet.control(slow, boot_device='network', boot_persistent=True,
                      power='on')
        self.wait(fleet, slow, lambda s: s['simulation']['running'],
                  'a boot running')
        fleet.control(slow, power='off')
        state = self.wait(fleet, slow,
                          lambda s: s['simulation']['outcomes'], 'the end')
        self.assertEqual(['powered off'], state['simulation']['outcomes'])
        self.assertEqual([], self.proxy.calls)

    def test_behaviours_are_set_per_bmc(self):
        fleet = self.start(2)
        silent, garbage = fleet.ports
        self.assertEqual('silent', fleet.control(
            silent, ramdisk='silent')['simulation']['behaviour'])
        fleet.control(garbage, ramdisk='garbage')
        self.assertIn('error', fleet.control(silent, ramdisk='loud'))
        for port in fleet.ports:
            fleet.control(port, boot_device='network', boot_persistent=True,
                          power='on')
        state = self.wait(fleet, silent,
                          lambda s: s['simulation']['outcomes'], 'silent')
        self.assertEqual((['silent'], 'on'), (
            state['simulation']['outcomes'], state['power']))
        state = self.wait(fleet, garbage,
                          lambda s: s['simulation']['outcomes'], 'garbage')
        self.assertEqual('off', state['power'])
        self.assertIn('did not take the inventory',
                      state['simulation']['outcomes'][0])

    def test_simulate_is_checked(self):
        cases = [
            ({'base_url': 'ftp://x'}, 'base_url must be an http:// URL'),
            ({'base_url': 'http://x', 'delay': -1}, 'delay must be'),
            ({'base_url': 'http://x', 'behaviour': 'loud'},
             'behaviour must be one of'),
            ({'base_url': 'http://x', 'colour': 'red'}, 'unknown key colour'),
        ]
        for simulate, message in cases:
            error = self.assertRaises(ValueError, fakebmc.Fleet, 1, 7001,
                                      simulate=simulate)
            self.assertIn(message, str(error))
        error = self.assertRaises(
            ValueError, fakebmc.Fleet, 1, 7001, simulate={
                'base_url': 'http://x'}, machines={'directory': '/m',
                                                   'boot_url': 'http://x'})
        self.assertIn('machines or simulate', str(error))

    def test_command_line(self):
        stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        error = self.assertRaises(SystemExit, fakebmc.main, [
            '--count', '1', '--base-port', '7001', '--simulate', 'nowhere'])
        self.assertEqual(2, error.code)
        self.assertIn('--simulate: simulate: base_url must be an http://',
                      stderr.getvalue())
        self.assertEqual(
            {'base_url': 'http://127.0.0.1:8089', 'delay': 2.0,
             'own_address': True},
            fakebmc.check_simulate({'base_url': 'http://127.0.0.1:8089',
                                    'delay': 2.0}))
