"""What the BMCs last said: power states from periodic concurrent sweeps.

Nova asks for an instance's power state often (``get_info``) and expects a
cached answer; Nova's ironic driver answers from a node list refreshed each
resource cycle. Here a sweep asks every owned BMC at once through the power
layer's bulk call (bounded parallelism, reused sessions; a dead BMC costs
one timeout and delays no other), in a thread of its own so that Nova's
resource cycle never waits on a BMC.

Callers may rely on:

* ``state(uuid)`` is the last power state a BMC reported (by a sweep or
  by an operation of the driver), or None when its last call failed or it
  was never asked;
* ``failing(uuid)`` is true from a failed call until a later call succeeds,
  and the error is in the node's ``last_error`` in the node database;
* a sweep writes only what changed, in at most two statements;
* ``notify(event_type, node, **extra)``, when given, hears of every power
  state change (``previous_power_state`` in extra) and every BMC that
  starts failing or answers again (:mod:`nova_bm.common.notifications`).
"""

import threading

from oslo_log import log as logging

from nova_bm.db import api as db_api
from nova_bm import exception
from nova_bm.common import notifications

LOG = logging.getLogger(__name__)


class PowerSync:
    """Last known BMC answers for the nodes of one proxy."""

    def __init__(self, power, notify=None):
        self._power = power
        self._notify = notify or (lambda event_type, node, **extra: None)
        self._results = {}
        self._last_read = {}
        self._stop = threading.Event()
        self._thread = None

    # -- answers ----------------------------------------------------------

    def state(self, uuid):
        value = self._results.get(uuid)
        return None if isinstance(value, Exception) else value

    def failing(self, uuid):
        return isinstance(self._results.get(uuid), Exception)

    def error(self, uuid):
        value = self._results.get(uuid)
        return value if isinstance(value, Exception) else None

    # -- updates ------------------------------------------------------------

    def sweep(self, nodes):
        """Ask every node's BMC for its power state, all at once.

        :returns: ``{uuid: state | error}`` for the nodes given.
        """
        results = self._power.get_power_states(nodes)
        self._store({node.uuid: node for node in nodes}, results)
        return results

    def record(self, node, value):
        """Remember what one operation on ``node`` learnt (state or error)."""
        self._store({node.uuid: node}, {node.uuid: value})

    def adopt(self, nodes):
        """Take the power states another process (nova-bm-manage) read
        from these nodes' BMCs and stored in their rows, as if this proxy
        had read them (notified when they changed)."""
        self._store({node.uuid: node for node in nodes},
                    {node.uuid: node.power_state for node in nodes
                     if node.power_state is not None
                     and node.last_error is None})

    def _store(self, nodes, results):
        changed = {}
        events = []
        for uuid, value in results.items():
            node = nodes[uuid]
            before = self._results.get(uuid)
            if isinstance(value, Exception):
                if not isinstance(before, Exception):
                    LOG.warning('BMC of node %(node)s is failing, the node '
                                'is reserved until it answers: %(error)s',
                                {'node': node.name, 'error': value})
                    events.append((notifications.BMC_FAILING, node,
                                   {'last_error': str(value)}))
                # Written when new, or when its fault was cleared (an
                # operator took the node out of maintenance) while the BMC
                # still fails the same way.
                if str(value) != node.last_error or (
                        getattr(node, 'fault', None) is None
                        and exception.bmc_fault(value)):
                    changed[uuid] = value
            else:
                if isinstance(before, Exception):
                    LOG.info('BMC of node %s answers again', node.name)
                    events.append((notifications.BMC_RECOVERED, node,
                                   {'last_error': None, 'power_state': value}))
                # The last state read, across an outage too (the row says
                # None, unknown, while the BMC fails).
                previous = (before if isinstance(before, str)
                            else self._last_read.get(uuid, node.power_state))
                if previous is not None and value != previous:
                    events.append((notifications.POWER_STATE_CHANGED, node,
                                   {'power_state': value,
                                    'previous_power_state': previous}))
                # The row may be older than what this proxy knew (one row
                # object serves every call of a deploy): written whenever
                # either differs, so the database follows.
                if (value != node.power_state or value != previous
                        or node.last_error is not None):
                    changed[uuid] = value
            self._results[uuid] = value
            if not isinstance(value, Exception):
                self._last_read[uuid] = value
        if changed:
            db_api.record_power_states(changed)
            # The row object now says what the database says: the next
            # read of the same state (a deploy polls its node's power)
            # writes nothing.
            for uuid, value in changed.items():
                if not isinstance(value, Exception):
                    nodes[uuid].power_state = value
                    nodes[uuid].last_error = None
        for event_type, node, extra in events:
            self._notify(event_type, node, **extra)

    # -- the periodic sweep --------------------------------------------------

    def start(self, interval, sweep):
        """Call ``sweep()`` every ``interval`` s in a thread.

        Under eventlet monkey-patching the thread is a green thread, as
        every other thread of nova-compute; the power layer serves both.
        """
        if interval <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval, sweep),
            name='nova-bm-power-sync', daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def _run(self, interval, sweep):
        while not self._stop.wait(interval):
            try:
                sweep()
            except exception.DatabaseUnavailable as e:
                LOG.warning('Power state sweep skipped: %s', e)
            except Exception:
                LOG.exception('Power state sweep failed')
