"""The LLDP advertisement a NIC received, as an inspecting ramdisk reports
it: hostile input (the ramdisk's, and the switch's it copied).

The ramdisk reports the LLDPDU (the frame's payload after the EtherType
0x88cc) as lower-case hex. An LLDPDU is a run of TLVs (IEEE 802.1AB
§8.4): a 16-bit header holding a 7-bit type and a 9-bit length, then
that many bytes; the End TLV (type 0, length 0) closes it. Of them this
module reads the four that say which switch port the NIC is cabled to:

==========  ====================  =====================================
Type        TLV                   Value
==========  ====================  =====================================
1           Chassis ID            a subtype byte, then 1-255 bytes
2           Port ID               a subtype byte, then 1-255 bytes
4           Port Description      0-255 bytes of text
5           System Name           0-255 bytes of text
==========  ====================  =====================================

Every other TLV is skipped (its length is still checked against the
data). An ID whose subtype is a MAC address (chassis subtype 4, port
subtype 3) reads ``aa:bb:cc:dd:ee:ff``; a network address (chassis 5,
port 4) of IPv4 or IPv6 reads as the address; any other ID reads as its
text when it is printable UTF-8, else as lower-case hex
(``0a1b2c``). A description or name is its text with every unprintable
character escaped (:func:`nova_bm.common.safe_text.escape`).

What a caller may rely on: :func:`parse` returns a dict of the keys of
:data:`FIELDS`, each a printable string or None when its TLV is absent
(or its text empty); anything else is :class:`Malformed` with one line
that quotes none of the input. :func:`local_link_connection` gives what
:func:`nova_bm.common.node_fields.local_link_connection` accepts, or
None.
"""

import ipaddress
import re

from nova_bm.common import node_fields
from nova_bm.common import safe_text
from nova_bm import exception

#: Largest LLDPDU read (an Ethernet frame's payload), in bytes.
MAX_BYTES = 1500
#: ... and in hex digits, as reported.
MAX_HEX = 2 * MAX_BYTES

FIELDS = ('chassis_id', 'port_id', 'system_name', 'port_description')

END = 0
CHASSIS_ID = 1
PORT_ID = 2
PORT_DESCRIPTION = 4
SYSTEM_NAME = 5

#: The subtype of each ID TLV whose value is a MAC address, and the one
#: whose value is an IANA address family and an address.
_MAC_SUBTYPE = {CHASSIS_ID: 4, PORT_ID: 3}
_ADDRESS_SUBTYPE = {CHASSIS_ID: 5, PORT_ID: 4}
#: IANA address family numbers: IPv4, IPv6.
_FAMILIES = {1: 4, 2: 16}
_KEYS = {CHASSIS_ID: 'chassis_id', PORT_ID: 'port_id',
         PORT_DESCRIPTION: 'port_description', SYSTEM_NAME: 'system_name'}
_NAMES = {CHASSIS_ID: 'chassis ID', PORT_ID: 'port ID',
          PORT_DESCRIPTION: 'port description', SYSTEM_NAME: 'system name'}
#: Longest value of an ID (after its subtype) or of a text TLV.
_MAX_VALUE = 255

_HEX_RE = re.compile(r'(?:[0-9a-f]{2})+\Z')
_MAC_RE = re.compile(r'[0-9a-f]{2}(?::[0-9a-f]{2}){5}\Z')


class Malformed(ValueError):
    """The LLDPDU is not one a switch sends; ``str()`` says why."""


def _tlvs(data):
    """``(type, offset, value)`` of each TLV before the End TLV (or the
    end of the data: a capture may leave the End TLV out).

    :raises: Malformed for a TLV cut short.
    """
    offset = 0
    while offset < len(data):
        if len(data) - offset < 2:
            raise Malformed('the TLV at byte %d is cut short in its header'
                            % offset)
        header = data[offset] << 8 | data[offset + 1]
        kind, length = header >> 9, header & 0x1ff
        if offset + 2 + length > len(data):
            raise Malformed('the TLV of type %d at byte %d is cut short: '
                            'it says %d bytes, %d are left'
                            % (kind, offset, length, len(data) - offset - 2))
        if kind == END:
            if length:
                raise Malformed('the End TLV at byte %d has a length'
                                % offset)
            return
        yield kind, offset, data[offset + 2:offset + 2 + length]
        offset += 2 + length


def _text_or_hex(value):
    """An ID's bytes as text when they are printable UTF-8, else hex."""
    try:
        text = value.decode('utf-8')
    except UnicodeDecodeError:
        return value.hex()
    return text if text.isprintable() and text.strip() else value.hex()


def _mac(value):
    return ':'.join('%02x' % byte for byte in value)


def _identifier(kind, offset, value):
    """A chassis or port ID TLV's value, rendered (see the module)."""
    name = _NAMES[kind]
    if not 2 <= len(value) <= _MAX_VALUE + 1:
        raise Malformed('the %s TLV at byte %d holds %d bytes, not 2 to %d'
                        % (name, offset, len(value), _MAX_VALUE + 1))
    subtype, body = value[0], value[1:]
    if subtype == _MAC_SUBTYPE[kind]:
        if len(body) != 6:
            raise Malformed('the %s at byte %d is a MAC address of %d bytes, '
                            'not 6' % (name, offset, len(body)))
        return _mac(body)
    if subtype == _ADDRESS_SUBTYPE[kind]:
        size = _FAMILIES.get(body[0])
        if size is not None and len(body) - 1 == size:
            return str(ipaddress.ip_address(bytes(body[1:])))
        return body.hex()
    return _text_or_hex(body)


def _text(kind, offset, value):
    """A text TLV's value, escaped; None when empty."""
    if len(value) > _MAX_VALUE:
        raise Malformed('the %s TLV at byte %d holds %d bytes, more than %d'
                        % (_NAMES[kind], offset, len(value), _MAX_VALUE))
    text = value.decode('utf-8', errors='replace').strip()
    return safe_text.escape(text) if text else None


def parse(hex_text):
    """The switch port an LLDPDU names: a dict of :data:`FIELDS`.

    :param hex_text: the LLDPDU as lower-case hex, at most
        :data:`MAX_HEX` digits.
    :raises: Malformed: not hex, too long, a TLV cut short, one of the
        four TLVs read given twice or of a length 802.1AB does not allow.
    """
    if not isinstance(hex_text, str) or not hex_text:
        raise Malformed('the LLDPDU is empty')
    if len(hex_text) > MAX_HEX:
        raise Malformed('the LLDPDU is longer than %d bytes' % MAX_BYTES)
    if not _HEX_RE.match(hex_text):
        raise Malformed('the LLDPDU must be an even number of lower-case '
                        'hex digits')
    found = dict.fromkeys(FIELDS)
    seen = set()
    for kind, offset, value in _tlvs(bytes.fromhex(hex_text)):
        if kind not in _KEYS:
            continue
        if kind in seen:
            raise Malformed('the LLDPDU has two %s TLVs' % _NAMES[kind])
        seen.add(kind)
        if kind in (CHASSIS_ID, PORT_ID):
            found[_KEYS[kind]] = _identifier(kind, offset, value)
        else:
            found[_KEYS[kind]] = _text(kind, offset, value)
    return found


def local_link_connection(lldp):
    """The switch port an LLDPDU names, as Ironic's ports say it:
    ``{'switch_id': chassis ID, 'port_id': port ID, 'switch_info':
    system name}`` (``switch_info`` left out when the switch sends no
    name, or one too long for a port).

    As Ironic's ``local-link-connection`` inspection hook, only a chassis
    ID that reads as a MAC address is a ``switch_id``; unlike it, a port
    ID alone is no connection (a port needs both to be bound), and
    ``switch_info`` is filled from the system name (what the
    ``system_name_llc`` hook adds).

    :param lldp: what :func:`parse` returns, or None.
    :returns: a mapping :func:`node_fields.local_link_connection`
        accepts, or None when there is no MAC chassis ID and port ID.
    """
    if not lldp:
        return None
    switch_id, port_id = lldp.get('chassis_id'), lldp.get('port_id')
    if not (switch_id and port_id and _MAC_RE.match(switch_id)):
        return None
    connection = {'switch_id': switch_id, 'port_id': port_id}
    if lldp.get('system_name'):
        connection['switch_info'] = lldp['system_name']
    try:
        return node_fields.local_link_connection(connection)
    except exception.InvalidField:
        pass
    # A port ID or name escaped beyond a port's 255 characters: without
    # the name, or nothing.
    connection.pop('switch_info', None)
    try:
        return node_fields.local_link_connection(connection)
    except exception.InvalidField:
        return None
