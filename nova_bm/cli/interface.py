"""``nova-bm-manage interface add|update|list|delete``: a node's NICs.

An interface is a MAC address with what Neutron needs to bind a port to
that NIC: whether the node boots from the network through it (``--pxe``),
its physical network, and the switch port it is cabled to (Ironic's
``local_link_connection``).
"""

from cliff import command
from cliff import lister
from cliff import show

from nova_bm.cli import base
from nova_bm.db import api as db_api
from nova_bm import exception
from nova_bm.common import node_fields
from nova_bm.enrolment import node_spec

COLUMNS = ('Address', 'Node', 'PXE', 'Physical Network',
           'Local Link Connection')


class LinkColumn(base.ListColumn):
    """The switch port: ``key=value`` pairs in tables, a mapping in
    JSON/YAML."""

    def human_readable(self):
        return ', '.join('%s=%s' % item
                         for item in sorted((self._value or {}).items()))

    def machine_readable(self):
        return dict(self._value or {})


def _row(interface, node_name):
    return (interface.address, node_name, interface.pxe_enabled,
            interface.physical_network,
            LinkColumn(interface.local_link_connection))


def _add_field_options(parser, update):
    pxe = parser.add_mutually_exclusive_group()
    pxe.add_argument('--pxe', dest='pxe_enabled', action='store_true',
                     default=None,
                     help='The node boots from the network through this NIC'
                          '%s.' % ('' if update else ' (default)'))
    pxe.add_argument('--no-pxe', dest='pxe_enabled', action='store_false',
                     help='It does not.')
    network = parser.add_mutually_exclusive_group()
    network.add_argument('--physical-network', metavar='NET',
                         help='The Neutron physical network the NIC is '
                              'cabled to.')
    if update:
        network.add_argument('--no-physical-network', action='store_true',
                             help='Forget the physical network.')
    link = parser.add_argument_group(
        'local link connection', 'The switch port the NIC is cabled to '
        '(binding:profile.local_link_information of its Neutron port).')
    link.add_argument('--switch-id', metavar='ID',
                      help="The switch's MAC address or OpenFlow datapath "
                           "id.")
    link.add_argument('--port-id', metavar='PORT',
                      help="The switch port's name, e.g. Ethernet1/7.")
    link.add_argument('--switch-info', metavar='TEXT',
                      help='Anything else that names the switch (optional).')
    if update:
        link.add_argument('--no-local-link-connection', action='store_true',
                          help='Forget the switch port.')


def _fields(parsed_args, update):
    """The interface fields the options give, validated."""
    values = {}
    if parsed_args.pxe_enabled is not None:
        values['pxe_enabled'] = parsed_args.pxe_enabled
    if parsed_args.physical_network is not None:
        values['physical_network'] = parsed_args.physical_network
    link = {key: getattr(parsed_args, key)
            for key in ('switch_id', 'port_id', 'switch_info')
            if getattr(parsed_args, key) is not None}
    if link:
        values['local_link_connection'] = link
    fields = node_spec.interface_fields(values, field='')
    if update:
        if getattr(parsed_args, 'no_physical_network', False):
            fields['physical_network'] = None
        if getattr(parsed_args, 'no_local_link_connection', False):
            if link:
                raise exception.Invalid('--no-local-link-connection cannot '
                                        'go with --switch-id, --port-id or '
                                        '--switch-info.')
            fields['local_link_connection'] = None
    return fields


class Add(base.CommandMixin, show.ShowOne):
    """Add an interface to a node."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('node', metavar='NODE', help='Name or UUID.')
        parser.add_argument('mac', metavar='MAC', help='MAC address.')
        _add_field_options(parser, update=False)
        return parser

    def take_action(self, parsed_args):
        address = node_fields.mac_address(parsed_args.mac)
        fields = _fields(parsed_args, update=False)
        interface = db_api.add_interface(parsed_args.node, address, **fields)
        return COLUMNS, _row(interface, parsed_args.node)


class Update(base.CommandMixin, show.ShowOne):
    """Change an interface (refused while an instance holds its node)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('mac', metavar='MAC', help='MAC address.')
        _add_field_options(parser, update=True)
        return parser

    def take_action(self, parsed_args):
        address = node_fields.mac_address(parsed_args.mac)
        fields = _fields(parsed_args, update=True)
        if not fields:
            raise exception.Invalid('Nothing to update: give at least one '
                                    'option.')
        interface, node_name = db_api.update_interface(address, fields)
        return COLUMNS, _row(interface, node_name)


class List(base.CommandMixin, lister.Lister):
    """List interfaces, of one node or of all."""

    COLUMNS = ('Address', 'Node', 'Node UUID', 'VIF', 'PXE',
               'Physical Network', 'Local Link Connection')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('node', metavar='NODE', nargs='?',
                            help='Name or UUID (default: all nodes).')
        return parser

    def take_action(self, parsed_args):
        rows = db_api.list_interfaces(parsed_args.node)
        return self.COLUMNS, [
            (interface.address, name, uuid, interface.vif_id,
             interface.pxe_enabled, interface.physical_network,
             LinkColumn(interface.local_link_connection))
            for interface, name, uuid in rows]


class Delete(base.CommandMixin, command.Command):
    """Delete the interface with this MAC address."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('mac', metavar='MAC', help='MAC address.')
        return parser

    def take_action(self, parsed_args):
        address = node_fields.mac_address(parsed_args.mac)
        db_api.delete_interface(address)
        self.app.stdout.write('Deleted interface %s.\n' % address)
