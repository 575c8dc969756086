"""``nova-bm-manage node manage|provide|clean``: Ironic's road into
service, and an operator's cleaning.

A node is enrolled in ``[baremetal] enrolled_node_state`` (``enroll`` by
default), never offered to tenants. ``node manage`` reads its power state
from its BMC with its credentials: a node that answers is ``manageable``,
one that does not stays where it is, with the reason. ``node provide``
offers a manageable node: ``available`` at once, or, for an ``image`` node
with automated cleaning on, ``cleaning`` first, which its proxy runs
before the node is offered (the same cleaning as between tenants).

``node clean`` has a node's proxy erase its disks now (``--mode``: in
that clean mode, once): an ``image`` node that is ``available`` or
``clean failed`` (in maintenance or not) goes to ``cleaning``, out of
maintenance; ``available`` again once its cleaning proved done, ``clean
failed`` and maintenance otherwise. ``node show`` prints the proof.

Each move is one conditional update of a node no instance holds, so a
command never races a proxy working on the node. The owning proxies are
told at once on the message bus (:mod:`nova_bm.cli.announce`).
"""

from cliff import lister
from oslo_utils import timeutils

from nova_bm.cli import announce
from nova_bm.cli import base
from nova_bm.common import node_fields
from nova_bm.common import states
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm import exception
from nova_bm.power import ipmi
from nova_bm.power import ipmi_loop

COLUMNS = ('UUID', 'Name', 'Provision State', 'Result')

#: Where ``node manage`` takes a node from: new, or taken out of service.
MANAGE_FROM = (states.ENROLL, states.MANAGEABLE, states.AVAILABLE)


def _failed(node, reason):
    return (node.uuid, node.name, node.provision_state, 'failed: %s' % reason)


class _LifecycleCommand(base.CommandMixin, lister.Lister):
    """One row per node; exit status 1 when any node did not move."""

    COLUMNS = COLUMNS

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        base.add_node_selection(parser)
        return parser

    #: With ``--all``: only the nodes in these states (the others are not
    #: this command's business, not failures).
    ALL_FROM = ()

    def take_action(self, parsed_args):
        nodes = base.selected_nodes(parsed_args)
        if parsed_args.all:
            nodes = [node for node in nodes
                     if node.provision_state in self.ALL_FROM]
        rows, moved, read = self.move(nodes)
        self.failed = len(nodes) - len(moved)
        told = list(dict.fromkeys(read + [node.uuid for node in moved]))
        if told:
            announce.announce(self.app.stderr, told, power_read=bool(read))
        return self.COLUMNS, rows

    def run(self, parsed_args):
        self.failed = 0
        status = super().run(parsed_args)
        if status == 0 and self.failed:
            self.app.stderr.write('%d of the nodes did not move.\n'
                                  % self.failed)
            return 1
        return status

    def move(self, nodes):
        """:returns: ``(rows, moved nodes, uuids whose power was read)``"""
        raise NotImplementedError


class Manage(_LifecycleCommand):
    """Check nodes' BMCs with their credentials; the nodes that answer
    become manageable (enroll -> manageable; a named available node no
    instance holds is taken out of service; --all: the enroll nodes)."""

    ALL_FROM = (states.ENROLL,)

    def move(self, nodes):
        try:
            results = ipmi.IPMIPower().get_power_states(nodes)
        finally:
            # Log out of every BMC: real BMCs have few session slots.
            ipmi_loop.reset_loop()
        db_api.record_power_states(
            {uuid: value for uuid, value in results.items()
             if not isinstance(value, exception.InvalidBmcParameters)})
        rows, moved = [], []
        for node in nodes:
            result = results[node.uuid]
            if isinstance(result, Exception):
                rows.append(_failed(node, 'its BMC did not answer with its '
                                          'credentials: %s' % result
                                    if exception.bmc_fault(result) else
                                    'its BMC could not be checked: %s'
                                    % result))
                continue
            try:
                node = db_api.change_provision_state(
                    node.uuid, MANAGE_FROM, states.MANAGEABLE,
                    'only enroll, manageable and available nodes no '
                    'instance holds can be managed')
            except exception.NodeStateRefused as e:
                rows.append(_failed(node, e))
                continue
            moved.append(node)
            rows.append((node.uuid, node.name, node.provision_state,
                         'ok: power %s' % result))
        return rows, moved, [node.uuid for node in nodes]


class Provide(_LifecycleCommand):
    """Offer manageable nodes to tenants: available, or cleaning first
    (image nodes, with [baremetal] automated_clean on), which their proxy
    runs (--all: the manageable nodes)."""

    ALL_FROM = (states.MANAGEABLE,)

    def move(self, nodes):
        rows, moved = [], []
        for node in nodes:
            if node.maintenance:
                rows.append(_failed(node, 'it is in maintenance (%s): take '
                                          'it out first' %
                                    (node.maintenance_reason or 'no reason')))
                continue
            cleaned = (node.deploy_interface == states.IMAGE
                       and node_fields.effective_clean_mode(
                           node, CONF.baremetal.automated_clean)
                       != states.CLEAN_NONE)
            try:
                node = db_api.change_provision_state(
                    node.uuid, (states.MANAGEABLE,),
                    states.CLEANING if cleaned else states.AVAILABLE,
                    'only manageable nodes can be provided (enroll: run '
                    '"nova-bm-manage node manage" first)',
                    maintenance=False)
            except exception.NodeStateRefused as e:
                rows.append(_failed(node, e))
                continue
            moved.append(node)
            rows.append((node.uuid, node.name, node.provision_state,
                         'ok: its proxy cleans it, then it is available'
                         if cleaned else 'ok'))
        return rows, moved, []


#: Where ``node clean`` takes a node from.
CLEAN_FROM = (states.AVAILABLE, states.CLEAN_FAILED)


class Clean(_LifecycleCommand):
    """Erase image nodes' disks now: available or clean failed nodes no
    instance holds, in maintenance or not, are cleaned by their proxy
    (the command returns at once; node show and node list show the
    progress and the proof). --all-failed: every clean failed node."""

    ALL_FROM = (states.CLEAN_FAILED,)

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--all-failed', dest='all', action='store_true',
                            help='Every clean failed node (of --host, if '
                                 'given); the same as --all here.')
        parser.add_argument(
            '--mode', choices=node_fields.CLEAN_MODE_NAMES[:-1],
            type=str.lower,
            help='Erase in this mode, this once (default: the node\'s '
                 'clean mode, else [baremetal] automated_clean): '
                 + '; '.join('%s: %s' % pair
                             for pair in node_fields.CLEAN_MODES[:-1])
                 + '.')
        parser.add_argument(
            '--forget-disks', action='store_true',
            help='Forget the disks the node is known to have (each disk '
                 'seen at a cleaning must be there at the next, or that '
                 'cleaning fails): after a disk was removed on purpose.')
        return parser

    def take_action(self, parsed_args):
        self.mode = parsed_args.mode
        self.forget = parsed_args.forget_disks
        return super().take_action(parsed_args)

    def move(self, nodes):
        rows, moved = [], []
        for node in nodes:
            if node.deploy_interface != states.IMAGE:
                rows.append(_failed(node, 'only image nodes are cleaned '
                                          '(this one boots from the '
                                          'network)'))
                continue
            if self.mode is None and node.clean_mode == states.CLEAN_NONE:
                rows.append(_failed(node, 'its clean mode is none: give '
                                          '--mode'))
                continue
            fields = {}
            if self.forget:
                fields['last_cleaning'] = dict(
                    node.last_cleaning or {}, known_disks=[],
                    disks_forgotten_at=timeutils.utcnow().isoformat())
            try:
                # Its proxy resolves the mode when none is given: the
                # default is the proxy's [baremetal] automated_clean. A
                # request of an earlier, failed cleaning goes.
                node = db_api.change_provision_state(
                    node.uuid, CLEAN_FROM, states.CLEANING,
                    'only available and clean failed nodes no instance '
                    'holds can be cleaned', clean_request=self.mode,
                    out_of_maintenance=True, **fields)
            except exception.NodeStateRefused as e:
                rows.append(_failed(node, e))
                continue
            # Out of maintenance: the cleaning's outcome decides
            # (available, or clean failed and maintenance).
            moved.append(node)
            rows.append((node.uuid, node.name, node.provision_state,
                         'ok: its proxy cleans it (%s), then it is '
                         'available' % (self.mode or node.clean_mode
                                         or 'its default mode')))
        return rows, moved, []
