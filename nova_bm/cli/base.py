"""What every ``nova-bm-manage`` command shares.

Commands raise :mod:`nova_bm.exception` errors only: ``run`` turns the
errors of the libraries underneath (files, YAML, oslo.config, oslo.db) into
those, so the application prints one line and exits with the error's
``exit_code``, never a traceback (unless ``--debug``).
"""

import json

from cliff import columns
from oslo_config import cfg
from oslo_db import exception as db_exc

from nova_bm.cli import usage
from nova_bm.common import safe_text
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm import exception

MASK = safe_text.MASK


class CommandMixin(usage.OneLineUsageErrors):
    """Loads the configuration first and translates library errors.

    Usage errors are one line (:mod:`nova_bm.cli.usage`). A command that
    prints a table or a record names its columns in ``COLUMNS``, so that
    ``-c NAME`` is checked before the command does anything: cliff checks
    it only when it prints, after a ``node create`` has written its node.
    """

    COLUMNS = None

    def run(self, parsed_args):
        self._check_columns(getattr(parsed_args, 'columns', None))
        try:
            self.app.load_config()
            return super().run(parsed_args)
        except exception.NovaBMException:
            raise
        except cfg.Error as e:
            raise exception.ConfigInvalid(reason=_one_line(e)) from None
        except db_exc.DBError as e:
            # Never str() the DB error itself: it may quote SQL parameters.
            raise exception.NovaBMException(
                'Database error (%s); run with --debug for details.'
                % type(e).__name__) from None
        except OSError as e:
            raise exception.NovaBMException(
                '%s: %s' % (e.filename or 'I/O error',
                            e.strerror or _one_line(e))) from None

    def _check_columns(self, requested):
        if not requested:
            return
        if self.COLUMNS is None:
            raise exception.Invalid('-c: this command prints no columns.')
        known = {_column_key(c) for c in self.COLUMNS}
        for column in requested:
            if _column_key(column) not in known:
                raise exception.Invalid(
                    '-c %s: no such column; the columns are: %s.'
                    % (safe_text.quote(column), ', '.join(self.COLUMNS)))


def _column_key(name):
    # cliff's own normalisation: "-c power_state" selects "Power State".
    return name.lower().strip().replace(' ', '_')


def _one_line(error):
    return ' '.join(str(error).split())


class ListColumn(columns.FormattableColumn):
    """A list: comma-separated in tables, a real list in JSON/YAML."""

    def human_readable(self):
        return ', '.join(str(v) for v in self._value or ())

    def machine_readable(self):
        return list(self._value or ())


def _size(size):
    if size is None:
        return '?'
    for unit, shift in (('TiB', 40), ('GiB', 30), ('MiB', 20)):
        if size >= 1 << shift:
            return '%g %s' % (round(size / (1 << shift), 1), unit)
    return '%d bytes' % size


class LastCleaningColumn(columns.FormattableColumn):
    """A node's last cleaning: when, the mode, the outcome, then one line
    per disk (its identity and how it was erased) in tables; the stored
    record in JSON/YAML. Every value came from a ramdisk: escaped."""

    def human_readable(self):
        last = self._value
        if not last or 'mode' not in last:
            said = 'never (since clean modes: no proof recorded)'
            if last and last.get('disks_forgotten_at'):
                said += '; known disks forgotten at %s' % (
                    last['disks_forgotten_at'])
            return safe_text.escape(said)
        if last.get('disks_forgotten_at'):
            last = dict(last, problems=list(last.get('problems') or ()) + [
                'known disks forgotten at %s' % last['disks_forgotten_at']])
        lines = ['%s %s, %s to %s%s' % (
            last.get('mode'), last.get('result'), last.get('started_at'),
            last.get('finished_at'),
            ''.join('; ' + p for p in last.get('problems') or ()))]
        for disk in last.get('disks') or ():
            ident = ', '.join('%s %s' % (key, disk[key])
                              for key in ('serial', 'wwn', 'model')
                              if disk.get(key))
            done = '%s, %s in %s s, %s read back' % (
                disk.get('method'), _size(disk.get('bytes')),
                disk.get('seconds'), disk.get('verified'))
            if disk.get('note'):
                done += ' (%s)' % disk['note']
            lines.append('%s (%s%s): %s' % (
                disk.get('name'), _size(disk.get('size')),
                ', ' + ident if ident else '', done))
        return '\n'.join(safe_text.escape(line) for line in lines)

    def machine_readable(self):
        return self._value


class LastInspectionColumn(columns.FormattableColumn):
    """A node's last inspection: when, the outcome, what it set and
    where it disagreed with values set by hand, in tables; the stored
    record in JSON/YAML. Values came from a ramdisk: escaped."""

    def human_readable(self):
        last = self._value
        if not last or 'result' not in last:
            if last and last.get('requested_at'):
                return 'requested at %s' % last['requested_at']
            return 'never'
        lines = ['%s, %s to %s%s' % (
            last['result'], last.get('started_at'), last.get('finished_at'),
            ''.join('; ' + p for p in last.get('problems') or ()))]
        if last.get('set'):
            lines.append('set: ' + ', '.join(
                '%s %s' % pair for pair in sorted(last['set'].items())))
        said = 'replaced: ' if last.get('overwrite') else 'kept: '
        lines += [said + line for line in last.get('disagreements') or ()]
        return '\n'.join(safe_text.escape(line) for line in lines)

    def machine_readable(self):
        return self._value


NODE_FIELDS = ('uuid', 'name', 'service_host', 'partition_key', 'cpus',
               'memory_mb', 'local_gb', 'cpu_arch', 'resource_class', 'traits',
               'ipmi_address', 'ipmi_port', 'ipmi_username', 'ipmi_password',
               'interfaces', 'deploy_interface', 'boot_mode', 'clean_mode',
               'root_device_hints', 'last_cleaning', 'last_inspection',
               'instance_uuid',
               'power_state', 'provision_state', 'maintenance',
               'maintenance_reason', 'fault', 'last_error', 'created_at',
               'updated_at')


def node_details(node):
    """``(fields, values)`` of ``node show``; the password is masked."""
    values = []
    for field in NODE_FIELDS:
        if field == 'ipmi_password':
            value = MASK
        elif field == 'interfaces':
            value = ListColumn([i.address for i in node.interfaces])
        elif field == 'traits':
            value = ListColumn(node.traits)
        elif field == 'root_device_hints':
            hints = node.root_device_hints
            value = json.dumps(hints, sort_keys=True) if hints else None
        elif field == 'clean_mode':
            value = node.clean_mode or '%s (default)' % (
                CONF.baremetal.automated_clean)
        elif field == 'last_cleaning':
            value = LastCleaningColumn(node.last_cleaning)
        elif field == 'last_inspection':
            value = LastInspectionColumn(node.last_inspection)
        elif field in ('created_at', 'updated_at'):
            stamp = getattr(node, field)
            value = stamp.isoformat() if stamp else None
        else:
            value = getattr(node, field)
        values.append(value)
    return NODE_FIELDS, tuple(values)


def add_node_selection(parser):
    """``NODE…`` or ``--all [--host H]``: the nodes a command acts on."""
    parser.add_argument('nodes', metavar='NODE', nargs='*',
                        help='Name or UUID (repeatable).')
    parser.add_argument('--all', action='store_true',
                        help='Every node (of --host, if given).')
    parser.add_argument('--host', metavar='SERVICE_HOST',
                        help='With --all: only the nodes of this proxy.')


def selected_nodes(parsed_args):
    """The nodes of :func:`add_node_selection`'s arguments."""
    if parsed_args.all == bool(parsed_args.nodes):
        raise exception.Invalid('Name nodes or give --all, not both and '
                                'not neither.')
    if parsed_args.host and not parsed_args.all:
        raise exception.Invalid('--host selects nodes only with --all.')
    if parsed_args.all:
        return db_api.list_nodes(service_host=parsed_args.host)
    return db_api.get_nodes(parsed_args.nodes)


def plural(count, noun):
    """``1 node``, ``2 nodes``."""
    return '%d %s%s' % (count, noun, '' if count == 1 else 's')


def read_password_file(path):
    """The first line of a password file, without its line ending."""
    try:
        with open(path, encoding='utf-8') as f:
            return f.readline().rstrip('\r\n')
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, 'strerror', None) or _one_line(e)
        raise exception.InvalidField(
            field='--ipmi-password-file',
            reason='cannot read %s: %s' % (safe_text.quote(path),
                                           reason)) from None
