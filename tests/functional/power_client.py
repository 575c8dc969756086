"""A power-layer client run in its own process, under eventlet or not.

``python -m tests.functional.power_client MODE PORTS_JSON DEAD_PORT
PASSWORD`` with MODE ``eventlet`` (monkey-patched first, as nova-compute
under eventlet) or ``native`` (Nova 34's default threading mode). It drives
many concurrent callers (green threads or native threads) and one bulk
sweep that includes a dead BMC, and prints what it saw as JSON.
"""

import sys

if __name__ == '__main__' and sys.argv[1] == 'eventlet':
    import eventlet
    eventlet.monkey_patch()

import json  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402


def _threading():
    """What the IPMI loop's thread really is in this process."""
    from eventlet import patcher
    return 'green' if patcher.is_monkey_patched('thread') else 'native'


def main(mode, ports, dead_port, password):
    from nova_bm.conf import CONF
    from nova_bm.power import ipmi
    from nova_bm.power import ipmi_loop

    CONF([], project='nova', default_config_files=[])
    CONF.set_override('ipmi_timeout', 3.0, group='baremetal')
    CONF.set_override('power_state_poll_interval', 0.05, group='baremetal')

    def node(port):
        return types.SimpleNamespace(
            uuid=str(port), name='n%d' % port, ipmi_address='127.0.0.1',
            ipmi_port=port, ipmi_username='admin', ipmi_password=password)

    nodes = [node(p) for p in ports]
    power = ipmi.IPMIPower()
    if mode == 'eventlet':
        import eventlet
        pool = eventlet.GreenPool(32)
        states = list(pool.imap(power.get_power_state, nodes * 4))
    else:
        from concurrent import futures
        with futures.ThreadPoolExecutor(32) as pool:
            states = list(pool.map(power.get_power_state, nodes * 4))
    on = power.power_on(nodes[0])
    start = time.monotonic()
    bulk = power.get_power_states(nodes + [node(dead_port)])
    elapsed = time.monotonic() - start
    ipmi_loop.reset_loop()
    print(json.dumps({
        'threading': _threading(),
        'concurrent_states': states, 'power_on': on,
        'bulk': {k: v if isinstance(v, str) else type(v).__name__
                 for k, v in bulk.items()},
        'bulk_seconds': elapsed}))


if __name__ == '__main__':
    main(sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]),
         sys.argv[4])
