"""``nova-bm-manage node inventory NODE``: the hardware its last
successful inspection found (``-f json``: the whole inventory, as stored;
a table: one line per disk and NIC). Every value came from a ramdisk:
escaped in tables."""

from cliff import columns
from cliff import show

from nova_bm.cli import base
from nova_bm.common import safe_text
from nova_bm.db import api as db_api
from nova_bm import exception

SECTIONS = ('cpu', 'memory', 'system', 'boot', 'disks', 'interfaces')


def _words(entry, skip=()):
    return ' '.join('%s=%s' % (key, value)
                    for key, value in sorted(entry.items())
                    if value is not None and key not in skip)


class _Section(columns.FormattableColumn):
    """One part of an inventory: ``key=value`` words (a line per entry of
    a list) in tables; as stored in JSON/YAML."""

    def human_readable(self):
        value = self._value
        if isinstance(value, list):
            lines = [_words(entry, skip=('lldp',)) + (
                ' lldp=%s' % _words(entry['lldp'])
                if entry.get('lldp') else '') for entry in value]
        elif isinstance(value, dict):
            lines = [_words(value)]
        else:
            lines = ['' if value is None else str(value)]
        return '\n'.join(safe_text.escape(line) for line in lines)

    def machine_readable(self):
        return self._value


class Inventory(base.CommandMixin, show.ShowOne):
    """Show the hardware a node's last successful inspection found."""

    COLUMNS = SECTIONS

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('node', metavar='NODE', help='Name or UUID.')
        return parser

    def take_action(self, parsed_args):
        node = db_api.get_node(parsed_args.node)
        found = db_api.get_inventory(node.uuid)
        if found is None:
            raise exception.Invalid(
                'Node %s has no inventory: it was never inspected '
                '(nova-bm-manage node inspect %s).' % (node.name, node.name))
        return SECTIONS, tuple(_Section(found.get(key)) for key in SECTIONS)
