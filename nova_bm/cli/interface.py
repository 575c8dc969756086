"""``nova-bm-manage interface add|list|delete``: a node's MAC addresses."""

from cliff import command
from cliff import lister
from cliff import show

from nova_bm.cli import base
from nova_bm.db import api as db_api
from nova_bm import node_fields


class Add(base.CommandMixin, show.ShowOne):
    """Add an interface to a node."""

    COLUMNS = ('address', 'node')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('node', metavar='NODE', help='Name or UUID.')
        parser.add_argument('mac', metavar='MAC', help='MAC address.')
        return parser

    def take_action(self, parsed_args):
        address = node_fields.mac_address(parsed_args.mac)
        interface = db_api.add_interface(parsed_args.node, address)
        return self.COLUMNS, (interface.address, parsed_args.node)


class List(base.CommandMixin, lister.Lister):
    """List interfaces, of one node or of all."""

    COLUMNS = ('Address', 'Node', 'Node UUID', 'VIF')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('node', metavar='NODE', nargs='?',
                            help='Name or UUID (default: all nodes).')
        return parser

    def take_action(self, parsed_args):
        rows = db_api.list_interfaces(parsed_args.node)
        return self.COLUMNS, [
            (interface.address, name, uuid, interface.vif_id)
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
