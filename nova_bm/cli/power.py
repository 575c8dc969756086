"""``nova-bm-manage node power …`` and ``node validate``: talk to the BMCs.

``node validate`` also checks what a node needs besides its BMC, one row
per interface (:mod:`nova_bm.cli.validate`).

Nodes are named on the command line (names or UUIDs, all looked up in one
query; an unknown one is refused before any BMC is contacted) or chosen
with ``--all [--host H]``. Every node gets a row: its state, or
``error: …`` when its BMC failed; the other nodes are still answered, and
any failure makes the exit status 1. What the BMCs said is recorded in the
node database (``power_state``, ``last_error``).
"""

import argparse
import concurrent.futures

from cliff import lister

from nova_bm.cli import announce
from nova_bm.cli import base
from nova_bm.cli import validate
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm import exception
from nova_bm.common import node_fields
from nova_bm.common import states
from nova_bm.power import base as power_base
from nova_bm.power import ipmi
from nova_bm.power import ipmi_loop

COLUMNS = ('UUID', 'Name', 'BMC', 'Power State')


def _bmc_label(node):
    return '%s:%s' % (node.ipmi_address, node.ipmi_port or 623)


def _cell(value):
    if isinstance(value, Exception):
        return 'error: %s' % value
    return value


class _BmcCommand(base.CommandMixin, lister.Lister):
    """A per-node table; exit status 1 when any node failed."""

    COLUMNS = COLUMNS

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_node_selection(parser)
        return parser

    def run(self, parsed_args):
        self.failed = 0
        try:
            status = super().run(parsed_args)
        finally:
            # Log out of every BMC: real BMCs have few session slots.
            ipmi_loop.reset_loop()
        if status == 0 and self.failed:
            self.app.stderr.write('%d of the nodes failed.\n' % self.failed)
            return 1
        return status

    def record(self, results):
        """Store what the BMCs said, and tell the owning proxies at once:
        they take the new states instead of answering Nova from what
        they knew until their next sweep."""
        db_api.record_power_states(results)
        if results:
            announce.announce(self.app.stderr, results, power_read=True)

    def rows(self, nodes, results):
        self.failed = sum(isinstance(results[n.uuid], Exception)
                          for n in nodes)
        return [(n.uuid, n.name, _bmc_label(n), _cell(results[n.uuid]))
                for n in nodes]


class PowerStatus(_BmcCommand):
    """Read nodes' power state from their BMCs, all at once."""

    def take_action(self, parsed_args):
        nodes = base.selected_nodes(parsed_args)
        results = ipmi.IPMIPower().get_power_states(nodes)
        self.record(results)
        return self.COLUMNS, self.rows(nodes, results)


class _PowerChange(_BmcCommand):
    """Apply one power action to each node, concurrently."""

    def act(self, power, node, parsed_args):
        raise NotImplementedError

    def take_action(self, parsed_args):
        nodes = base.selected_nodes(parsed_args)
        power = ipmi.IPMIPower()
        results = {}
        # Each action waits (bounded) for the BMC to report the new state;
        # the waits overlap, the IPMI traffic goes through the one loop.
        workers = max(1, min(len(nodes), CONF.baremetal.ipmi_parallelism))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futures = {n.uuid: pool.submit(self.act, power, n, parsed_args)
                       for n in nodes}
            for uuid, future in futures.items():
                try:
                    results[uuid] = future.result()
                except (exception.BmcError,
                        exception.InvalidBmcParameters) as e:
                    results[uuid] = e
        self.record({uuid: value for uuid, value in results.items()
                     if not isinstance(value, exception.InvalidBmcParameters)})
        return self.COLUMNS, self.rows(nodes, results)


class PowerOn(_PowerChange):
    """Power nodes on; each row shows the state read back afterwards."""

    def act(self, power, node, parsed_args):
        return power.power_on(node)


class PowerOff(_PowerChange):
    """Power nodes off (hard, or --soft first with a timeout)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--soft', action='store_true',
                            help='Ask the OS to shut down first; power off '
                                 'hard if it is still on after --timeout.')
        parser.add_argument('--timeout', type=_seconds, default=None,
                            metavar='SECONDS',
                            help='With --soft (default: [baremetal] '
                                 'power_state_timeout).')
        return parser

    def act(self, power, node, parsed_args):
        if parsed_args.soft:
            timeout = parsed_args.timeout
            if timeout is None:
                timeout = CONF.baremetal.power_state_timeout
            try:
                return power.soft_power_off(node, timeout)
            except exception.PowerStateTimeout:
                pass
        return power.power_off(node)


# The longest a soft power off may be given to finish: a day.
MAX_SOFT_OFF_SECONDS = 86400


def _seconds(text):
    """``--timeout``: whole seconds, 1 to a day (argparse's ``type``)."""
    try:
        return node_fields.positive_int(text, '--timeout',
                                        maximum=MAX_SOFT_OFF_SECONDS)
    except exception.InvalidField as e:
        raise argparse.ArgumentTypeError(e.kwargs['reason']) from None


class Reboot(_PowerChange):
    """Reboot nodes (hard reset, or --soft: shut down, then power on)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--soft', action='store_true',
                            help='Orderly shutdown, then power on.')
        return parser

    def act(self, power, node, parsed_args):
        kind = power_base.SOFT if parsed_args.soft else power_base.HARD
        return power.reboot(node, kind)


class Validate(_BmcCommand):
    """Check nodes interface by interface, as Ironic's ``node validate``.

    One row per node and interface (console, deploy, network, power), True
    or False with the reason (:mod:`nova_bm.cli.validate`): the power row
    logs into each BMC with the node's credentials (all BMCs at once); the
    others read the node database and this host's configuration, files
    and deploy HTTP server. Exit status 1 when any row is False.
    """

    COLUMNS = ('UUID', 'Name', 'Interface', 'Result', 'Reason')

    def take_action(self, parsed_args):
        nodes = base.selected_nodes(parsed_args)
        interfaces = validate.interfaces_of(nodes)
        # Started before the BMCs are asked: its HTTP requests overlap them.
        host = (validate.DeployHost()
                if any(n.deploy_interface == states.IMAGE for n in nodes)
                else None)
        bmcs = ipmi.IPMIPower().check_access_many(nodes)
        rows = []
        failed = set()
        for node in nodes:
            for interface, result, reason in validate.node_rows(
                    node, interfaces[node.uuid], bmcs[node.uuid], host):
                rows.append((node.uuid, node.name, interface, result,
                             reason))
                if not result:
                    failed.add(node.uuid)
        self.failed = len(failed)
        return self.COLUMNS, rows
