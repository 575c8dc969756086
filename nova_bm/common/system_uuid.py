"""A machine's system UUID, as its BMC and its firmware tell it.

IPMI 2.0 (§22.14, Get System GUID) says the BMC's system GUID is the
SMBIOS system UUID, which Linux shows in
``/sys/class/dmi/id/product_uuid``. Both are 16 bytes whose first three
fields SMBIOS (since 2.6) stores little-endian; BMCs and older firmware
are known to send them without that swap, or with all 16 bytes reversed.
A node enrolled with its BMC alone is found by its ramdisk's lookup when
its BMC's GUID is one of :func:`bmc_guids` of the ramdisk's UUID.
"""

import uuid

#: What firmware writes when it has no UUID to give.
_PLACEHOLDERS = frozenset((uuid.UUID(int=0), uuid.UUID(int=(1 << 128) - 1),
                           uuid.UUID('03000200-0400-0500-0006-000700080009')))


def parse(text):
    """The canonical lower-case text of a UUID, or None when ``text`` is
    not one or is a placeholder (all zeros, all ones, the well-known
    "03000200-…" of unconfigured boards)."""
    if not isinstance(text, str) or len(text) != 36:
        return None
    try:
        value = uuid.UUID(text)
    except ValueError:
        return None
    if value in _PLACEHOLDERS or str(value) != text.lower():
        return None
    return str(value)


def product_uuids(text):
    """The system UUIDs the machine of a BMC reporting GUID ``text`` may
    have, whatever the byte order the BMC sent it in: a frozenset of three
    lower-case canonical UUID strings.

    ``text`` is a GUID as
    :func:`nova_bm.power.ipmi_messages.get_system_guid` reads it (the
    SMBIOS order); from the same 16 bytes on the wire, the set holds:

    * ``text`` itself: a BMC that sends the SMBIOS order (most do);
    * the bytes read in RFC 4122 order (no field swapped): a BMC that
      sends the UUID's bytes as they are (ipmitool's ``rfc4122`` mode);
    * the 16 bytes reversed, read in RFC 4122 order: a BMC that follows
      IPMI 2.0 §20.8's "least significant byte first" for the whole
      GUID, as OpenBMC's phosphor-host-ipmid does (``rfc4122ToIpmi``
      reverses all 16 bytes; ipmitool's ``ipmi`` mode).

    A deploy ramdisk's ``product_uuid`` belongs to that BMC's machine when
    it is in the set. The relation has a direction (the third order is
    not its own inverse): give this the BMC's GUID, not the ramdisk's.
    Case, braces and missing hyphens in ``text`` do not matter.

    :raises ValueError: ``text`` is not a UUID.
    """
    wire = uuid.UUID(text).bytes_le
    return frozenset(str(guid) for guid in (
        uuid.UUID(bytes_le=wire), uuid.UUID(bytes=wire),
        uuid.UUID(bytes=wire[::-1])))


def bmc_guids(text):
    """The inverse of :func:`product_uuids`: the GUIDs (as
    :func:`nova_bm.power.ipmi_messages.get_system_guid` reads them) of the
    BMCs whose machine may have the system UUID ``text`` (a ramdisk's
    ``product_uuid``): ``text`` is in ``product_uuids(g)`` exactly when
    ``g`` is in ``bmc_guids(text)``.

    :raises ValueError: ``text`` is not a UUID.
    """
    value = uuid.UUID(text).bytes
    return frozenset(str(guid) for guid in (
        uuid.UUID(bytes=value), uuid.UUID(bytes_le=value),
        uuid.UUID(bytes_le=value[::-1])))
