"""The deploy's pieces on their own: tokens, scripts, the image cache, the
ramdisk API's checks and the HTTP server's routes."""

import hashlib
import os
import resource
import socket
import threading
import time
import urllib.error
import urllib.request

import fixtures
from nova import exception as nova_exception

from nova_bm.deploy import erase_report
from nova_bm.deploy import http_server
from nova_bm.deploy import image_cache
from nova_bm.deploy import ipxe
from nova_bm.deploy import ramdisk_api
from nova_bm.deploy import tokens
from tests import base


class TokensTestCase(base.TestCase):

    def test_tokens_are_unguessable_and_stored_as_digests(self):
        seen = {tokens.new_token() for _ in range(1000)}
        self.assertEqual(1000, len(seen))
        token = seen.pop()
        self.assertRegex(token, r'\A' + tokens.SECRET_PATTERN + r'\Z')
        self.assertEqual(hashlib.sha256(token.encode()).hexdigest(),
                         tokens.digest(token))
        self.assertNotIn(token, tokens.digest(token))


class ScriptsTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        self.store = ipxe.ScriptStore(self.root)

    def test_boot_script_chains_to_each_nic_in_turn(self):
        self.store.write_boot_script('http://10.0.0.5:8089')
        with open(os.path.join(self.root, 'boot.ipxe')) as f:
            text = f.read()
        self.assertTrue(text.startswith('#!ipxe\n'))
        self.assertIn('chain --autofree http://10.0.0.5:8089/nodes/'
                      '${net${i}/mac:hexhyp}.ipxe || goto try_next', text)
        self.assertIn('inc i', text)

    def test_node_scripts_by_mac_written_whole_and_removed(self):
        macs = ['52:54:00:AA:00:01', '52:54:00:aa:00:02']
        self.store.put(macs, ipxe.deploy_script('http://h:1',
                                                'console=ttyS0'))
        for mac in macs:
            text = self.store.read(mac)
            self.assertIn('nbm_api=http://h:1/api/v1 BOOTIF=${mac} '
                          'console=ttyS0', text)
            self.assertIn('initrd --name deploy.initramfs '
                          'http://h:1/deploy/ramdisk', text)
            # Served to anyone: no secret, no node named.
            self.assertNotIn('token', text)
        self.assertEqual(['52-54-00-aa-00-01.ipxe', '52-54-00-aa-00-02.ipxe'],
                         sorted(os.listdir(os.path.join(self.root,
                                                        'nodes'))))
        self.store.put(macs, ipxe.local_boot_script())
        local = self.store.read(macs[1])
        # BIOS: the first BIOS disk; UEFI (no drive 0x80): back to the
        # firmware with an error, so that its boot manager tries its next
        # option instead of showing its menu.
        self.assertIn('sanboot --no-describe --drive 0x80 || goto firmware',
                      local)
        self.assertIn('iseq ${platform} efi && goto firmware ||', local)
        self.assertEqual(['set nbm-firmware 1', 'exit 1'],
                         local.splitlines()[-2:])
        # boot.ipxe, to which that "exit 1" returns, ends there too; it
        # never gives the firmware a success (EDK2 would show its menu).
        boot = ipxe.boot_script('http://h:1')
        self.assertIn('isset ${nbm-firmware} && goto firmware ||', boot)
        self.assertEqual(2, boot.count('\nexit 1\n'))
        self.assertNotIn('\nexit\n', boot)
        self.store.remove(macs)
        self.store.remove(macs)  # already gone: not an error
        self.assertIsNone(self.store.read(macs[0]))
        self.assertEqual([], os.listdir(os.path.join(self.root, 'nodes')))


class ImageCacheTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.fetched = []

        def fetch(context, image_id, path):
            self.fetched.append(image_id)
            with open(path, 'wb') as f:
                f.write(image_id.encode() * 1000)
        self.cache = image_cache.ImageCache(self.dir, fetch=fetch)

    def test_fetched_once_per_image_and_checksum(self):
        first = self.cache.get(None, 'img-a', 'sum1')
        again = self.cache.get(None, 'img-a', 'sum1')
        self.assertEqual(first, again)
        self.assertEqual(5000, first.size)
        self.assertEqual(hashlib.sha256(b'img-a' * 1000).hexdigest(),
                         first.sha256)
        # Re-uploaded under the same id: a new file.
        self.cache.get(None, 'img-a', 'sum2')
        self.assertEqual(['img-a', 'img-a'], self.fetched)
        # No partial file left behind by a fetch.
        self.assertFalse([n for n in os.listdir(self.dir)
                          if n.startswith('.')])

    def test_failed_fetch_leaves_nothing(self):
        def broken(context, image_id, path):
            with open(path, 'wb') as f:
                f.write(b'half')
            raise nova_exception.ImageUnacceptable(image_id=image_id,
                                                   reason='bad')
        cache = image_cache.ImageCache(self.dir, fetch=broken)
        self.assertRaises(nova_exception.ImageUnacceptable, cache.get, None,
                          'img-b', 'x')
        self.assertEqual([], os.listdir(self.dir))

    def test_evicts_by_age_then_size_never_what_is_in_use(self):
        now = time.time()
        images = {}
        for age, name in ((5000, 'old'), (300, 'mid'), (10, 'new')):
            image = self.cache.get(None, name, 's')
            self.cache.unpin(image)
            os.utime(image.path, (now - age, now - age))
            images[name] = image
        # TTL: "old" goes, unless a deploy uses it.
        self.assertEqual([], self.cache.evict({images['old'].name}, 10 ** 9,
                                              ttl=1000, now=now))
        self.assertEqual([images['old'].name],
                         self.cache.evict(set(), 10 ** 9, ttl=1000, now=now))
        # Size: least recently used first, until the rest fit.
        self.assertEqual([images['mid'].name],
                         self.cache.evict(set(), 4000, ttl=10 ** 6, now=now))
        # Pinned by a deploy in progress: kept whatever the limits.
        pinned = self.cache.get(None, 'new', 's')
        self.assertEqual([], self.cache.evict(set(), 0, ttl=0, now=now + 1))
        self.cache.unpin(pinned)
        self.assertEqual([images['new'].name],
                         self.cache.evict(set(), 0, ttl=0, now=now + 1))
        self.assertEqual([], os.listdir(self.dir))


class ReportTestCase(base.TestCase):

    def test_done_bodies(self):
        sha = 'ab' * 32
        self.assertEqual(
            {'status': 'done', 'result_sha256': sha,
             'result_configdrive_sha256': None,
             'result_device': '/dev/sda'},
            ramdisk_api.parse_report(
                ('status=ok&sha256=%s&device=/dev/sda' % sha.upper())
                .encode(), 'application/x-www-form-urlencoded'))
        self.assertEqual(
            {'status': 'done', 'result_sha256': None,
             'result_configdrive_sha256': None,
             'result_device': None},
            ramdisk_api.parse_report(b'{"status": "ok"}',
                                     'application/json'))
        failed = ramdisk_api.parse_report(
            b'status=failed&error=disk+%1b[31mgone%0a' + b'x' * 5000, None)
        self.assertEqual('failed', failed['status'])
        self.assertTrue(failed['error'].startswith('disk \\x1b[31mgone\\n'))
        self.assertLessEqual(len(failed['error']), ramdisk_api.MAX_ERROR)

    def test_bad_bodies_are_400(self):
        for body, content_type in (
                (b'status=maybe', None),
                (b'status=ok&sha256=xyz', None),
                (b'status=ok&device=/etc/passwd', None),
                (b'status=ok&device=/dev/sda;reboot', None),
                (b'status=ok&status=failed', None),
                (b'\xff\xfe', None),
                (b'[1, 2]', 'application/json'),
                (b'{"status": 1}', 'application/json'),
                (b'{', 'application/json')):
            error = self.assertRaises(ramdisk_api.Refused,
                                      ramdisk_api.parse_report, body,
                                      content_type)
            self.assertEqual(400, error.status, body)


class _API:
    """A ramdisk API stand-in: one valid token for one address, one
    image; it records what the server hands it."""

    def __init__(self, token, image_name):
        self.token, self.image_name = token, image_name
        self.done_bodies = []
        self.lookups = []
        self.addresses = []
        self.sent = []

    def _check(self, token, address):
        self.addresses.append(address)
        if token != self.token:
            raise ramdisk_api.Refused(403, 'no')

    def lookup(self, body, content_type, address):
        self.lookups.append((body, address))
        if body != b'macs=52:54:00:00:00:01':
            raise ramdisk_api.Refused(404, ramdisk_api.NOTHING_TO_DO)
        return 'token=%s\nmode=deploy\n' % self.token

    def config(self, token, address):
        self._check(token, address)
        return 'mode=deploy\n'

    def heartbeat(self, token, address):
        self._check(token, address)

    def done(self, token, body, content_type, address):
        self._check(token, address)
        self.done_bodies.append(body)

    def image(self, token, address):
        self._check(token, address)
        return self.image_name, lambda: self.sent.append(token)


class SendfileTestCase(base.TestCase):
    """``_sendfile`` against a client at the other end of a socket pair."""

    def setUp(self):
        super().setUp()
        self.data = os.urandom(4 << 20)
        path = os.path.join(self.useFixture(fixtures.TempDir()).path, 'f')
        with open(path, 'wb') as f:
            f.write(self.data)
        self.file = open(path, 'rb')
        self.addCleanup(self.file.close)

    def pair(self, fileno=None):
        ours, theirs = socket.socketpair()
        self.addCleanup(theirs.close)
        if fileno is not None:
            os.dup2(ours.fileno(), fileno)
            ours.close()
            ours = socket.socket(fileno=fileno)
        self.addCleanup(ours.close)
        ours.settimeout(5)   # as the handler's: a non-blocking descriptor
        return ours, theirs

    def read(self, sock, pause=0.0, piece=1 << 16):
        got = bytearray()

        def run():
            while True:
                data = sock.recv(piece)
                if not data:
                    return
                got.extend(data)
                time.sleep(pause)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return got, thread

    def test_a_descriptor_above_1024_is_served(self):
        # select() cannot wait for one; the selector can.
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        ours, theirs = self.pair(fileno=min(limit - 1, 1500))
        self.assertGreater(ours.fileno(), 1024)
        got, thread = self.read(theirs, pause=0.001)
        sent = http_server._sendfile(ours, self.file, len(self.data))
        ours.shutdown(socket.SHUT_WR)
        thread.join(30)
        self.assertEqual(len(self.data), sent)
        self.assertEqual(self.data, bytes(got))

    def test_a_trickling_reader_is_dropped_at_its_deadline(self):
        ours, theirs = self.pair()
        self.read(theirs, pause=0.05, piece=1024)   # about 20 KiB/s
        start = time.monotonic()
        sent = http_server._sendfile(ours, self.file, len(self.data),
                                     stall_timeout=0.5, min_rate=1 << 20)
        self.assertLess(sent, len(self.data))
        # 0.5 s + 4 MiB at 1 MiB/s, and some slack for a busy machine.
        self.assertLess(time.monotonic() - start, 30)


class HTTPServerTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        root = self.useFixture(fixtures.TempDir()).path
        for name in ('http/nodes', 'images'):
            os.makedirs(os.path.join(root, name))
        self.secret_file = os.path.join(root, 'secret')
        with open(self.secret_file, 'w') as f:
            f.write('not served')
        with open(os.path.join(root, 'kernel'), 'wb') as f:
            f.write(b'K' * 100)
        self.image = os.urandom(3 << 20)
        with open(os.path.join(root, 'images', 'img.raw'), 'wb') as f:
            f.write(self.image)
        store = ipxe.ScriptStore(os.path.join(root, 'http'))
        store.write_boot_script('http://x')
        store.put(['52:54:00:00:00:01'], '#!ipxe\nsanboot\n')
        self.token = tokens.new_token()
        self.api = _API(self.token, 'img.raw')
        self.server = http_server.DeployHTTPServer(
            '127.0.0.1', 0, http_server.Files(
                os.path.join(root, 'http'), os.path.join(root, 'kernel'),
                os.path.join(root, 'missing'), os.path.join(root, 'images')),
            self.api)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.base = 'http://127.0.0.1:%d' % self.server.port

    def request(self, path, token=None, data=None, headers=()):
        request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1)
            self.base + path, data=data)
        if token is not None:
            request.add_header(ramdisk_api.TOKEN_HEADER, token)
        for name, value in headers:
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(  # noqa: S310
                    request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def test_routes(self):
        self.assertEqual(200, self.request('/boot.ipxe')[0])
        self.assertEqual((200, b'#!ipxe\nsanboot\n'),
                         self.request('/nodes/52-54-00-00-00-01.ipxe'))
        self.assertEqual((200, b'K' * 100), self.request('/deploy/kernel'))
        self.assertEqual(
            (200, ('token=%s\nmode=deploy\n' % self.token).encode()),
            self.request('/api/v1/lookup', data=b'macs=52:54:00:00:00:01'))
        self.assertEqual([(b'macs=52:54:00:00:00:01', '127.0.0.1')],
                         self.api.lookups)
        self.assertEqual((200, self.image),
                         self.request('/api/v1/image', self.token))
        # Recorded once the server's last sendfile returned, which the
        # client's read may overtake.
        deadline = time.monotonic() + 30
        while not self.api.sent and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual([self.token], self.api.sent)
        # HEAD sends nothing: the image is not "read".
        request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1)
            self.base + '/api/v1/image', method='HEAD')
        request.add_header(ramdisk_api.TOKEN_HEADER, self.token)
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass
        self.assertEqual([self.token], self.api.sent)
        self.assertEqual((200, b'mode=deploy\n'),
                         self.request('/api/v1/config', self.token))
        self.assertEqual(204, self.request('/api/v1/heartbeat', self.token,
                                           b'')[0])
        self.assertEqual(204, self.request('/api/v1/done', self.token,
                                           b'status=ok')[0])
        self.assertEqual([b'status=ok'], self.api.done_bodies)
        self.assertEqual({'127.0.0.1'}, set(self.api.addresses))

    def test_any_mac_without_a_script_gets_the_same_answer(self):
        # Enrolled or not, a MAC without a script cannot be told apart:
        # 200 and a script that makes iPXE try its next NIC.
        for mac in ('52-54-00-00-00-02', 'fe-ed-fa-ce-00-01'):
            self.assertEqual((200, ipxe.NO_SCRIPT.encode()),
                             self.request('/nodes/%s.ipxe' % mac))

    def test_nothing_outside_the_routes(self):
        for path in ('/', '/nodes/', '/nodes/52-54-00-00-00-0.ipxe',
                     '/deploy/ramdisk', '/images/', '/images/img.raw',
                     '/images/' + tokens.new_token(), '/api/v1/images',
                     '/../secret', '/http/boot.ipxe', '/%2e%2e/secret',
                     '/nodes/..%2f..%2fsecret.ipxe', '/secret',
                     '/' + 'a' * 5000):
            status, body = self.request(path)
            self.assertIn(status, (404, 414), path)
            self.assertNotIn(b'not served', body)

    def test_tokens_and_bodies(self):
        for token in (None, '', 'x' * 43, self.token + 'x'):
            self.assertEqual(403, self.request('/api/v1/config', token)[0])
            self.assertEqual(403, self.request('/api/v1/image', token)[0])
            self.assertEqual(403, self.request('/api/v1/done', token,
                                               b'status=ok')[0])
        self.assertEqual([], self.api.done_bodies)
        self.assertEqual([], self.api.sent)
        self.assertEqual(404, self.request(
            '/api/v1/lookup', data=b'macs=52:54:00:00:00:02')[0])
        big = b'x' * (ramdisk_api.MAX_BODY + 1)
        # A cleaning's report has a line per disk: more room.
        self.assertEqual(413, self.request(
            '/api/v1/done', self.token,
            b'x' * (erase_report.MAX_BODY + 1))[0])
        self.assertEqual(413, self.request('/api/v1/lookup', None, big)[0])
        self.assertEqual(404, self.request('/api/v1/other', self.token,
                                           b'')[0])
        self.assertEqual([], self.api.done_bodies)

    def test_client_strings_are_escaped_in_logs(self):
        # Attack 8: a request line with terminal escapes (clear screen,
        # an OSC window title) and a newline reaches the log inert.
        logs = self.useFixture(fixtures.FakeLogger(level='DEBUG'))
        with socket.create_connection(('127.0.0.1', self.server.port),
                                      timeout=30) as sock:
            sock.sendall(b'GET /\x1b[2J\x1b]0;owned\x07x HTTP/1.1\r\n'
                         b'Host: x\r\nConnection: close\r\n\r\n')
            while sock.recv(4096):
                pass
        self.assertIn('deploy HTTP 127.0.0.1', logs.output)
        self.assertNotIn('\x1b', logs.output)
        self.assertNotIn('\x07', logs.output)
        self.assertIn('\\x1b[2J\\x1b]0;owned\\x07x', logs.output)
