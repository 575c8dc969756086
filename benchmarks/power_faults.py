"""Power status of a faulty BMC fleet: nova-bm against FreeIPMI's ipmipower.

A fleet of N fake BMCs (default 1,000; ``NOVA_BM_BENCH_FAULT_BMCS``) on
loopback, with the fault mix of a real management network:

* 10 % dead (no answer at all), 5 % refusing the password,
* 5 % slow (every reply 0.5 s late), 5 % lossy (30 % of the packets lost,
  each way), the rest healthy (one in ten powered on).

Measured in the same run, with the same 5 s timeout and cipher suite 3
(ipmipower's default; ``[baremetal] ipmi_cipher_suite = 3``):

* nova-bm: ``IPMIPower.get_power_states`` over the whole fleet, cold (no
  session: every BMC needs a logon) and then warm; per class, how many
  BMCs answered, and that every answer is right; the wall time;
* ipmipower ``--stat --session-timeout=5000``: over each class on its own
  (it prints no port, so a class's tally is only known when it runs
  alone), and over the whole fleet for the wall time.

Goals (issue "IPMI on the networks BMCs really sit on"): the lossy class
answered at least as often as ipmipower manages, and never wrongly; every
slow BMC answered cold and warm; the sweep with faults within 1.1 x the
timeout.
"""

import collections
import os
import time

from benchmarks import power_sweep

BMCS = int(os.environ.get('NOVA_BM_BENCH_FAULT_BMCS', 1000))
TIMEOUT = 5.0
USERNAME, PASSWORD = power_sweep.USERNAME, power_sweep.PASSWORD
SESSION_TIMEOUT = '--session-timeout=%d' % (TIMEOUT * 1000)
# class -> (share of the fleet, fake BMC faults)
CLASSES = collections.OrderedDict([
    ('dead', (0.10, {'drop': True})),
    ('wrong password', (0.05, {'reject': True})),
    ('slow 0.5 s', (0.05, {'delay': 0.5})),
    ('lossy 30 %', (0.05, {'loss': 0.3})),
])
HEALTHY = 'healthy'


def _classes(ports):
    """port -> class name, the faulty classes spread over the fleet."""
    assigned = {}
    start = 0
    for name, (share, _) in CLASSES.items():
        count = max(1, int(share * len(ports)))
        for port in ports[start:start + count]:
            assigned[port] = name
        start += count
    for port in ports[start:]:
        assigned[port] = HEALTHY
    return assigned


def _sweep(power, nodes, expected, classes):
    start = time.perf_counter()
    states = power.get_power_states(nodes)
    elapsed = time.perf_counter() - start
    answered = collections.Counter()
    wrong = []
    for node in nodes:
        state = states[node.uuid]
        if isinstance(state, Exception):
            continue
        if state != expected[node.ipmi_port]:
            wrong.append((node.ipmi_port, state))
        answered[classes[node.ipmi_port]] += 1
    if wrong:
        raise AssertionError('%d wrong answers, e.g. %s' % (len(wrong),
                                                            wrong[:3]))
    return elapsed, answered


def measure(bmcs):
    """Both sides over a fleet of ``bmcs`` with the fault mix.

    Needs nova-bm's configuration parsed. :returns: a dict: ``sizes``,
    ``cold``/``warm`` (seconds, answered per class) for nova-bm,
    ``reference`` (answered per class) and ``mix_time`` for ipmipower.
    :raises: AssertionError if any answer is wrong.
    """
    from nova_bm.conf import CONF
    from nova_bm.power import ipmi
    from nova_bm.power import ipmi_loop
    from nova_bm.testing import fakebmc

    CONF.set_override('ipmi_timeout', TIMEOUT, group='baremetal')
    CONF.set_override('ipmi_cipher_suite', 3, group='baremetal')
    base = fakebmc.free_port_range(bmcs)
    with fakebmc.Fleet(bmcs, base, username=USERNAME,
                       password=PASSWORD) as fleet:
        ports = fleet.ports
        classes = _classes(ports)
        expected = {}
        for index, port in enumerate(ports):
            name = classes[port]
            faults = dict(CLASSES[name][1]) if name in CLASSES else {}
            expected[port] = 'on' if index % 10 == 0 else 'off'
            if expected[port] == 'on':
                faults['power'] = 'on'
            if faults:
                fleet.control(port, **faults)
        sizes = collections.Counter(classes.values())
        nodes = [power_sweep.node(p) for p in ports]

        ipmi_loop.reset_loop()
        power = ipmi.IPMIPower()
        cold, cold_answered = _sweep(power, nodes, expected, classes)
        warm, warm_answered = _sweep(power, nodes, expected, classes)
        ipmi_loop.reset_loop()

        reference = {}
        for name in (HEALTHY,) + tuple(CLASSES):
            members = [p for p in ports if classes[p] == name]
            _, tally = power_sweep.ipmipower(members, SESSION_TIMEOUT)
            reference[name] = tally['on'] + tally['off']
        mix_time, _ = power_sweep.ipmipower(ports, SESSION_TIMEOUT)
    return {'sizes': sizes, 'cold': (cold, cold_answered),
            'warm': (warm, warm_answered), 'reference': reference,
            'mix_time': mix_time}


def run():
    """Return the benchmark's rows for the summary table."""
    from nova_bm.conf import CONF

    CONF([], project='nova', default_config_files=[])
    result = measure(BMCS)
    sizes, reference = result['sizes'], result['reference']
    cold, cold_answered = result['cold']
    warm, warm_answered = result['warm']
    mix_time = result['mix_time']
    print('power status of %d BMCs with faults, %.0f s timeout:' % (
        BMCS, TIMEOUT))
    for name in (HEALTHY,) + tuple(CLASSES):
        print('  %-15s %4d BMCs: nova-bm cold %4d, warm %4d; ipmipower %4d'
              % (name, sizes[name], cold_answered[name],
                 warm_answered[name], reference[name]))
    print('  sweep: nova-bm cold %.2f s, warm %.2f s; ipmipower %.2f s'
          % (cold, warm, mix_time))

    lossy, slow = 'lossy 30 %', 'slow 0.5 s'
    return [{
        'work': 'lossy BMCs answered (30 %% loss, %d, cold)' % sizes[lossy],
        'nova_bm': '%d of %d' % (cold_answered[lossy], sizes[lossy]),
        'reference': '%d ipmipower' % reference[lossy],
        'ratio': cold_answered[lossy] / max(1, reference[lossy]),
        'goal': '>= ipmipower, none wrong',
        'met': cold_answered[lossy] >= reference[lossy],
    }, {
        'work': 'slow BMCs answered (0.5 s a reply, %d)' % sizes[slow],
        'nova_bm': 'cold %d, warm %d' % (cold_answered[slow],
                                         warm_answered[slow]),
        'reference': '%d ipmipower' % reference[slow],
        'ratio': (cold_answered[slow] + warm_answered[slow])
        / (2 * sizes[slow]),
        'goal': 'all, cold and warm',
        'met': cold_answered[slow] == warm_answered[slow] == sizes[slow],
    }, {
        'work': 'sweep of %d BMCs with faults, cold' % BMCS,
        'nova_bm': '%.2f s' % cold,
        'reference': '%.1f s timeout (ipmipower %.2f s)' % (TIMEOUT,
                                                             mix_time),
        'ratio': cold / TIMEOUT,
        'goal': '<= 1.1x timeout',
        'met': cold <= 1.1 * TIMEOUT,
    }, {
        'work': 'sweep of %d BMCs with faults, warm' % BMCS,
        'nova_bm': '%.2f s' % warm,
        'reference': '%.1f s timeout' % TIMEOUT,
        'ratio': warm / TIMEOUT,
        'goal': '<= 1.1x timeout',
        'met': warm <= 1.1 * TIMEOUT,
    }]


if __name__ == '__main__':
    run()
