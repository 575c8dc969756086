"""Image serving: the proxy's deploy HTTP server against nginx.

Eight deploy ramdisks downloading their image at once is the proxy's
heaviest HTTP work. Measured in the same run, the same file (512 MiB;
``NOVA_BM_BENCH_IMAGE_MB``), the same client (8 ``curl`` processes at once,
writing to /dev/null), on loopback:

* nova-bm: ``nova_bm.deploy.http_server`` as the driver runs it, the image
  reached by its deploy's image key (checked against the node database, a
  SQLite file), sent with ``os.sendfile``;
* reference: nginx (Debian's package) serving the file from the same
  directory, ``sendfile on``.

The two alternate, ``NOVA_BM_BENCH_IMAGE_ROUNDS`` (3) rounds each; medians
of the throughput are compared. Goal (issue "ramdisk and lab"): at least
0.9x nginx's throughput.
"""

import hashlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

MEGABYTES = int(os.environ.get('NOVA_BM_BENCH_IMAGE_MB', 512))
ROUNDS = int(os.environ.get('NOVA_BM_BENCH_IMAGE_ROUNDS', 3))
CLIENTS = 8
GOAL_RATIO = 0.9
_NGINX_CONF = '''\
daemon off;
user root;
worker_processes auto;
pid %(dir)s/nginx.pid;
error_log %(dir)s/nginx-error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path %(dir)s/tmp;
    proxy_temp_path %(dir)s/tmp;
    fastcgi_temp_path %(dir)s/tmp;
    uwsgi_temp_path %(dir)s/tmp;
    scgi_temp_path %(dir)s/tmp;
    server {
        listen 127.0.0.1:%(port)d;
        root %(root)s;
    }
}
'''


def _tool(name, package):
    path = shutil.which(name, path=os.environ.get('PATH', '') +
                        ':/usr/sbin:/sbin')
    if path is None:
        raise AssertionError('%s is not installed (Debian package %s)'
                             % (name, package))
    return path


def _free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def _wait_listening(port, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(('127.0.0.1', port), 1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def download(url, size, headers=()):
    """CLIENTS concurrent downloads of ``url``; :returns: seconds."""
    curl = _tool('curl', 'curl')
    start = time.perf_counter()
    extra = [arg for header in headers for arg in ('-H', header)]
    clients = [subprocess.Popen(
        [curl, '-sS', '-o', '/dev/null', '-w', '%{size_download}', *extra,
         url],
        stdout=subprocess.PIPE, text=True) for _ in range(CLIENTS)]
    sizes = [int(client.communicate()[0] or 0) for client in clients]
    elapsed = time.perf_counter() - start
    if sizes != [size] * CLIENTS:
        raise AssertionError('short downloads from %s: %s' % (url, sizes))
    return elapsed


class NovaBmServer:
    """The proxy's deploy HTTP server with one deploy job whose image is
    ``name`` in ``images``, its token handed out to 127.0.0.1 (the
    clients show it, as the deploy ramdisk does)."""

    def __init__(self, work, images, name, size, sha256):
        from nova_bm.conf import CONF
        from nova_bm.db import api as db_api
        from nova_bm.db import migration
        from nova_bm.deploy import http_server
        from nova_bm.deploy import ramdisk_api
        from nova_bm.deploy import tokens
        from nova_bm.enrolment import node_spec
        self._conf = CONF
        CONF.set_override('connection', 'sqlite:///%s/nodes.sqlite' % work,
                          group='baremetal_database')
        self._db = db_api
        migration.upgrade()
        db_api.create_nodes([node_spec.new_node(dict(
            name='bench', service_host='proxy', cpus=1, memory_mb=512,
            local_gb=1, ipmi_address='127.0.0.1', ipmi_username='admin',
            ipmi_password='pw', deploy_interface='image'),
            ['52:54:00:00:0b:01'])])
        from oslo_utils import timeutils
        job = db_api.start_job('bench', 'deploy', db_api.DEPLOYING,
                               image_file=name, image_size=size,
                               image_sha256=sha256)
        token = tokens.new_token()
        db_api.hand_out_token(job.id, tokens.digest(token), '127.0.0.1',
                              timeutils.utcnow())
        self.server = http_server.DeployHTTPServer(
            '127.0.0.1', 0, http_server.Files(work, None, None, images),
            ramdisk_api.RamdiskAPI(None))
        self.url = 'http://127.0.0.1:%d/api/v1/image' % self.server.port
        self.headers = ('%s: %s' % (ramdisk_api.TOKEN_HEADER, token),)

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop()
        self._db.dispose()
        self._conf.clear_override('connection', group='baremetal_database')


class Nginx:

    def __init__(self, work, images, name):
        self.work = work
        self.port = _free_port()
        os.makedirs(os.path.join(work, 'tmp'), exist_ok=True)
        self.conf = os.path.join(work, 'nginx.conf')
        with open(self.conf, 'w') as f:
            f.write(_NGINX_CONF % {'dir': work, 'port': self.port,
                                   'root': images})
        self.url = 'http://127.0.0.1:%d/%s' % (self.port, name)
        self.headers = ()
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [_tool('nginx', 'nginx'), '-c', self.conf, '-p', self.work],
            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_listening(self.port)
        except OSError:
            self.process.kill()
            raise AssertionError('nginx did not start: %s'
                                 % self.process.communicate()[1][-2000:])
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def measure(megabytes=MEGABYTES, rounds=ROUNDS):
    """:returns: ``{'nova_bm': [s, …], 'nginx': [s, …], 'bytes': n}``."""
    work = tempfile.mkdtemp(prefix='nova-bm-bench-images-')
    try:
        images = os.path.join(work, 'images')
        os.makedirs(images)
        name = 'image.raw'
        digest = hashlib.sha256()
        with open(os.path.join(images, name), 'wb') as f:
            block = os.urandom(1 << 20)
            for index in range(megabytes):
                chunk = index.to_bytes(8, 'little') + block[8:]
                digest.update(chunk)
                f.write(chunk)
        size = megabytes << 20
        times = {'nova_bm': [], 'nginx': []}
        with NovaBmServer(work, images, name, size,
                          digest.hexdigest()) as ours, \
                Nginx(work, images, name) as nginx:
            # Both read the file once: page cache.
            download(ours.url, size, ours.headers)
            download(nginx.url, size)
            for round_ in range(rounds):
                sides = [('nova_bm', ours), ('nginx', nginx)]
                if round_ % 2:
                    sides.reverse()
                for side, server in sides:
                    times[side].append(download(server.url, size,
                                                server.headers))
        times['bytes'] = size * CLIENTS
        return times
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run():
    times = measure()
    ours = times['bytes'] / statistics.median(times['nova_bm']) / 2 ** 20
    theirs = times['bytes'] / statistics.median(times['nginx']) / 2 ** 20
    ratio = ours / theirs
    print('image serving, %d x %d MiB at once: nova-bm %s s, nginx %s s '
          '(median of %d), %.0f MiB/s against %.0f MiB/s, ratio %.2fx' % (
              CLIENTS, MEGABYTES,
              ', '.join('%.2f' % t for t in times['nova_bm']),
              ', '.join('%.2f' % t for t in times['nginx']), ROUNDS,
              ours, theirs, ratio))
    return [{'work': 'image serving, %d x %d MiB downloads at once'
                     % (CLIENTS, MEGABYTES),
             'nova_bm': '%.0f MiB/s' % ours,
             'reference': '%.0f MiB/s nginx' % theirs,
             'ratio': ratio, 'goal': '>= %.2fx' % GOAL_RATIO,
             'met': ratio >= GOAL_RATIO}]
