"""A node's properties as an inspection finds them, and how they meet
the ones the node already has.

:func:`derive` reads an inventory (:func:`nova_bm.inspection.inventory.
parse`) the way Ironic's inspection does, with one difference: the root
disk's whole size is ``local_gb`` (Ironic's inspector takes a GiB off
for the partitioning of a partition image; nova-bm writes whole-disk
images, and its config drive, at most 64 MiB, fits in the rest of the
last GiB). :func:`compare` says which of the values to set on a node:
those it lacks (a node enrolled with its BMC alone), and those it has
otherwise only when told to overwrite.

Pure functions: no database, no BMC; the caller stores the result.
"""

from nova_bm.common import node_fields
from nova_bm.common import root_device_hints as hints_grammar
from nova_bm.common import safe_text
from nova_bm.deploy import disk_facts
from nova_bm import exception
from nova_bm.inspection import lldp

#: The node fields an inspection sets, in the order problems are told.
FIELDS = ('cpus', 'memory_mb', 'local_gb', 'cpu_arch', 'boot_mode')

_MIB = 1 << 20
_GIB = 1 << 30


def _size(nbytes):
    if nbytes % _GIB == 0:
        return '%d GiB' % (nbytes // _GIB)
    return '%d bytes' % nbytes


def _root_disk(inventory, hints, min_root_bytes):
    """``(disk, problem)``: the disk the image would go to, or None and
    why (naming the hints and the disks seen)."""
    disks = inventory['disks']
    try:
        parsed = hints_grammar.parse(hints)
        disk = hints_grammar.choose(parsed, disks, min_bytes=min_root_bytes)
    except hints_grammar.HintError as e:
        return None, 'local_gb: %s' % e
    if disk is not None:
        return disk, None
    seen = disk_facts.describe(disks, facts=sorted(parsed))
    if parsed:
        return None, ('local_gb: no disk matches the root device hints '
                      '(%s); the disks are %s'
                      % (hints_grammar.describe(parsed), seen))
    return None, ('local_gb: no disk of at least %s for the image; the '
                  'disks are %s' % (_size(min_root_bytes), seen))


def _interfaces(inventory):
    """A port per NIC; which ones the node network-boots from."""
    nics = inventory['interfaces']
    pxe_mac = inventory['boot']['pxe_mac']
    if pxe_mac:
        booting = {pxe_mac}
    else:
        # Not told which NIC booted: the ones with a link, else all.
        booting = ({nic['mac'] for nic in nics if nic['carrier']}
                   or {nic['mac'] for nic in nics})
    return [{'address': nic['mac'],
             'pxe_enabled': nic['mac'] in booting,
             'local_link_connection': lldp.local_link_connection(
                 nic['lldp'])}
            for nic in nics]


def _checked(values, problems, field, check, value):
    """``values[field] = check(value)``, or a problem saying why not."""
    try:
        values[field] = check(value, field)
    except exception.InvalidField as e:
        problems.append(str(e))


def derive(inventory, root_device_hints,
           min_root_bytes=hints_grammar.MIN_GUESS_BYTES):
    """The node properties an inventory shows.

    :param inventory: what :func:`inventory.parse` returns.
    :param root_device_hints: the node's hints (None or ``{}``: none):
        they choose the root disk as a deploy does
        (:func:`root_device_hints.choose`).
    :param min_root_bytes: without hints, the smallest disk of at least
        this many bytes is the root disk.
    :returns: ``(values, problems)``. ``values`` holds ``interfaces``, a
        list (one per NIC, in the order reported) of ``{'address': MAC,
        'pxe_enabled': bool, 'local_link_connection': dict or None}``
        (``pxe_enabled``: the NIC the ramdisk booted from; when not
        known, every NIC with a carrier, or every NIC when none has),
        and those of :data:`FIELDS` that could be derived, each as
        :mod:`nova_bm.common.node_fields` accepts it: ``cpus``,
        ``memory_mb`` (the installed RAM; else the kernel's total
        rounded up to a MiB), ``local_gb`` (the root disk's size in
        whole GiB), ``cpu_arch``, ``boot_mode``. ``problems`` has one
        line per field left out, saying why (no root disk, an
        architecture Nova does not know...).
    """
    values, problems = {}, []
    memory = inventory['memory']
    _checked(values, problems, 'cpus', node_fields.positive_int,
             inventory['cpu']['count'])
    _checked(values, problems, 'memory_mb', node_fields.positive_int,
             memory['physical_mb']
             or -(-memory['total_bytes'] // _MIB))
    disk, problem = _root_disk(inventory, root_device_hints, min_root_bytes)
    if problem:
        problems.append(problem)
    elif disk['size'] < _GIB:
        problems.append('local_gb: the root disk %s is smaller than 1 GiB'
                        % disk['name'])
    else:
        _checked(values, problems, 'local_gb', node_fields.positive_int,
                 disk['size'] // _GIB)
    _checked(values, problems, 'cpu_arch', node_fields.cpu_arch,
             inventory['cpu']['architecture'])
    _checked(values, problems, 'boot_mode', node_fields.boot_mode,
             inventory['boot']['mode'])
    values['interfaces'] = _interfaces(inventory)
    return values, problems


def _unset(value):
    """A field a node enrolled with its BMC alone has not got."""
    return value is None or value == '' or (
        isinstance(value, int) and not isinstance(value, bool)
        and value == 0)


def compare(node_values, derived, overwrite):
    """What to set on a node from an inspection's values.

    :param node_values: the node's fields (a missing one is unset).
    :param derived: the ``values`` of :func:`derive`.
    :param overwrite: set the values that differ from the node's too.
    :returns: ``(to_set, disagreements)``: ``to_set`` maps each of
        :data:`FIELDS` to set to its inspected value: every one the node
        has not got (None, 0 or ''), and with ``overwrite`` every one
        that differs; ``disagreements`` has a line per field whose value
        differs from the node's, set or not, as in ``'memory_mb: node
        1024, inspected 512'``, in the order of :data:`FIELDS`. A field
        not derived is neither set nor compared.
    """
    to_set, disagreements = {}, []
    for field in FIELDS:
        if field not in derived:
            continue
        inspected, known = derived[field], node_values.get(field)
        if _unset(known):
            to_set[field] = inspected
        elif known != inspected:
            disagreements.append('%s: node %s, inspected %s' % (
                field, safe_text.escape(str(known), 80), inspected))
            if overwrite:
                to_set[field] = inspected
    return to_set, disagreements
