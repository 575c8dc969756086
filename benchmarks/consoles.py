"""Consoles: N nodes' SOL sessions opened at once and kept open.

The first resource cycle after nova-compute starts opens the console of
every deployed node (``[baremetal] console_enabled``), and the consoles
then stay open, each checked every 15 s. Against N fake BMCs (default
1,000; ``NOVA_BM_BENCH_BMCS``) on loopback, measured in the same run:

* opening N consoles (logon, privilege, the stale payload ended, SOL
  activated: eight round trips each) until every one is active, against
  a cold power sweep of the same N BMCs (a logon and a read each);
* a warm power sweep of the N BMCs with their N consoles open, against
  the same sweep before they were opened (medians of 5): the consoles
  must not slow power control down (goal: at most 1.25x; the sweep is
  tens of milliseconds, so a few of noise are a large fraction);
* the client's CPU time while the N consoles sit idle for
  ``IDLE_SECONDS`` (their checks), as a fraction of the wall time
  (goal: under 5 % of one core).
"""

import os
import resource
import statistics
import time

from benchmarks import power_sweep

BMCS = int(os.environ.get('NOVA_BM_BENCH_BMCS', 1000))
IDLE_SECONDS = 30.0
SWEEPS = 5
SWEEP_GOAL = 1.25
IDLE_GOAL = 0.05


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(bmcs=BMCS, idle_seconds=IDLE_SECONDS):
    """Open ``bmcs`` consoles; :returns: the figures (seconds)."""
    from nova_bm.conf import CONF
    from nova_bm.console import sol_client
    from nova_bm.power import ipmi
    from nova_bm.power import ipmi_loop
    from nova_bm.testing import fakebmc

    CONF([], project='nova', default_config_files=[])
    base = fakebmc.free_port_range(bmcs)
    with fakebmc.Fleet(bmcs, base, username=power_sweep.USERNAME,
                       password=power_sweep.PASSWORD) as fleet:
        nodes = [power_sweep.node(port) for port in fleet.ports]
        ipmi_loop.reset_loop()
        power = ipmi.IPMIPower()
        cold_sweep, states = power_sweep._timed(power.get_power_states,
                                                nodes)
        if set(states.values()) != {'off'}:
            raise AssertionError('power sweep answered %s' % set(
                states.values()))
        without = statistics.median(
            power_sweep._timed(power.get_power_states, nodes)[0]
            for _ in range(SWEEPS))

        loop = ipmi_loop.get_loop()
        # What each console printed (the loop thread appends).
        received = {node.uuid: bytearray() for node in nodes}
        clients = [sol_client.SolClient(
            loop, ipmi.bmc_target(node), received[node.uuid].extend,
            timeout=CONF.baremetal.ipmi_timeout) for node in nodes]
        start = time.perf_counter()
        for client in clients:
            client.start()
        for client in clients:
            if not client.active.wait(60):
                raise AssertionError('console of %s not active: %s' % (
                    client.target.label, client.last_error))
        opening = time.perf_counter() - start

        with_consoles = statistics.median(
            power_sweep._timed(power.get_power_states, nodes)[0]
            for _ in range(SWEEPS))

        before, started = _cpu(), time.perf_counter()
        time.sleep(idle_seconds)
        idle_cpu = _cpu() - before
        idle_wall = time.perf_counter() - started
        failed = [c.target.label for c in clients
                  if c.activations != 1 or not c.active.is_set()]
        if failed:
            raise AssertionError('%d consoles reopened or lost while idle, '
                                 'e.g. %s' % (len(failed), failed[:3]))
        # Every console carried its BMC's banner: the data path works.
        silent = [uuid for uuid, data in received.items()
                  if b'serial console' not in data]
        if silent:
            raise AssertionError('%d consoles printed nothing, e.g. %s'
                                 % (len(silent), silent[:3]))
        for client in clients:
            client.stop()
        ipmi_loop.reset_loop()
    return {'opening': opening, 'cold_sweep': cold_sweep,
            'with_consoles': with_consoles, 'without': without,
            'idle_cpu': idle_cpu, 'idle_wall': idle_wall,
            'received': sum(len(data) for data in received.values())}


def run():
    """Return the benchmark's rows for the summary table."""
    r = measure()
    print('consoles over %d fake BMCs: opened in %.2f s (cold power sweep '
          '%.3f s); warm power sweep %.3f s with them open, %.3f s before; '
          'idle for %.0f s: %.2f s of CPU (%d bytes of console received)'
          % (BMCS, r['opening'], r['cold_sweep'], r['with_consoles'],
             r['without'], r['idle_wall'], r['idle_cpu'], r['received']))
    return [{
        'work': 'open %d SOL consoles at once (all active)' % BMCS,
        'nova_bm': '%.2f s' % r['opening'],
        'reference': '%.3f s cold power sweep' % r['cold_sweep'],
        'ratio': r['opening'] / r['cold_sweep'],
        'goal': 'reported',
        'met': True,
    }, {
        'work': 'power sweep of %d BMCs, their consoles open' % BMCS,
        'nova_bm': '%.3f s' % r['with_consoles'],
        'reference': '%.3f s consoles closed' % r['without'],
        'ratio': r['with_consoles'] / r['without'],
        'goal': '<= %.2fx' % SWEEP_GOAL,
        'met': r['with_consoles'] <= SWEEP_GOAL * r['without'],
    }, {
        'work': '%d idle consoles: client CPU' % BMCS,
        'nova_bm': '%.2f s CPU' % r['idle_cpu'],
        'reference': '%.0f s wall' % r['idle_wall'],
        'ratio': r['idle_cpu'] / r['idle_wall'],
        'goal': '< %.2fx (%d %% of a core)' % (IDLE_GOAL, IDLE_GOAL * 100),
        'met': r['idle_cpu'] < IDLE_GOAL * r['idle_wall'],
    }]
