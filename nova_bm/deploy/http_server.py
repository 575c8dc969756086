"""The proxy's deploy HTTP server, run by nova-compute.

It serves what a node needs to deploy, and nothing else:

* ``/boot.ipxe`` and ``/nodes/<mac>.ipxe``: the scripts of
  :mod:`nova_bm.deploy.ipxe`, from ``[baremetal] deploy_http_root`` (any
  well-formed MAC without a script gets the same "nothing here" script);
* ``/deploy/kernel`` and ``/deploy/ramdisk``: the deploy ramdisk;
* ``/api/v1/…``: the ramdisk's API (:mod:`nova_bm.deploy.ramdisk_api`),
  the image and the config drive included, served to its job's token
  holder only (with ``sendfile``: many nodes read at once).

None of what it serves without a token is a secret. No directory is
listed and no path is joined from the request: every route maps to a file
the proxy chose. Request bodies above ``ramdisk_api.MAX_BODY`` (the disks
report: ``disk_facts.MAX_BODY``) are refused
(413) unread. The server runs in a thread of nova-compute, a green thread
under eventlet, and handles each request in a thread of its own; nothing
it does holds a database connection between requests. Every string a
client sent is escaped before it reaches a log line.
"""

import errno
import os
import re
import selectors
import socket
import threading
import time

from oslo_log import log as logging

from nova_bm.common import addresses
from nova_bm.deploy import disk_facts
from nova_bm.deploy import erase_report
from nova_bm.deploy import http_limits
from nova_bm.deploy import ipxe
from nova_bm.deploy import ramdisk_api
from nova_bm.inspection import inventory as inventory_report
from nova_bm.common import log_throttle
from nova_bm.common import safe_text

LOG = logging.getLogger(__name__)

_SCRIPT_RE = re.compile(r'/nodes/([0-9a-f]{2}(?:-[0-9a-f]{2}){5})\.ipxe\Z')
_CONFIGDRIVE_RE = re.compile(r'/api/v1/configdrive/([0-9])\Z')
_MAX_PATH = 512
#: Largest body of each POST route.
_MAX_BODIES = {'/api/v1/lookup': ramdisk_api.MAX_BODY,
               '/api/v1/heartbeat': ramdisk_api.MAX_BODY,
               '/api/v1/done': erase_report.MAX_BODY,
               '/api/v1/disks': disk_facts.MAX_BODY,
               '/api/v1/inventory': inventory_report.MAX_BODY}
# Errors of the API (bugs a client found) are logged once a minute a route.
_API_ERRORS = log_throttle.Throttle(keys=16)
# sendfile in pieces: a slow node does not hold one huge call.
_SENDFILE_CHUNK = 8 << 20


class _Server(http_limits.LimitedServer):
    """Bounded in time and connections (:mod:`http_limits`); its listen
    backlog is large, so that connections refused one by one in a flood
    do not push legitimate ones into SYN retries."""

    def __init__(self, address, files, api):
        self.files = files
        self.api = api
        if ':' in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)


class _Handler(http_limits.LimitedHandler):
    server_version = 'nova-bm'
    sys_version = ''
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        # The request line and headers are the client's: escaped, so that
        # no terminal escape or newline of theirs reaches a log reader.
        LOG.debug('deploy HTTP %s: %s', self.client_address[0],
                  safe_text.escape(fmt % args, limit=512))

    # -- routing ---------------------------------------------------------

    def do_GET(self):
        self._route(head=False)

    def do_HEAD(self):
        self._route(head=True)

    def _route(self, head):
        path = self.path.split('?', 1)[0]
        if len(path) > _MAX_PATH:
            return self._error(414, 'path too long')
        if path == '/api/v1/config':
            return self._api(self.server.api.config)
        if path == '/api/v1/image':
            return self._image(head)
        match = _CONFIGDRIVE_RE.match(path)
        if match:
            return self._configdrive(int(match.group(1)), head)
        if path == '/boot.ipxe':
            return self._file(os.path.join(self.server.files.root,
                                           'boot.ipxe'), head)
        if path == '/' + ipxe.UNKNOWN_SCRIPT_NAME:
            return self._script_file(ipxe.UNKNOWN_SCRIPT_NAME, head)
        match = _SCRIPT_RE.match(path)
        if match:
            return self._script(match.group(1).replace('-', ':'), head)
        if path == '/deploy/kernel':
            return self._file(self.server.files.kernel, head)
        if path == '/deploy/ramdisk':
            return self._file(self.server.files.ramdisk, head)
        return self._error(404, 'not found')

    def do_POST(self):
        path = self.path.split('?', 1)[0]
        if path not in _MAX_BODIES:
            return self._error(404, 'not found')
        try:
            length = int(self.headers.get('Content-Length', '0'))
        except ValueError:
            return self._error(400, 'bad Content-Length')
        if length < 0 or length > _MAX_BODIES[path]:
            self.close_connection = True
            return self._error(413, 'body too large')
        try:
            body = self.read_body(length)
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            return
        content_type = self.headers.get('Content-Type')
        api = self.server.api
        if path == '/api/v1/lookup':
            return self._answer(lambda: api.lookup(
                body, content_type, self._address))
        if path == '/api/v1/heartbeat':
            return self._api(api.heartbeat)
        if path == '/api/v1/disks':
            return self._api(lambda token, address: api.disks(
                token, body, address))
        if path == '/api/v1/inventory':
            return self._api(lambda token, address: api.inventory(
                token, body, address))
        return self._api(lambda token, address: api.done(
            token, body, content_type, address))

    @property
    def _address(self):
        """The client's IP address (an IPv4 client of an IPv6 socket as
        IPv4, as the ramdisk's lookup and later calls must compare)."""
        return str(addresses.peer_ip(self.client_address))

    # -- answers ---------------------------------------------------------

    def _api(self, call):
        """Answer ``call(token, address)`` for the token holder."""
        token = self.headers.get(ramdisk_api.TOKEN_HEADER, '').strip()
        return self._answer(lambda: call(token, self._address))

    def _call(self, call):
        """``(True, what call() returned)``, or ``(False, None)`` once the
        error was answered: a refusal with its status, anything else (a
        bug a client found, the database gone) with 500 and its traceback
        logged once a minute, not once a request."""
        try:
            return True, call()
        except ramdisk_api.Refused as e:
            self._error(e.status, e.reason)
        except Exception:
            skipped = _API_ERRORS.admit(self.path.split('?', 1)[0][:64])
            if skipped is not None:
                LOG.exception('Deploy API call %s failed%s',
                              safe_text.escape(self.path, limit=512),
                              log_throttle.not_logged(skipped))
            self._error(500, 'internal error')
        return False, None

    def _answer(self, call):
        ok, text = self._call(call)
        if not ok:
            return
        if text is None:
            self.send_response(204)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        self._send(200, text)

    def _image(self, head):
        token = self.headers.get(ramdisk_api.TOKEN_HEADER, '').strip()
        try:
            name, on_sent = self.server.api.image(token, self._address)
        except ramdisk_api.Refused as e:
            return self._error(e.status, e.reason)
        if self._file(os.path.join(self.server.files.images, name), head):
            on_sent()

    def _configdrive(self, index, head):
        token = self.headers.get(ramdisk_api.TOKEN_HEADER, '').strip()
        ok, found = self._call(lambda: self.server.api.configdrive(
            token, self._address, index))
        if not ok:
            return
        path, data = found
        if path is not None:
            return self._file(path, head)
        self._bytes(data, head)

    def _script(self, mac, head):
        return self._script_file(ipxe.script_name(mac), head)

    def _script_file(self, name, head):
        path = os.path.join(self.server.files.root, name)
        if os.path.exists(path):
            return self._file(path, head)
        # The same answer for every MAC without a script, enrolled or not.
        self._bytes(ipxe.NO_SCRIPT.encode('ascii'), head)

    def _bytes(self, data, head):
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Cache-Control', 'no-store')
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _send(self, status, text, content_type='text/plain; charset=utf-8'):
        data = text.encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Cache-Control', 'no-store')
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status, reason):
        self._send(status, reason + '\n')

    def _file(self, path, head):
        """Send a file whole. :returns: whether all of it was sent (a
        HEAD request never sends it)."""
        try:
            f = open(path, 'rb')
        except OSError:
            self._error(404, 'not found')
            return False
        with f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header('Content-Type', 'application/octet-stream')
            self.send_header('Content-Length', str(size))
            self.send_header('Cache-Control', 'no-store')
            self.end_headers()
            if head:
                return False
            self.wfile.flush()
            try:
                sent = _sendfile(self.connection, f, size)
            except OSError as e:
                if e.errno not in (errno.EPIPE, errno.ECONNRESET):
                    raise
                sent = 0
            if sent < size:
                self.close_connection = True
                return False
            return True


#: A download's slowest average rate, in bytes a second, past its first
#: ``stall_timeout``: a client cannot hold a connection (a thread and a
#: descriptor) by reading a trickle.
MIN_RATE = 128 * 1024


def _sendfile(sock, f, size, stall_timeout=60.0, min_rate=MIN_RATE):
    """Send ``size`` bytes of ``f`` with ``os.sendfile``: the kernel
    copies from the page cache, the data never enters Python.

    The handler's socket has a timeout, so its descriptor is non-blocking:
    a full send buffer is a ``BlockingIOError``, and this waits with a
    selector (green under eventlet; epoll in native threads, so any
    descriptor number works). A client that reads nothing for
    ``stall_timeout`` seconds is dropped, and so is one that has not read
    it all within ``stall_timeout + size / min_rate`` seconds.
    :returns: the bytes sent.
    """
    offset = 0
    deadline = time.monotonic() + stall_timeout + size / min_rate
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        while offset < size:
            try:
                sent = os.sendfile(sock.fileno(), f.fileno(), offset,
                                   min(_SENDFILE_CHUNK, size - offset))
            except BlockingIOError:
                wait = min(stall_timeout, deadline - time.monotonic())
                if wait <= 0 or not selector.select(wait):
                    break
                continue
            if not sent:
                break
            offset += sent
    return offset


class Files:
    """Where the server's files are: the scripts' root, the deploy
    ramdisk, the image cache."""

    def __init__(self, root, kernel, ramdisk, images):
        self.root = root
        self.kernel = kernel
        self.ramdisk = ramdisk
        self.images = images


class DeployHTTPServer:
    """Start, address and stop; ``port`` 0 picks a free port."""

    def __init__(self, host, port, files, api):
        self._server = _Server((host, port), files, api)
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1]

    def start(self):
        # A short poll: stop() returns within it, and nova-compute's
        # graceful shutdown leaves cleanup_host little time.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={'poll_interval': 0.05},
            name='nova-bm-deploy-http', daemon=True)
        self._thread.start()
        LOG.info('Deploy HTTP server listening on %s:%d',
                 *self._server.server_address[:2])

    def stop(self):
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
