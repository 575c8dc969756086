"""The deploy HTTP server under abuse: ramdisks served beside a flood.

Any machine on the provisioning network may be hostile. Here one of them
(source 127.0.0.9, a child process with its descriptor limit raised)
tries to hold ``NOVA_BM_BENCH_HTTP_ATTACK`` (2,000) half-open connections
to the proxy's deploy HTTP server: each sends the start of a request
head, a header line every 2 s after, and is opened again as soon as the
server closes it. Beside it, ``NOVA_BM_BENCH_HTTP_CLIENTS`` (20)
legitimate deploy ramdisks start at once, each from an address of its
own, and each does what a ramdisk does, one connection per request
(:func:`_ramdisk_client`): ``GET /boot.ipxe``, the lookup that hands it
its token and config, the image (``NOVA_BM_BENCH_HTTP_IMAGE_MB``, 4 MiB).

The server is ``nova_bm.deploy.http_server.DeployHTTPServer`` with its
default limits (``[baremetal] deploy_http_*``), its files in a temporary
directory and a stand-in for the ramdisk API (:class:`_StandInAPI`).
Measured in the same run, ``ROUNDS`` (3) rounds each: the latency of
every legitimate request, with the attack and without it (the
reference). Goal (the provisioning path's security issue): p99 at most
1 s under attack, and every legitimate client completes.
"""

import contextlib
import http.client
import os
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

CLIENTS = int(os.environ.get('NOVA_BM_BENCH_HTTP_CLIENTS', 20))
ATTACK = int(os.environ.get('NOVA_BM_BENCH_HTTP_ATTACK', 2000))
IMAGE_MB = int(os.environ.get('NOVA_BM_BENCH_HTTP_IMAGE_MB', 4))
ROUNDS = int(os.environ.get('NOVA_BM_BENCH_HTTP_ROUNDS', 3))
GOAL_P99 = 1.0
ATTACKER = '127.0.0.9'
# A legitimate client gives up on a request after this long: counted as
# not completed, never waited for forever.
CLIENT_TIMEOUT = 30.0
TOKEN_HEADER = 'X-Nova-BM-Token'  # as nova_bm.deploy.ramdisk_api
_TRICKLE_INTERVAL = 2.0
# Seconds the attack runs before the clients start.
_SETTLE = 1.0


# -- the legitimate side: the ramdisk protocol's two pieces ----------------

class _StandInAPI:
    """The ramdisk API as ``http_server`` calls it, without a database:
    one job per MAC, its token handed out once to the first lookup and
    bound to its address, the same image for every job."""

    def __init__(self, image_name, image_size):
        self.base_url = None  # set once the server listens
        self._image_name = image_name
        self._image_size = image_size
        self._waiting = set()  # MACs whose job waits for its lookup
        self._holders = {}  # token -> address
        self._lock = threading.Lock()

    def add_job(self, index):
        """:returns: the MAC of a new job for client ``index``."""
        mac = '52:54:00:%02x:%02x:%02x' % tuple(os.urandom(3))
        with self._lock:
            self._waiting.add(mac)
        return mac

    def _config(self):
        return ('mode=deploy\nnode=bench\nimage_url=%s/api/v1/image\n'
                'image_size=%d\nimage_sha256=\nroot_device=\n'
                % (self.base_url, self._image_size))

    def _holder(self, token, address):
        from nova_bm.deploy import ramdisk_api
        with self._lock:
            if self._holders.get(token) != address:
                raise ramdisk_api.Refused(403, 'no valid token')

    def lookup(self, body, content_type, address):
        from nova_bm.deploy import ramdisk_api
        macs = ramdisk_api.parse_macs(body, content_type)
        with self._lock:
            found = self._waiting.intersection(macs)
            if len(found) != 1:
                raise ramdisk_api.Refused(404, 'nothing to do')
            self._waiting.discard(found.pop())
            token = os.urandom(32).hex()
            self._holders[token] = address
        return 'token=%s\n%s' % (token, self._config())

    def config(self, token, address):
        self._holder(token, address)
        return self._config()

    def image(self, token, address):
        self._holder(token, address)
        return self._image_name, lambda: None

    def heartbeat(self, token, address):
        self._holder(token, address)

    def done(self, token, body, content_type, address):
        self._holder(token, address)


def _ramdisk_client(base_url, mac, source, timeout=CLIENT_TIMEOUT):
    """A deploy ramdisk's requests, each on a connection of its own from
    the address ``source``: iPXE's ``GET /boot.ipxe``, the lookup by MAC
    (the token and config), the image.

    :returns: ``[(request, seconds), ...]``.
    :raises: AssertionError (wrong answer), OSError (refused, timed out),
        http.client.HTTPException.
    """
    times = []

    def call(url, body=None, headers=None):
        parts = urllib.parse.urlsplit(url)
        start = time.perf_counter()
        connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=timeout,
            source_address=(source, 0))
        try:
            connection.request('GET' if body is None else 'POST',
                               parts.path, body, headers or {})
            response = connection.getresponse()
            answer = response.read()
        finally:
            connection.close()
        times.append((parts.path, time.perf_counter() - start))
        if response.status != 200:
            raise AssertionError('%s: %d %r' % (
                parts.path, response.status, answer[:200]))
        return answer

    if not call(base_url + '/boot.ipxe').startswith(b'#!ipxe'):
        raise AssertionError('boot.ipxe is not an iPXE script')
    config = dict(line.split('=', 1) for line in call(
        base_url + '/api/v1/lookup', b'macs=' + mac.encode(),
        {'Content-Type': 'application/x-www-form-urlencoded'},
    ).decode().splitlines() if '=' in line)
    image = call(config['image_url'],
                 headers={TOKEN_HEADER: config['token']})
    if len(image) != int(config['image_size']):
        raise AssertionError('short image: %d of %s bytes'
                             % (len(image), config['image_size']))
    return times


# -- the server -------------------------------------------------------------

def _server(work, api):
    """A DeployHTTPServer over ``work``'s files, limits from the options."""
    from nova_bm.deploy import http_server

    files = http_server.Files(os.path.join(work, 'http'),
                              os.path.join(work, 'kernel'),
                              os.path.join(work, 'ramdisk'),
                              os.path.join(work, 'images'))
    server = http_server.DeployHTTPServer('127.0.0.1', 0, files, api)
    return server


def _files(work, image_mb):
    for name in ('http', 'images'):
        os.makedirs(os.path.join(work, name))
    with open(os.path.join(work, 'http', 'boot.ipxe'), 'w') as f:
        f.write('#!ipxe\nchain http://proxy/nodes/${mac:hexhyp}.ipxe\n')
    for name in ('kernel', 'ramdisk'):
        with open(os.path.join(work, name), 'wb') as f:
            f.write(b'\0' * 4096)
    with open(os.path.join(work, 'images', 'image.raw'), 'wb') as f:
        block = os.urandom(1 << 20)
        for _ in range(image_mb):
            f.write(block)
    return 'image.raw', image_mb << 20


# -- the attacker (a child process) -----------------------------------------

def _attack(port, count, source=ATTACKER):
    """Hold ``count`` half-open connections to 127.0.0.1:``port`` from
    ``source`` until SIGTERM, opening one again as soon as the server
    closes one; prints ``ready`` once each was opened and answered (head
    sent, or closed), then ``opened <n> closed <n>`` at the end."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    head = b'GET /boot.ipxe HTTP/1.1\r\nHost: deploy\r\n'
    selector = selectors.DefaultSelector()
    stats = {'opened': 0, 'closed': 0, 'resolved': 0}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))

    def open_one():
        sock = socket.socket()
        try:
            sock.setblocking(False)
            sock.bind((source, 0))
            sock.connect_ex(('127.0.0.1', port))
        except OSError:  # out of ports or descriptors: again later
            sock.close()
            return False
        stats['opened'] += 1
        selector.register(sock, selectors.EVENT_WRITE, 'connecting')
        return True

    def closed(sock):
        stats['closed'] += 1
        selector.unregister(sock)
        sock.close()

    while len(selector.get_map()) < count and open_one():
        pass
    ready = False
    trickle = time.monotonic() + _TRICKLE_INTERVAL
    while not stop:
        for key, _ in selector.select(0.1):
            sock = key.fileobj
            if key.data == 'connecting':
                stats['resolved'] += 1
            try:
                if key.data == 'connecting':
                    sock.send(head)
                    selector.modify(sock, selectors.EVENT_READ, 'held')
                elif not sock.recv(4096):
                    closed(sock)
            except OSError:
                closed(sock)
        if time.monotonic() >= trickle:
            trickle = time.monotonic() + _TRICKLE_INTERVAL
            for key in list(selector.get_map().values()):
                if key.data == 'held':
                    try:
                        key.fileobj.send(b'X-Slow: 1\r\n')
                    except OSError:
                        closed(key.fileobj)
        while len(selector.get_map()) < count and open_one():
            pass
        if not ready and stats['resolved'] >= count:
            ready = True
            print('ready', flush=True)
    if not ready:
        print('ready', flush=True)
    print('opened %(opened)d closed %(closed)d' % stats, flush=True)


class _Attacker:

    def __init__(self, port, count):
        self.port, self.count = port, count
        self.process = None
        self.stats = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), 'attack',
             str(self.port), str(self.count)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if line.strip() != 'ready':
            self.process.kill()
            raise AssertionError('the attacker did not start: %r' % line)
        time.sleep(_SETTLE)  # its reconnecting in full swing
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            out = self.process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            self.process.kill()
            out = self.process.communicate()[0]
        words = out.split()
        self.stats = dict(zip(words[::2], map(int, words[1::2]),
                              strict=True)) if len(words) == 4 else {}


# -- measuring --------------------------------------------------------------

def _round(base_url, macs):
    """Every client at once; :returns: (request latencies, completion
    times, failures)."""
    results = [None] * len(macs)
    barrier = threading.Barrier(len(macs))

    def client(index):
        barrier.wait()
        start = time.perf_counter()
        try:
            times = _ramdisk_client(base_url, macs[index],
                                    '127.0.1.%d' % (index + 1))
        except (AssertionError, OSError, http.client.HTTPException) as e:
            results[index] = e
        else:
            results[index] = (times, time.perf_counter() - start)

    threads = [threading.Thread(target=client, args=(i,))
               for i in range(len(macs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = [r for r in results if isinstance(r, tuple)]
    return ([s for times, _ in done for _, s in times],
            [total for _, total in done],
            [repr(r) for r in results if not isinstance(r, tuple)])


def _p(values, percent):
    if len(values) < 2:
        return values[0] if values else float('nan')
    return statistics.quantiles(values, n=100, method='inclusive')[
        percent - 1]


def measure(clients=CLIENTS, attack=ATTACK, image_mb=IMAGE_MB,
            rounds=ROUNDS):
    """:returns: for ``'reference'`` and ``'attacked'``: ``requests``
    (seconds each), ``completions`` (seconds each client), ``failed``
    (errors); and ``attacker``: its counts."""
    from nova_bm.conf import CONF
    CONF([], project='nova', default_config_files=[])
    work = tempfile.mkdtemp(prefix='nova-bm-bench-http-abuse-')
    result = {side: {'requests': [], 'completions': [], 'failed': []}
              for side in ('reference', 'attacked')}
    try:
        api = _StandInAPI(*_files(work, image_mb))
        server = _server(work, api)
        base_url = 'http://127.0.0.1:%d' % server.port
        api.base_url = base_url
        server.start()
        try:
            for side in ('reference', 'attacked'):
                attacker = _Attacker(server.port, attack)
                with (attacker if side == 'attacked'
                      else contextlib.nullcontext()):
                    for _ in range(rounds):
                        macs = [api.add_job(i) for i in range(clients)]
                        requests, completions, failed = _round(base_url,
                                                               macs)
                        result[side]['requests'] += requests
                        result[side]['completions'] += completions
                        result[side]['failed'] += failed
                if side == 'attacked':
                    result['attacker'] = attacker.stats
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def run():
    r = measure()
    figures = {}
    for side in ('reference', 'attacked'):
        requests = r[side]['requests']
        figures[side] = (_p(requests, 50), _p(requests, 99))
        print('deploy HTTP abuse, %s: %d requests, p50 %.3f s, p99 %.3f s, '
              'max %.3f s; clients completed %d of %d (slowest %.2f s)%s'
              % (side, len(requests), figures[side][0], figures[side][1],
                 max(requests, default=float('nan')),
                 len(r[side]['completions']), CLIENTS * ROUNDS,
                 max(r[side]['completions'], default=float('nan')),
                 '; failed: %s' % r[side]['failed'][:3]
                 if r[side]['failed'] else ''))
    print('deploy HTTP abuse: the attacker from %s opened %s connections, '
          '%s of them closed by the server' % (
              ATTACKER, r['attacker'].get('opened', '?'),
              r['attacker'].get('closed', '?')))
    p50, p99 = figures['attacked']
    complete = not r['attacked']['failed'] and len(
        r['attacked']['completions']) == CLIENTS * ROUNDS
    return [{
        'work': '%d ramdisks (boot.ipxe, lookup, %d MiB image) beside %d '
                'half-open connections' % (CLIENTS, IMAGE_MB, ATTACK),
        'nova_bm': 'p99 %.3f s (p50 %.3f s), %d/%d done' % (
            p99, p50, len(r['attacked']['completions']), CLIENTS * ROUNDS),
        'reference': 'p99 %.3f s no attack' % figures['reference'][1],
        'ratio': p99 / figures['reference'][1],
        'goal': 'p99 <= %g s, all done' % GOAL_P99,
        'met': p99 <= GOAL_P99 and complete,
    }]


if __name__ == '__main__':
    if sys.argv[1:2] == ['attack']:
        _attack(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.stderr.write('usage: %s attack PORT COUNT (benchmarks/run.py '
                         'runs this benchmark)\n' % sys.argv[0])
        sys.exit(2)
