"""``nova-bm-manage node …``: enrol, list, show, update, delete, import.

NODE is a name or a UUID everywhere. Every input is validated before
anything is written (``nova_bm.enrolment.node_spec``); IPMI passwords are
shown as ``******`` and never logged.
"""

import argparse
import datetime
import sys

from cliff import command
from cliff import lister
from cliff import show
from oslo_utils import timeutils

from nova_bm.cli import announce
from nova_bm.cli import base
from nova_bm.cli import lifecycle
from nova_bm.common import node_fields
from nova_bm.common import notifications
from nova_bm.common import states
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.enrolment import node_file
from nova_bm.enrolment import node_spec
from nova_bm import exception


def _add_hardware_options(parser, required):
    parser.add_argument('--cpus', type=str, required=required,
                        metavar='N', help='Number of CPUs.')
    parser.add_argument('--memory-mb', type=str, required=required,
                        metavar='N', help='RAM in MiB.')
    parser.add_argument('--local-gb', type=str, required=required,
                        metavar='N', help='Root disk in GiB.')
    parser.add_argument('--cpu-arch', metavar='ARCH',
                        help='CPU architecture (default: [baremetal] '
                             'default_cpu_arch, x86_64).')
    parser.add_argument('--resource-class', metavar='RC',
                        help='Resource class; flavors request '
                             'resources:CUSTOM_<RC>=1 (default: '
                             '[baremetal] default_resource_class).')


def _add_ipmi_options(parser, required):
    parser.add_argument('--ipmi-address', required=required,
                        metavar='ADDR', help="BMC's IP address or host name.")
    parser.add_argument('--ipmi-port', metavar='PORT',
                        help="BMC's UDP port (default 623).")
    parser.add_argument('--ipmi-username', required=required, metavar='USER',
                        help='IPMI user name.')
    password = parser.add_mutually_exclusive_group(required=required)
    password.add_argument('--ipmi-password', metavar='PW',
                          help='IPMI password (visible to other local '
                               'users in the process list: prefer '
                               '--ipmi-password-file).')
    password.add_argument('--ipmi-password-file', metavar='FILE',
                          help='File whose first line is the IPMI password.')


def _add_partition_key_option(parser, help_more=''):
    parser.add_argument('--partition-key', metavar='KEY',
                        help='Partition key (a rack, a room): in hash_ring '
                             'mode only proxies with this [baremetal] '
                             'partition_key manage the node.' + help_more)


def _add_deploy_interface_option(parser, help_more=''):
    parser.add_argument(
        '--deploy-interface', choices=node_fields.DEPLOY_INTERFACE_NAMES,
        help='How the node gets its instance\'s operating system: '
             + '; '.join('%s: %s' % pair
                         for pair in node_fields.DEPLOY_INTERFACES)
             + '.' + help_more)


def _add_boot_mode_option(parser, help_more=''):
    parser.add_argument(
        '--boot-mode', choices=node_fields.BOOT_MODE_NAMES, type=str.lower,
        help='How the node\'s firmware boots: '
             + '; '.join('%s: %s' % pair for pair in node_fields.BOOT_MODES)
             + '.' + help_more)


def _add_clean_mode_option(parser, help_more=''):
    parser.add_argument(
        '--clean-mode', choices=node_fields.CLEAN_MODE_NAMES + (
            ('default',) if help_more else ()), type=str.lower,
        help='How the node\'s disks are erased between tenants: '
             + '; '.join('%s: %s' % pair for pair in node_fields.CLEAN_MODES)
             + '. Default: [baremetal] automated_clean.' + help_more)


def _add_root_device_option(parser, help_more=''):
    parser.add_argument(
        '--root-device', metavar='JSON',
        help='Root device hints, as Ironic\'s (a JSON object): the disk '
             'the image is written to, e.g. \'{"serial": "S3Z1NB0K"}\' or '
             '\'{"size": ">= 400", "rotational": false}\'. Without hints: '
             'the smallest disk of at least 4 GiB.' + help_more)


def _password(parsed_args):
    if parsed_args.ipmi_password_file is not None:
        return base.read_password_file(parsed_args.ipmi_password_file)
    return parsed_args.ipmi_password


def _ipmi_values(parsed_args):
    return {
        'ipmi_address': parsed_args.ipmi_address,
        'ipmi_port': parsed_args.ipmi_port,
        'ipmi_username': parsed_args.ipmi_username,
        'ipmi_password': _password(parsed_args),
    }


def _hardware_values(parsed_args):
    return {
        'cpus': parsed_args.cpus,
        'memory_mb': parsed_args.memory_mb,
        'local_gb': parsed_args.local_gb,
        'cpu_arch': parsed_args.cpu_arch,
        'resource_class': parsed_args.resource_class,
    }


class Create(base.CommandMixin, show.ShowOne):
    """Enrol one bare-metal node."""

    COLUMNS = base.NODE_FIELDS

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--name', required=True,
                            help="Node name: Nova's hypervisor_hostname for "
                                 'it; it cannot change later.')
        parser.add_argument('--host', required=True, metavar='SERVICE_HOST',
                            help='CONF.host of the nova-compute proxy that '
                                 'owns the node.')
        _add_partition_key_option(parser)
        _add_deploy_interface_option(
            parser, ' Default: [baremetal] default_deploy_interface.')
        parser.add_argument('--uuid', help='Node UUID (default: a new one).')
        _add_hardware_options(parser, required=False)
        _add_boot_mode_option(parser,
                              ' Default: [baremetal] default_boot_mode.')
        _add_clean_mode_option(parser)
        _add_root_device_option(parser)
        _add_ipmi_options(parser, required=True)
        parser.add_argument('--mac', action='append', default=[],
                            metavar='MAC',
                            help='MAC address of an interface (repeatable).')
        parser.add_argument('--trait', action='append', default=[],
                            metavar='TRAIT',
                            help='A trait such as CUSTOM_RACK1 '
                                 '(repeatable).')
        parser.add_argument('--provision-state',
                            choices=states.ENROLLED_STATES,
                            help='The state it is enrolled in (default: '
                                 '[baremetal] enrolled_node_state, '
                                 'enroll): only available nodes are '
                                 'offered to tenants.')
        parser.add_argument('--maintenance', action='store_true',
                            default=None,
                            help='Enrol it in maintenance.')
        parser.add_argument('--reason', metavar='TEXT',
                            help='Why it is in maintenance (with '
                                 '--maintenance).')
        return parser

    def take_action(self, parsed_args):
        values = dict(_hardware_values(parsed_args),
                      **_ipmi_values(parsed_args),
                      uuid=parsed_args.uuid, name=parsed_args.name,
                      service_host=parsed_args.host,
                      partition_key=parsed_args.partition_key,
                      deploy_interface=parsed_args.deploy_interface,
                      root_device_hints=parsed_args.root_device,
                      boot_mode=parsed_args.boot_mode,
                      clean_mode=parsed_args.clean_mode,
                      traits=parsed_args.trait,
                      provision_state=parsed_args.provision_state,
                      maintenance=parsed_args.maintenance,
                      maintenance_reason=parsed_args.reason)
        row, macs = node_spec.new_node(values, parsed_args.mac)
        node = db_api.create_node(row, macs)
        announce.announce(self.app.stderr, [node.uuid],
                          [(notifications.ENROLLED, [node])])
        return base.node_details(node)


class List(base.CommandMixin, lister.Lister):
    """List nodes, with what keeps them from service (Fault)."""

    COLUMNS = ('UUID', 'Name', 'Host', 'Power State', 'Provision State',
               'Maintenance', 'Fault', 'Instance UUID', 'Resource Class',
               'Deploy Interface')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--host', help='Only nodes of this proxy.')
        parser.add_argument('--orphaned', action='store_true',
                            help='Only nodes holding an instance whose '
                                 'proxy has not reported itself for '
                                 '[baremetal] proxy_down_time seconds: '
                                 'they stay with it until it comes back '
                                 'or their instance is evacuated or '
                                 'deleted.')
        maintenance = parser.add_mutually_exclusive_group()
        maintenance.add_argument('--maintenance', dest='maintenance',
                                 action='store_true', default=None,
                                 help='Only nodes in maintenance.')
        maintenance.add_argument('--no-maintenance', dest='maintenance',
                                 action='store_false',
                                 help='Only nodes not in maintenance.')
        parser.add_argument('--fault', nargs='?', const='', metavar='FAULT',
                            choices=('',) + states.FAULTS,
                            help='Only nodes with a fault (this one: %s).'
                                 % ', '.join("'%s'" % fault
                                             for fault in states.FAULTS))
        parser.add_argument('--provision-state',
                            choices=states.PROVISION_STATES,
                            help='Only nodes in this provision state.')
        return parser

    def take_action(self, parsed_args):
        if parsed_args.orphaned:
            nodes = [n for n in db_api.list_orphaned(_live_proxies())
                     if parsed_args.host in (None, n.service_host)
                     and parsed_args.maintenance in (None, n.maintenance)]
        else:
            nodes = db_api.list_nodes(service_host=parsed_args.host,
                                      maintenance=parsed_args.maintenance)
        if parsed_args.fault is not None:
            nodes = [n for n in nodes if n.fault and parsed_args.fault in (
                '', n.fault)]
        if parsed_args.provision_state is not None:
            nodes = [n for n in nodes
                     if n.provision_state == parsed_args.provision_state]
        return self.COLUMNS, [
            (n.uuid, n.name, n.service_host, n.power_state,
             n.provision_state, n.maintenance, n.fault, n.instance_uuid,
             n.resource_class, n.deploy_interface) for n in nodes]


def _live_proxies():
    """Proxies that reported themselves within proxy_down_time."""
    cutoff = timeutils.utcnow() - datetime.timedelta(
        seconds=CONF.baremetal.proxy_down_time)
    return {proxy.host for proxy in db_api.list_proxies()
            if proxy.seen_at >= cutoff}


class Show(base.CommandMixin, show.ShowOne):
    """Show one node (the IPMI password is masked)."""

    COLUMNS = base.NODE_FIELDS

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('node', metavar='NODE', help='Name or UUID.')
        return parser

    def take_action(self, parsed_args):
        return base.node_details(
            db_api.get_node(parsed_args.node, with_interfaces=True))


class Update(base.CommandMixin, show.ShowOne):
    """Change a node. Its name cannot change: it is its identity in Nova."""

    COLUMNS = base.NODE_FIELDS

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('node', metavar='NODE', help='Name or UUID.')
        parser.add_argument('--name', help=argparse.SUPPRESS)
        parser.add_argument('--host', metavar='SERVICE_HOST',
                            help='Move the node to another proxy.')
        _add_partition_key_option(parser, " '' removes the key.")
        _add_deploy_interface_option(
            parser, ' Refused while an instance holds the node.')
        _add_hardware_options(parser, required=False)
        _add_boot_mode_option(
            parser, ' Refused while the node is being deployed or cleaned; '
                    'an active node may be relabelled (its next rebuild '
                    'and cleaning boot by the new mode).')
        _add_clean_mode_option(
            parser, ' "default" follows [baremetal] automated_clean again. '
                    'Its next cleaning runs in the new mode.')
        _add_root_device_option(parser, " '{}' removes them.")
        _add_ipmi_options(parser, required=False)
        parser.add_argument('--trait', action='append', default=[],
                            metavar='TRAIT',
                            help='Add this trait (repeatable), as '
                                 '"baremetal node add trait".')
        parser.add_argument('--remove-trait', '--no-trait',
                            action='append', default=[], metavar='TRAIT',
                            help='Remove this trait (repeatable), as '
                                 '"baremetal node remove trait".')
        parser.add_argument('--no-traits', action='store_true',
                            help='Remove every trait (then --trait adds).')
        maintenance = parser.add_mutually_exclusive_group()
        maintenance.add_argument('--maintenance', dest='maintenance',
                                 action='store_true', default=None,
                                 help='Put the node into maintenance: Nova '
                                      'will not schedule to it.')
        maintenance.add_argument('--no-maintenance', dest='maintenance',
                                 action='store_false',
                                 help='Take the node out of maintenance.')
        parser.add_argument('--reason', metavar='TEXT',
                            help='Why the node is in maintenance (with '
                                 '--maintenance).')
        parser.add_argument('--force', action='store_true',
                            help='With --no-maintenance: take a clean '
                                 'failed node out of maintenance without '
                                 'a successful cleaning (logged); it is '
                                 'cleaned again. Prefer "node clean".')
        return parser

    def take_action(self, parsed_args):
        before = db_api.get_node(parsed_args.node)
        traits = _traits(before.traits, parsed_args)
        values = dict(_hardware_values(parsed_args),
                      **_ipmi_values(parsed_args),
                      name=parsed_args.name,
                      service_host=parsed_args.host, traits=traits,
                      partition_key=parsed_args.partition_key,
                      deploy_interface=parsed_args.deploy_interface,
                      root_device_hints=parsed_args.root_device,
                      boot_mode=parsed_args.boot_mode,
                      clean_mode=parsed_args.clean_mode,
                      maintenance=parsed_args.maintenance,
                      maintenance_reason=parsed_args.reason)
        changes = node_spec.node_changes(values)
        if not changes:
            raise exception.Invalid(
                'Nothing to update: give at least one option.')
        if parsed_args.force and changes.get('maintenance') is not False:
            raise exception.Invalid('--force goes only with '
                                    '--no-maintenance.')
        node = db_api.update_node(parsed_args.node, changes,
                                  force=parsed_args.force)
        events = []
        if node.maintenance != before.maintenance:
            events.append((notifications.MAINTENANCE_ON if node.maintenance
                           else notifications.MAINTENANCE_OFF, [node]))
        announce.announce(self.app.stderr, [node.uuid], events)
        return base.node_details(node)


def _traits(current, parsed_args):
    """The traits after ``--no-traits``, ``--trait`` and
    ``--remove-trait``, or None when none of them was given. A boot mode
    trait the node kept from before boot modes existed goes (the boot
    mode says it now)."""
    if not (parsed_args.no_traits or parsed_args.trait
            or parsed_args.remove_trait):
        return None
    added = node_fields.traits(parsed_args.trait, 'trait')
    removed = [node_fields.trait(value, 'remove-trait[%d]' % index)
               for index, value in enumerate(parsed_args.remove_trait)]
    missing = sorted(set(removed) - set(current))
    if missing and not parsed_args.no_traits:
        raise exception.InvalidField(
            field='remove-trait',
            reason='the node has no trait %s' % ', '.join(missing))
    boot_mode_traits = set(node_fields.BOOT_MODE_TRAITS.values())
    kept = [] if parsed_args.no_traits else [
        t for t in current if t not in boot_mode_traits]
    traits = [t for t in kept if t not in removed]
    return traits + [t for t in added if t not in traits]


class Delete(base.CommandMixin, command.Command):
    """Delete a node; refused while an instance holds it."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('node', metavar='NODE', help='Name or UUID.')
        return parser

    def take_action(self, parsed_args):
        node = db_api.get_node(parsed_args.node)
        db_api.destroy_node(parsed_args.node)
        self.app.stdout.write('Deleted node %s.\n' % parsed_args.node)
        announce.announce(self.app.stderr, [node.uuid],
                          [(notifications.DELETED, [node])])


class Import(base.CommandMixin, command.Command):
    """Enrol every node of an Ironic node file (YAML or JSON), or none."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('file', metavar='FILE',
                            help='Node file, as for "baremetal create".')
        parser.add_argument('--host', metavar='SERVICE_HOST',
                            help='Proxy for nodes that do not name one '
                                 '(service_host): required then, as '
                                 'for "node create".')
        _add_partition_key_option(
            parser, ' For nodes that give neither partition_key nor '
                    'conductor_group.')
        _add_deploy_interface_option(
            parser, ' For nodes that give no deploy_interface (default: '
                    '[baremetal] default_deploy_interface).')
        _add_boot_mode_option(
            parser, ' For nodes that give no boot_mode capability (default: '
                    '[baremetal] default_boot_mode).')
        parser.add_argument('--strict', action='store_true',
                            help='Refuse the file when it has keys nova-bm '
                                 'does not use (by default they are named '
                                 'in one warning line and ignored).')
        parser.add_argument('--inspect', action='store_true',
                            help='Enrol every node inspecting: its proxy '
                                 'reads its hardware with the deploy '
                                 'ramdisk, then it is manageable (nodes '
                                 'may then give only their BMC; see '
                                 '"node inspect").')
        return parser

    def take_action(self, parsed_args):
        specs, ignored = node_file.load_report(
            parsed_args.file, parsed_args.host, parsed_args.partition_key,
            parsed_args.deploy_interface, strict=parsed_args.strict,
            default_boot_mode=parsed_args.boot_mode)
        if ignored:
            self.app.stderr.write(
                'Warning: %s not used by nova-bm, ignored (--strict '
                'refuses them): %s\n' % (
                    'this key is' if len(ignored) == 1 else
                    'these %d keys are' % len(ignored),
                    node_file.describe_ignored(ignored)))
        if parsed_args.inspect:
            to_inspect(specs, parsed_args.file)
        progress = _ProgressBar(sys.stderr) if sys.stderr.isatty() else None
        try:
            nodes, ports = db_api.create_nodes(specs, progress=progress)
        except (exception.DuplicateInBatch, exception.DuplicateNode,
                exception.DuplicateInterface) as e:
            raise exception.NodeFileInvalid(path=parsed_args.file,
                                            reason=str(e)) from None
        finally:
            if progress is not None:
                progress.close()
        self.app.stdout.write('Created %s and %s from %s.\n' % (
            base.plural(nodes, 'node'), base.plural(ports, 'port'),
            parsed_args.file))
        rows = [row for row, _ in specs]
        announce.announce(self.app.stderr, [row['uuid'] for row in rows],
                          [(notifications.ENROLLED, rows)])


def to_inspect(specs, path):
    """Enrol the nodes of ``specs`` inspecting (each enroll or manageable,
    out of maintenance), or refuse the file."""
    request = {'requested_at': timeutils.utcnow().isoformat(),
               'overwrite': False}
    for row, _ in specs:
        if (row['provision_state'] not in lifecycle.INSPECT_FROM
                or row['maintenance']):
            raise exception.NodeFileInvalid(
                path=path, reason='node %s is %s%s: --inspect enrols only '
                'enroll or manageable nodes out of maintenance' % (
                    row['name'], row['provision_state'],
                    ' in maintenance' if row['maintenance'] else ''))
        row.update(provision_state=states.INSPECTING,
                   last_inspection=dict(request))


class _ProgressBar:
    """A one-line progress bar on a terminal."""

    WIDTH = 40

    def __init__(self, stream):
        self._stream = stream

    def __call__(self, done, total):
        filled = self.WIDTH * done // total
        self._stream.write('\rEnrolling [%s%s] %d/%d' % (
            '#' * filled, '.' * (self.WIDTH - filled), done, total))
        self._stream.flush()

    def close(self):
        self._stream.write('\n')
