"""Validation and normalisation of node and interface fields.

One place says what a well-formed node is, so the CLI, the node-file import
and the driver agree. Every function returns the normalised value or raises
:class:`nova_bm.exception.InvalidField` naming the field and the value; none
touches the database or a BMC (duplicates are the database layer's job).
"""

import ipaddress
import json
import re
import uuid as uuid_lib

import os_traits
from oslo_utils import uuidutils

from nova_bm.common import root_device_hints as hints_grammar
from nova_bm.common import states
from nova_bm import exception
from nova_bm.common import safe_text

# Nova's nova.objects.fields.Architecture.ALL; a unit test keeps them equal.
CPU_ARCHITECTURES = (
    'alpha', 'armv6', 'armv7l', 'armv7b', 'aarch64', 'cris', 'i686', 'ia64',
    'lm32', 'm68k', 'microblaze', 'microblazeel', 'mips', 'mipsel', 'mips64',
    'mips64el', 'openrisc', 'parisc', 'parisc64', 'ppc', 'ppcle', 'ppc64',
    'ppc64le', 'ppcemb', 's390', 's390x', 'sh4', 'sh4eb', 'sparc', 'sparc64',
    'unicore32', 'x86_64', 'xtensa', 'xtensaeb')

# A resource class as operators write it (Ironic style, e.g. "baremetal-gold").
# Placement sees CUSTOM_ + its upper-cased form with [.-] turned into "_".
RESOURCE_CLASS_PATTERN = r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}\Z'
_RESOURCE_CLASS_RE = re.compile(RESOURCE_CLASS_PATTERN)

# A partition key (a rack, a room, a region), shared by nodes and proxies.
PARTITION_KEY_PATTERN = r'^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}\Z'
_PARTITION_KEY_RE = re.compile(PARTITION_KEY_PATTERN)

# A node name becomes Nova's hypervisor_hostname: host-name characters only.
_NAME_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?\Z')
_HOSTNAME_LABEL_RE = re.compile(
    r'^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z')
_MAC_RE = re.compile(
    r'^([0-9a-f]{2})([:-]?)([0-9a-f]{2})(\2[0-9a-f]{2}){4}\Z')
_CUSTOM_TRAIT_RE = re.compile(r'^CUSTOM_[A-Z0-9_]{1,248}\Z')
_STANDARD_TRAITS = frozenset(os_traits.get_traits())

MAX_INT = 2 ** 31 - 1
# More digits than any field takes; Python itself refuses int() of over
# 4,300 digits, with a message that names no field.
_MAX_DIGITS = 20

# IPMI 2.0 (§13.8, §22.28): user names of 1 to 16 bytes, passwords of up to
# 20. The power layer and enrolment both ask ipmi_username/ipmi_password.
MAX_IPMI_USERNAME_BYTES = 16
MAX_IPMI_PASSWORD_BYTES = 20

def _invalid(field, value, reason):
    return exception.InvalidField(
        field=field, reason='%s %s' % (reason, safe_text.quote(value)))


def canonical_uuid(value):
    """The canonical form of a UUID (lower case, dashed), or None.

    Accepts what :func:`oslo_utils.uuidutils.is_uuid_like` accepts (no
    dashes, braces, ``urn:uuid:``, any case): each of those spellings names
    the same node, so only the canonical form is stored or compared.
    """
    if not isinstance(value, str) or len(value) > 45:
        return None
    try:
        return str(uuid_lib.UUID(value))
    except ValueError:
        return None


def node_uuid(value, field='uuid'):
    """A node UUID in any usual spelling, returned in canonical form."""
    canonical = canonical_uuid(value)
    if canonical is None:
        raise _invalid(field, value, 'is not a UUID:')
    return canonical


def name(value, field='name'):
    """A node name: 1-63 host-name characters, and not UUID-shaped.

    UUID-shaped names are refused because every command accepts a name or
    a UUID for a node, and the two must never be confused.
    """
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise _invalid(field, value,
                       'must be 1-63 letters, digits, ".", "_" or "-", '
                       'starting and ending with a letter or digit, got')
    if uuidutils.is_uuid_like(value):
        raise _invalid(field, value, 'must not look like a UUID, got')
    return value


def mac_address(value, field='mac'):
    """A unicast-or-multicast 48-bit MAC, returned as lower-case aa:bb:..."""
    text = value.strip().lower() if isinstance(value, str) else value
    if not isinstance(text, str) or not _MAC_RE.fullmatch(text):
        raise _invalid(field, value, 'is not a valid MAC address:')
    digits = text.replace(':', '').replace('-', '')
    return ':'.join(digits[i:i + 2] for i in range(0, 12, 2))


def bmc_address(value, field='ipmi_address'):
    """An IPv4/IPv6 address or a DNS host name of a BMC."""
    if not isinstance(value, str) or not value:
        raise _invalid(field, value, 'must be an IP address or host name, got')
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    host = value[:-1] if value.endswith('.') else value
    labels = host.split('.')
    if (len(host) > 253 or not all(_HOSTNAME_LABEL_RE.fullmatch(label)
                                   for label in labels)
            or labels[-1].isdigit()):
        raise _invalid(field, value, 'is not an IP address or host name:')
    return host.lower()


def port(value, field='ipmi_port'):
    """A UDP port, 1-65535."""
    number = _integer(value, field)
    if not 1 <= number <= 65535:
        raise _invalid(field, value, 'must be a port number from 1 to 65535, '
                                     'got')
    return number


def positive_int(value, field, maximum=MAX_INT):
    """A whole number from 1 to ``maximum`` (cpus, memory_mb, local_gb)."""
    number = _integer(value, field)
    if not 1 <= number <= maximum:
        raise _invalid(field, value, 'must be a whole number from 1 to %d, '
                                     'got' % maximum)
    return number


def cpu_arch(value, field='cpu_arch'):
    """One of Nova's CPU architectures (x86_64, aarch64, ppc64le, …)."""
    if value not in CPU_ARCHITECTURES:
        raise _invalid(field, value, 'is not a CPU architecture Nova knows:')
    return value


def resource_class(value, field='resource_class'):
    """A resource class as operators name it, e.g. ``baremetal-gold``."""
    if not isinstance(value, str) or not _RESOURCE_CLASS_RE.fullmatch(value):
        raise _invalid(field, value,
                       'must be 1-80 letters, digits, ".", "_" or "-", '
                       'starting with a letter or digit, got')
    return value


#: How a node gets its instance's operating system (see nova_bm.deploy).
DEPLOY_INTERFACES = (
    (states.IMAGE, "the instance's Glance image is written to the node's "
                   'disk through the deploy ramdisk, and the node boots '
                   'from it'),
    (states.NETBOOT, "the node boots from the network (the site's own PXE "
                     'service); nothing is written to its disk'),
)
DEPLOY_INTERFACE_NAMES = tuple(name for name, _ in DEPLOY_INTERFACES)


def deploy_interface(value, field='deploy_interface'):
    """``image`` or ``netboot``."""
    if value not in DEPLOY_INTERFACE_NAMES:
        raise _invalid(field, value, 'must be %s, got' % ' or '.join(
            DEPLOY_INTERFACE_NAMES))
    return value


#: How a node's firmware boots (Ironic's ``boot_mode`` capability).
BOOT_MODES = (
    (states.UEFI, 'UEFI firmware: boot overrides set the EFI flag, the '
                  'network boot gets an EFI iPXE, the disk boots from its '
                  'EFI System Partition'),
    (states.BIOS, 'legacy BIOS (or UEFI in its legacy/CSM mode): the disk '
                  'boots from its MBR'),
)
BOOT_MODE_NAMES = tuple(name for name, _ in BOOT_MODES)
#: The standard trait each boot mode is reported with (os-traits).
BOOT_MODE_TRAITS = {states.UEFI: 'COMPUTE_FIRMWARE_UEFI',
                    states.BIOS: 'COMPUTE_FIRMWARE_BIOS'}


def _one_of(names, value, field, joined):
    """``value`` lower-cased and stripped, if it is one of ``names``."""
    lowered = value.strip().lower() if isinstance(value, str) else value
    if lowered not in names:
        raise _invalid(field, value, 'must be %s, got' % joined)
    return lowered


def boot_mode(value, field='boot_mode'):
    """``uefi`` or ``bios`` (any case, as Ironic's capability is read)."""
    return _one_of(BOOT_MODE_NAMES, value, field,
                   ' or '.join(BOOT_MODE_NAMES))


#: How a node's disks are erased between tenants (its clean mode).
CLEAN_MODES = (
    (states.CLEAN_METADATA, 'partition tables, both GPT headers, file '
                            'system and RAID signatures, config drives'),
    (states.CLEAN_EXPRESS, 'hardware secure erase where the device has it, '
                           'else metadata'),
    (states.CLEAN_FULL, 'hardware secure erase, else every byte '
                        'overwritten'),
    (states.CLEAN_NONE, 'not cleaned (test clouds only)'),
)
CLEAN_MODE_NAMES = tuple(name for name, _ in CLEAN_MODES)


def clean_mode(value, field='clean_mode'):
    """``metadata``, ``express``, ``full`` or ``none`` (any case)."""
    return _one_of(CLEAN_MODE_NAMES, value, field,
                   ', '.join(CLEAN_MODE_NAMES))


def effective_clean_mode(node, default):
    """The mode the node's next cleaning runs in: an operator's request
    (``node clean``, which records the mode it chose), else the node's
    own, else ``default`` (``[baremetal] automated_clean``)."""
    return node.clean_request or node.clean_mode or default


def partition_key(value, field='partition_key'):
    """A partition key, e.g. ``rack-12`` or ``dc1:room3``."""
    if not isinstance(value, str) or not _PARTITION_KEY_RE.fullmatch(value):
        raise _invalid(field, value,
                       'must be 1-255 letters, digits, ".", "_", ":" or "-", '
                       'starting with a letter or digit, got')
    return value


def placement_resource_class(value):
    """The placement name of a resource class: ``CUSTOM_BAREMETAL_GOLD``.

    The same normalisation as Nova's ``utils.normalize_rc_name`` (and its
    ironic driver): upper case, anything but [A-Z0-9_] becomes ``_``.
    """
    normalised = re.sub('[^A-Z0-9_]+', '_', value.upper())
    if normalised.startswith('CUSTOM_'):
        return normalised
    return 'CUSTOM_' + normalised


def trait(value, field='trait'):
    """A standard os-traits trait or a CUSTOM_ one ([A-Z0-9_])."""
    if not isinstance(value, str) or not (
            value in _STANDARD_TRAITS or _CUSTOM_TRAIT_RE.fullmatch(value)):
        raise _invalid(field, value,
                       'must be a standard trait or CUSTOM_ followed by '
                       'upper-case letters, digits or "_", got')
    return value


def traits(values, field='traits'):
    """A list of traits, de-duplicated, in the order given. The boot mode
    traits are refused: they follow the node's boot_mode (one given by
    hand could contradict it)."""
    if not isinstance(values, (list, tuple)):
        raise _invalid(field, values, 'must be a list of traits, got')
    result = []
    for index, value in enumerate(values):
        checked = trait(value, '%s[%d]' % (field, index))
        if checked in BOOT_MODE_TRAITS.values():
            raise exception.InvalidField(
                field='%s[%d]' % (field, index),
                reason='%s is reported from the node\'s boot mode; set '
                       'boot_mode (--boot-mode) instead' % checked)
        if checked not in result:
            result.append(checked)
    return result


def ipmi_username(value, field='ipmi_username'):
    """An IPMI user name: printable, 1 to 16 bytes in UTF-8."""
    if (not isinstance(value, str) or not value or not value.isprintable()
            or len(value.encode('utf-8')) > MAX_IPMI_USERNAME_BYTES):
        raise _invalid(field, value,
                       'must be printable text of 1 to %d bytes (IPMI 2.0), '
                       'got' % MAX_IPMI_USERNAME_BYTES)
    return value


def ipmi_password(value, field='ipmi_password'):
    """An IPMI password: printable, at most 20 bytes in UTF-8; may be empty.

    The value is never quoted in the error.
    """
    if (not isinstance(value, str) or not value.isprintable()
            or len(value.encode('utf-8')) > MAX_IPMI_PASSWORD_BYTES):
        raise exception.InvalidField(
            field=field, reason='must be printable text of at most %d bytes '
                                '(IPMI 2.0); the value given is not shown'
                                % MAX_IPMI_PASSWORD_BYTES)
    return value


def text(value, field, max_length=255, allow_empty=False):
    """A string of printable characters, at most ``max_length`` long."""
    if not isinstance(value, str) or (not value and not allow_empty) or (
            len(value) > max_length) or not value.isprintable():
        raise _invalid(field, safe_text.MASK if 'password' in field else value,
                       'must be printable text of at most %d characters, got'
                       % max_length)
    return value


def _integer(value, field):
    if isinstance(value, bool):
        raise _invalid(field, value, 'must be a whole number, got')
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r'\s*[+-]?\d+\s*', value):
        if len(value.strip().lstrip('+-').lstrip('0')) > _MAX_DIGITS:
            raise exception.InvalidField(
                field=field, reason='must be a whole number of at most %d '
                                    'digits, got %d digits'
                                    % (_MAX_DIGITS, len(value.strip())))
        return int(value)
    raise _invalid(field, value, 'must be a whole number, got')


# An OpenFlow datapath id: 16 hex digits, as Ironic accepts for switch_id.
_DATAPATH_ID_RE = re.compile(r'^(0x)?[0-9a-f]{16}\Z')


def boolean(value, field):
    """True/False, or their usual spellings in text (node files, CLI)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in (
            'true', 'yes', '1', 'on', 'false', 'no', '0', 'off'):
        return value.strip().lower() in ('true', 'yes', '1', 'on')
    raise _invalid(field, value, 'must be true or false, got')


def physical_network(value, field='physical_network'):
    """A Neutron physical network name: 1-64 printable characters, no
    spaces (Neutron's own limit for provider:physical_network)."""
    if not isinstance(value, str) or not value or len(value) > 64 or (
            not value.isprintable()) or any(c.isspace() for c in value):
        raise _invalid(field, value, 'must be a physical network name of 1 '
                                     'to 64 characters without spaces, got')
    return value


def root_device_hints(value, field='root_device'):
    """Ironic's root device hints, a mapping (or its JSON text, as the
    CLI takes it): which disk a deploy writes the image to. None or
    ``{}``: no hints (the smallest disk of at least 4 GiB).
    :returns: the normalised mapping, or None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _invalid(field, value, 'must be a JSON object, got'
                           ) from None
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise _invalid(field, value, 'must be a mapping, got')
    try:
        return hints_grammar.parse(value)
    except hints_grammar.HintError as e:
        raise exception.InvalidField(field=field, reason=str(e)) from None


def local_link_connection(value, field='local_link_connection'):
    """The switch port a NIC is cabled to, as Ironic's ports say it:
    ``switch_id`` (the switch's MAC or OpenFlow datapath id) and ``port_id``
    (its port name) together, ``switch_info`` optional. None or ``{}``:
    not known. :returns: the normalised mapping, or None."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise _invalid(field, value, 'must be a mapping, got')
    unknown = sorted(set(value) - {'switch_id', 'port_id', 'switch_info'})
    if unknown:
        raise exception.InvalidField(
            field='%s.%s' % (field, unknown[0]),
            reason='is not a local link field (switch_id, port_id, '
                   'switch_info)')
    for key in ('switch_id', 'port_id'):
        if not value.get(key):
            raise exception.InvalidField(
                field='%s.%s' % (field, key),
                reason='is required with a local link connection')
    switch_id = value['switch_id']
    lowered = switch_id.strip().lower() if isinstance(switch_id, str) else ''
    if _DATAPATH_ID_RE.fullmatch(lowered):
        normalised_switch = lowered
    else:
        try:
            normalised_switch = mac_address(switch_id,
                                            '%s.switch_id' % field)
        except exception.InvalidField:
            raise _invalid('%s.switch_id' % field, switch_id,
                           'must be a MAC address or an OpenFlow datapath '
                           'id, got') from None
    result = {'switch_id': normalised_switch,
              'port_id': text(value['port_id'], '%s.port_id' % field)}
    if value.get('switch_info'):
        result['switch_info'] = text(value['switch_info'],
                                     '%s.switch_info' % field)
    return result
