"""Turn what a caller gives for a node into validated database values.

``nova-bm-manage node create``, ``node update`` and ``node import`` all go
through here, so a node enrolled any way obeys the same rules. Nothing here
touches the database: uniqueness is checked where the rows are written.
"""

from oslo_utils import uuidutils

from nova_bm.common import node_fields
from nova_bm.common import states
from nova_bm.conf import CONF
from nova_bm import exception

DEFAULT_IPMI_PORT = 623

REQUIRED_FIELDS = ('name', 'service_host', 'cpus', 'memory_mb', 'local_gb',
                   'ipmi_address', 'ipmi_username', 'ipmi_password')
#: The hardware a node enrolled with its BMC alone leaves to inspection
#: (``nova-bm-manage node inspect``): all three, or none.
HARDWARE_FIELDS = ('cpus', 'memory_mb', 'local_gb')
#: Where a node without its hardware may be enrolled: not offered.
UNINSPECTED_STATES = (states.ENROLL, states.MANAGEABLE)

# field -> normaliser(value, field); the fields a node may be created with.
_NORMALISERS = {
    'uuid': node_fields.node_uuid,
    'name': node_fields.name,
    'service_host': lambda v, f: node_fields.text(v, f),
    'cpus': node_fields.positive_int,
    'memory_mb': node_fields.positive_int,
    'local_gb': node_fields.positive_int,
    'cpu_arch': node_fields.cpu_arch,
    'resource_class': node_fields.resource_class,
    'traits': node_fields.traits,
    'ipmi_address': node_fields.bmc_address,
    'ipmi_port': node_fields.port,
    'ipmi_username': node_fields.ipmi_username,
    'ipmi_password': node_fields.ipmi_password,
    'partition_key': node_fields.partition_key,
    'deploy_interface': node_fields.deploy_interface,
    'boot_mode': node_fields.boot_mode,
    'clean_mode': node_fields.clean_mode,
    # Named as the CLI option and Ironic's property say it.
    'root_device_hints': lambda v, f: node_fields.root_device_hints(
        v, 'root_device'),
}

def enrolled_state(value, field='provision_state'):
    """A state a node may be enrolled in (Ironic's node files say
    ``provision_state``): enroll, manageable or available."""
    if value not in states.ENROLLED_STATES:
        raise exception.InvalidField(
            field=field, reason='must be one of %s to enrol a node, got %r'
            % (', '.join(states.ENROLLED_STATES), value))
    return value


def _maintenance_reason(value, field):
    return node_fields.text(value, field, max_length=1024)


#: What a new node may also be given, beside its fields: its lifecycle.
_ENROLMENT = {
    'provision_state': enrolled_state,
    'maintenance': node_fields.boolean,
    'maintenance_reason': _maintenance_reason,
}

# Fields "node update" may change. The name is not among them: it is the
# node's hypervisor_hostname, and Nova 34 refuses to start a compute service
# whose nodes changed names (ComputeManager._get_nodes).
UPDATABLE_FIELDS = (frozenset(_NORMALISERS) - {'uuid', 'name'}) | {
    'maintenance', 'maintenance_reason'}


def new_node(values, macs=()):
    """Validate a node to create.

    :param values: field -> value; ``None`` values count as not given.
        Besides the node's fields, its lifecycle: ``provision_state``
        (enroll, manageable or available; default ``[baremetal]
        enrolled_node_state``), ``maintenance`` and
        ``maintenance_reason``.
    :param macs: MAC addresses of the node's interfaces.
    :returns: ``(row, macs)``: every column of the new node, defaults filled
        in and values normalised, and the normalised MACs.
    :raises: InvalidField for the first field that is missing or malformed,
        including a MAC given twice.
    """
    given = {k: v for k, v in values.items() if v is not None}
    unknown = sorted(set(given) - set(_NORMALISERS) - set(_ENROLMENT))
    if unknown:
        raise exception.InvalidField(field=unknown[0],
                                     reason='is not a node field')
    state = given.get('provision_state', CONF.baremetal.enrolled_node_state)
    bmc_only = not any(field in given for field in HARDWARE_FIELDS)
    if bmc_only and state not in UNINSPECTED_STATES:
        raise exception.InvalidField(
            field='cpus', reason='is required to enrol a node %s; without '
            'cpus, memory_mb and local_gb enrol it enroll or manageable and '
            'inspect it (nova-bm-manage node inspect)' % state)
    for field in REQUIRED_FIELDS:
        if field in HARDWARE_FIELDS and bmc_only:
            continue
        if field not in given:
            raise exception.InvalidField(
                field=field, reason='is required but missing' + (
                    ' (nova-bm-manage: --host)' if field == 'service_host'
                    else ' (give cpus, memory_mb and local_gb, or none of '
                    'them and inspect the node)' if field in HARDWARE_FIELDS
                    else ''))
    row = {
        'uuid': uuidutils.generate_uuid(),
        'cpu_arch': CONF.baremetal.default_cpu_arch,
        'resource_class': CONF.baremetal.default_resource_class,
        'traits': [],
        'ipmi_port': DEFAULT_IPMI_PORT,
        'deploy_interface': CONF.baremetal.default_deploy_interface,
        'boot_mode': CONF.baremetal.default_boot_mode,
        'provision_state': CONF.baremetal.enrolled_node_state,
        'maintenance': False,
        # Not known until inspected: 0 reads "uninspected" (Nova is told
        # 0, the node is not offered).
        'cpus': 0, 'memory_mb': 0, 'local_gb': 0,
    }
    for field, value in given.items():
        row[field] = dict(_NORMALISERS, **_ENROLMENT)[field](value, field)
    if 'maintenance_reason' in row and not row['maintenance']:
        raise exception.InvalidField(
            field='maintenance_reason',
            reason='goes only with maintenance (nova-bm-manage: '
                   '--maintenance; node files: maintenance: true)')
    return row, interface_addresses(macs)


def node_changes(values):
    """Validate the changes of ``node update``.

    :returns: field -> normalised value, only for fields given.
    :raises: NodeRenameRefused for ``name``; InvalidField otherwise.
    """
    given = {k: v for k, v in values.items() if v is not None}
    if 'name' in given:
        raise exception.NodeRenameRefused(node=given['name'])
    changes = {}
    for field, value in given.items():
        if field not in UPDATABLE_FIELDS:
            raise exception.InvalidField(field=field,
                                         reason='cannot be updated')
        if field == 'partition_key' and value == '':
            changes[field] = None  # "--partition-key ''" removes the key
        elif field == 'clean_mode' and value == 'default':
            changes[field] = None  # [baremetal] automated_clean again
        elif field == 'maintenance':
            changes[field] = bool(value)
        elif field == 'maintenance_reason':
            changes[field] = _maintenance_reason(value, field)
        else:
            changes[field] = _NORMALISERS[field](value, field)
    if 'maintenance_reason' in changes and not changes.get('maintenance'):
        raise exception.InvalidField(
            field='maintenance_reason',
            reason='goes only with putting the node into maintenance')
    return changes


#: Interface fields besides its MAC, with their normalisers.
INTERFACE_FIELDS = {
    'pxe_enabled': node_fields.boolean,
    'physical_network': node_fields.physical_network,
    'local_link_connection': node_fields.local_link_connection,
}


def interface_fields(values, field='interface'):
    """Validate an interface's fields other than its MAC (``None`` values
    count as not given; a ``local_link_connection`` of None or ``{}``
    clears it). :returns: the normalised fields."""
    unknown = sorted(set(values) - set(INTERFACE_FIELDS))
    if unknown:
        raise exception.InvalidField(field='%s.%s' % (field, unknown[0]),
                                     reason='is not an interface field')
    result = {}
    for key, value in values.items():
        if value is None and key != 'local_link_connection':
            continue
        result[key] = INTERFACE_FIELDS[key](value, '%s.%s' % (field, key)
                                            if field else key)
    return result


def interface_specs(ports, field='ports'):
    """Normalise a node's interfaces given as MACs or as mappings with an
    ``address`` and interface fields (Ironic's ports). A MAC given twice is
    refused. :returns: ``[{'address': mac, ...fields}]``."""
    specs = []
    seen = set()
    for index, port in enumerate(ports):
        where = '%s[%d]' % (field, index) if len(ports) > 1 else field
        if isinstance(port, dict):
            values = dict(port)
            mac = values.pop('address', None)
        else:
            values, mac = {}, port
        address = node_fields.mac_address(mac, '%s.address' % where
                                          if isinstance(port, dict)
                                          else where)
        if address in seen:
            raise exception.InvalidField(
                field=field, reason='MAC address %s is given twice' % address)
        seen.add(address)
        spec = {'address': address}
        spec.update(interface_fields(values, where))
        specs.append(spec)
    return specs


def interface_addresses(macs, field='mac'):
    """Normalise a list of MACs; a MAC given twice is refused."""
    result = []
    for index, mac in enumerate(macs):
        address = node_fields.mac_address(mac, '%s[%d]' % (field, index)
                                          if len(macs) > 1 else field)
        if address in result:
            raise exception.InvalidField(
                field=field, reason='MAC address %s is given twice' % address)
        result.append(address)
    return result

