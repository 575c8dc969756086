"""Read Ironic ``baremetal create`` node files (YAML or JSON).

Operators already keep their inventory in this shape, so ``nova-bm-manage
node import`` takes it as it is::

    nodes:
      - name: rack1-node01
        driver: ipmi                  # optional; must be an IPMI driver
        resource_class: baremetal-gold
        driver_info: {ipmi_address: 10.0.0.11, ipmi_port: 623,
                      ipmi_username: admin, ipmi_password: secret}
        properties: {cpus: 32, memory_mb: 262144, local_gb: 960,
                     cpu_arch: x86_64,
                     root_device: {serial: S3Z1NB0K123456},  # optional
                     capabilities: "boot_mode:uefi"}          # optional
        traits: [CUSTOM_RACK1]        # optional
        provision_state: manageable   # optional: enroll, manageable, available
        maintenance: false            # optional, as maintenance_reason
        ports: [{address: "52:54:00:12:34:56"}]

Nodes may also be nested under ``chassis: [{nodes: [...]}]`` and ports
under ``portgroups: [{ports: [...]}]``, as Ironic allows. Keys Ironic knows
but nova-bm has no use for (``deploy_kernel``, ``extra``, capabilities
other than ``boot_mode``, …) are not imported: :func:`load_report` names
every one of them, and refuses them with ``strict=True``.
A node may name its proxy with the nova-bm key ``service_host``, and its
partition key with ``partition_key`` or Ironic's ``conductor_group`` (which
Nova's ironic driver matches against its own ``[ironic] partition_key``).
The boot mode (``uefi`` or ``bios``) is Ironic's ``boot_mode``
capability, in ``properties.capabilities`` as Ironic writes it
(``"boot_mode:uefi,secure_boot:false"``) or as a mapping, or the node's own
``boot_mode`` key; without one, ``[baremetal] default_boot_mode``.
The clean mode is the node's ``clean_mode`` (``metadata``, ``express``,
``full`` or ``none``), or Ironic's ``automated_clean`` (``false`` is
``none``); without one, ``[baremetal] automated_clean``.
``deploy_interface`` is ``image`` or ``netboot``; Ironic's ``direct`` is
read as ``image`` and its ``ramdisk`` as ``netboot``. ``provision_state``,
``maintenance`` and ``maintenance_reason`` are passed to
:func:`nova_bm.enrolment.node_spec.new_node` as they are.

A file is checked whole before it is refused: every error of every node
(each naming the node by index and name, and the field), a name, UUID, BMC
address:port or MAC given more than once within the file, at most
:data:`MAX_ERRORS_SHOWN` of them in the message. No message shows an
``ipmi_password``.
"""

import os
import re

from nova_bm.enrolment import bounded_load
from nova_bm.common import node_fields
from nova_bm.common import states
from nova_bm import exception
from nova_bm.enrolment import node_spec
from nova_bm.common import safe_text

IPMI_DRIVERS = frozenset(['ipmi', 'pxe_ipmitool', 'agent_ipmitool',
                          'pxe_ipmitool_socat', 'agent_ipmitool_socat'])

#: A refusal lists at most this many errors, then says how many more.
MAX_ERRORS_SHOWN = 50

# node_spec field -> where it sits in an Ironic node, for error messages.
_IRONIC_PATHS = {
    'ipmi_address': 'driver_info.ipmi_address',
    'ipmi_port': 'driver_info.ipmi_port',
    'ipmi_username': 'driver_info.ipmi_username',
    'ipmi_password': 'driver_info.ipmi_password',
    'cpus': 'properties.cpus',
    'memory_mb': 'properties.memory_mb',
    'local_gb': 'properties.local_gb',
    'cpu_arch': 'properties.cpu_arch',
    'root_device': 'properties.root_device',
    'boot_mode': 'boot_mode',
}
_TOP_LEVEL_KEYS = frozenset(['nodes', 'chassis'])

# What nova-bm reads of an Ironic node, of its driver_info and properties,
# of a chassis and of a portgroup; any other key is reported as ignored.
_DRIVER_INFO_KEYS = frozenset(['ipmi_address', 'ipmi_port', 'ipmi_username',
                               'ipmi_password'])
_PROPERTIES_KEYS = frozenset(['cpus', 'memory_mb', 'local_gb', 'cpu_arch',
                              'root_device', 'capabilities'])
# Ironic's capabilities nova-bm reads; any other is reported as ignored.
_CAPABILITIES_KEYS = frozenset(['boot_mode'])
# Passed to node_spec.new_node as they are, when the node gives them.
_LIFECYCLE_KEYS = ('provision_state', 'maintenance', 'maintenance_reason')
_NODE_KEYS = frozenset([
    'name', 'uuid', 'driver', 'resource_class', 'traits', 'driver_info',
    'properties', 'ports', 'portgroups', 'service_host', 'partition_key',
    'conductor_group', 'deploy_interface', 'boot_mode', 'clean_mode',
    'automated_clean']) | frozenset(_LIFECYCLE_KEYS)
_CHASSIS_KEYS = frozenset(['nodes'])
_PORTGROUP_KEYS = frozenset(['ports'])

# Valid values that stand in for a refused or missing required field while
# the node's other fields are checked; they are never written.
_STAND_INS = {
    'name': 'stand-in', 'service_host': 'stand-in', 'cpus': 1,
    'memory_mb': 1, 'local_gb': 1, 'ipmi_address': '192.0.2.1',
    'ipmi_username': 'stand-in', 'ipmi_password': '',
}


def load(path, default_host, default_partition_key=None,
         default_deploy_interface=None, strict=False,
         default_boot_mode=None):
    """Parse and validate a node file; nothing is written.

    :param default_host: the proxy for nodes that do not name one.
    :param default_partition_key: the key of nodes that do not give one.
    :param default_deploy_interface: the deploy interface of nodes that do
        not give one (None: ``[baremetal] default_deploy_interface``).
    :param default_boot_mode: the boot mode of nodes that do not give one
        (None: ``[baremetal] default_boot_mode``).
    :param strict: refuse keys nova-bm does not use (see
        :func:`load_report`).
    :returns: a list of ``(row, macs)`` ready for ``db.api.create_nodes``.
    :raises: NodeFileInvalid naming the file and every error (see
        :func:`load_report`).
    """
    return load_report(path, default_host, default_partition_key,
                       default_deploy_interface, strict=strict,
                       default_boot_mode=default_boot_mode)[0]


def load_report(path, default_host, default_partition_key=None,
                default_deploy_interface=None, strict=False,
                default_boot_mode=None):
    """:func:`load`, and what of the file was not imported.

    :returns: ``(specs, ignored)``: the specs :func:`load` returns, and the
        keys of the file that nova-bm does not use, as dotted paths
        (``nodes[0].properties.root_device``, ``nodes[3].ipmi_address``,
        ``chassis[0].nodes[1].ports[0].extra``), sorted with numbers as
        numbers (``nodes[2]`` before ``nodes[10]``). A key whose value is empty
        (null, ``""``, ``[]``, ``{}``) says nothing and is not listed.
    :raises: NodeFileInvalid naming the file and every error: one line for
        one error; otherwise a first line counting them and one line per
        error (at most :data:`MAX_ERRORS_SHOWN`, then how many more), each
        naming the node by index and name, and the field. With ``strict``,
        each ignored key is such an error. Its ``errors`` attribute lists
        them all.
    """
    document = _parse(path)
    # A node without a proxy is one error for the file, not one per node.
    defaults = (default_host or _NO_HOST, default_partition_key,
                default_deploy_interface, default_boot_mode)
    unowned = []
    errors = []  # (order, text): sorted by order, the file's order
    ignored = []
    specs = []
    duplicates = _Duplicates()
    for order, (location, node) in enumerate(_nodes(path, document)):
        if node is _CHASSIS_KEY:  # a chassis' key, not a node
            ignored.append(location)
            if strict:
                errors.append((order, '%s: %s' % (location,
                                                  _unused(location))))
            continue
        where = location + _label(node)
        if default_host is None and isinstance(node, dict) and (
                not node.get('service_host')):
            unowned.append(where)
        result = _read_node(node, defaults)
        for field, reason in result.errors:
            errors.append((order, '%s: %s: %s' % (where, field, reason)))
        for key in result.ignored:
            ignored.append(_at(location, key))
            if strict:
                errors.append((order, '%s: %s: %s' % (where, key,
                                                      _unused(key))))
        duplicates.add(order, location, where, result)
        if not result.errors:
            specs.append((result.row,
                          [spec for _, spec in result.ports]))
    errors.extend(duplicates.errors())
    if unowned:
        errors.append((-1, '%s name%s no proxy (service_host): give --host, '
                           'the nova-compute proxy that owns %s' % (
                               _some(unowned),
                               's' if len(unowned) == 1 else '',
                               'it' if len(unowned) == 1 else 'them')))
    if errors:
        errors.sort(key=lambda error: error[0])
        raise _refusal(path, [text for _, text in errors])
    if not specs:
        raise exception.NodeFileInvalid(path=path, reason='it has no nodes')
    ignored.sort(key=_natural)
    return specs, ignored


#: The proxy of a node that names none, when no --host was given: refused
#: once for the whole file (see load_report).
_NO_HOST = 'no-proxy-given'


def _some(places, shown=3):
    """``nodes[0] (a), nodes[1] (b) and 5 more``."""
    text = ', '.join(places[:shown])
    if len(places) > shown:
        text += ' and %d more' % (len(places) - shown)
    return text


# Where a path of ``ignored`` leaves the node (or chassis) it is in.
_HOLDER = re.compile(r'(?:chassis\[\d+\]\.)?nodes\[\d+\]|chassis\[\d+\]')


def describe_ignored(ignored, places=3, keys=20):
    """``ignored`` (from :func:`load_report`) said short, for one warning
    line: each key once, with the first ``places`` nodes that have it,
    ``'driver_info.deploy_kernel in nodes[0], nodes[1] and 1998 more;
    ipmi_address in nodes[3]'``; at most ``keys`` keys, then how many
    more."""
    holders = {}  # key within its node -> nodes that have it
    for path in ignored:
        match = _HOLDER.match(path)
        holder = match.group() if match else ''
        key = _at('', path[len(holder):]) if holder else path
        holders.setdefault(key, []).append(holder)
    parts = []
    for key, nodes in list(holders.items())[:keys]:
        where = ', '.join(node for node in nodes[:places] if node)
        if len(nodes) > places:
            where += ' and %d more' % (len(nodes) - places)
        parts.append('%s in %s' % (key, where) if where else key)
    if len(holders) > keys:
        parts.append('and %d more keys' % (len(holders) - keys))
    return '; '.join(parts)


def _refusal(path, errors):
    """NodeFileInvalid listing ``errors``, one line each when several.

    Each line is escaped by itself (safe_text.escape), so no value breaks
    or drives the terminal; only the line breaks between errors are kept.
    """
    if len(errors) == 1:
        error = exception.NodeFileInvalid(path=path, reason=errors[0])
    else:
        shown = errors[:MAX_ERRORS_SHOWN]
        lines = ['%s: %d errors:' % (path, len(errors))]
        lines.extend('  ' + text for text in shown)
        if len(errors) > len(shown):
            lines.append('  and %d more' % (len(errors) - len(shown)))
        error = exception.NodeFileInvalid(
            path=path, reason='%d errors' % len(errors))
        error.args = ('\n'.join(safe_text.escape(line) for line in lines),)
    error.errors = list(errors)
    return error


def _natural(path):
    """Sort key: numbers as numbers (``nodes[2]`` before ``nodes[10]``)."""
    return [int(part) if index % 2 else part
            for index, part in enumerate(re.split(r'(\d+)', path))]


def _unused(key):
    """Why a key nova-bm ignores is refused with ``strict``."""
    for section, keys in (('driver_info', _DRIVER_INFO_KEYS),
                          ('properties', _PROPERTIES_KEYS)):
        if key in keys:
            return 'is not used by nova-bm (it belongs in %s)' % section
    return 'is not used by nova-bm'


def _parse(path):
    extension = os.path.splitext(path)[1].lower()
    parsers = {'.json': bounded_load.load_json,
               '.yaml': bounded_load.load_yaml,
               '.yml': bounded_load.load_yaml}
    if extension not in parsers:
        raise exception.NodeFileInvalid(
            path=path, reason='must end in .json, .yaml or .yml, like the '
                              'files of "baremetal create"')
    try:
        return parsers[extension](bounded_load.read(path))
    except OSError as e:
        raise exception.NodeFileInvalid(path=path,
                                        reason=e.strerror or str(e)) from None
    except bounded_load.Refused as e:
        raise exception.NodeFileInvalid(path=path, reason=str(e)) from None


# What _nodes yields for a key of a chassis that nova-bm ignores.
_CHASSIS_KEY = object()


def _nodes(path, document):
    """Yield ``(location, node mapping)`` for every node in the file, and
    ``(path, _CHASSIS_KEY)`` for every key of a chassis that is ignored."""
    if not isinstance(document, dict):
        raise exception.NodeFileInvalid(
            path=path, reason='must be a mapping with a "nodes" list')
    unknown = [key for key in document if key not in _TOP_LEVEL_KEYS]
    if unknown:
        raise exception.NodeFileInvalid(
            path=path, reason='top-level key %s is not supported (nest ports '
                              'under their node)'
                              % safe_text.quote(unknown[0]))
    yield from _node_list(path, document.get('nodes', []), 'nodes')
    for index, chassis in enumerate(_list(path, document.get('chassis', []),
                                          'chassis')):
        where = 'chassis[%d]' % index
        if not isinstance(chassis, dict):
            raise exception.NodeFileInvalid(
                path=path, reason='%s is not a mapping' % where)
        for key in _unread(chassis, _CHASSIS_KEYS):
            yield _at(where, key), _CHASSIS_KEY
        yield from _node_list(path, chassis.get('nodes', []),
                              where + '.nodes')


def _node_list(path, nodes, where):
    for index, node in enumerate(_list(path, nodes, where)):
        yield '%s[%d]' % (where, index), node


def _list(path, value, where):
    if not isinstance(value, list):
        raise exception.NodeFileInvalid(path=path,
                                        reason='%s must be a list' % where)
    return value


def _label(node, limit=64):
    if isinstance(node, dict) and isinstance(node.get('name'), str):
        name = node['name']
        return ' (%s)' % (name if len(name) <= limit else name[:limit] + '…')
    return ''


# A key shown as it is in a path; any other is quoted: ['a key'].
_PLAIN_KEY = re.compile(r'[A-Za-z_][A-Za-z0-9_-]{0,63}\Z')


def _key(key):
    """A mapping key as a step of a dotted path: ``.name`` or ``['a b']``."""
    if isinstance(key, str) and _PLAIN_KEY.match(key):
        return '.' + key
    return '[%s]' % safe_text.quote(key)


def _at(prefix, step):
    """``prefix`` followed by ``step`` (from :func:`_key`, or relative)."""
    if step.startswith('.'):
        step = step[1:]
    if not prefix:
        return step
    return prefix + (step if step.startswith('[') else '.' + step)


def _unread(mapping, known):
    """The keys of ``mapping`` nova-bm does not read, as path steps; keys
    whose value is empty (None, "", [], {}) say nothing and are skipped."""
    return [_key(key) for key, value in mapping.items()
            if key not in known
            and not (value is None or value in ('', [], {}))]


# Ironic's deploy interfaces that mean ours: "direct" writes the image with
# the agent ramdisk, "ramdisk" boots a ramdisk from the network.
_IRONIC_DEPLOY_INTERFACES = {'direct': states.IMAGE,
                              'ramdisk': states.NETBOOT}


def _deploy_interface(value):
    if isinstance(value, str):
        return _IRONIC_DEPLOY_INTERFACES.get(value, value)
    return value


class _NodeResult:
    """What one node of the file gave."""

    def __init__(self):
        self.row = None      # the node_spec row; None if it was refused
        self.given_uuid = False
        self.refused = set()  # row fields that were refused or missing
        self.ports = []      # (where, interface spec) of each valid port
        self.errors = []     # (field path, reason)
        self.ignored = []    # paths, relative to the node, of unused keys


def _read_node(node, defaults):
    """Check every field of one node, collecting every error."""
    (default_host, default_partition_key, default_deploy_interface,
     default_boot_mode) = defaults
    result = _NodeResult()
    if not isinstance(node, dict):
        result.errors.append(('node', 'must be a mapping'))
        return result
    result.ignored.extend(_at('', key) for key in _unread(node, _NODE_KEYS))
    result.given_uuid = node.get('uuid') is not None
    driver = node.get('driver')
    if driver is not None and not (isinstance(driver, str)
                                   and driver in IPMI_DRIVERS):
        result.errors.append((
            'driver', '%s is not an IPMI driver; nova-bm drives nodes over '
                      'IPMI only' % safe_text.quote(driver)))
    if (node.get('partition_key') and node.get('conductor_group')
            and node['partition_key'] != node['conductor_group']):
        result.errors.append(('partition_key', 'differs from '
                                               'conductor_group; give one '
                                               'of them'))
    # A section that is not a mapping is one error, not one per field.
    silenced = set()
    info = _section(node, 'driver_info', _DRIVER_INFO_KEYS, result)
    if info is None:
        info, silenced = {}, silenced | _DRIVER_INFO_KEYS
    props = _section(node, 'properties', _PROPERTIES_KEYS, result)
    if props is None:
        props, silenced = {}, silenced | _PROPERTIES_KEYS
    boot_mode = _boot_mode(node, props, result)
    values = {
        'clean_mode': _clean_mode(node, result),
        'boot_mode': default_boot_mode if boot_mode is None else boot_mode,
        'uuid': node.get('uuid'),
        'name': node.get('name'),
        'service_host': node.get('service_host') or default_host,
        'partition_key': (node.get('partition_key')
                          or node.get('conductor_group')
                          or default_partition_key),
        'resource_class': node.get('resource_class'),
        'traits': node.get('traits'),
        'cpus': props.get('cpus'),
        'memory_mb': props.get('memory_mb'),
        'local_gb': props.get('local_gb'),
        'cpu_arch': props.get('cpu_arch'),
        'root_device_hints': props.get('root_device'),
        'ipmi_address': info.get('ipmi_address'),
        'ipmi_port': info.get('ipmi_port'),
        'ipmi_username': info.get('ipmi_username'),
        'ipmi_password': info.get('ipmi_password'),
        'deploy_interface': (_deploy_interface(node.get('deploy_interface'))
                             or default_deploy_interface),
    }
    # Only when given: node_spec validates them (and fills in defaults).
    values.update((key, node[key]) for key in _LIFECYCLE_KEYS if key in node)
    _new_node(values, silenced, result)
    _read_ports(node, result)
    return result


def _capabilities(value, result):
    """Ironic's ``properties.capabilities``: ``"k1:v1,k2:v2"`` (how Ironic
    stores it) or a mapping. :returns: the mapping, or None (refused: an
    error is noted)."""
    where = 'properties.capabilities'
    if isinstance(value, str):
        parsed = {}
        for item in value.split(','):
            key, colon, capability = item.partition(':')
            key = key.strip()
            if not colon or not key:
                result.errors.append((where, 'must be "key:value" pairs '
                                             'separated by commas, got %s'
                                      % safe_text.quote(value)))
                return None
            if key in parsed:
                result.errors.append((where, 'gives %s twice'
                                      % safe_text.quote(key)))
                return None
            parsed[key] = capability.strip()
        value = parsed
    if not isinstance(value, dict):
        result.errors.append((where, 'must be "key:value,..." or a '
                                     'mapping, got %s'
                              % safe_text.quote(value)))
        return None
    result.ignored.extend(_at(where, step)
                          for step in _unread(value, _CAPABILITIES_KEYS))
    return value


def _boot_mode(node, props, result):
    """The node's boot mode as the file gives it, normalised (None: not
    given, or refused: an error naming where it was is noted)."""
    given = []  # (where, value)
    capabilities = props.get('capabilities')
    if capabilities not in (None, '', {}):
        parsed = _capabilities(capabilities, result)
        if parsed is not None and 'boot_mode' in parsed:
            given.append(('properties.capabilities.boot_mode',
                          parsed['boot_mode']))
    if node.get('boot_mode') is not None:
        given.append(('boot_mode', node['boot_mode']))
    modes = []
    for where, value in given:
        try:
            modes.append(node_fields.boot_mode(value, where))
        except exception.InvalidField as e:
            result.errors.append((where, e.kwargs['reason']))
            return None
    if len(set(modes)) > 1:
        result.errors.append(('boot_mode', '%s differs from '
                                           'properties.capabilities '
                                           'boot_mode %s; give one of them'
                              % (safe_text.quote(modes[1]),
                                 safe_text.quote(modes[0]))))
        return None
    return modes[0] if modes else None


def _clean_mode(node, result):
    """The node's clean mode: its ``clean_mode``, or Ironic's
    ``automated_clean`` (false: ``none``; true: the default mode). None:
    not given, or refused (an error is noted)."""
    mode, automated = node.get('clean_mode'), node.get('automated_clean')
    if automated is not None and not isinstance(automated, bool):
        result.errors.append(('automated_clean', 'must be true or false'))
        return None
    if mode is None:
        return states.CLEAN_NONE if automated is False else None
    try:
        mode = node_fields.clean_mode(mode)
    except exception.InvalidField as e:
        result.errors.append(('clean_mode', e.kwargs['reason']))
        return None
    if automated is not None and (automated is False) != (
            mode == states.CLEAN_NONE):
        result.errors.append(('clean_mode', '%s contradicts automated_clean '
                                            '%s; give one of them'
                              % (mode, str(automated).lower())))
        return None
    return mode


def _section(node, key, known, result):
    """``node[key]`` as a mapping (None: refused); its unused keys are
    noted."""
    value = node.get(key) or {}
    if not isinstance(value, dict):
        result.errors.append((key, 'must be a mapping'))
        return None
    result.ignored.extend(_at(key, step) for step in _unread(value, known))
    return value


def _new_node(values, silenced, result):
    """node_spec.new_node, asked again with a stand-in for each refused
    field (node_spec stops at the first), until all the node's errors are
    known. Sets ``result.row`` (with stand-ins: kept only if no error) and
    ``result.refused``."""
    values = dict(values)
    while True:
        try:
            result.row, _ = node_spec.new_node(values)
            return
        except exception.InvalidField as e:
            field = str(e.kwargs.get('field', 'node'))
            key = re.match(r'[^.\[]*', field).group()
            if key not in silenced:
                result.errors.append((_IRONIC_PATHS.get(key, key)
                                      + field[len(key):],
                                      e.kwargs.get('reason', str(e))))
            if key in result.refused or key not in values:
                return  # no stand-in helps: the rest stays unchecked
            result.refused.add(key)
            values[key] = _STAND_INS.get(key)


# What nova-bm keeps of an Ironic port; its other keys (uuid, extra,
# portgroup_uuid, ...) are Ironic's own business.
_PORT_KEYS = ('address',) + tuple(node_spec.INTERFACE_FIELDS)


def _read_ports(node, result):
    """Check each of a node's ports (``ports`` and ``portgroups[].ports``)
    by itself; a MAC given twice is the caller's to find."""
    for where, port in _ports(node, result):
        if isinstance(port, dict):
            result.ignored.extend(_at(where, key)
                                  for key in _unread(port, _PORT_KEYS))
            port = {key: port[key] for key in _PORT_KEYS if key in port}
        try:
            spec, = node_spec.interface_specs([port], field=where)
        except exception.InvalidField as e:
            result.errors.append((e.kwargs['field'], e.kwargs['reason']))
        else:
            result.ports.append((where, spec))


def _ports(node, result):
    """``(where, port)`` of each port, ``where`` its path in the node."""
    ports = _field_list(node, 'ports', result)
    found = [('ports[%d]' % index if len(ports) > 1 else 'ports', port)
             for index, port in enumerate(ports)]
    for index, group in enumerate(_field_list(node, 'portgroups', result)):
        where = 'portgroups[%d]' % index
        if not isinstance(group, dict):
            result.errors.append((where, 'must be a mapping'))
            continue
        result.ignored.extend(_at(where, key)
                              for key in _unread(group, _PORTGROUP_KEYS))
        ports = _field_list(group, 'ports', result, where + '.ports')
        found.extend(('%s.ports[%d]' % (where, i) if len(ports) > 1
                      else where + '.ports', port)
                     for i, port in enumerate(ports))
    return found


def _field_list(mapping, key, result, where=None):
    value = mapping.get(key) or []
    if not isinstance(value, list):
        result.errors.append((where or key, 'must be a list'))
        return []
    return value


class _Duplicates:
    """Names, UUIDs, BMC address:ports and MACs given more than once."""

    # kind -> (label, what holds it)
    KINDS = {'name': ('name', 'node'), 'uuid': ('UUID', 'node'),
             'bmc': ('BMC address:port', 'node'),
             'mac': ('MAC address', 'port')}
    PLACES_SHOWN = 5

    def __init__(self):
        self._places = {}  # (kind, value) -> [(order, place)]

    def _add(self, kind, value, order, place):
        self._places.setdefault((kind, value), []).append((order, place))

    def add(self, order, location, where, result):
        row, refused = result.row, result.refused
        if row is not None:
            if 'name' not in refused:
                self._add('name', repr(row['name']), order, location)
            if result.given_uuid and 'uuid' not in refused:
                self._add('uuid', repr(row['uuid']), order, where)
            if not refused & {'ipmi_address', 'ipmi_port'}:
                self._add('bmc', repr('%s:%s' % (row['ipmi_address'],
                                                 row['ipmi_port'])),
                          order, where)
        for port_where, spec in result.ports:
            self._add('mac', spec['address'], order,
                      '%s %s' % (where, port_where))

    def errors(self):
        """``(order, text)`` for each value given more than once."""
        for (kind, value), places in self._places.items():
            if len(places) < 2:
                continue
            label, holder = self.KINDS[kind]
            shown = [place for _, place in places[:self.PLACES_SHOWN]]
            if len(places) > len(shown):
                shown.append('and %d more' % (len(places) - len(shown)))
            yield places[1][0], '%s %s is given to more than one %s: %s' % (
                label, value, holder, ', '.join(shown))
