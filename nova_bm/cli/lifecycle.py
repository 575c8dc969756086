"""``nova-bm-manage node manage|provide|clean|inspect``: Ironic's road
into service, an operator's cleaning and inspection.

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

``node inspect`` has a node's proxy boot it into the deploy ramdisk,
which reads its hardware: an ``enroll``, ``manageable`` or ``inspect
failed`` node no instance holds goes to ``inspecting``; ``manageable``
once its fields and interfaces were filled from what was found
(:mod:`nova_bm.proxy.inspection`), ``inspect failed`` otherwise.

Each move is one conditional update of a node no instance holds, so a
command never races a proxy working on the node. The owning proxies are
told at once on the message bus (:mod:`nova_bm.cli.announce`).
"""

import collections
import time

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
MANAGE_FROM = (states.ENROLL, states.MANAGEABLE, states.AVAILABLE,
               states.INSPECT_FAILED, states.INSPECTING)


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
            nodes = self.selected([node for node in nodes
                                   if node.provision_state in self.ALL_FROM],
                                  parsed_args)
        rows, moved, read = self.move(nodes)
        self.moved = moved
        self.failed = len(nodes) - len(moved)
        told = list(dict.fromkeys(read + [node.uuid for node in moved]))
        if told:
            announce.announce(self.app.stderr, told, power_read=bool(read))
        return self.COLUMNS, rows

    def selected(self, nodes, parsed_args):
        """Of the nodes ``--all`` selected in :attr:`ALL_FROM`, those to
        move."""
        return nodes

    #: What the summary says of the nodes that failed.
    not_moved = 'did not move'

    def run(self, parsed_args):
        self.failed = 0
        status = super().run(parsed_args)
        if status == 0 and self.failed:
            self.app.stderr.write('%d of the nodes %s.\n'
                                  % (self.failed, self.not_moved))
            return 1
        return status

    def move(self, nodes):
        """:returns: ``(rows, moved nodes, uuids whose power was read)``"""
        raise NotImplementedError


class Manage(_LifecycleCommand):
    """Check nodes' BMCs with their credentials; the nodes that answer
    become manageable (enroll, inspect failed or inspecting -> manageable,
    which ends an inspection; a named available node no instance holds is
    taken out of service; --all: the enroll nodes)."""

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
            if not node.cpus:
                rows.append(_failed(node, 'its hardware is not known (it '
                                          'was enrolled by its BMC alone): '
                                          'run "nova-bm-manage node '
                                          'inspect" first'))
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


#: Seconds between two looks at inspected nodes (``node inspect --wait``).
WAIT_INTERVAL = 2

#: Where ``node inspect`` takes a node from: not offered to tenants.
INSPECT_FROM = (states.ENROLL, states.MANAGEABLE, states.INSPECT_FAILED)


def inspected(node):
    """Whether the node's last inspection succeeded."""
    return (node.last_inspection or {}).get('result') == 'ok'


class Inspect(_LifecycleCommand):
    """Read nodes' hardware with the deploy ramdisk: enroll, manageable or
    inspect failed nodes no instance holds, out of maintenance, are
    inspected by their proxy (the command returns at once; node list and
    node show show inspecting, then manageable or inspect failed; node
    inventory shows what was found). --all-uninspected: every such node
    not inspected yet."""

    ALL_FROM = INSPECT_FROM

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--all-uninspected', action='store_true',
                            help='Every enroll, manageable or inspect failed '
                                 'node (of --host, if given) whose last '
                                 'inspection did not succeed.')
        parser.add_argument(
            '--overwrite', action='store_true',
            help='Replace the values set by hand (CPUs, memory, disk, '
                 'architecture, boot mode, interfaces\' PXE flags and '
                 'switch ports) with what is found; without it they are '
                 'kept and a disagreement is reported.')

        parser.add_argument(
            '--wait', action='store_true',
            help='Wait until the nodes are inspected, printing the '
                 'progress; exit status 1 if any failed.')
        parser.add_argument(
            '--timeout', type=int, metavar='SECONDS',
            help='With --wait: wait at most this long (default: '
                 '[baremetal] inspect_timeout and a minute).')
        return parser

    def take_action(self, parsed_args):
        self.overwrite = parsed_args.overwrite
        if parsed_args.all_uninspected:
            if parsed_args.all:
                raise exception.Invalid('Give --all or --all-uninspected, '
                                        'not both.')
            parsed_args.all = True
        timeout = parsed_args.timeout
        if timeout is not None and (timeout < 1 or not parsed_args.wait):
            raise exception.Invalid('--timeout takes --wait and a number '
                                    'of seconds of at least 1.')
        heading, rows = super().take_action(parsed_args)
        if not parsed_args.wait or not self.moved:
            return heading, rows
        if timeout is None:
            timeout = CONF.baremetal.inspect_timeout + 60
        nodes = self._wait(self.moved, timeout)
        self.failed += sum(node.provision_state != states.MANAGEABLE
                           for node in nodes)
        self.not_moved = 'were not inspected'
        return heading, [self._outcome(node) for node in nodes]

    def _wait(self, moved, timeout):
        uuids = [node.uuid for node in moved]
        deadline = time.monotonic() + timeout
        said = None
        while True:
            nodes = db_api.get_nodes(uuids)
            counts = collections.Counter(n.provision_state for n in nodes)
            progress = '%d of %d inspected, %d failed, %d inspecting' % (
                counts[states.MANAGEABLE], len(nodes),
                counts[states.INSPECT_FAILED], counts[states.INSPECTING])
            if progress != said:
                self.app.stderr.write(progress + '\n')
                said = progress
            if not counts[states.INSPECTING] or time.monotonic() > deadline:
                return nodes
            time.sleep(WAIT_INTERVAL)

    @staticmethod
    def _outcome(node):
        if node.provision_state == states.MANAGEABLE:
            return (node.uuid, node.name, node.provision_state, 'ok')
        if node.provision_state == states.INSPECTING:
            return _failed(node, 'not inspected in time')
        return _failed(node, node.last_error or 'no reason recorded')

    def selected(self, nodes, parsed_args):
        if parsed_args.all_uninspected:
            return [node for node in nodes if not inspected(node)]
        return nodes

    def move(self, nodes):
        rows, moved = [], []
        request = {'requested_at': timeutils.utcnow().isoformat(),
                   'overwrite': self.overwrite}
        for node in nodes:
            try:
                node = db_api.change_provision_state(
                    node.uuid, INSPECT_FROM, states.INSPECTING,
                    'only enroll, manageable and inspect failed nodes no '
                    'instance holds can be inspected', maintenance=False,
                    last_inspection=dict(request))
            except exception.NodeStateRefused as e:
                rows.append(_failed(node, e))
                continue
            moved.append(node)
            rows.append((node.uuid, node.name, node.provision_state,
                         'ok: its proxy inspects it, then it is '
                         'manageable'))
        return rows, moved, []
