"""The IPMI 2.0 requests nova-bm sends, and how their answers read.

Each :class:`Request` is a short list of raw IPMI commands and a function
that turns their response data into a result. Pure data, no I/O: the IPMI
loop sends them, the unit tests check them against the spec's tables.
"""

import collections
import uuid

from nova_bm.power import base

# Session privilege levels (IPMI 2.0 §22.18). A session starts at USER
# (§13.21, and OpenBMC's netipmid): reading needs nothing more, so a sweep
# of power states never asks for more; a command that changes the machine
# needs OPERATOR, and the IPMI loop raises the session to it first.
USER = 2
OPERATOR = 3
ADMINISTRATOR = 4

#: One raw IPMI command: network function, command, request data, a name
#: for error messages, and the session privilege it needs.
Command = collections.namedtuple(
    'Command', 'netfn command data name privilege', defaults=(USER,))

# IPMI 2.0 §28.2 Get Chassis Status, §28.3 Chassis Control,
# §28.12/28.13 Set/Get System Boot Options.
_CHASSIS = 0x00
_GET_CHASSIS_STATUS = 0x01
_CHASSIS_CONTROL = 0x02
_SET_BOOT_OPTIONS = 0x08
_GET_BOOT_OPTIONS = 0x09
_APP = 0x06
_GET_DEVICE_ID = 0x01
# IPMI 2.0 §22.14 Get System GUID: 16 bytes of GUID after the completion
# code.
_GET_SYSTEM_GUID = 0x37
_GUID_BYTES = 16

CONTROL_POWER_OFF = 0
CONTROL_POWER_ON = 1
CONTROL_HARD_RESET = 3
CONTROL_SOFT_OFF = 5

_BOOT_FLAGS = 5
_BOOT_FLAG_VALID = 0x80
_BOOT_PERSISTENT = 0x40
# "BIOS boot type" (data byte 1, bit 5): 1 is EFI, 0 PC compatible
# (legacy). Ironic's ipmitool driver sends 0xe0/0xa0 for UEFI nodes.
_BOOT_EFI = 0x20
# Parameter 3, "boot flag valid bit clearing" (IPMI 2.0 table 28-14).
_BOOT_VALID_BIT_CLEARING = 3
# Boot device selector (data byte 2, bits 5:2) per boot device.
_DEVICE_CODES = {'default': 0x00, 'pxe': 0x04, 'disk': 0x08, 'safe': 0x0c,
                 'cdrom': 0x14, 'bios': 0x18}
_DEVICE_NAMES = {code: name for name, code in _DEVICE_CODES.items()}

#: Completion codes (IPMI 2.0 table 5-2) that mean "not now, try again".
RETRYABLE_CODES = frozenset((0xc0, 0xc3, 0xce))

_COMPLETION_CODES = {
    0xc0: 'node busy', 0xc1: 'invalid command',
    0xc3: 'timeout while processing', 0xcc: 'invalid data field',
    0xce: 'response could not be provided',
    0xd4: 'insufficient privilege level',
    0xd5: 'not supported in present state',
}


class Request:
    """What to send to one BMC and how to read the answers."""

    def __init__(self, name, commands, parse=lambda responses: None):
        self.name = name
        self.commands = tuple(commands)
        self.parse = parse

    def __repr__(self):
        return '<Request %s>' % self.name


def describe_code(code):
    return '%s (completion code 0x%02x)' % (
        _COMPLETION_CODES.get(code, 'error'), code)


def _power_state(responses):
    # Get Chassis Status, byte 1 bit 0: "power is on".
    return base.POWER_ON if responses[0][0] & 1 else base.POWER_OFF


def get_power_state():
    return Request('power status', [Command(
        _CHASSIS, _GET_CHASSIS_STATUS, (), 'power status')], _power_state)


def chassis_control(action, name):
    return Request(name, [Command(_CHASSIS, _CHASSIS_CONTROL, (action,),
                                  name, OPERATOR)])


def set_boot_device(device, persistent, efi=False):
    """Boot ``device`` next time (or always, ``persistent``), on the EFI
    boot path when ``efi`` (a UEFI node: firmware that boots UEFI only
    may ignore, or refuse, an override for the legacy path)."""
    flags = (_BOOT_FLAG_VALID | (_BOOT_PERSISTENT if persistent else 0)
             | (_BOOT_EFI if efi else 0))
    code = _DEVICE_CODES[device]
    if code == 0:
        flags = 0   # "no override": clear the valid bit as well.
    name = 'set boot device %s%s' % (device, ' (EFI)' if efi else '')
    return Request(name, [
        # Parameter 3 = 08h before the flags, as pyghmi, ipmitool and
        # Ironic send it (the bytes nova-bm always sent).
        Command(_CHASSIS, _SET_BOOT_OPTIONS, (_BOOT_VALID_BIT_CLEARING, 8),
                name, OPERATOR),
        Command(_CHASSIS, _SET_BOOT_OPTIONS,
                (_BOOT_FLAGS, flags, code, 0, 0, 0), name, OPERATOR),
    ])


def _boot_device(responses):
    # Response: parameter version, parameter 5, flags, device, …
    data = responses[0]
    flags, code = data[2], data[3] & 0b00111100
    if not flags & _BOOT_FLAG_VALID:
        return {'boot_device': 'default', 'persistent': False, 'efi': False}
    return {'boot_device': _DEVICE_NAMES.get(code, 'unknown'),
            'persistent': bool(flags & _BOOT_PERSISTENT),
            'efi': bool(flags & _BOOT_EFI)}


def get_boot_device():
    return Request('get boot device', [Command(
        _CHASSIS, _GET_BOOT_OPTIONS, (_BOOT_FLAGS, 0, 0), 'get boot device')],
        _boot_device)


def logon_check():
    """Log on and ask for the device id: proves address and credentials.

    At OPERATOR privilege, so that it also proves the account may power
    the machine on and off, which is what nova-bm will ask of it.
    """
    return Request('logon', [Command(_APP, _GET_DEVICE_ID, (), 'logon',
                                     OPERATOR)])


def _system_guid(responses):
    data = responses[0]
    if len(data) < _GUID_BYTES:
        # The IPMI loop turns this into BmcCommandRefused ("malformed").
        raise ValueError('a system GUID is %d bytes, not %d'
                         % (_GUID_BYTES, len(data)))
    return str(uuid.UUID(bytes_le=bytes(data[:_GUID_BYTES])))


def get_system_guid():
    """Get System GUID (IPMI 2.0 §22.14): the machine's GUID as a
    lower-case canonical UUID string.

    Read in the SMBIOS byte order (its first three fields little-endian,
    the last two as sent): the order of most BMCs (ipmitool's ipmi_mc.h:
    "Most implementations like AMI MegaRAC do it the SMBIOS way", which its
    ``mc guid`` prefers), of pyghmi's server (``Bmc`` answers
    ``uuid.bytes_le``) and its client (``util.decode_wireformat_uuid``),
    and of nova-bm's fake BMCs. On such a BMC the string is the one Linux
    prints in ``/sys/class/dmi/id/product_uuid`` and dmidecode as the
    system UUID. Other BMCs use other orders: match with
    :func:`nova_bm.common.system_uuid.product_uuids`. A response shorter
    than 16 bytes fails the request (``BmcCommandRefused``, malformed
    response).
    """
    return Request('get system guid', [Command(
        _APP, _GET_SYSTEM_GUID, (), 'get system guid')], _system_guid)
