"""One side of the inspection measurement, in a process of its own.

``python -m benchmarks.inspection_case SIDE NODES CONCURRENCY BMC_BASE
HTTP_PORT [--profile]`` prints JSON on its last line. The fake BMCs
(``BMC_BASE`` …, one per node, ``nova_bm.testing.fakebmc`` with
``simulate``) run in the caller's fleet, their simulated machines booting
from ``http://127.0.0.1:HTTP_PORT``, where this process serves:

``proxy``
    nova-bm: NODES nodes enrolled by their BMC alone (``node_spec.new_node``
    with the BMC fields, ``enroll``) in a SQLite node database of a
    temporary directory; a :class:`nova_bm.proxy.manager.Proxy` started as
    ``Proxy.start`` does for inspections (its deploy HTTP server with the
    real ramdisk API on HTTP_PORT, a reconciliation, a power sweep), with
    ``[baremetal] max_concurrent_inspections`` CONCURRENCY. Every node is
    moved to ``inspecting`` as ``nova-bm-manage node inspect`` does, then
    the proxy reconciles as Nova's resource cycle has it do (at once, then
    every :data:`CYCLE` seconds: a node whose job could not start waits
    for the next): timed until no node is ``inspecting``.
``floor``
    The same exchanges without the proxy's bookkeeping (after the same
    power sweep, which opens a session with every BMC): per node, at most
    CONCURRENCY at once, the BMC's system GUID, power off, boot device PXE
    (persistent), power on (the same ``IPMIPower``, the same IPMI loop);
    a bare stdlib HTTP server answers ``unknown.ipxe``, the lookup (by
    system UUID, a random token) and the inventory (parsed by
    ``nova_bm.inspection.inventory.parse``, as the proxy does, kept in a
    dict); then the power state is read until off, at the proxy's
    intervals. No database, no job, no state.

Both: ``seconds`` (wall), ``cpu`` (this process's user + system seconds
over that time: the fleet and its simulated machines run elsewhere),
``threads_cpu`` (those seconds by kind of thread), ``peak_threads``
(``threading.active_count()`` sampled every 10 ms), ``per_node`` (median
seconds of one node, start to end), ``inspected``, ``failed`` and
``errors`` (a few failures' reasons); for the proxy also ``statements``
(SQL statements sent to the node database in that time: the process's
only database), ``transactions`` (by the nova_bm functions that opened
them), ``cycles``, ``states`` (the nodes' provision states after) and
``errors_logged`` (ERROR log records, by logger). ``--profile``:
``profile``, the functions of most CPU seconds (cProfile in every thread,
on each thread's CPU clock; it slows the process several times, and
inflates the time in calls that release the GIL).

The proxy's log (INFO, as nova-compute's by default) and its node
database are kept when ``NOVA_BM_BENCH_INSPECT_KEEP`` is set (the
directory is said on stderr).
"""

import collections
import concurrent.futures
import cProfile
import http.server
import json
import os
import pstats
import re
import resource
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import types
import urllib.parse

HOST = 'bench-proxy'
USERNAME = 'admin'
PASSWORD = 'bench-pw'  # noqa: S105 (the fake BMCs')
#: Longest pause between power state reads (both sides).
POLL_INTERVAL = 0.2
#: Bounds a whole run.
DEADLINE = 1800
#: ``[baremetal] inspect_timeout`` (1800 s by default): a machine booted
#: in 1 s reports within seconds; one that never will (its lookup was
#: refused) fails after this, not after half an hour.
INSPECT_TIMEOUT = 120
SAMPLE_INTERVAL = 0.01
#: Seconds between two resource cycles of Nova (its default), each of
#: which reconciles: starts the inspections still to run.
CYCLE = 60


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Sampler:
    """The most threads alive at once, sampled in a thread of its own."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(SAMPLE_INTERVAL):
            self.peak = max(self.peak, threading.active_count())


class ThreadClock:
    """CPU seconds of this process's threads from :meth:`start` on, by
    kind of thread (its name, digits as N): those that end are read as
    they end, the others from ``/proc`` at :meth:`by_kind`."""

    def __init__(self):
        self._ended = []
        self._base = {}
        original = threading.Thread.run
        ended = self._ended

        def run(thread):
            try:
                original(thread)
            finally:
                ended.append((thread.native_id, thread.name,
                              time.thread_time()))

        threading.Thread.run = run

    @staticmethod
    def _proc_cpu(native_id):
        try:
            with open('/proc/self/task/%d/stat' % native_id) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf(
            'SC_CLK_TCK')

    def start(self):
        del self._ended[:]
        self._base = {thread.native_id: self._proc_cpu(thread.native_id)
                      or 0.0 for thread in threading.enumerate()}

    def by_kind(self):
        found = collections.Counter()
        seen = set()
        for native_id, name, cpu in list(self._ended):
            seen.add(native_id)
            found[_kind(name)] += cpu - self._base.get(native_id, 0.0)
        for thread in threading.enumerate():
            cpu = self._proc_cpu(thread.native_id)
            if cpu is not None and thread.native_id not in seen:
                found[_kind(thread.name)] += cpu - self._base.get(
                    thread.native_id, 0.0)
        return [(kind, round(cpu, 3)) for kind, cpu in found.most_common()
                if cpu >= 0.005]


def _kind(name):
    return re.sub(r'[0-9]+', 'N', name)


class Profiler:
    """cProfile of every thread started from now on (and of the caller's
    between :meth:`start` and :meth:`stop`), timed by each thread's CPU
    clock: where the process's CPU seconds went."""

    def __init__(self):
        self._profiles = []
        self._main = None
        original = threading.Thread.run
        profiles = self._profiles

        def run(thread):
            profile = cProfile.Profile(time.thread_time)
            profiles.append(profile)
            profile.enable()
            try:
                original(thread)
            finally:
                profile.disable()

        threading.Thread.run = run

    def start(self):
        self._main = cProfile.Profile(time.thread_time)
        self._profiles.append(self._main)
        self._main.enable()

    def stop(self):
        self._main.disable()

    def top(self, count=30, path=None):
        """``{'self': [...], 'total': [...]}``: the functions of most CPU
        seconds, by their own and with what they call, as lines (all of
        them in a pstats file at ``path``, if given)."""
        stats = pstats.Stats(*self._profiles)
        if path:
            stats.dump_stats(path)
        found = {}
        for key, order in (('self', 2), ('total', 3)):
            entries = sorted(stats.stats.items(),
                             key=lambda item: item[1][order], reverse=True)
            found[key] = ['%.3f s %.3f s %8d %s:%d(%s)' % (
                value[2], value[3], value[1], os.path.basename(name[0]),
                name[1], name[2]) for name, value in entries[:count]]
        return found


def configure(workdir, http_port, concurrency):
    from nova_bm.conf import CONF

    CONF([], project='nova', default_config_files=[])
    CONF.set_override('host', HOST)
    CONF.set_override('state_path', workdir)
    for name, value in {
            'deploy_http_bind': '127.0.0.1:%d' % http_port,
            'deploy_http_url': 'http://127.0.0.1:%d' % http_port,
            'deploy_http_root': os.path.join(workdir, 'http'),
            'image_cache_dir': os.path.join(workdir, 'images'),
            'ramdisk_min_boot_time': 0,
            'inspect_timeout': INSPECT_TIMEOUT,
            'max_concurrent_inspections': concurrency,
            'power_state_poll_interval': POLL_INTERVAL}.items():
        CONF.set_override(name, value, group='baremetal')
    CONF.set_override('connection', 'sqlite:///%s' % os.path.join(
        workdir, 'nodes.sqlite'), group='baremetal_database')
    return CONF


def bmc_node(port, boot_mode):
    """A node-like object for the fake BMC on ``port`` (the floor's)."""
    return types.SimpleNamespace(
        uuid=str(port), name='bench-%d' % port, ipmi_address='127.0.0.1',
        ipmi_port=port, ipmi_username=USERNAME, ipmi_password=PASSWORD,
        boot_mode=boot_mode)


# -- nova-bm -------------------------------------------------------------


class StatementCounter:
    """SQL statements sent to any database of this process (the node
    database is the only one) while counting; and transactions, by the
    nova_bm functions that opened them (the first three on the stack
    outside ``nova_bm.db.session``)."""

    def __init__(self):
        import sqlalchemy as sa

        self.count = 0
        self.transactions = collections.Counter()
        self.counting = False
        sa.event.listen(sa.engine.Engine, 'before_cursor_execute',
                        self._seen)

    def _seen(self, conn, cursor, statement, *args):
        if not self.counting:
            return
        self.count += 1
        # A transaction's first statement; a SQLite writer's BEGIN
        # IMMEDIATE follows it (nova_bm.db.session).
        if statement == 'BEGIN':
            self.transactions[_opened_by(sys._getframe(1))] += 1


def _opened_by(frame):
    names = []
    while frame is not None and len(names) < 3:
        path = frame.f_code.co_filename
        if '/nova_bm/' in path and not path.endswith('/db/session.py'):
            names.append('%s.%s' % (os.path.basename(path)[:-3],
                                    frame.f_code.co_name))
        frame = frame.f_back
    return ' < '.join(names) or '?'


def proxy_side(nodes, concurrency, base_port, http_port, workdir, clock,
               profiler=None):
    counter = StatementCounter()
    configure(workdir, http_port, concurrency)
    logged = logging_to(os.path.join(workdir, 'proxy.log'))
    from oslo_utils import timeutils

    from nova_bm.cli import lifecycle
    from nova_bm.common import states
    from nova_bm.db import api as db_api
    from nova_bm.db import migration
    from nova_bm.enrolment import node_spec
    from nova_bm.proxy import manager

    migration.upgrade()
    specs = [node_spec.new_node({
        'name': 'bench-%d' % port, 'service_host': HOST,
        'resource_class': 'baremetal', 'ipmi_address': '127.0.0.1',
        'ipmi_port': port, 'ipmi_username': USERNAME,
        'ipmi_password': PASSWORD, 'provision_state': states.ENROLL})
        for port in range(base_port, base_port + nodes)]
    db_api.create_nodes(specs)
    proxy = manager.Proxy()
    # What Proxy.start does for inspections: its deploy server, a
    # reconciliation, a power sweep (no message bus, no periodic power
    # sync: neither is part of an inspection).
    proxy.inspections.reset()
    proxy.deploys.start()
    proxy.sync.sweep(proxy.cycle.reconcile())
    # nova-bm-manage node inspect, node by node, as its command does.
    request = {'requested_at': timeutils.utcnow().isoformat(),
               'overwrite': False}
    for node in db_api.list_nodes(service_host=HOST):
        db_api.change_provision_state(
            node.uuid, lifecycle.INSPECT_FROM, states.INSPECTING,
            'benchmark', maintenance=False, last_inspection=request)
    try:
        with Sampler() as sampler:
            counter.counting = True
            if profiler:
                profiler.start()
            clock.start()
            cpu, start = _cpu(), time.monotonic()
            cycles = _until_inspected(proxy, counter, start)
            seconds, cpu = time.monotonic() - start, _cpu() - cpu
            threads_cpu = clock.by_kind()
            if profiler:
                profiler.stop()
            counter.counting = False
    finally:
        proxy.stop()
    found = db_api.list_nodes(service_host=HOST)
    tally = collections.Counter(node.provision_state for node in found)
    durations = []
    for node in found:
        record = node.last_inspection or {}
        if record.get('started_at') and record.get('finished_at'):
            durations.append(_iso_seconds(record['finished_at'])
                             - _iso_seconds(record['started_at']))
    result = {'seconds': seconds, 'cpu': cpu, 'peak_threads': sampler.peak,
              'statements': counter.count, 'cycles': cycles,
              'threads_cpu': threads_cpu,
              'errors_logged': dict(logged),
              'transactions': counter.transactions.most_common(),
              'per_node': statistics.median(durations) if durations else None,
              'inspected': tally[states.MANAGEABLE],
              'failed': len(found) - tally[states.MANAGEABLE],
              'states': dict(tally),
              'errors': [node.last_error for node in found
                         if node.provision_state != states.MANAGEABLE][:3]}
    return result


def _until_inspected(proxy, counter, start):
    """Reconcile as Nova's resource cycle does (at once, then every
    :data:`CYCLE` seconds) until no node is ``inspecting``; the
    benchmark's own look at the nodes (once no inspection runs or waits)
    is not counted. :returns: the reconciliations."""
    from nova_bm.common import states
    from nova_bm.db import api as db_api

    inspections = proxy.inspections
    cycles = looked = 0
    while True:
        if time.monotonic() >= start + cycles * CYCLE:
            proxy.cycle.reconcile()
            cycles += 1
        if time.monotonic() - start > DEADLINE:
            raise AssertionError('inspections still running after %d s'
                                 % DEADLINE)
        time.sleep(0.02)
        if looked == cycles or inspections.running() or (
                inspections.waiting()):
            continue
        # Idle: done, or nodes left for the next cycle (looked at once).
        looked = cycles
        counter.counting = False
        left = sum(node.provision_state == states.INSPECTING
                   for node in db_api.list_nodes(service_host=HOST))
        counter.counting = True
        if not left:
            return cycles


def _iso_seconds(text):
    import datetime
    return datetime.datetime.fromisoformat(text).timestamp()


def logging_to(path):
    """INFO to a file, as nova-compute logs by default (its lines cost
    what they cost in production). :returns: a tally of the ERROR
    records, by logger."""
    import logging

    logging.basicConfig(filename=path, level=logging.INFO,
                        format='%(asctime)s %(levelname)s %(name)s '
                               '%(message)s')
    errors = collections.Counter()

    class Tally(logging.Handler):
        def emit(self, record):
            errors[record.name] += 1

    logging.getLogger().addHandler(Tally(logging.ERROR))
    return errors


# -- the floor -----------------------------------------------------------


class _FloorHandler(http.server.BaseHTTPRequestHandler):

    def log_message(self, *args):
        pass

    def do_GET(self):
        floor = self.server.floor
        if self.path == '/unknown.ipxe':
            return self._send(200, floor.script)
        if self.path.startswith('/nodes/'):
            return self._send(200, floor.no_script)
        return self._send(404, 'not found\n')

    def do_POST(self):
        floor = self.server.floor
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        if self.path == '/api/v1/lookup':
            fields = urllib.parse.parse_qs(body.decode())
            answer = floor.lookup(fields.get('system_uuid', [''])[0])
            if answer is None:
                return self._send(404, 'nothing to do\n')
            return self._send(200, answer)
        if self.path == '/api/v1/inventory':
            ok, reason = floor.inventory(
                self.headers.get('X-Nova-BM-Token', ''), body)
            return self._send(200 if ok else 400, reason)
        return self._send(404, 'not found\n')

    def _send(self, status, text):
        data = text.encode()
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _FloorServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # As the proxy's: a backlog a thousand machines do not overflow.
    request_queue_size = 4096


class Floor:
    """The floor's HTTP side: what is waited for, by system UUID."""

    def __init__(self, http_port):
        from nova_bm.deploy import ipxe
        from nova_bm.inspection import inventory

        self._parse = inventory.parse
        self._malformed = inventory.Malformed
        base = 'http://127.0.0.1:%d' % http_port
        self.script = ipxe.deploy_script(base)
        self.no_script = ipxe.NO_SCRIPT
        self.expected = {}
        self.tokens = {}
        self.inventories = {}
        self._lock = threading.Lock()
        self.server = _FloorServer(('127.0.0.1', http_port), _FloorHandler)
        self.server.floor = self

    def expect(self, system_uuid, node_uuid):
        event = threading.Event()
        with self._lock:
            self.expected[system_uuid] = (node_uuid, event)
        return event

    def lookup(self, system_uuid):
        with self._lock:
            found = self.expected.pop(system_uuid, None)
            if found is None:
                return None
            token = secrets.token_urlsafe(32)
            self.tokens[token] = found
        return 'token=%s\nmode=inspect\nnode=%s\n' % (token, found[0])

    def inventory(self, token, body):
        with self._lock:
            found = self.tokens.pop(token, None)
        if found is None:
            return False, 'no valid token\n'
        try:
            parsed = self._parse(body)
        except self._malformed as e:
            return False, '%s\n' % e
        self.inventories[found[0]] = parsed
        found[1].set()
        return True, 'ok\n'


def floor_side(nodes, concurrency, base_port, http_port, workdir, clock,
               profiler=None):
    conf = configure(workdir, http_port, concurrency)
    from nova_bm.power import base as power_base
    from nova_bm.power import ipmi

    power = ipmi.IPMIPower()
    floor = Floor(http_port)
    threading.Thread(target=floor.server.serve_forever,
                     kwargs={'poll_interval': 0.05}, daemon=True).start()
    durations = []

    def inspect(node):
        started = time.monotonic()
        guid = power.get_system_guid(node)
        reported = floor.expect(guid, node.uuid)
        power.power_off(node)
        power.set_boot_device(node, 'pxe', persistent=True)
        power.power_on(node)
        if not reported.wait(DEADLINE):
            raise AssertionError('%s: no inventory' % node.name)
        intervals = power_base.poll_intervals(
            conf.baremetal.power_state_poll_interval)
        while power.get_power_state(node) != power_base.POWER_OFF:
            time.sleep(next(intervals))
        durations.append(time.monotonic() - started)

    failed = []
    bmcs = [bmc_node(port, conf.baremetal.default_boot_mode)
            for port in range(base_port, base_port + nodes)]
    # Sessions open with every BMC, as the proxy's start sweep leaves them.
    power.get_power_states(bmcs)
    try:
        with Sampler() as sampler:
            if profiler:
                profiler.start()
            clock.start()
            cpu, start = _cpu(), time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                futures = [pool.submit(inspect, bmc) for bmc in bmcs]
                for future in futures:
                    try:
                        future.result()
                    except Exception as e:  # noqa: BLE001  (counted)
                        failed.append(repr(e))
            seconds, cpu = time.monotonic() - start, _cpu() - cpu
            threads_cpu = clock.by_kind()
            if profiler:
                profiler.stop()
    finally:
        floor.server.shutdown()
        floor.server.server_close()
    result = {'seconds': seconds, 'cpu': cpu, 'peak_threads': sampler.peak,
              'per_node': statistics.median(durations) if durations else None,
              'inspected': len(floor.inventories), 'failed': len(failed),
              'threads_cpu': threads_cpu,
              'errors': failed[:3]}
    return result


SIDES = {'proxy': proxy_side, 'floor': floor_side}


def main(argv):
    side, nodes, concurrency, base_port, http_port = argv[:5]
    clock = ThreadClock()
    profiler = Profiler() if '--profile' in argv[5:] else None
    workdir = tempfile.mkdtemp(prefix='nova_bm_bench_')
    try:
        result = SIDES[side](int(nodes), int(concurrency), int(base_port),
                             int(http_port), workdir, clock,
                             profiler=profiler)
        if profiler:
            result['profile'] = profiler.top(
                path=os.path.join(workdir, '%s.pstats' % side))
    finally:
        if os.environ.get('NOVA_BM_BENCH_INSPECT_KEEP'):
            sys.stderr.write('kept %s\n' % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
