"""Power sweep: read the power state of N BMCs at once.

Starts a fake BMC fleet of N BMCs (default 1,000; ``NOVA_BM_BENCH_BMCS``)
on loopback, every tenth one powered on, and measures in the same run:

* nova-bm, cold: ``IPMIPower.get_power_states`` over all N with no session
  yet (every BMC needs a full RMCP+ logon first; the first sweep after
  nova-compute starts), median of 5, each in a new IPMI loop, asking for
  cipher suite 3 first as ipmipower does; and once with the default
  (suite 17 first: the fake BMCs refuse it, one more round trip);
* nova-bm, warm: the same call again, sessions reused (median of 5 runs);
* FreeIPMI ``ipmipower --stat`` over the same N hosts (its defaults; it
  logs on to every BMC each time, with its own fan-out), median of 5,
  each run right after one of nova-bm's cold runs (alternating);
* a sequential ``ipmitool -I lanplus power status`` loop over a sample of
  ``NOVA_BM_BENCH_IPMITOOL_SAMPLE`` BMCs (default 20), extrapolated to N.

Every answer is checked against the fleet's own state, so a fast wrong
answer fails the benchmark. Goals (issue "IPMI on the networks BMCs
really sit on"): cold at most 1.0x ipmipower's time, warm at most 0.3x.
"""

import collections
import os
import resource
import shutil
import statistics
import subprocess
import time
import types

BMCS = int(os.environ.get('NOVA_BM_BENCH_BMCS', 1000))
IPMITOOL_SAMPLE = int(os.environ.get('NOVA_BM_BENCH_IPMITOOL_SAMPLE', 20))
WARM_RUNS = 5
COLD_RUNS = 5
SETTLE = 1.0
COLD_GOAL = 1.0
WARM_GOAL = 0.3
USERNAME, PASSWORD = 'admin', 'bench-pw'


def node(port):
    """A node row-like object for the fake BMC on ``port``."""
    return types.SimpleNamespace(
        uuid=str(port), name='bench-%d' % port, ipmi_address='127.0.0.1',
        ipmi_port=port, ipmi_username=USERNAME, ipmi_password=PASSWORD)


def _cpu(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def _check(states, expected):
    wrong = {k: v for k, v in states.items() if v != expected[k]}
    if wrong:
        sample = dict(list(wrong.items())[:3])
        raise AssertionError('%d of %d answers wrong, e.g. %s'
                             % (len(wrong), len(states), sample))


def ipmipower(ports, *options):
    """``ipmipower --stat`` over ``ports``: ``(seconds, tally of states)``.
    """
    tool = shutil.which('ipmipower')
    if tool is None:
        raise AssertionError('ipmipower is not installed (Debian package '
                             'freeipmi-tools; run_tests.sh installs it)')
    hosts = ','.join('127.0.0.1:%d' % p for p in ports)
    start = time.perf_counter()
    result = subprocess.run(
        [tool, '-D', 'LAN_2_0', '-u', USERNAME, '-p', PASSWORD, '-h', hosts,
         '--stat'] + list(options), capture_output=True, text=True,
        timeout=600)
    elapsed = time.perf_counter() - start
    # Lines are "127.0.0.1: on": the port is not printed, so only the
    # tally of answers can be checked.
    tally = collections.Counter(line.partition(': ')[2].strip()
                                for line in result.stdout.splitlines())
    return elapsed, tally


def _ipmitool_loop(ports):
    tool = shutil.which('ipmitool')
    if tool is None:
        raise AssertionError('ipmitool is not installed (Debian package '
                             'ipmitool; run_tests.sh installs it)')
    states = {}
    start = time.perf_counter()
    for port in ports:
        result = subprocess.run(
            [tool, '-I', 'lanplus', '-H', '127.0.0.1', '-p', str(port),
             '-U', USERNAME, '-P', PASSWORD, 'power', 'status'],
            capture_output=True, text=True, timeout=60)
        states[str(port)] = result.stdout.strip().rsplit(' ', 1)[-1]
    return time.perf_counter() - start, states


def run():
    """Return the benchmark's rows for the summary table."""
    from nova_bm.conf import CONF
    from nova_bm.power import ipmi
    from nova_bm.power import ipmi_loop
    from nova_bm.testing import fakebmc

    CONF([], project='nova', default_config_files=[])
    base = fakebmc.free_port_range(BMCS)
    with fakebmc.Fleet(BMCS, base, username=USERNAME,
                       password=PASSWORD) as fleet:
        ports = fleet.ports
        for port in ports[::10]:
            fleet.control(port, power='on')
        expected = {str(p): 'on' if i % 10 == 0 else 'off'
                    for i, p in enumerate(ports)}
        nodes = [node(p) for p in ports]

        ipmi_loop.reset_loop()
        default_cold, states = _timed(ipmi.IPMIPower().get_power_states,
                                      nodes)
        _check(states, expected)
        CONF.set_override('ipmi_cipher_suite', 3, group='baremetal')
        # Cold sweeps of nova-bm and of ipmipower alternate, so that a
        # drift of the machine (the fleet shares its two cores) weighs on
        # both alike.
        cold_runs, cold_cpu = [], []
        reference_runs, reference_cpu = [], []
        for _ in range(COLD_RUNS):
            ipmi_loop.reset_loop()
            # The fleet is still answering the logouts of the last sweep's
            # sessions; a proxy's first sweep after a start meets idle BMCs.
            time.sleep(SETTLE)
            power = ipmi.IPMIPower()
            before = _cpu(resource.RUSAGE_SELF)
            elapsed, states = _timed(power.get_power_states, nodes)
            cold_cpu.append(_cpu(resource.RUSAGE_SELF) - before)
            _check(states, expected)
            cold_runs.append(elapsed)

            time.sleep(SETTLE)
            before = _cpu(resource.RUSAGE_CHILDREN)
            elapsed, tally = ipmipower(ports)
            reference_cpu.append(_cpu(resource.RUSAGE_CHILDREN) - before)
            if tally != collections.Counter(expected.values()):
                raise AssertionError('ipmipower answered %s' % dict(tally))
            reference_runs.append(elapsed)
        cold = statistics.median(cold_runs)
        # The last nova-bm sweep's sessions are still open: warm sweeps.
        warm_runs = []
        for _ in range(WARM_RUNS):
            elapsed, states = _timed(power.get_power_states, nodes)
            _check(states, expected)
            warm_runs.append(elapsed)
        warm = statistics.median(warm_runs)
        ipmi_loop.reset_loop()
        reference = statistics.median(reference_runs)
        sample = ports[:IPMITOOL_SAMPLE]
        loop_time, states = _ipmitool_loop(sample)
        _check(states, {str(p): expected[str(p)] for p in sample})
        ipmitool = loop_time / len(sample) * BMCS

    print('power sweep over %d fake BMCs: nova-bm cold %.3f s (%s; suite '
          '17 first: %.3f s), warm %.3f s (%s); ipmipower --stat %.3f s '
          '(%s); ipmitool loop %.2f s for %d BMCs, %.1f s extrapolated to %d'
          % (BMCS, cold, ', '.join('%.3f' % r for r in cold_runs),
             default_cold, warm, ', '.join('%.3f' % r for r in warm_runs),
             reference, ', '.join('%.3f' % r for r in reference_runs),
             loop_time, len(sample), ipmitool, BMCS))
    print('CPU time of a cold sweep (the client alone; the fake BMCs are '
          'separate processes on the same 2 cores): nova-bm %.3f s, '
          'ipmipower %.3f s (medians)' % (statistics.median(cold_cpu),
                                          statistics.median(reference_cpu)))
    return [{
        'work': 'power status of %d BMCs, warm sessions' % BMCS,
        'nova_bm': '%.3f s' % warm,
        'reference': '%.3f s ipmipower --stat' % reference,
        'ratio': warm / reference,
        'goal': '<= %.1fx ipmipower' % WARM_GOAL,
        'met': warm <= WARM_GOAL * reference,
    }, {
        'work': 'power status of %d BMCs, cold (logon each)' % BMCS,
        'nova_bm': '%.3f s' % cold,
        'reference': '%.3f s ipmipower --stat' % reference,
        'ratio': cold / reference,
        'goal': '<= %.1fx ipmipower' % COLD_GOAL,
        'met': cold <= COLD_GOAL * reference,
    }, {
        'work': 'the same, cold, cipher suite 17 asked first',
        'nova_bm': '%.3f s' % default_cold,
        'reference': '%.3f s ipmipower --stat' % reference,
        'ratio': default_cold / reference,
        'goal': 'reported',
        'met': True,
    }, {
        'work': 'power status of %d BMCs, warm, vs ipmitool' % BMCS,
        'nova_bm': '%.3f s' % warm,
        'reference': '%.1f s ipmitool loop (%d run)' % (ipmitool,
                                                        len(sample)),
        'ratio': warm / ipmitool,
        'goal': 'reported',
        'met': True,
    }]


if __name__ == '__main__':
    run()
