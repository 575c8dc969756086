"""The consoles of the deployed nodes: one SOL owner per node.

The driver opens a node's console when its instance is about to boot
from its disk (so the console log has the boot from its first line) and
closes it when the instance goes. Each open console is one
:class:`~nova_bm.console.sol_client.SolClient` that feeds a ring buffer
(``get_console_output``) and, once Nova asks for it, a TCP endpoint
(``get_serial_console``, for nova-serialproxy). What a caller may rely
on:

* at most ``[baremetal] console_max_sessions`` SOL sessions at once;
  nodes beyond it wait their turn (first opened, first served) with an
  empty log and no endpoint;
* an endpoint keeps its port until the console is closed, so Nova's
  ``validate_console_port`` gets the same answer for the instance's life;
  the port comes from Nova's own allocator (``[serial_console]
  port_range``) and goes back to it at close;
* a console failing on the BMC side never fails the caller: the session
  is opened again in the background (see ``SolClient``).
"""

import collections
import threading

from nova.console import serial as nova_serial
from nova import exception as nova_exception
from oslo_log import log as logging

from nova_bm.conf import CONF
from nova_bm.console import ring
from nova_bm.console import sol_client
from nova_bm.console import tcp
from nova_bm.power import ipmi
from nova_bm.power import ipmi_loop

LOG = logging.getLogger(__name__)


def _bmc_fields(node):
    return (node.ipmi_address, node.ipmi_port, node.ipmi_username,
            node.ipmi_password)


class _Console:

    def __init__(self, node, target, log_bytes):
        self.node_uuid = node.uuid
        self.name = node.name
        # The node's BMC fields as they were, to tell a change cheaply.
        self.bmc_fields = _bmc_fields(node)
        self.target = target
        self.log = ring.RingBuffer(log_bytes)
        self.client = None
        self.port = None


class ConsoleManager:
    """Every console of this nova-compute; safe from any thread."""

    def __init__(self, loop=None):
        self._loop = loop
        self._lock = threading.Lock()
        self._consoles = {}
        self._waiting = collections.deque()   # node uuids beyond the bound
        self._server = tcp.ConsoleServer()

    @property
    def enabled(self):
        return CONF.baremetal.console_enabled

    def open(self, node, wait=0):
        """Open ``node``'s console; :returns: whether its SOL session is
        active, after waiting up to ``wait`` s.

        A no-op when it is open with the node's BMC address and
        credentials; when those changed (``nova-bm-manage node update``)
        the session is opened again with the new ones, the log kept.
        """
        if not self.enabled:
            return False
        console = self._consoles.get(node.uuid)
        if console is not None and console.bmc_fields == _bmc_fields(node):
            # The resource cycle's call for every deployed node: no work.
            return self._active(console.client, wait)
        target = ipmi.bmc_target(node)
        stale = None
        with self._lock:
            console = self._consoles.get(node.uuid)
            if console is None:
                console = _Console(node, target,
                                   CONF.baremetal.console_log_bytes)
                self._consoles[node.uuid] = console
                self._start_or_queue(console)
            else:
                moved = console.target.key != target.key
                console.bmc_fields = _bmc_fields(node)
                console.target = target
                if moved and console.client is not None:
                    stale = console.client
                    console.client = self._new_client(console)
            client = console.client
        if stale is not None:
            stale.stop()
            client.start()
        return self._active(client, wait)

    @staticmethod
    def _active(client, wait):
        if client is None:
            return False
        if wait:
            client.settled.wait(wait)
        return client.active.is_set()

    def _start_or_queue(self, console):
        # Under self._lock.
        running = sum(1 for c in self._consoles.values()
                      if c.client is not None)
        if running >= CONF.baremetal.console_max_sessions:
            LOG.warning('Serial console of node %(node)s waits: '
                        '%(count)d consoles are open ([baremetal] '
                        'console_max_sessions)',
                        {'node': console.name, 'count': running})
            self._waiting.append(console.node_uuid)
            return
        console.client = self._new_client(console)
        console.client.start()

    def _new_client(self, console):
        return sol_client.SolClient(
            self._loop or ipmi_loop.get_loop(), console.target,
            self._output(console), timeout=CONF.baremetal.ipmi_timeout,
            name=console.name)

    def _output(self, console):
        def output(characters):
            console.log.write(characters)
            if console.port is not None:
                self._server.send(console.node_uuid, characters)
        return output

    def close(self, node_uuid):
        """Close the console: SOL deactivated, endpoint closed, its port
        given back, log dropped. No-op if it is not open."""
        with self._lock:
            console = self._consoles.pop(node_uuid, None)
            if console is None:
                return
            if node_uuid in self._waiting:
                self._waiting.remove(node_uuid)
            freed = console.client is not None
            while freed and self._waiting:
                waiting = self._consoles.get(self._waiting.popleft())
                if waiting is not None:
                    self._start_or_queue(waiting)
                    break
        if console.client is not None:
            console.client.stop()
        if console.port is not None:
            self._server.close(node_uuid)
            nova_serial.release_port(
                CONF.serial_console.proxyclient_address, console.port)

    def close_all(self):
        for node_uuid in list(self._consoles):
            self.close(node_uuid)

    def close_others(self, node_uuids):
        """Close every console but those of ``node_uuids``."""
        for node_uuid in list(self._consoles):
            if node_uuid not in node_uuids:
                self.close(node_uuid)

    def output(self, node_uuid):
        """The console log kept for the node (bytes).

        :raises: ConsoleNotAvailable when the node's console is not open.
        """
        console = self._consoles.get(node_uuid)
        if console is None:
            raise nova_exception.ConsoleNotAvailable()
        return console.log.read()

    def serial_endpoint(self, node_uuid):
        """``(host, port)`` of the node's TCP console, opened on first use.

        :raises: ConsoleTypeUnavailable when the console is not open or
            waits for a SOL slot; SocketPortRangeExhaustedException when
            ``[serial_console] port_range`` is used up.
        """
        host = CONF.serial_console.proxyclient_address
        with self._lock:
            console = self._consoles.get(node_uuid)
            if console is None or console.client is None:
                raise nova_exception.ConsoleTypeUnavailable(
                    console_type='serial')
            if console.port is None:
                port = nova_serial.acquire_port(host)
                try:
                    self._server.open(node_uuid, host, port,
                                      console.client.write)
                except OSError:
                    nova_serial.release_port(host, port)
                    raise
                console.port = port
                LOG.info('Serial console of node %(node)s on %(host)s:'
                         '%(port)d', {'node': console.name, 'host': host,
                                      'port': port})
            return host, console.port
