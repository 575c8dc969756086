"""Power control over IPMI 2.0 (lanplus) with pyghmi.

A thin class over the process's IPMI loop (:mod:`nova_bm.power.ipmi_loop`),
which owns sessions, timeouts, retries and the per-BMC breaker. This module
adds what a power operation means: which requests to send, and, for power
changes, polling until the BMC reports the target state. It never reports a
state it has not read back from the BMC.
"""

import time

from oslo_log import log as logging

from nova_bm.conf import CONF
from nova_bm import exception
from nova_bm.common import node_fields
from nova_bm.common import states
from nova_bm.power import base
from nova_bm.power import ipmi_loop
from nova_bm.power import ipmi_messages

LOG = logging.getLogger(__name__)


def _node_label(node):
    return getattr(node, 'name', None) or getattr(node, 'uuid', '?')


def _names(labels, uuids, limit=5):
    """Up to ``limit`` node labels, then how many more: for log lines."""
    names = sorted(labels[uuid] for uuid in uuids)
    more = ' and %d more' % (len(names) - limit) if len(names) > limit else ''
    return (', '.join(names[:limit]) or 'none') + more


def bmc_target(node):
    """The node's BMC as a :class:`~ipmi_loop.BmcTarget`, checked offline.

    :raises: InvalidBmcParameters naming the first missing or bad field.
    """
    def refuse(reason):
        raise exception.InvalidBmcParameters(node=_node_label(node),
                                             reason=reason)

    address = getattr(node, 'ipmi_address', None)
    port = getattr(node, 'ipmi_port', None) or 623
    username = getattr(node, 'ipmi_username', None)
    password = getattr(node, 'ipmi_password', None)
    if not address:
        refuse('it has no ipmi_address')
    try:
        port = int(port)
    except (TypeError, ValueError):
        refuse('ipmi_port %r is not a number' % (port,))
    if not 1 <= port <= 65535:
        refuse('ipmi_port %d is not a UDP port' % port)
    if not username:
        refuse('it has no ipmi_username')
    if password is None:
        refuse('it has no ipmi_password')
    try:
        node_fields.ipmi_username(username)
        node_fields.ipmi_password(password)
    except exception.InvalidField as e:
        refuse(str(e))
    return ipmi_loop.BmcTarget(address, port, username, password)


class IPMIPower(base.PowerInterface):
    """:class:`~nova_bm.power.base.PowerInterface` over IPMI 2.0.

    Safe to share between threads (and green threads): all state lives in
    the IPMI loop. ``loop`` is for tests; by default the process's loop.
    """

    def __init__(self, loop=None):
        self._loop = loop
        # request name -> uuids of the BMCs that failed it last time.
        self._failing = {}

    @property
    def loop(self):
        return self._loop or ipmi_loop.get_loop()

    @staticmethod
    def _submit_options():
        group = CONF.baremetal
        return {'timeout': group.ipmi_timeout,
                'retries': group.ipmi_retries,
                'retry_interval': group.ipmi_retry_interval}

    def _call(self, node, request):
        target = bmc_target(node)
        future = self.loop.submit(target, request, **self._submit_options())
        try:
            return future.result()
        except exception.BmcError as e:
            LOG.warning('IPMI %(request)s for node %(node)s failed: '
                        '%(error)s', {'request': request.name,
                                      'node': _node_label(node), 'error': e})
            raise

    # -- interface ------------------------------------------------------

    def validate(self, node):
        bmc_target(node)

    def check_access(self, node):
        self._call(node, ipmi_messages.logon_check())

    def get_power_state(self, node):
        return self._call(node, ipmi_messages.get_power_state())

    def get_power_states(self, nodes):
        return self._call_many(nodes, ipmi_messages.get_power_state)

    def get_system_guid(self, node):
        return self._call(node, ipmi_messages.get_system_guid())

    def get_system_guids(self, nodes):
        return self._call_many(nodes, ipmi_messages.get_system_guid)

    def check_access_many(self, nodes):
        """Log into many BMCs at once: ``{node.uuid: None | error}``."""
        return self._call_many(nodes, ipmi_messages.logon_check)

    def _call_many(self, nodes, make_request):
        """One request per node, all submitted at once.

        :returns: ``{node.uuid: result | BmcError | InvalidBmcParameters}``.
        """
        results = {}
        work = []
        for node in nodes:
            try:
                work.append((node, bmc_target(node)))
            except exception.InvalidBmcParameters as e:
                results[node.uuid] = e
        request = make_request()
        futures = self.loop.submit_many(
            [(target, request) for _, target in work],
            **self._submit_options())
        failed = {}
        for (node, _), future in zip(work, futures, strict=True):
            try:
                results[node.uuid] = future.result()
            except exception.BmcError as e:
                results[node.uuid] = e
                failed[node.uuid] = _node_label(node)
        self._log_failures(request.name, failed, len(work))
        return results

    def _log_failures(self, request, failed, total):
        """A WARNING when the set of failing BMCs changes, else DEBUG.

        A dead BMC fails every sweep for as long as it is dead; saying so
        at WARNING every minute buries what is new. Each node's error is
        in its ``last_error`` and in ``nova-bm-manage node power status``.
        """
        before = self._failing.get(request, frozenset())
        now = frozenset(failed)
        self._failing[request] = now
        args = {'request': request, 'failed': len(now), 'total': total,
                'new': _names(failed, now - before),
                'recovered': len(before - now)}
        if now and now != before:
            LOG.warning('IPMI %(request)s: %(failed)d of %(total)d BMCs '
                        'failed (newly failing: %(new)s; recovered: '
                        '%(recovered)d)', args)
        elif before and not now:
            LOG.info('IPMI %(request)s: all %(total)d BMCs answered (%(re'
                     'covered)d recovered)', args)
        elif now:
            LOG.debug('IPMI %(request)s: %(failed)d of %(total)d BMCs '
                      'failed, the same as last time', args)

    def power_on(self, node):
        return self._change_power(node, ipmi_messages.CONTROL_POWER_ON,
                                  'power on', base.POWER_ON,
                                  CONF.baremetal.power_state_timeout)

    def power_off(self, node):
        return self._change_power(node, ipmi_messages.CONTROL_POWER_OFF,
                                  'power off', base.POWER_OFF,
                                  CONF.baremetal.power_state_timeout)

    def soft_power_off(self, node, timeout):
        return self._change_power(node, ipmi_messages.CONTROL_SOFT_OFF,
                                  'soft power off', base.POWER_OFF, timeout)

    def reboot(self, node, kind=base.HARD):
        if kind not in (base.SOFT, base.HARD):
            raise exception.InvalidBmcParameters(
                node=_node_label(node), reason='unknown reboot kind %r'
                % (kind,))
        if kind == base.SOFT:
            # As Ironic: a soft reboot is an orderly shutdown, then power on.
            if self.get_power_state(node) == base.POWER_ON:
                self.soft_power_off(node, CONF.baremetal.power_state_timeout)
            return self.power_on(node)
        if self.get_power_state(node) == base.POWER_OFF:
            # Hard reset is refused by a powered-off chassis.
            return self.power_on(node)
        return self._change_power(node, ipmi_messages.CONTROL_HARD_RESET,
                                  'reset', base.POWER_ON,
                                  CONF.baremetal.power_state_timeout)

    def set_boot_device(self, node, device, persistent=False):
        if device not in base.BOOT_DEVICES:
            raise exception.InvalidBmcParameters(
                node=_node_label(node), reason='unknown boot device %r; '
                'expected one of %s' % (device, ', '.join(base.BOOT_DEVICES)))
        # A UEFI node's override must name the EFI boot path (Ironic's
        # 0xe0/0xa0); a BIOS node's the legacy one.
        self._call(node, ipmi_messages.set_boot_device(
            device, persistent, efi=node.boot_mode == states.UEFI))

    def get_boot_device(self, node):
        return self._call(node, ipmi_messages.get_boot_device())

    # -- helpers ----------------------------------------------------------

    def _change_power(self, node, action, name, target_state, timeout):
        """Send a chassis control, then poll until ``target_state``.

        :raises: PowerStateTimeout when the BMC still reports another state
            after ``timeout`` seconds.
        """
        self._call(node, ipmi_messages.chassis_control(action, name))
        deadline = time.monotonic() + timeout
        intervals = base.poll_intervals(
            CONF.baremetal.power_state_poll_interval)
        while True:
            state = self.get_power_state(node)
            if state == target_state:
                return state
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise exception.PowerStateTimeout(
                    bmc=bmc_target(node).label, target=target_state,
                    state=state, timeout=timeout)
            time.sleep(min(next(intervals), remaining))
