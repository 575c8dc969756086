"""A QEMU machine: the computer behind one fake BMC of the lab.

``nova-bm-fakebmc --machines DIR`` gives each BMC one of these, so that
IPMI power and boot-device commands act on a real (emulated) machine: its
firmware, its iPXE, a NIC with the node's MAC, a disk, a serial console.
What a caller may rely on:

* power: on starts QEMU (``-accel tcg`` by default: KVM here cannot boot
  Linux), hard off kills it (pulling the plug), soft off presses the ACPI
  power button (QMP ``system_powerdown``; an OS without ACPI handling
  ignores it, as on real hardware), reset is QMP ``system_reset``. A guest
  that powers itself off ends the QEMU process: ``is_on()`` is the
  machine's real state.
* boot device: ``network`` one-time boots the network once, then the disk
  (QEMU's ``-boot once=n``, which a reset undoes, like a BMC's one-time
  flag); ``network`` persistent tries the network first at every boot;
  anything else boots the disk, then the network. With ``disks`` the same,
  by ``bootindex`` (see below).
* the network is QEMU's user-mode network: its DHCP hands the firmware's
  iPXE ``boot_url`` (the host is 10.0.2.2 from inside).
* ``disk.img`` (sparse, ``disk_bytes``), ``serial.log`` (every boot's
  console, appended) and ``serial.sock`` (the live console, for SOL) live in
  the machine's own directory; so do ``qmp.sock`` and ``qemu.log``.

Several disks (``disks``: root device hints need disks to tell apart): a
list of dicts, attached in list order, each a sparse ``disk-<name>.img`` in
the machine's directory (made at the first power on)::

    {'name': 'sdb',            # [A-Za-z0-9._-], 1-20 characters, unique
     'bytes': 256 << 20,       # a multiple of 512
     'bus': 'scsi',            # 'virtio' (default), 'scsi' or 'nvme'
     'serial': 'BBB',          # [A-Za-z0-9._-], 1-20 characters, or None
                               # (nvme: None means the name)
     'wwn': 0x5000c50015ea71ac,  # scsi only: 64 bits, or None
     'rotation_rate': 1,       # scsi only: 1 is an SSD, 0x401-0xfffe rpm
     'model': 'FASTDISK',      # scsi only (INQUIRY product): 1-16 chars
     'readonly': True}         # the guest cannot write it (QEMU's
                               # readonly=on): False (default) or True

virtio is a ``virtio-blk-pci``, scsi a ``scsi-hd`` on one
``virtio-scsi-pci`` (target = its rank among the scsi disks, lun 0), nvme
an ``nvme`` controller with one namespace. QEMU opens a ``readonly``
disk's file read-only and fails every write of the guest to it, as a disk
whose controller refuses writes does. SeaBIOS boots only its first hard
disk: the disks get ``bootindex`` 1..N in list order (so the first
disk is BIOS drive 0x80, whatever its bus), the NIC 0 (network first) or
N+1 (after the disks). QEMU's ``-boot`` cannot be mixed with
``bootindex``, so a one-time network boot starts with the NIC at 0 and,
as soon as QEMU runs, moves it to N+1 over QMP (``qom-set``): QEMU rebuilds
the firmware's boot order at each reset, so the next boot (a reset, or the
guest rebooting) is the disk's.

Firmware (``boot_mode``): ``bios`` is QEMU's SeaBIOS; ``uefi`` is OVMF
(Debian's ``ovmf``: ``OVMF_CODE_4M.fd`` read-only in the first pflash, a
copy of ``OVMF_VARS_4M.fd`` in the machine's directory, ``OVMF_VARS.fd``,
in the second: its NVRAM, kept across power cycles as a real machine's).
OVMF takes its boot order from the devices' ``bootindex`` (QEMU's
``-boot`` means nothing to it), so a UEFI machine always uses the
``bootindex`` layout, its one default disk included. Its NIC's option ROM
carries iPXE for UEFI (QEMU's ``efi-virtio.rom``), as a real server's NIC
carries the vendor's UEFI PXE.

Hardware that tells machines apart (what an inspection reports): ``cpus``
(QEMU's ``-smp``), ``system_uuid`` (``-uuid``: the SMBIOS system UUID,
Linux's ``/sys/class/dmi/id/product_uuid``, and what the machine's fake
BMC answers to Get System GUID; by default :func:`system_uuid_for_port`
of the port whose MAC it has) and ``extra_macs``: more ``virtio-net-pci``
NICs, after NIC 0. An extra NIC boots nothing: it has no ``bootindex`` and
no option ROM (``romfile=``): SeaBIOS runs NIC 0's iPXE only, which boots
from its own NIC only (it lists the others), and OVMF boots what
``bootindex`` lists. Nor has its wire a DHCP server: it is QEMU's
``-netdev dgram`` (QEMU 7.2 or later) over two UNIX datagram sockets in
the machine's directory, ``nic<N>.sock``, QEMU's end (a datagram sent
there is an Ethernet frame the guest receives: :meth:`Machine.send_frame`,
for an LLDP frame, say) and ``nic<N>.peer``, where QEMU sends the guest's
frames (dropped unless something has bound it). UNIX sockets, rather than
UDP ports, cannot collide between machines or test processes, and live
where the machine's other sockets do.
"""

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

QEMU = 'qemu-system-x86_64'
BOOT_MODES = ('bios', 'uefi')
#: Debian's ovmf: the firmware (read-only) and the NVRAM template.
OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd'
OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd'
_PR_SET_PDEATHSIG = 1
BUSES = ('virtio', 'scsi', 'nvme')
#: Disk names, serials and models: nothing QEMU's option parser (commas),
#: a file name (slashes) or a shell could take for syntax. 20 characters
#: is what virtio-blk and NVMe keep of a serial.
_WORD = re.compile(r'[A-Za-z0-9._-]{1,20}\Z')
_DISK_KEYS = frozenset(('name', 'bytes', 'bus', 'serial', 'wwn',
                        'rotation_rate', 'model', 'readonly'))
_SCSI_ONLY = ('wwn', 'rotation_rate', 'model')
_NIC_ID = 'nic0'
#: Most CPUs and extra NICs a machine may have (QEMU's TCG runs one
#: thread per CPU; every NIC takes a PCI slot).
MAX_CPUS = 16
MAX_EXTRA_NICS = 8
_MAC = re.compile(r'([0-9a-f]{2}:){5}[0-9a-f]{2}\Z')
#: The namespace of the machines' SMBIOS system UUIDs (uuid5 of a MAC).
_SYSTEM_UUID_NAMESPACE = uuid.UUID('9161fcc6-cb5b-497a-9dba-49402055dd8b')


def mac_for_port(port, nic=0):
    """The MAC of NIC ``nic`` (0: the one it boots from; 1 up: its extra
    NICs) of the machine behind the BMC on UDP ``port`` (QEMU's 52:54:00
    prefix, then 4c + ``nic`` and the port): a fleet's MACs are known
    before it starts, so its nodes can be enrolled with them."""
    return '52:54:00:%02x:%02x:%02x' % (0x4c + nic, port >> 8, port & 0xff)


def system_uuid_for_port(port):
    """The SMBIOS system UUID of the machine behind the BMC on UDP
    ``port`` unless it is given another (``Machine(system_uuid=...)``):
    what its BMC answers to Get System GUID and its Linux reads in
    ``/sys/class/dmi/id/product_uuid``, known without asking either."""
    return _system_uuid_for_mac(mac_for_port(port))


def _system_uuid_for_mac(mac):
    # Name-based (uuid5): the same for the same MAC, in every process.
    return str(uuid.uuid5(_SYSTEM_UUID_NAMESPACE, mac.lower()))


def check_cpus(cpus):
    """:returns: ``cpus``, an integer from 1 to :data:`MAX_CPUS`.
    :raises ValueError: saying what is wrong."""
    if isinstance(cpus, bool) or not isinstance(cpus, int) or not (
            1 <= cpus <= MAX_CPUS):
        raise ValueError('cpus must be an integer from 1 to %d, not %r'
                         % (MAX_CPUS, cpus))
    return cpus


def check_system_uuid(system_uuid):
    """:returns: ``system_uuid`` as a lower-case canonical UUID (what
    QEMU's ``-uuid`` takes). :raises ValueError: not a UUID."""
    try:
        return str(uuid.UUID(system_uuid))
    except (TypeError, ValueError, AttributeError):
        raise ValueError('system_uuid must be a UUID (32 hex digits, as '
                         '8-4-4-4-12), not %r' % (system_uuid,)) from None


def check_extra_macs(extra_macs, mac=None):
    """``extra_macs``: the MACs of a machine's extra NICs, a list (or
    tuple) of up to :data:`MAX_EXTRA_NICS` unicast MACs, none twice and
    none ``mac`` (its NIC 0's). :returns: them as a list, lower-case.
    :raises ValueError: saying what is wrong."""
    if not isinstance(extra_macs, (list, tuple)):
        raise ValueError('extra_macs must be a list of MACs, not %r'
                         % (extra_macs,))
    if len(extra_macs) > MAX_EXTRA_NICS:
        raise ValueError('extra_macs: at most %d extra NICs, not %d'
                         % (MAX_EXTRA_NICS, len(extra_macs)))
    checked = []
    taken = {mac.lower()} if isinstance(mac, str) else set()
    for address in extra_macs:
        if not isinstance(address, str) or not _MAC.match(address.lower()):
            raise ValueError('extra_macs: %r is not a MAC (six hex pairs '
                             'joined by colons)' % (address,))
        address = address.lower()
        if int(address[:2], 16) & 1:
            raise ValueError('extra_macs: %s is a multicast MAC; a NIC '
                             'has a unicast one' % address)
        if address in taken:
            raise ValueError('extra_macs: %s is the MAC of two NICs of '
                             'the machine' % address)
        taken.add(address)
        checked.append(address)
    return checked


def _word(disk, key, value, limit=20):
    if not isinstance(value, str) or not _WORD.match(value) or (
            len(value) > limit):
        raise ValueError(
            'disk %r: %s must be 1-%d characters of A-Z a-z 0-9 . _ -, '
            'not %r' % (disk, key, limit, value))
    return value


def _integer(disk, key, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not (
            low <= value <= high):
        raise ValueError('disk %r: %s must be an integer from %d to %d, '
                         'not %r' % (disk, key, low, high, value))
    return value


def check_disks(disks):
    """``disks`` (see the module's docstring) checked and completed: a new
    list of dicts with every key. :raises ValueError: saying what is
    wrong."""
    if not isinstance(disks, (list, tuple)) or not disks:
        raise ValueError('disks must be a non-empty list, not %r' % (disks,))
    checked = []
    for disk in disks:
        if not isinstance(disk, dict):
            raise ValueError('a disk must be a dict, not %r' % (disk,))
        name = disk.get('name')
        if not isinstance(name, str) or not _WORD.match(name):
            raise ValueError('disk name must be 1-20 characters of A-Z a-z '
                             '0-9 . _ -, not %r' % (name,))
        unknown = sorted(set(disk) - _DISK_KEYS)
        if unknown:
            raise ValueError('disk %r: unknown keys %s' % (
                name, ', '.join(unknown)))
        if name in [d['name'] for d in checked]:
            raise ValueError('disk %r: two disks have that name' % name)
        bus = disk.get('bus') or 'virtio'
        if bus not in BUSES:
            raise ValueError('disk %r: bus must be one of %s, not %r' % (
                name, ', '.join(BUSES), bus))
        size = _integer(name, 'bytes', disk.get('bytes'), 512, 1 << 50)
        if size % 512:
            raise ValueError('disk %r: bytes must be a multiple of 512, '
                             'not %d' % (name, size))
        serial = disk.get('serial')
        if serial is None and bus == 'nvme':
            serial = name  # QEMU's nvme must have one
        if serial is not None:
            _word(name, 'serial', serial)
        for key in _SCSI_ONLY:
            if disk.get(key) is not None and bus != 'scsi':
                raise ValueError('disk %r: %s is for scsi disks only (%s '
                                 'has none)' % (name, key, bus))
        wwn = disk.get('wwn')
        if wwn is not None:
            _integer(name, 'wwn', wwn, 1, (1 << 64) - 1)
        rotation_rate = disk.get('rotation_rate')
        if rotation_rate is not None:
            _integer(name, 'rotation_rate', rotation_rate, 0, 0xffff)
        model = disk.get('model')
        if model is not None:
            # The 16 bytes of a SCSI INQUIRY product identification.
            _word(name, 'model', model, 16)
        readonly = disk.get('readonly')
        if readonly is None:
            readonly = False
        if not isinstance(readonly, bool):
            raise ValueError('disk %r: readonly must be True or False, not '
                             '%r' % (name, readonly))
        checked.append({'name': name, 'bytes': size, 'bus': bus,
                        'serial': serial, 'wwn': wwn,
                        'rotation_rate': rotation_rate, 'model': model,
                        'readonly': readonly})
    return checked


def _option(value):
    """``value`` inside a QEMU ``key=value,...`` option (commas double)."""
    return value.replace(',', ',,')


def _die_with_parent():
    # The machine must not outlive the BMC process that drives it (a
    # worker killed with SIGKILL cannot clean up).
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Machine:
    """One QEMU machine. Methods are safe to call from any thread."""

    def __init__(self, directory, mac, boot_url, disk_bytes,
                 memory_mb=512, accel='tcg', qemu=QEMU, console_wait=False,
                 disks=None, boot_mode='bios', cpus=1, system_uuid=None,
                 extra_macs=()):
        """``disks``: None (one ``disk.img`` of ``disk_bytes`` on
        ``if=virtio``, as ever) or a list (the module's docstring; then
        ``disk_bytes`` is not used). ``boot_mode``: ``bios`` (SeaBIOS) or
        ``uefi`` (OVMF). ``cpus``, ``system_uuid`` (None: derived from
        ``mac``, as :func:`system_uuid_for_port` is) and ``extra_macs``:
        the module's docstring. :raises ValueError: bad ``disks``,
        ``boot_mode``, ``cpus``, ``system_uuid`` or ``extra_macs``."""
        if boot_mode not in BOOT_MODES:
            raise ValueError('boot_mode must be bios or uefi, not %r'
                             % (boot_mode,))
        self.boot_mode = boot_mode
        self.directory = directory
        self.mac = mac
        self.cpus = check_cpus(cpus)
        #: The SMBIOS system UUID, lower-case canonical.
        self.system_uuid = (_system_uuid_for_mac(mac) if system_uuid is None
                            else check_system_uuid(system_uuid))
        #: ``{mac: (socket, peer)}`` of the extra NICs, in order: QEMU's
        #: end of each NIC's wire and where QEMU sends the guest's frames.
        self.extra_nics = {
            extra: (os.path.join(directory, 'nic%d.sock' % number),
                    os.path.join(directory, 'nic%d.peer' % number))
            for number, extra in enumerate(
                check_extra_macs(extra_macs, mac), start=1)}
        self.boot_url = boot_url
        self.disk_bytes = disk_bytes
        self.memory_mb = memory_mb
        self.accel = accel
        self.qemu = qemu
        # QEMU waits for a client on serial.sock before it runs the
        # machine, so that the first character reaches it (the fake
        # BMC's SOL, which connects at each power on).
        self.console_wait = console_wait
        #: The checked ``disks``, or None.
        self.disks = None if disks is None else check_disks(disks)
        if self.disks is None:
            #: ``{name: path}`` of the disks, in order (the default disk's
            #: name is ``disk``).
            self.disk_paths = {'disk': os.path.join(directory, 'disk.img')}
            self._disk_sizes = {'disk': disk_bytes}
        else:
            self.disk_paths = {
                d['name']: os.path.join(directory, 'disk-%s.img' % d['name'])
                for d in self.disks}
            self._disk_sizes = {d['name']: d['bytes'] for d in self.disks}
        #: The first disk (the one the firmware boots).
        self.disk = next(iter(self.disk_paths.values()))
        # The disks laid out by bootindex: ``disks``, or for OVMF the
        # default disk as one (None: SeaBIOS's ``-boot`` layout).
        self._layout = self.disks
        if self._layout is None and boot_mode == 'uefi':
            self._layout = check_disks([{'name': 'disk',
                                         'bytes': disk_bytes}])
        #: OVMF's NVRAM (UEFI only).
        self.nvram = os.path.join(directory, 'OVMF_VARS.fd')
        self.serial_log = os.path.join(directory, 'serial.log')
        self.serial_socket = os.path.join(directory, 'serial.sock')
        self.qmp_socket = os.path.join(directory, 'qmp.sock')
        self.boots = 0
        #: When each power on started QEMU (``time.time()``).
        self.power_ons = []
        self._process = None
        # The QMP call that ends a one-time network boot (disks only).
        self._network_once_undo = None
        # Reentrant: the BMC process's SIGTERM handler powers machines off
        # on the thread that may be inside power_on.
        self._lock = threading.RLock()

    def is_on(self):
        with self._lock:
            return self._alive()

    def _alive(self):
        return self._process is not None and self._process.poll() is None

    def power_on(self, boot_device='default', persistent=False):
        """Start the machine; :returns: False if it was already on.
        :raises OSError: QEMU cannot be started (the message says why)."""
        with self._lock:
            if self._alive():
                return False
            os.makedirs(self.directory, exist_ok=True)
            for name, path in self.disk_paths.items():
                if not os.path.exists(path):
                    with open(path, 'wb') as disk:
                        disk.truncate(self._disk_sizes[name])
            if self.boot_mode == 'uefi':
                self._make_nvram()
            for stale in [self.qmp_socket, self.serial_socket] + [
                    wire for wire, _ in self.extra_nics.values()]:
                if os.path.exists(stale):
                    os.unlink(stale)
            with open(os.path.join(self.directory, 'qemu.log'), 'ab') as log:
                self._process = subprocess.Popen(  # noqa: S603 (no shell)
                    self.command(boot_device, persistent),
                    stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            self.boots += 1
            self.power_ons.append(time.time())
            self._network_once_undo = None
            if (self._layout is not None and boot_device == 'network'
                    and not persistent):
                undo = threading.Thread(
                    target=self._end_network_once,
                    args=(self._process,), daemon=True)
                self._network_once_undo = undo
                undo.start()
            return True

    def _make_nvram(self):
        """A fresh NVRAM at the first power on, kept after (whole or
        absent: copied under another name, then renamed)."""
        if os.path.exists(self.nvram):
            return
        for path in (OVMF_CODE, OVMF_VARS):
            if not os.path.exists(path):
                raise FileNotFoundError(
                    'a UEFI machine needs %s (Debian: ovmf)' % path)
        tmp = self.nvram + '.tmp'
        with open(OVMF_VARS, 'rb') as template, open(tmp, 'wb') as copy:
            copy.write(template.read())
        os.replace(tmp, self.nvram)

    def _end_network_once(self, process):
        # The NIC goes after the disks for every later boot of this
        # process. QEMU answers QMP only once it runs (with console_wait,
        # once the SOL bridge has connected): after the reset that gave
        # the firmware its boot order, and seconds before iPXE is done.
        try:
            self._qmp('qom-set', timeout=120, process=process, arguments={
                'path': '/machine/peripheral/%s' % _NIC_ID,
                'property': 'bootindex', 'value': len(self._layout) + 1})
        except Exception as e:  # noqa: BLE001 (the machine went off)
            with self._lock:
                if self._process is process and self._alive():
                    print('nova-bm machine %s: cannot end the one-time '
                          'network boot: %r' % (self.directory, e),
                          file=sys.stderr)

    def command(self, boot_device, persistent):
        """The QEMU command line for one power-on."""
        if self._layout is not None:
            return self._command(boot_device == 'network')
        if boot_device == 'network':
            boot = 'order=nc' if persistent else 'once=n,order=cn'
        else:
            boot = 'order=cn'
        return self._common() + [
            '-device', 'virtio-net-pci,netdev=n0,mac=%s' % self.mac,
        ] + self._extra_nic_options() + [
            '-drive', 'file=%s,format=raw,if=virtio' % _option(self.disk),
            '-boot', boot]

    def _command(self, network_first):
        """With ``disks`` or OVMF: boot order by bootindex (the module's
        docstring)."""
        command = self._common() + [
            '-device', 'virtio-net-pci,netdev=n0,mac=%s,id=%s,bootindex=%d'
                       % (self.mac, _NIC_ID,
                          0 if network_first else len(self._layout) + 1)]
        command += self._extra_nic_options()
        scsi = 0
        for index, disk in enumerate(self._layout, start=1):
            drive = 'drive-%s' % disk['name']
            command += ['-drive', 'if=none,id=%s,file=%s,format=raw%s' % (
                drive, _option(self.disk_paths[disk['name']]),
                ',readonly=on' if disk['readonly'] else '')]
            if disk['bus'] == 'virtio':
                device = ['virtio-blk-pci']
            elif disk['bus'] == 'nvme':
                device = ['nvme']
            else:
                if not scsi:
                    command += ['-device', 'virtio-scsi-pci,id=scsi0']
                device = ['scsi-hd', 'bus=scsi0.0', 'channel=0',
                          'scsi-id=%d' % scsi, 'lun=0']
                scsi += 1
            device += ['drive=%s' % drive, 'id=disk-%s' % disk['name']]
            if disk['serial'] is not None:
                device.append('serial=%s' % disk['serial'])
            if disk['wwn'] is not None:
                device.append('wwn=0x%016x' % disk['wwn'])
            if disk['rotation_rate'] is not None:
                device.append('rotation_rate=%d' % disk['rotation_rate'])
            if disk['model'] is not None:
                device.append('product=%s' % disk['model'])
            device.append('bootindex=%d' % index)
            command += ['-device', ','.join(device)]
        return command

    def _common(self):
        firmware = []
        if self.boot_mode == 'uefi':
            firmware = [
                '-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=%s'
                          % _option(OVMF_CODE),
                '-drive', 'if=pflash,format=raw,unit=1,file=%s'
                          % _option(self.nvram)]
        return [
            self.qemu, '-accel', self.accel, '-m', str(self.memory_mb),
            '-smp', str(self.cpus), '-uuid', self.system_uuid,
        ] + firmware + [
            '-nographic', '-monitor', 'none',
            '-chardev', 'socket,id=s0,path=%s,server=on,wait=%s,'
                        'logfile=%s,logappend=on'
                        % (self.serial_socket,
                           'on' if self.console_wait else 'off',
                           self.serial_log),
            '-serial', 'chardev:s0',
            '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_socket,
            '-netdev', 'user,id=n0,bootfile=%s' % self.boot_url]

    def _extra_nic_options(self):
        """The extra NICs: no bootindex, no option ROM, each on its own
        wire (the module's docstring)."""
        options = []
        for number, (extra, (wire, peer)) in enumerate(
                self.extra_nics.items(), start=1):
            options += [
                '-netdev', 'dgram,id=n%d,local.type=unix,local.path=%s,'
                           'remote.type=unix,remote.path=%s'
                           % (number, _option(wire), _option(peer)),
                '-device', 'virtio-net-pci,netdev=n%d,mac=%s,id=nic%d,'
                           'romfile=' % (number, extra, number)]
        return options

    def send_frame(self, mac, frame):
        """Put one Ethernet ``frame`` (bytes, from the destination MAC
        on) on the wire of the extra NIC ``mac``: the guest receives it
        if the machine is on (else it is lost, as on a dead link).
        :raises KeyError: no extra NIC has that MAC."""
        wire, _ = self.extra_nics[mac.lower()]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
            try:
                client.sendto(frame, wire)
            except (FileNotFoundError, ConnectionRefusedError):
                pass  # QEMU is not running: no link.

    def power_off(self):
        """Pull the plug. :returns: False if it was already off."""
        with self._lock:
            if not self._alive():
                return False
            self._process.kill()
            self._process.wait()
            return True

    def shutdown(self):
        """Press the power button (ACPI). :returns: False if off."""
        return self._qmp('system_powerdown')

    def reset(self):
        """Press reset. :returns: False if off."""
        undo = self._network_once_undo
        if undo is not None:
            # A reset right after a one-time network boot boots the disk.
            undo.join(30)
        return self._qmp('system_reset')

    def _qmp(self, command, timeout=10, arguments=None, process=None):
        """Run one QMP ``command``; ``process``: only on that QEMU
        process (:returns: False if it is not the one running)."""
        def running():
            with self._lock:
                return self._alive() and process in (None, self._process)

        if not running():
            return False
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as client:
                    client.settimeout(timeout)
                    client.connect(self.qmp_socket)
                    with client.makefile('rw') as stream:
                        stream.readline()  # the greeting
                        for execute, args in (('qmp_capabilities', None),
                                              (command, arguments)):
                            message = {'execute': execute}
                            if args is not None:
                                message['arguments'] = args
                            stream.write(json.dumps(message) + '\n')
                            stream.flush()
                            self._qmp_reply(stream, execute)
                return True
            except (FileNotFoundError, ConnectionRefusedError):
                # Just started: QEMU has not made its socket yet.
                if time.monotonic() > deadline or not running():
                    raise
                time.sleep(0.05)

    @staticmethod
    def _qmp_reply(stream, execute):
        while True:
            line = stream.readline()
            if not line:
                raise ConnectionError('QMP closed during %s' % execute)
            reply = json.loads(line)
            if 'error' in reply:
                raise RuntimeError('QMP %s: %s' % (
                    execute, reply['error'].get('desc')))
            if 'return' in reply:
                return reply['return']
            # An asynchronous event (SHUTDOWN, RESET ...): not our answer.

    def serial_text(self):
        """Everything the serial console has printed, every boot."""
        try:
            with open(self.serial_log, 'rb') as log:
                return log.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''
