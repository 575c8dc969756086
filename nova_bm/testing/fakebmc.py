"""A fleet of fake BMCs that speak real IPMI 2.0 (RMCP+, lanplus) over UDP.

Shared by the tests, the demo and ``nova-bm-fakebmc``. Each BMC is a
``pyghmi.ipmi.bmc.Bmc`` on its own UDP port that keeps a power state and a
boot device (with its persistent flag); pyghmi's client, ``ipmitool -I
lanplus`` and FreeIPMI's ``ipmipower`` all talk to it.

What pyghmi's own server does not do, and this one does:

* cipher suites: pyghmi 1.6.19's server always answers an RMCP+ open
  session request with suite 3 (SHA-1) and a *success* status, even when
  the client proposed suite 17 (SHA-256). pyghmi's client, which proposes 17
  first, then breaks in RAKP. Real BMCs that lack suite 17 answer "no cipher
  suite match" (RMCP+ status 0x11), and pyghmi's client then retries with
  suite 3; so does this fake.
* sessions per BMC: when a client logs on again from the same UDP port,
  pyghmi's server drops that client's sessions on every BMC of the process;
  this one drops only the BMC's own (a real BMC is alone in its box).
* faults, per BMC, changeable while it runs: drop every reply, delay replies,
  reject the credentials, answer the next N chassis commands "node busy",
  accept power commands without changing the power state ("stuck"),
  forget every session (as a BMC reset does), send SOL packets nobody
  asked for, of any size, as fast as told (``sol_flood``: a hostile BMC),
  answer Get System GUID in another byte order, short, or not at all
  (``guid_encoding``).
* a system GUID (Get System GUID, which pyghmi's leaves to a subclass):
  its machine's SMBIOS UUID, or one derived from its port
  (``machine.system_uuid_for_port``).
* machines (``--machines DIR``): each BMC drives a QEMU machine
  (``nova_bm.testing.machine``), whose real state is the power state read
  over IPMI; without them a BMC keeps a power state of its own.
* simulated machines (``--simulate URL``), without QEMU: a BMC powered on
  to boot from the network runs a simulated boot and deploy ramdisk
  against the proxy at URL (``nova_bm.testing.simulated_ramdisk``), which
  powers the BMC off when it is done; enough for a thousand of them.

It also takes the power layer's fixes for two pyghmi I/O races
(``nova_bm.power.ipmi_session``), which otherwise leave a whole worker deaf
for seconds under load.

A fleet is served by ``workers`` processes (each a single pyghmi I/O loop
over its share of the sockets; select() cannot watch more than ~1,000), and
is controlled over a UNIX socket with one JSON request per line.
"""

import argparse
import collections
import json
import multiprocessing
import os
import queue
import random
import shutil
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid

from pyghmi.ipmi import bmc as pyghmi_bmc
from pyghmi.ipmi.private import constants as pyghmi_constants
from pyghmi.ipmi.private import serversession
from pyghmi.ipmi.private import session as ipmisession

from nova_bm.power import ipmi_session
from nova_bm.common import safe_text
from nova_bm.testing import fakesol
from nova_bm.testing import machine as lab_machine
from nova_bm.testing import simulated_ramdisk

# RMCP+ status code (IPMI 2.0 table 13-15).
_NO_CIPHER_SUITE_MATCH = 0x11
_SHA1 = 1          # authentication algorithm RAKP-HMAC-SHA1
_SHA1_96 = 1       # integrity algorithm HMAC-SHA1-96
_CHASSIS_NETFN = 0x00
_NODE_BUSY = 0xc0  # completion code
_UNSPECIFIED_ERROR = 0xff  # completion code
_NOT_IN_PRESENT_STATE = 0xd5  # completion code
_INSUFFICIENT_PRIVILEGE = 0xd4  # completion code
#: Boot overrides a BMC's state() lists (the last ones).
_OVERRIDES_KEPT = 64
_EXCEEDS_PRIVILEGE_LIMIT = 0x81  # Set Session Privilege Level code
# Session privilege levels, and the commands that need OPERATOR (IPMI 2.0
# appendix G): Chassis Control and Set System Boot Options.
_USER = 2
_OPERATOR = 3
_ADMINISTRATOR = 4
_OPERATOR_COMMANDS = frozenset(((_CHASSIS_NETFN, 0x02),
                                (_CHASSIS_NETFN, 0x08)))
_SET_SESSION_PRIVILEGE = (0x06, 0x3b)
# Serial over LAN (IPMI 2.0 §24): payload commands, and what answers them.
_SOL_COMMANDS = {(0x06, 0x48): 'activate', (0x06, 0x49): 'deactivate',
                 (0x06, 0x4a): 'activation_status',
                 (0x06, 0x4b): 'instance_info'}
_GET_SYSTEM_GUID = (0x06, 0x37)  # IPMI 2.0 §22.14
_INVALID_COMMAND = 0xc1  # completion code
#: How a BMC may answer Get System GUID: in the byte orders of real BMCs
#: (see ``nova_bm.common.system_uuid.product_uuids``), the SMBIOS one
#: (most BMCs, pyghmi's, the default), the UUID's bytes as they are, or
#: all 16 reversed (IPMI 2.0 §20.8 read literally, as OpenBMC does); or
#: broken: 8 bytes of it (``short``), or "invalid command" (``unsupported``,
#: None here: a BMC without the command).
GUID_ENCODINGS = {
    'smbios': lambda guid: guid.bytes_le,
    'rfc4122': lambda guid: guid.bytes,
    'ipmi': lambda guid: guid.bytes[::-1],
    'short': lambda guid: guid.bytes_le[:8],
    'unsupported': lambda guid: None,
}

DEFAULT_USERNAME = 'admin'
DEFAULT_PASSWORD = 'password'
#: What ``Fleet``'s ``simulate`` may say (see there).
SIMULATE_KEYS = ('base_url', 'delay', 'kernel_delay', 'timeout', 'cpus',
                 'memory_mb', 'disks', 'extra_nics', 'behaviour',
                 'behaviour_by_port', 'own_address')


class Faults:
    """What one BMC does wrong at the moment."""

    def __init__(self):
        self.drop = False
        self.delay = 0.0
        self.loss = 0.0
        self.reject = False
        self.busy = 0
        self.stuck = False
        # The account's privilege limit: 2 is a read-only (USER) account.
        self.privilege_limit = _ADMINISTRATOR
        self.sol_disabled = False
        # How it answers Get System GUID (GUID_ENCODINGS).
        self.guid_encoding = 'smbios'
        # (characters, seconds): a SOL packet of that many characters sent
        # every that many seconds to the SOL client, unasked and whatever
        # it acknowledges; more than 255 is a packet IPMI cannot have.
        self.sol_flood = None

    def as_dict(self):
        return {'drop': self.drop, 'delay': self.delay, 'loss': self.loss,
                'reject': self.reject, 'busy': self.busy,
                'stuck': self.stuck,
                'privilege_limit': self.privilege_limit,
                'sol_disabled': self.sol_disabled,
                'guid_encoding': self.guid_encoding,
                'sol_flood': (None if self.sol_flood is None
                              else list(self.sol_flood))}

    def lose(self):
        """Whether this packet is lost (``loss``: probability, each way)."""
        return self.loss > 0 and random.random() < self.loss


class FakeServerSession(serversession.ServerSession):
    """pyghmi's server session, refusing suites it cannot do.

    It keeps the session's privilege as a BMC does: USER from the logon
    on (pyghmi's server left it unset), raised by Set Session Privilege
    Level up to the account's limit (``Faults.privilege_limit``), and
    commands that change the machine refused below OPERATOR.
    """

    clientpriv = _USER

    def create_open_session_response(self, request):
        request = bytearray(request)
        auth, integrity = request[12], request[20]
        if auth != _SHA1 or integrity != _SHA1_96:
            # Tag, status, reserved, remote console session id.
            response = (bytearray([request[0], _NO_CIPHER_SUITE_MATCH, 0, 0])
                        + request[4:8])
        else:
            self.bmc.logons += 1
            response = super().create_open_session_response(request)
        self.rakp1_seen = False
        self.bmc.open_requests[self.sockaddr[:2]] = (
            bytes(request), self, bytes(response))
        return response

    def _got_rakp1(self, data):
        self.rakp1_seen = True
        return super()._got_rakp1(data)

    def _got_rmcp_openrequest(self, data):
        if not self.bmc.answered_again(self.sockaddr, data):
            super()._got_rmcp_openrequest(data)

    def _handle_ipmi_packet(self, data, sockaddr=None, qent=None):
        if self.bmc.faults.lose():
            return
        if (data[4] in (0, 2) and len(data) >= 13
                and not any(data[5:13])):
            # A client logging on again from the same UDP port. pyghmi
            # 1.6.19 handles this by deleting the sessions of that client
            # address on *every* BMC of the process, which silences all
            # the other BMCs a client talks to over one shared socket
            # (pyghmi's client puts up to 64 BMCs on a socket). A BMC
            # forgets only its own session.
            handlers = ipmisession.Session.bmc_handlers.get(sockaddr, {})
            handlers.pop(self.bmc.port, None)
            if not handlers:
                ipmisession.Session.bmc_handlers.pop(sockaddr, None)
            return self.bmc.sessionless_data(data, sockaddr, judged=True)
        return super()._handle_ipmi_packet(data, sockaddr, qent)

    def _send_rakp4(self, tagvalue, statuscode):
        # A client whose RAKP 4 was lost sends RAKP 3 again; a BMC answers
        # with the same RAKP 4. pyghmi 1.6.19 would encrypt the repeat
        # (its session keys are set by then), which no client can read:
        # RAKP messages are sent in the clear, outside the session.
        self.confalgo = self.integrityalgo = 0
        self.sessionid = self.sequencenumber = 0
        super()._send_rakp4(tagvalue, statuscode)

    def close_server_session(self):
        # A BMC ends the payloads of a session that closes.
        console = self.bmc.console
        if console is not None and console.owner is self:
            console.drop()

    def handle_client_request(self, request):
        command = (request['netfn'], request['command'])
        if command == _SET_SESSION_PRIVILEGE:
            self.bmc.privilege_requests += 1
            wanted = request['data'][0] & 0x0f if request['data'] else 0
            if wanted > self.bmc.faults.privilege_limit:
                return self._send_ipmi_net_payload(
                    code=_EXCEEDS_PRIVILEGE_LIMIT)
        elif (command in _OPERATOR_COMMANDS
                and self.clientpriv < _OPERATOR):
            return self.send_ipmi_response(code=_INSUFFICIENT_PRIVILEGE)
        return super().handle_client_request(request)

    def sessionless_data(self, data, sockaddr):
        # pyghmi 1.6.19 hands a session a packet that arrived for it after
        # it closed (a client that logs out and straight back in) as
        # "sessionless data", which only the BMC object can take. It came
        # through _handle_ipmi_packet, where its fate was decided.
        return self.bmc.sessionless_data(data, sockaddr, judged=True)


class FakeBmc(pyghmi_bmc.Bmc):
    """One BMC: a power state and a boot device, answered over IPMI, and
    a system GUID: its machine's SMBIOS UUID, else
    ``machine.system_uuid_for_port(port)``."""

    def __init__(self, username, password, port, address, faults,
                 machine=None):
        self.username = username
        self.password = password
        self.faults = faults
        self.machine = machine
        #: The system GUID, a lower-case canonical UUID.
        self.system_uuid = (lab_machine.system_uuid_for_port(port)
                            if machine is None else machine.system_uuid)
        # Serial over LAN (nova_bm.testing.fakesol), set by the worker.
        self.console = None
        self.power = 'off'
        self.boot_device = 'default'
        self.boot_persistent = False
        # Boot flags' "BIOS boot type" (IPMI 2.0 table 28-14, data 1 bit
        # 5): the override is for the EFI boot path, not the legacy one.
        self.boot_efi = False
        #: The last Set System Boot Options (boot flags) received, as
        #: ``[device, persistent, efi]``; and how many overrides the
        #: machine's firmware ignored (of the other boot type).
        self.overrides = collections.deque(maxlen=_OVERRIDES_KEPT)
        self.ignored_overrides = 0
        self.logons = 0
        self.privilege_requests = 0
        # The last Open Session request of each client, and its session.
        self.open_requests = {}
        # Chassis controls obeyed, by kind: on, off, shutdown, reset, cycle.
        self.actions = {}
        #: The simulated machine behind a BMC without one (``Fleet``'s
        #: ``simulate``), set by the worker; None otherwise.
        self.simulation = None
        # pyghmi also puts its BMC's GUID in RAKP 2: one GUID per BMC.
        super().__init__({username: password}, port=port, address=address,
                         bmcuuid=uuid.UUID(self.system_uuid))

    # pyghmi creates server sessions from here; use ours.
    def sessionless_data(self, data, sockaddr, judged=False):
        if not judged and self.faults.lose():
            return
        if len(data) >= 22 and data[0] == 6 and data[4] == 6 and (
                data[5] == 16):
            if self.answered_again(sockaddr, data[16:]):
                return
            self.authdata = {self.username: (
                self.password + '-rejected' if self.faults.reject
                else self.password)}
            FakeServerSession(self.authdata, self.kg, sockaddr,
                              self.serversocket, bytearray(data[16:]),
                              self.uuid, bmc=self)
            return
        return super().sessionless_data(data, sockaddr)

    def answered_again(self, sockaddr, request):
        """Answer a repeated Open Session request as it was answered.

        The client sends the same request again when the answer was lost
        or is late. A BMC answers it again; pyghmi's opened a second
        session instead (and, for the same client address, dropped the
        first), whose id the client never learns: its RAKP 2 would then
        not verify. Once the client has sent RAKP 1 the same bytes are a
        new logon (pyghmi's client uses the same tag and console session
        id at every logon from a socket). Returns whether ``request`` was
        answered again.
        """
        earlier = self.open_requests.get(sockaddr[:2])
        if earlier is None or earlier[0] != bytes(request):
            return False
        _, session, response = earlier
        if session.rakp1_seen:
            return False
        session.send_payload(
            bytearray(response),
            pyghmi_constants.payload_types['rmcpplusopenresponse'],
            retry=False)
        return True

    def handle_raw_request(self, request, session):
        command = (request['netfn'], request['command'])
        handler = _SOL_COMMANDS.get(command)
        if handler is not None and self.console is not None:
            return getattr(self.console, handler)(request, session)
        if command == _GET_SYSTEM_GUID:
            # pyghmi 1.6.19's Bmc answers it too, in the SMBIOS order;
            # here, in the order the BMC is told to use.
            data = GUID_ENCODINGS[self.faults.guid_encoding](
                self.get_system_guid())
            if data is None:
                return session.send_ipmi_response(code=_INVALID_COMMAND)
            return session.send_ipmi_response(data=list(data))
        if self.faults.busy and request['netfn'] == _CHASSIS_NETFN:
            self.faults.busy -= 1
            return session.send_ipmi_response(code=_NODE_BUSY)
        return super().handle_raw_request(request, session)

    def forget_sessions(self):
        """Drop every session, as a BMC does when it resets."""
        for handlers in list(ipmisession.Session.bmc_handlers.values()):
            if isinstance(handlers, dict):
                handlers.pop(self.port, None)

    def get_system_guid(self):
        """(pyghmi's hook for Get System GUID.)"""
        return uuid.UUID(self.system_uuid)

    def get_power_state(self):
        if self.machine is not None:
            self.power = 'on' if self.machine.is_on() else 'off'
        return self.power

    def _count(self, action):
        self.actions[action] = self.actions.get(action, 0) + 1

    def power_on(self):
        self._count('on')
        if self.faults.stuck:
            return
        if self.machine is None:
            was, self.power = self.power, 'on'
            self.power_changed(was)
            return
        return self._start_machine()

    def power_changed(self, was):
        """A BMC without a machine went from power ``was`` to
        ``self.power``: its simulated machine (if any) boots at power on,
        as its boot device says (a one-time one lasts that boot), and
        loses power at power off."""
        if self.simulation is None:
            return
        if self.power != 'on':
            self.simulation.power_lost()
        elif was != 'on':
            self._simulate_boot()

    def _simulate_boot(self):
        device = self.boot_device
        if not self.boot_persistent:
            self.boot_device = 'default'
        self.simulation.boot(device)

    def _override(self):
        """The boot device the machine's firmware obeys: the override
        when its boot type is the firmware's (a UEFI-only machine has no
        legacy boot path to take, and SeaBIOS no EFI one), else its own
        boot order, as some firmware does with an override it cannot
        follow (said on stderr: the lab's witness of a wrong flag). Real
        BMCs vary (many apply the device whatever the flag says): this is
        the strictest, the one a test can learn from."""
        device = self.boot_device
        uefi = self.machine.boot_mode == 'uefi'
        if device != 'default' and self.boot_efi != uefi:
            self.ignored_overrides += 1
            print('nova-bm-fakebmc: BMC %d: %s firmware ignores a boot '
                  'override to %s for the %s boot path' % (
                      self.port, 'UEFI' if uefi else 'BIOS', device,
                      'EFI' if self.boot_efi else 'legacy'),
                  file=sys.stderr, flush=True)
            return 'default'
        return device

    def _start_machine(self):
        try:
            started = self.machine.power_on(self._override(),
                                            self.boot_persistent)
        except OSError as e:
            print('nova-bm-fakebmc: BMC %d cannot start its machine: %s'
                  % (self.port, e), file=sys.stderr)
            return _UNSPECIFIED_ERROR
        if started and self.console is not None:
            self.console.machine_started()
        if started and not self.boot_persistent:
            # A one-time boot device lasts one boot (IPMI 2.0, boot flags
            # "valid bit clearing"); QEMU's once= keeps the machine's side.
            self.boot_device = 'default'
        self.power = 'on'

    def power_off(self):
        self._count('off')
        if self.faults.stuck:
            return
        if self.machine is not None:
            self.machine.power_off()
        self.power = 'off'
        self.power_changed('off')

    def power_shutdown(self):
        self._count('shutdown')
        if self.faults.stuck:
            return
        if self.machine is None:
            # A soft off: the "operating system" obeys at once.
            self.power = 'off'
            self.power_changed('off')
            return
        if self.get_power_state() != 'on':
            return _NOT_IN_PRESENT_STATE
        # The ACPI power button; the OS decides (QMP may take a moment:
        # not on the thread that answers every BMC of this process).
        self._in_background(self.machine.shutdown)

    def power_reset(self):
        if self.get_power_state() != 'on':
            return _NOT_IN_PRESENT_STATE
        self._count('reset')
        if self.machine is not None:
            self._in_background(self.machine.reset)
        elif self.simulation is not None:
            self._simulate_boot()

    def power_cycle(self):
        if self.get_power_state() != 'on':
            return _NOT_IN_PRESENT_STATE
        self._count('cycle')
        if self.machine is not None:
            self.machine.power_off()
            return self._start_machine()
        if self.simulation is not None:
            self._simulate_boot()

    def _in_background(self, action):
        def run():
            try:
                action()
            except Exception as e:  # noqa: BLE001  (the machine went off)
                print('nova-bm-fakebmc: BMC %d: %s' % (self.port, e),
                      file=sys.stderr)
        threading.Thread(target=run, daemon=True).start()

    def get_boot_device(self):
        return self.boot_device

    def get_system_boot_options(self, request, session):
        if request['data'][0] == 5:
            device = pyghmi_bmc.ipmicommand.boot_devices[self.boot_device]
            flags = (0x80 | (0x40 if self.boot_persistent else 0)
                     | (0x20 if self.boot_efi else 0))
            return session.send_ipmi_response(
                data=[1, 5, flags, device, 0, 0, 0])
        return super().get_system_boot_options(request, session)

    def set_system_boot_options(self, request, session):
        data = request['data']
        if data[0] == 5 and len(data) >= 3:
            device = pyghmi_bmc.ipmicommand.boot_devices.get(
                (data[2] >> 2) & 0b1111)
            if device is None:
                return session.send_ipmi_response(code=0xcc)
            self.boot_device = device
            self.boot_persistent = bool(data[1] & 0x40)
            self.boot_efi = bool(data[1] & 0x20)
            self.overrides.append([device, self.boot_persistent,
                                   self.boot_efi])
            return session.send_ipmi_response()
        return super().set_system_boot_options(request, session)

    def state(self):
        state = {'port': self.port, 'power': self.get_power_state(),
                 'system_uuid': self.system_uuid,
                 'boot_device': self.boot_device,
                 'boot_persistent': self.boot_persistent,
                 'boot_efi': self.boot_efi,
                 'overrides': list(self.overrides),
                 'ignored_overrides': self.ignored_overrides,
                 'logons': self.logons,
                 'privilege_requests': self.privilege_requests,
                 'actions': dict(self.actions),
                 'faults': self.faults.as_dict()}
        console = self.console
        if console is not None:
            state['sol'] = {'active': console.owner is not None,
                            'activations': console.activations,
                            'flooded': console.flooded,
                            'received': console.received.decode(
                                'utf-8', 'replace')}
        if self.simulation is not None:
            state['simulation'] = self.simulation.state()
        if self.machine is not None:
            state['machine'] = {'mac': self.machine.mac,
                                'extra_macs': list(self.machine.extra_nics),
                                'cpus': self.machine.cpus,
                                'directory': self.machine.directory,
                                'boots': self.machine.boots,
                                'power_ons': list(self.machine.power_ons)}
        return state


class Simulation:
    """The simulated machine behind a BMC without one (``Fleet``'s
    ``simulate``): each power on with the boot device ``network`` runs
    one boot (:class:`simulated_ramdisk.SimulatedMachine`) in a thread of
    its own, which ends with the boot; booting any other device does
    nothing (the machine sits in its firmware or its disk's system). Its
    ramdisk's power off is the BMC's; a power off (or reset) over IPMI
    ends the running boot at its next step, and that boot then neither
    reports nor powers anything off. At most one boot runs per BMC (an
    ended one may still finish the HTTP call it is in, bounded by the
    timeout).

    :param settings: ``Fleet``'s ``simulate`` dict, checked.
    """

    #: Outcomes and errors a BMC's state() lists (the last ones).
    KEPT = 16

    def __init__(self, bmc, settings):
        self._bmc = bmc
        port = bmc.port
        self.behaviour = (settings.get('behaviour_by_port') or {}).get(
            port, settings.get('behaviour', 'ok'))
        self._settings = settings
        self._hardware = simulated_ramdisk.Hardware(
            [lab_machine.mac_for_port(port)] + [
                lab_machine.mac_for_port(port, nic)
                for nic in range(1, settings.get('extra_nics', 0) + 1)],
            bmc.system_uuid, cpus=settings.get('cpus', 8),
            memory_mb=settings.get('memory_mb', 16384),
            disks=settings.get('disks') or simulated_ramdisk.disk_line(
                '/dev/vda', simulated_ramdisk.DEFAULT_DISK_BYTES,
                rotational=0, serial='SIM-%d' % port))
        self._source = (simulated_ramdisk.loopback_address(port)
                        if settings.get('own_address') else None)
        self._lock = threading.Lock()
        # The running boot's "power lost" event, or None.
        self._running = None
        self.boots = 0
        self.outcomes = collections.deque(maxlen=self.KEPT)
        self.errors = collections.deque(maxlen=self.KEPT)

    def boot(self, device):
        """Power on (or a reset) with the boot device ``device``."""
        with self._lock:
            self._end()
            if device != 'network':
                return
            stopped = threading.Event()
            self._running = stopped
            self.boots += 1
        threading.Thread(target=self._run, args=(stopped,), daemon=True,
                         name='simulated-boot-%d' % self._bmc.port).start()

    def power_lost(self):
        with self._lock:
            self._end()

    def _end(self):
        if self._running is not None:
            self._running.set()
            self._running = None

    def _run(self, stopped):
        settings = self._settings
        machine = simulated_ramdisk.SimulatedMachine(
            settings['base_url'], self._hardware,
            firmware_delay=settings.get('delay', 0.0),
            kernel_delay=settings.get('kernel_delay', 0.0),
            behaviour=self.behaviour,
            timeout=settings.get('timeout',
                                 simulated_ramdisk.DEFAULT_TIMEOUT),
            source_address=self._source,
            power_off=lambda: self._ramdisk_off(stopped), stopped=stopped)
        outcome = machine.boot()
        self.outcomes.append(outcome)
        self.errors.extend(machine.errors)
        with self._lock:
            if self._running is stopped:
                self._running = None

    def _ramdisk_off(self, stopped):
        """The ramdisk's ``poweroff -f``: the BMC reads the machine off,
        unless this boot had lost power already."""
        with self._lock:
            if self._running is stopped:
                self._running = None
                stopped.set()
                self._bmc.power = 'off'

    def state(self):
        return {'boots': self.boots, 'running': self._running is not None,
                'behaviour': self.behaviour,
                'outcomes': list(self.outcomes),
                'errors': list(self.errors)}


def check_simulate(simulate):
    """``Fleet``'s ``simulate``, checked. :raises ValueError:"""
    if not isinstance(simulate, dict):
        raise ValueError('simulate must be a dict')
    unknown = sorted(set(simulate) - set(SIMULATE_KEYS))
    if unknown:
        raise ValueError('simulate: unknown key %s' % unknown[0])
    url = urllib.parse.urlsplit(simulate.get('base_url') or '')
    if url.scheme not in ('http', 'https') or not url.hostname:
        raise ValueError('simulate: base_url must be an http:// URL, not %r'
                         % simulate.get('base_url'))
    for key in ('delay', 'kernel_delay', 'timeout'):
        value = simulate.get(key, 0)
        if isinstance(value, bool) or not isinstance(
                value, (int, float)) or value < 0:
            raise ValueError('simulate: %s must be a number of seconds, not '
                             '%r' % (key, value))
    behaviours = [simulate.get('behaviour', 'ok')] + list(
        (simulate.get('behaviour_by_port') or {}).values())
    for behaviour in behaviours:
        if behaviour not in simulated_ramdisk.BEHAVIOURS:
            raise ValueError('simulate: behaviour must be one of %s, not %r'
                             % (', '.join(simulated_ramdisk.BEHAVIOURS),
                                behaviour))
    extra_nics = simulate.get('extra_nics', 0)
    if isinstance(extra_nics, bool) or not isinstance(extra_nics, int) or (
            not 0 <= extra_nics <= lab_machine.MAX_EXTRA_NICS):
        raise ValueError('simulate: extra_nics must be an integer from 0 to '
                         '%d, not %r' % (lab_machine.MAX_EXTRA_NICS,
                                         extra_nics))
    settings = dict(simulate)
    if 'own_address' not in settings:
        # Its own 127.x source address per machine when the proxy is on
        # loopback too (a machine of its own to the proxy's caps).
        settings['own_address'] = url.hostname.startswith('127.')
    return settings


class _ReplyFilter:
    """Applies the drop, loss and delay faults to every reply a BMC sends.

    pyghmi sends every server reply through ``session._io_sendto``; this
    process runs only fake BMCs, so wrapping it here affects nothing else.
    """

    def __init__(self):
        self.faults_by_socket = {}
        self._send = ipmisession._io_sendto

    def install(self):
        ipmisession._io_sendto = self

    def __call__(self, mysocket, packet, sockaddr):
        faults = self.faults_by_socket.get(mysocket)
        if faults is not None:
            if faults.drop or faults.lose():
                return
            if faults.delay:
                timer = threading.Timer(faults.delay, self._send,
                                        (mysocket, bytes(packet), sockaddr))
                timer.daemon = True
                timer.start()
                return
        return self._send(mysocket, packet, sockaddr)


def _serve(address, ports, username, password, control_path, ready,
           machines=None, simulate=None):
    """One worker process: serve ``ports`` until SIGTERM, each BMC with a
    machine when ``machines`` (``Fleet``'s argument) says so, or a
    simulated one when ``simulate`` does."""
    bmcs = {}

    def stop(*_):
        # The machines go with their BMCs (and die with this process
        # anyway: see nova_bm.testing.machine).
        for bmc in bmcs.values():
            if bmc.machine is not None:
                bmc.machine.power_off()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    ipmi_session.install_fixes()
    wakeup = ipmi_session.Waker()
    hub = fakesol.ConsoleHub(wakeup)
    reply_filter = _ReplyFilter()
    reply_filter.install()
    try:
        for port in ports:
            faults = Faults()
            bmc = FakeBmc(username, password, port, address, faults,
                          machine=_machine(machines, port))
            bmc.console = fakesol.FakeConsole(bmc, hub)
            if simulate and bmc.machine is None:
                bmc.simulation = Simulation(bmc, simulate)
            reply_filter.faults_by_socket[bmc.serversocket] = faults
            bmcs[port] = bmc
    except OSError as e:
        ready.put('error: cannot listen on %s:%s: %s' % (address, port,
                                                         e.strerror))
        return
    # Listening before "ok" is reported: the parent may call control() next.
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(control_path)
    except OSError as e:
        ready.put('error: cannot make the control socket %s: %s'
                  % (control_path, e.strerror or e))
        return
    server.listen(16)
    control = threading.Thread(target=_control_loop,
                               args=(server, bmcs), daemon=True)
    control.start()
    ready.put('ok')
    while True:
        wakeup.clear()
        try:
            wait = hub.run()
            ipmi_session.pump(5 if wait is None else min(5, wait), wakeup)
        except Exception as e:
            # One malformed exchange must not silence every BMC here.
            print('nova-bm-fakebmc: ignoring %r' % e, file=sys.stderr)


def _by_port(machines, key, port, default=None):
    """The machine spec ``key`` for ``port``: ``<key>_by_port`` for that
    port, else ``key`` (every machine's), else ``default``."""
    value = (machines.get(key + '_by_port') or {}).get(port)
    if value is None:
        value = machines.get(key)
    return default if value is None else value


def _extra_macs(machines, port):
    """``extra_macs_by_port`` for ``port``, else ``extra_nics`` MACs from
    ``mac_for_port``."""
    extra_macs = (machines.get('extra_macs_by_port') or {}).get(port)
    if extra_macs is not None:
        return extra_macs
    return [lab_machine.mac_for_port(port, nic)
            for nic in range(1, machines.get('extra_nics', 0) + 1)]


def _machine(machines, port):
    if not machines:
        return None
    return lab_machine.Machine(
        os.path.join(machines['directory'], str(port)),
        lab_machine.mac_for_port(port), machines['boot_url'],
        machines.get('disk_bytes', 64 << 20),
        memory_mb=machines.get('memory_mb', 512),
        accel=machines.get('accel', 'tcg'), console_wait=True,
        disks=_by_port(machines, 'disks', port),
        boot_mode=_by_port(machines, 'boot_mode', port, 'bios'),
        cpus=_by_port(machines, 'cpus', port, 1),
        system_uuid=(machines.get('system_uuid_by_port') or {}).get(
            port, lab_machine.system_uuid_for_port(port)),
        extra_macs=_extra_macs(machines, port))


def _control_loop(server, bmcs):
    while True:
        connection, _ = server.accept()
        with connection, connection.makefile('rw') as stream:
            for line in stream:
                try:
                    reply = _control(json.loads(line), bmcs)
                except Exception as e:
                    reply = {'error': repr(e)}
                stream.write(json.dumps(reply) + '\n')
                stream.flush()


def _control(request, bmcs):
    bmc = bmcs.get(request.get('port'))
    if bmc is None:
        return {'error': 'no BMC on port %s' % request.get('port')}
    if 'ramdisk' in request and (
            bmc.simulation is None
            or request['ramdisk'] not in simulated_ramdisk.BEHAVIOURS):
        return {'error': 'ramdisk: a behaviour of a simulated machine (%s)'
                % ', '.join(simulated_ramdisk.BEHAVIOURS)}
    if request.get('guid_encoding', 'smbios') not in GUID_ENCODINGS:
        return {'error': 'guid_encoding must be one of %s, not %r' % (
            ', '.join(GUID_ENCODINGS), request['guid_encoding'])}
    for key in ('drop', 'delay', 'loss', 'reject', 'busy', 'stuck',
                'privilege_limit', 'sol_disabled', 'guid_encoding'):
        if key in request:
            setattr(bmc.faults, key, request[key])
    if 'sol_flood' in request:
        flood = request['sol_flood']
        bmc.faults.sol_flood = ((int(flood[0]), float(flood[1])) if flood
                                else None)
        if bmc.console is not None:
            bmc.console.hub.call(bmc.console.flood_changed)
    if request.get('sol_drop') and bmc.console is not None:
        bmc.console.hub.call(bmc.console.drop)
    if request.get('forget_sessions'):
        bmc.forget_sessions()
    if 'boot_device' in request:
        bmc.boot_device = request['boot_device']
    if 'boot_persistent' in request:
        bmc.boot_persistent = bool(request['boot_persistent'])
    if 'boot_efi' in request:
        bmc.boot_efi = bool(request['boot_efi'])
    if request.get('power') == 'on' and bmc.machine is not None:
        bmc.power_on()
    elif request.get('power') == 'off' and bmc.machine is not None:
        bmc.power_off()
    elif 'power' in request:
        was, bmc.power = bmc.power, request['power']
        bmc.power_changed(was)
    if 'ramdisk' in request:
        bmc.simulation.behaviour = request['ramdisk']
    return bmc.state()


class Fleet:
    """N fake BMCs on consecutive UDP ports, in ``workers`` processes.

    Use as a context manager or call ``start()``/``stop()``. ``ports`` are
    ``base_port … base_port + count - 1`` on ``address``.
    """

    def __init__(self, count, base_port, address='127.0.0.1',
                 username=DEFAULT_USERNAME, password=DEFAULT_PASSWORD,
                 workers=None, control_dir=None, machines=None,
                 simulate=None):
        """``machines``: None (BMCs only) or a dict: ``directory`` (one
        sub-directory per BMC port), ``boot_url`` (what DHCP hands the
        machines' iPXE), and optionally ``disk_bytes`` (64 MiB),
        ``memory_mb`` (512), ``accel`` (``tcg``), and several disks per
        machine instead of the one ``disk.img`` of ``disk_bytes``:
        ``disks`` (a list of disk dicts, see ``nova_bm.testing.machine``;
        every machine gets them) and ``disks_by_port`` (``{port: list}``,
        for those ports instead of ``disks``); ``boot_mode`` (``bios``,
        SeaBIOS, or ``uefi``, OVMF) and ``boot_mode_by_port`` (``{port:
        mode}``, for those ports instead) or ``boot_modes`` (a list, one
        mode per machine in port order). Hardware that tells machines
        apart (see ``nova_bm.testing.machine``): ``cpus`` (1) and
        ``cpus_by_port``; ``system_uuid_by_port`` (``{port: UUID}``; the
        others get ``machine.system_uuid_for_port(port)``, which their
        BMCs answer to Get System GUID); ``extra_nics`` (a count: every
        machine gets that many NICs more, NIC ``n``'s MAC
        ``machine.mac_for_port(port, n)``) and ``extra_macs_by_port``
        (``{port: [MAC, ...]}``, for those ports instead). A fleet of one
        machine with three disks::

            Fleet(1, port, machines={
                'directory': root, 'boot_url': url, 'disks': [
                    {'name': 'a', 'bytes': 64 << 20, 'bus': 'virtio',
                     'serial': 'AAA'},
                    {'name': 'b', 'bytes': 256 << 20, 'bus': 'scsi',
                     'serial': 'BBB', 'wwn': 0x5000c50015ea71ac,
                     'rotation_rate': 1},
                    {'name': 'c', 'bytes': 128 << 20, 'bus': 'nvme',
                     'serial': 'CCC'}]})

        Disk ``b`` is then ``<directory>/<port>/disk-b.img``. The disks
        and the hardware are checked here: :raises ValueError: bad disks,
        boot modes, CPUs, UUIDs or NICs (two NICs of the fleet with one
        MAC among them), or a bad ``simulate``.

        ``simulate``: None, or instead of ``machines``, a simulated machine
        behind every BMC (:class:`Simulation`): at each power on with the
        boot device ``network`` it boots as a machine would from
        ``base_url`` (the proxy's deploy server root, where its
        ``boot.ipxe`` is) into a simulated deploy ramdisk
        (:mod:`nova_bm.testing.simulated_ramdisk`) that looks itself up,
        reports and powers the machine off. Its NICs' MACs are
        ``machine.mac_for_port(port, n)``, its system UUID the BMC's. Keys
        (all but ``base_url`` optional): ``delay`` (seconds of firmware
        power-on self test, 0) and ``kernel_delay`` (seconds of kernel
        boot, 0), ``timeout`` (of each HTTP call, 30), ``cpus`` (8),
        ``memory_mb`` (16384), ``disks`` (disk report lines, default one
        10 GiB ``/dev/vda``), ``extra_nics`` (0), ``behaviour`` (``ok``,
        ``silent`` or ``garbage``: ``simulated_ramdisk.BEHAVIOURS``) and
        ``behaviour_by_port``, ``own_address`` (each machine calls from
        ``simulated_ramdisk.loopback_address(port)``; by default when
        ``base_url`` is on 127.0.0.0/8). ``control(port, ramdisk=...)``
        changes a BMC's behaviour; ``state(port)['simulation']`` says
        how its boots ended.

        A boot runs in a thread of the worker process serving the BMC,
        one per running boot: 1,000 BMCs booting at once are 1,000 short
        threads over the workers, each mostly waiting for the proxy."""
        if simulate is not None:
            if machines:
                raise ValueError('give machines or simulate, not both')
            simulate = check_simulate(simulate)
        self.simulate = simulate
        if machines:
            # Refused here, not in a worker process that would only die.
            for disks in ([machines.get('disks')] + list(
                    (machines.get('disks_by_port') or {}).values())):
                if disks is not None:
                    lab_machine.check_disks(disks)
            modes = machines.get('boot_modes')
            if modes is not None:
                if machines.get('boot_mode_by_port') is not None:
                    raise ValueError('give boot_modes or boot_mode_by_port, '
                                     'not both')
                if len(modes) != count:
                    raise ValueError('boot_modes must give one mode per '
                                     'machine (%d), not %d' % (count,
                                                               len(modes)))
                machines = dict(machines, boot_mode_by_port={
                    base_port + i: mode for i, mode in enumerate(modes)})
            for mode in ([machines.get('boot_mode', 'bios')] + list(
                    (machines.get('boot_mode_by_port') or {}).values())):
                if mode not in lab_machine.BOOT_MODES:
                    raise ValueError('boot mode must be bios or uefi, not '
                                     '%r' % (mode,))
            _check_hardware(machines, range(base_port, base_port + count))
        self.machines = machines
        self.count = count
        self.base_port = base_port
        self.address = address
        self.username = username
        self.password = password
        self.workers = max(1, min(workers or (1 + count // 250), count))
        self._control_dir = control_dir
        self._processes = []
        self._control_paths = {}

    @property
    def ports(self):
        return list(range(self.base_port, self.base_port + self.count))

    def start(self, timeout=60):
        import tempfile
        directory = self._control_dir or tempfile.mkdtemp(
            prefix='nova_bm_fakebmc_')
        context = multiprocessing.get_context('spawn')
        ready = context.Queue()
        ports = self.ports
        share = -(-len(ports) // self.workers)
        for index in range(self.workers):
            chunk = ports[index * share:(index + 1) * share]
            if not chunk:
                continue
            path = os.path.join(directory, 'control-%d.sock' % index)
            for port in chunk:
                self._control_paths[port] = path
            process = context.Process(
                target=_serve, daemon=True,
                args=(self.address, chunk, self.username, self.password,
                      path, ready, self.machines, self.simulate))
            process.start()
            self._processes.append(process)
        try:
            self._wait_ready(ready, timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def _wait_ready(self, ready, timeout):
        """Each worker reports 'ok' or why it failed; one that dies first
        (a control directory it cannot write, say) is noticed at once."""
        deadline = time.monotonic() + timeout
        waiting = len(self._processes)
        while waiting:
            try:
                status = ready.get(timeout=0.2)
            except queue.Empty:
                dead = [p for p in self._processes if p.exitcode is not None]
                if dead:
                    raise RuntimeError(
                        'a BMC worker exited (status %s) before it was '
                        'ready' % dead[0].exitcode) from None
                if time.monotonic() > deadline:
                    raise RuntimeError('the BMC workers were not ready '
                                       'within %d s' % timeout) from None
                continue
            if status != 'ok':
                raise RuntimeError(status)
            waiting -= 1

    def stop(self):
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join(10)
            if process.is_alive():
                # Its machines die with it (PR_SET_PDEATHSIG).
                process.kill()
                process.join(10)
        self._processes = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def control(self, port, **request):
        """Set faults or state of the BMC on ``port``; return its state.

        Faults: ``drop``, ``delay``, ``loss``, ``reject``, ``busy``,
        ``stuck``, ``privilege_limit``, ``sol_disabled``, ``sol_flood``
        (``[characters, seconds]``, or None to stop), ``guid_encoding``
        (a key of ``GUID_ENCODINGS``); actions:
        ``sol_drop``, ``forget_sessions``, ``power``, ``boot_device``,
        ``boot_persistent``, ``boot_efi``.
        """
        request['port'] = port
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(10)
            client.connect(self._control_paths[port])
            with client.makefile('rw') as stream:
                stream.write(json.dumps(request) + '\n')
                stream.flush()
                return json.loads(stream.readline())

    def state(self, port):
        return self.control(port)

    @staticmethod
    def mac(port):
        """The MAC of the machine behind the BMC on ``port``."""
        return lab_machine.mac_for_port(port)

    def machine_directory(self, port):
        """Where the machine behind ``port`` keeps its disk and console."""
        return os.path.join(self.machines['directory'], str(port))


def _check_hardware(machines, ports):
    """The CPUs, system UUIDs and extra NICs of ``machines`` (``Fleet``'s
    argument), checked as ``Machine`` would, and no MAC twice in the fleet
    (one node's interface would be taken for another's).
    :raises ValueError:"""
    for cpus in ([machines.get('cpus', 1)] + list(
            (machines.get('cpus_by_port') or {}).values())):
        lab_machine.check_cpus(cpus)
    for system_uuid in (machines.get('system_uuid_by_port') or {}).values():
        lab_machine.check_system_uuid(system_uuid)
    extra_nics = machines.get('extra_nics', 0)
    if isinstance(extra_nics, bool) or not isinstance(extra_nics, int) or (
            not 0 <= extra_nics <= lab_machine.MAX_EXTRA_NICS):
        raise ValueError('extra_nics must be an integer from 0 to %d, not '
                         '%r' % (lab_machine.MAX_EXTRA_NICS, extra_nics))
    for port, extra_macs in (machines.get('extra_macs_by_port')
                             or {}).items():
        try:
            lab_machine.check_extra_macs(extra_macs,
                                         lab_machine.mac_for_port(port))
        except ValueError as e:
            raise ValueError('port %s: %s' % (port, e)) from None
    owners = {}
    for port in ports:
        for mac in [lab_machine.mac_for_port(port)] + [
                m.lower() for m in _extra_macs(machines, port)]:
            if mac in owners:
                raise ValueError('extra_macs: %s is the MAC of a NIC of '
                                 'the machines on ports %d and %d'
                                 % (mac, owners[mac], port))
            owners[mac] = port


def free_port_range(count, address='127.0.0.1', start=20000, end=32768):
    """A base port whose ``count`` consecutive UDP ports are free now.

    The default range ends where Linux starts handing out ephemeral ports
    (``net.ipv4.ip_local_port_range``, 32768 up): a client socket of an
    IPMI session or of ipmitool can take a port there between this probe
    and the fleet's bind, and did.
    """
    import random
    for _ in range(200):
        base = random.randrange(start, end - count)
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind((address, port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError('no %d consecutive free UDP ports' % count)


def _disk_option(text):
    """``--disk NAME:SIZE_MB[:BUS[:SERIAL]]`` as a disk dict.
    :raises ValueError:"""
    fields = text.split(':')
    if not 2 <= len(fields) <= 4:
        raise ValueError('%r is not NAME:SIZE_MB[:BUS[:SERIAL]]' % text)
    try:
        size_mb = int(fields[1])
    except ValueError:
        raise ValueError('%r: SIZE_MB must be a whole number of MiB'
                         % text) from None
    if size_mb < 1:
        raise ValueError('%r: SIZE_MB must be at least 1' % text)
    disk = {'name': fields[0], 'bytes': size_mb << 20}
    if len(fields) > 2 and fields[2]:
        disk['bus'] = fields[2]
    if len(fields) > 3:
        disk['serial'] = fields[3]
    return disk


def main(argv=None):
    """``nova-bm-fakebmc``: serve N fake BMCs until SIGTERM."""
    parser = argparse.ArgumentParser(
        prog='nova-bm-fakebmc',
        description='Serve N fake IPMI 2.0 BMCs on consecutive UDP ports.')
    parser.add_argument('--count', type=int, required=True)
    parser.add_argument('--base-port', type=int, required=True)
    parser.add_argument('--address', default='127.0.0.1')
    parser.add_argument('--username', default=DEFAULT_USERNAME)
    parser.add_argument('--password', default=DEFAULT_PASSWORD)
    parser.add_argument('--workers', type=int,
                        help='Processes serving the fleet (default: one '
                             'per 250 BMCs).')
    parser.add_argument('--control-dir',
                        help='Directory for the control sockets.')
    lab = parser.add_argument_group(
        'machines', 'A QEMU machine behind each BMC (the lab): IPMI power '
        'and boot device act on it; its NIC has the MAC printed for its '
        'port, its disk and serial console live in DIR/<port>/.')
    lab.add_argument('--machines', metavar='DIR',
                     help='Give each BMC a QEMU machine under DIR.')
    lab.add_argument('--boot-url', metavar='URL',
                     help="What DHCP hands the machines' iPXE: the proxy's "
                          "boot.ipxe as seen from inside (the host is "
                          "10.0.2.2), e.g. http://10.0.2.2:8089/boot.ipxe.")
    sizes = lab.add_mutually_exclusive_group()
    # No default here: argparse would take an explicit 64 for none, and
    # let it pass with --disk.
    sizes.add_argument('--disk-mb', type=int,
                       help='Size of each machine\'s disk (default 64).')
    sizes.add_argument('--disk', action='append', dest='disks',
                       metavar='NAME:SIZE_MB[:BUS[:SERIAL]]',
                       help='Give each machine this disk (repeat for more, '
                            'attached in order; the first is the one the '
                            'firmware boots) instead of one of --disk-mb: '
                            'its file is DIR/<port>/disk-NAME.img, BUS is '
                            'virtio (default), scsi or nvme.')
    lab.add_argument('--memory-mb', type=int, default=512,
                     help='Memory of each machine (default 512).')
    lab.add_argument('--cpus', type=int, default=1,
                     help='CPUs of each machine (default 1, at most %d).'
                          % lab_machine.MAX_CPUS)
    lab.add_argument('--extra-nics', type=int, default=0, metavar='N',
                     help='Give each machine N NICs more (at most %d), on '
                          'wires of their own without DHCP (DIR/<port>/'
                          'nicN.sock); NIC N\'s MAC is printed.'
                          % lab_machine.MAX_EXTRA_NICS)
    lab.add_argument('--accel', default='tcg', choices=('tcg', 'kvm'),
                     help='QEMU accelerator (default tcg).')
    lab.add_argument('--boot-mode', default='bios',
                     choices=lab_machine.BOOT_MODES,
                     help='The machines\' firmware: bios (SeaBIOS, the '
                          'default) or uefi (OVMF, Debian\'s ovmf; its '
                          'NVRAM is DIR/<port>/OVMF_VARS.fd). Each obeys '
                          'only boot overrides of its own boot type (the '
                          'EFI flag set or not).')
    simulated = parser.add_argument_group(
        'simulated machines', 'Instead of --machines: behind each BMC a '
        'simulated machine that, powered on to boot from the network, '
        'fetches its script from the proxy and runs a simulated deploy '
        'ramdisk (looks itself up, reports, powers off): no QEMU; its MAC '
        'and system UUID are printed.')
    simulated.add_argument('--simulate', metavar='URL',
                           help="The proxy's deploy server root as the "
                                'machines reach it, e.g. '
                                'http://127.0.0.1:8089.')
    simulated.add_argument('--simulate-delay', type=float, default=0.0,
                           metavar='SECONDS',
                           help='Seconds from power on to iPXE (the '
                                "firmware's self test; default 0).")
    args = parser.parse_args(argv)
    machines = None
    simulate = None
    if args.simulate is not None:
        if args.machines is not None:
            parser.error('give --machines or --simulate, not both')
        try:
            simulate = check_simulate({'base_url': args.simulate,
                                       'delay': args.simulate_delay})
        except ValueError as e:
            parser.error('--simulate: %s' % safe_text.escape(str(e)))
    if args.machines is not None:
        if not args.boot_url:
            parser.error('--machines needs --boot-url')
        if shutil.which(lab_machine.QEMU) is None:
            parser.error('--machines needs %s (Debian: qemu-system-x86)'
                         % lab_machine.QEMU)
        if args.boot_mode == 'uefi' and not all(
                os.path.exists(path) for path in (lab_machine.OVMF_CODE,
                                                  lab_machine.OVMF_VARS)):
            parser.error('--boot-mode uefi needs %s and %s (Debian: ovmf)'
                         % (lab_machine.OVMF_CODE, lab_machine.OVMF_VARS))
        if args.disk_mb is None:
            args.disk_mb = 64
        if args.disk_mb < 1 or args.memory_mb < 64:
            parser.error('--disk-mb must be at least 1 and --memory-mb at '
                         'least 64')
        if not 1 <= args.cpus <= lab_machine.MAX_CPUS:
            parser.error('--cpus must be from 1 to %d'
                         % lab_machine.MAX_CPUS)
        if not 0 <= args.extra_nics <= lab_machine.MAX_EXTRA_NICS:
            parser.error('--extra-nics must be from 0 to %d'
                         % lab_machine.MAX_EXTRA_NICS)
        disks = None
        if args.disks:
            try:
                disks = lab_machine.check_disks(
                    [_disk_option(d) for d in args.disks])
            except ValueError as e:
                parser.error('--disk: %s' % safe_text.escape(str(e)))
        try:
            os.makedirs(args.machines, exist_ok=True)
        except OSError as e:
            parser.error('--machines: cannot make %s: %s' % (
                safe_text.quote(args.machines), e.strerror))
        machines = {'directory': os.path.abspath(args.machines),
                    'boot_url': args.boot_url,
                    'disk_bytes': args.disk_mb << 20,
                    'memory_mb': args.memory_mb, 'accel': args.accel,
                    'boot_mode': args.boot_mode, 'cpus': args.cpus,
                    'extra_nics': args.extra_nics}
        if disks:
            machines['disks'] = disks
    if args.control_dir is not None and not (
            os.path.isdir(args.control_dir)
            and os.access(args.control_dir, os.W_OK | os.X_OK)):
        parser.error('--control-dir: %s is not a writable directory'
                     % safe_text.quote(args.control_dir))
    if args.count < 1:
        parser.error('--count must be at least 1')
    if not 1 <= args.base_port <= 65536 - args.count:
        parser.error('--base-port: ports %d-%d are not all valid UDP ports'
                     % (args.base_port, args.base_port + args.count - 1))
    fleet = Fleet(args.count, args.base_port, args.address, args.username,
                  args.password, workers=args.workers,
                  control_dir=args.control_dir, machines=machines,
                  simulate=simulate)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stopped.set())
    signal.signal(signal.SIGINT, lambda *a: stopped.set())
    try:
        fleet.start()
    except RuntimeError as e:
        print('nova-bm-fakebmc: %s' % e, file=sys.stderr)
        return 1
    print('nova-bm-fakebmc: %d BMCs on %s:%d-%d (user %s); SIGTERM stops'
          % (args.count, args.address, args.base_port,
             args.base_port + args.count - 1, args.username), flush=True)
    if machines:
        for port in fleet.ports:
            extra = ''.join(
                ', NIC %d %s' % (nic, lab_machine.mac_for_port(port, nic))
                for nic in range(1, args.extra_nics + 1))
            print('nova-bm-fakebmc: BMC %d drives a machine with MAC %s%s '
                  '(system UUID %s) in %s' % (
                      port, fleet.mac(port), extra,
                      lab_machine.system_uuid_for_port(port),
                      fleet.machine_directory(port)), flush=True)
    if simulate:
        for port in fleet.ports:
            print('nova-bm-fakebmc: BMC %d has a simulated machine with MAC '
                  '%s (system UUID %s), booting from %s' % (
                      port, fleet.mac(port),
                      lab_machine.system_uuid_for_port(port),
                      simulate['base_url']), flush=True)
    stopped.wait()
    fleet.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
