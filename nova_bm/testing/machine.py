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
  anything else boots the disk, then the network.
* the network is QEMU's user-mode network: its DHCP hands the firmware's
  iPXE ``boot_url`` (the host is 10.0.2.2 from inside).
* ``disk.img`` (sparse, ``disk_bytes``), ``serial.log`` (every boot's
  console, appended) and ``serial.sock`` (the live console, for SOL) live in
  the machine's own directory; so do ``qmp.sock`` and ``qemu.log``.
"""

import ctypes
import json
import os
import signal
import socket
import subprocess
import threading
import time

QEMU = 'qemu-system-x86_64'
_PR_SET_PDEATHSIG = 1


def mac_for_port(port):
    """The NIC's MAC of the machine behind the BMC on UDP ``port``
    (locally administered, QEMU's 52:54:00 prefix): a fleet's MACs are
    known before it starts, so its nodes can be enrolled with them."""
    return '52:54:00:%02x:%02x:%02x' % (0x4c, port >> 8, port & 0xff)


def _die_with_parent():
    # The machine must not outlive the BMC process that drives it (a
    # worker killed with SIGKILL cannot clean up).
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Machine:
    """One QEMU machine. Methods are safe to call from any thread."""

    def __init__(self, directory, mac, boot_url, disk_bytes,
                 memory_mb=512, accel='tcg', qemu=QEMU, console_wait=False):
        self.directory = directory
        self.mac = mac
        self.boot_url = boot_url
        self.disk_bytes = disk_bytes
        self.memory_mb = memory_mb
        self.accel = accel
        self.qemu = qemu
        # QEMU waits for a client on serial.sock before it runs the
        # machine, so that the first character reaches it (the fake
        # BMC's SOL, which connects at each power on).
        self.console_wait = console_wait
        self.disk = os.path.join(directory, 'disk.img')
        self.serial_log = os.path.join(directory, 'serial.log')
        self.serial_socket = os.path.join(directory, 'serial.sock')
        self.qmp_socket = os.path.join(directory, 'qmp.sock')
        self.boots = 0
        #: When each power on started QEMU (``time.time()``).
        self.power_ons = []
        self._process = None
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
            if not os.path.exists(self.disk):
                with open(self.disk, 'wb') as disk:
                    disk.truncate(self.disk_bytes)
            for stale in (self.qmp_socket, self.serial_socket):
                if os.path.exists(stale):
                    os.unlink(stale)
            with open(os.path.join(self.directory, 'qemu.log'), 'ab') as log:
                self._process = subprocess.Popen(  # noqa: S603 (no shell)
                    self.command(boot_device, persistent),
                    stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            self.boots += 1
            self.power_ons.append(time.time())
            return True

    def command(self, boot_device, persistent):
        """The QEMU command line for one power-on."""
        if boot_device == 'network':
            boot = 'order=nc' if persistent else 'once=n,order=cn'
        else:
            boot = 'order=cn'
        return [
            self.qemu, '-accel', self.accel, '-m', str(self.memory_mb),
            '-nographic', '-monitor', 'none',
            '-chardev', 'socket,id=s0,path=%s,server=on,wait=%s,'
                        'logfile=%s,logappend=on'
                        % (self.serial_socket,
                           'on' if self.console_wait else 'off',
                           self.serial_log),
            '-serial', 'chardev:s0',
            '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_socket,
            '-netdev', 'user,id=n0,bootfile=%s' % self.boot_url,
            '-device', 'virtio-net-pci,netdev=n0,mac=%s' % self.mac,
            '-drive', 'file=%s,format=raw,if=virtio' % self.disk,
            '-boot', boot]

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
        return self._qmp('system_reset')

    def _qmp(self, command, timeout=10):
        with self._lock:
            if not self._alive():
                return False
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.socket(socket.AF_UNIX) as client:
                    client.settimeout(timeout)
                    client.connect(self.qmp_socket)
                    with client.makefile('rw') as stream:
                        stream.readline()  # the greeting
                        for execute in ('qmp_capabilities', command):
                            stream.write(json.dumps({'execute': execute})
                                         + '\n')
                            stream.flush()
                            self._qmp_reply(stream, execute)
                return True
            except (FileNotFoundError, ConnectionRefusedError):
                # Just started: QEMU has not made its socket yet.
                if time.monotonic() > deadline or not self.is_on():
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
