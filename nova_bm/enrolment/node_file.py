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
                     cpu_arch: x86_64}
        traits: [CUSTOM_RACK1]        # optional
        ports: [{address: "52:54:00:12:34:56"}]

Nodes may also be nested under ``chassis: [{nodes: [...]}]`` and ports
under ``portgroups: [{ports: [...]}]``, as Ironic allows. Keys Ironic knows
but nova-bm has no use for (``deploy_kernel``, ``extra``, …) are ignored.
A node may name its proxy with the nova-bm key ``service_host``, and its
partition key with ``partition_key`` or Ironic's ``conductor_group`` (which
Nova's ironic driver matches against its own ``[ironic] partition_key``).
``deploy_interface`` is ``image`` or ``netboot``; Ironic's ``direct`` is
read as ``image`` and its ``ramdisk`` as ``netboot``.
"""

import os

from nova_bm.enrolment import bounded_load
from nova_bm.common import states
from nova_bm import exception
from nova_bm.enrolment import node_spec
from nova_bm.common import safe_text

IPMI_DRIVERS = frozenset(['ipmi', 'pxe_ipmitool', 'agent_ipmitool',
                          'pxe_ipmitool_socat', 'agent_ipmitool_socat'])

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
}
_TOP_LEVEL_KEYS = frozenset(['nodes', 'chassis'])


def load(path, default_host, default_partition_key=None,
         default_deploy_interface=None):
    """Parse and validate a node file; nothing is written.

    :param default_host: the proxy for nodes that do not name one.
    :param default_partition_key: the key of nodes that do not give one.
    :param default_deploy_interface: the deploy interface of nodes that do
        not give one (None: ``[baremetal] default_deploy_interface``).
    :returns: a list of ``(row, macs)`` ready for ``db.api.create_nodes``.
    :raises: NodeFileInvalid naming the file, the node and the field of the
        first error, with the number of further errors.
    """
    document = _parse(path)
    errors = []
    specs = []
    for location, node in _nodes(path, document):
        try:
            specs.append(_node(node, default_host, default_partition_key,
                               default_deploy_interface))
        except exception.InvalidField as e:
            field = _IRONIC_PATHS.get(e.kwargs['field'], e.kwargs['field'])
            errors.append('%s%s: %s: %s' % (location, _label(node), field,
                                            e.kwargs['reason']))
    if errors:
        more = (' (and %d more errors)' % (len(errors) - 1)
                if len(errors) > 1 else '')
        raise exception.NodeFileInvalid(path=path, reason=errors[0] + more)
    if not specs:
        raise exception.NodeFileInvalid(path=path, reason='it has no nodes')
    return specs


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


def _nodes(path, document):
    """Yield ``(location, node mapping)`` for every node in the file."""
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


def _mapping(node, key):
    value = node.get(key) or {}
    if not isinstance(value, dict):
        raise exception.InvalidField(field=key, reason='must be a mapping')
    return value


# Ironic's deploy interfaces that mean ours: "direct" writes the image with
# the agent ramdisk, "ramdisk" boots a ramdisk from the network.
_IRONIC_DEPLOY_INTERFACES = {'direct': states.IMAGE,
                              'ramdisk': states.NETBOOT}


def _deploy_interface(value):
    if isinstance(value, str):
        return _IRONIC_DEPLOY_INTERFACES.get(value, value)
    return value


def _node(node, default_host, default_partition_key,
          default_deploy_interface=None):
    if not isinstance(node, dict):
        raise exception.InvalidField(field='node', reason='must be a mapping')
    driver = node.get('driver')
    if driver is not None and not (isinstance(driver, str)
                                   and driver in IPMI_DRIVERS):
        raise exception.InvalidField(
            field='driver', reason='%s is not an IPMI driver; nova-bm drives '
                                   'nodes over IPMI only'
                                   % safe_text.quote(driver))
    if (node.get('partition_key') and node.get('conductor_group')
            and node['partition_key'] != node['conductor_group']):
        raise exception.InvalidField(
            field='partition_key', reason='differs from conductor_group; '
                                          'give one of them')
    info = _mapping(node, 'driver_info')
    props = _mapping(node, 'properties')
    values = {
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
        'ipmi_address': info.get('ipmi_address'),
        'ipmi_port': info.get('ipmi_port'),
        'ipmi_username': info.get('ipmi_username'),
        'ipmi_password': info.get('ipmi_password'),
        'deploy_interface': (_deploy_interface(node.get('deploy_interface'))
                             or default_deploy_interface),
    }
    ports = [{key: port[key] for key in _PORT_KEYS if key in port}
             if isinstance(port, dict) else port for port in _ports(node)]
    row, _ = node_spec.new_node(values)
    return row, node_spec.interface_specs(ports, field='ports')


# What nova-bm keeps of an Ironic port; its other keys (uuid, extra,
# portgroup_uuid, ...) are Ironic's own business.
_PORT_KEYS = ('address',) + tuple(node_spec.INTERFACE_FIELDS)


def _ports(node):
    ports = _field_list(node, 'ports')
    for index, group in enumerate(_field_list(node, 'portgroups')):
        if not isinstance(group, dict):
            raise exception.InvalidField(field='portgroups[%d]' % index,
                                         reason='must be a mapping')
        ports.extend(_field_list(group, 'ports'))
    return ports


def _field_list(mapping, key):
    value = mapping.get(key) or []
    if not isinstance(value, list):
        raise exception.InvalidField(field=key, reason='must be a list')
    return list(value)
