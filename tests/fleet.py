"""A fake BMC fleet for tests, and ipmitool to look at it from outside."""

import os
import pty
import random
import select
import shutil
import socket
import subprocess
import time
import types

import fixtures

from nova_bm.testing import fakebmc


class FleetFixture(fixtures.Fixture):
    """``count`` fake BMCs on free consecutive UDP ports of 127.0.0.1."""

    def __init__(self, count, workers=None,
                 password=fakebmc.DEFAULT_PASSWORD, machines=None,
                 simulate=None):
        """``machines``: QEMU machines behind the BMCs (``fakebmc.Fleet``),
        or a function of the fleet's first port that gives them;
        ``simulate``: simulated machines instead."""
        super().__init__()
        self.count = count
        self.workers = workers
        self.password = password
        self.machines = machines
        self.simulate = simulate

    def _setUp(self):
        # A range found free can be taken before the fleet binds it (by
        # another test process's fleet): try another range, twice.
        for attempt in range(3):
            base = fakebmc.free_port_range(self.count)
            machines = self.machines
            if callable(machines):
                machines = machines(base)
            self.fleet = fakebmc.Fleet(self.count, base,
                                       workers=self.workers,
                                       password=self.password,
                                       machines=machines,
                                       simulate=self.simulate)
            try:
                self.fleet.start()
                break
            except RuntimeError as e:
                self.fleet.stop()
                if 'in use' not in str(e) or attempt == 2:
                    raise
        self.addCleanup(self.fleet.stop)
        self.ports = self.fleet.ports
        self.username = self.fleet.username

    def node(self, index, **overrides):
        """A node row-like object for the BMC ``ports[index]``."""
        values = {'uuid': 'uuid-%d' % index, 'name': 'node-%d' % index,
                  'ipmi_address': '127.0.0.1',
                  'ipmi_port': self.ports[index],
                  'ipmi_username': self.username,
                  'ipmi_password': self.password, 'boot_mode': 'bios'}
        values.update(overrides)
        return types.SimpleNamespace(**values)


def ipmitool(port, *args, username=fakebmc.DEFAULT_USERNAME,
             password=fakebmc.DEFAULT_PASSWORD):
    """Run ipmitool -I lanplus against a fake BMC; return the process."""
    tool = shutil.which('ipmitool')
    if tool is None:
        raise AssertionError('ipmitool is not installed (Debian package '
                             'ipmitool; run_tests.sh installs it)')
    return subprocess.run(
        [tool, '-I', 'lanplus', '-H', '127.0.0.1', '-p', str(port),
         '-U', username, '-P', password, '-R', '1', '-N', '1'] + list(args),
        capture_output=True, text=True, timeout=60)


class IpmitoolSol:
    """``ipmitool sol activate`` on a pseudo-terminal (it needs a tty)."""

    def __init__(self, port, username, password):
        tool = shutil.which('ipmitool')
        if tool is None:
            raise AssertionError('ipmitool is not installed (Debian package '
                                 'ipmitool; run_tests.sh installs it)')
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [tool, '-I', 'lanplus', '-H', '127.0.0.1', '-p', str(port),
             '-U', username, '-P', password, 'sol', 'activate'],
            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)
        self.output = b''

    def read_until(self, text, timeout=30, count=1):
        """Read the terminal until ``text`` shows (``count`` times);
        :returns: all so far."""
        deadline = time.monotonic() + timeout
        while (self.output.count(text) < count
               and time.monotonic() < deadline):
            readable, _, _ = select.select([self.master], [], [], 0.1)
            if readable:
                try:
                    self.output += os.read(self.master, 4096)
                except OSError:
                    break
        if self.output.count(text) < count:
            raise AssertionError('ipmitool sol showed %r fewer than %d '
                                 'times within %s s: %r' % (
                                     text, count, timeout,
                                     self.output[-300:]))
        return self.output

    def type(self, text):
        os.write(self.master, text)

    def quit(self, timeout=30):
        """Type ipmitool's escape (~.); :returns: its exit status."""
        self.type(b'\r~.')
        return self.close(timeout)

    def kill(self):
        self.process.kill()
        return self.close()

    def close(self, timeout=30):
        try:
            return self.process.wait(timeout)
        finally:
            os.close(self.master)


def ipmitool_sol(port, username=fakebmc.DEFAULT_USERNAME,
                 password=fakebmc.DEFAULT_PASSWORD):
    return IpmitoolSol(port, username, password)


def free_tcp_port_range(count, start=40000, end=60000):
    """``count`` consecutive TCP ports of 127.0.0.1 that are free now."""
    for _ in range(100):
        low = random.randrange(start, end - count)
        sockets = []
        try:
            for port in range(low, low + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(('127.0.0.1', port))
            return low
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError('no %d free TCP ports' % count)


def unused_port():
    """A UDP port on 127.0.0.1 where nothing listens: a dead BMC."""
    return fakebmc.free_port_range(1)


def unused_tcp_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]
