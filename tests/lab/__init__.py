"""The lab: QEMU machines that boot nova-bm's real deploy ramdisk.

Shared by the lab tests. The ramdisk is built once per test process from
Debian's packages (``nova_bm.ramdisk.builder``), its downloads kept under
``.cache/`` of the checkout (or ``NOVA_BM_TEST_CACHE``). Under ``CI=true``
a missing QEMU or apt fails the test; elsewhere it skips, saying what to
install.
"""

# Nova's concurrency mode first (as in tests/functional): the lab's Nova
# tests run Nova's services, which refuse to start in native threading
# once anything has imported eventlet.
import nova.tests.functional  # noqa: F401,I001

import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time

from nova_bm.ramdisk import builder
from tests import utils

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CACHE = os.environ.get('NOVA_BM_TEST_CACHE',
                       os.path.join(_ROOT, '.cache'))
QEMU = 'qemu-system-x86_64'
#: The host (its loopback) as a QEMU machine on user-mode network sees it.
HOST_FROM_MACHINE = '10.0.2.2'
# Captured at import: Nova's harness points tempfile at deeply nested
# per-test directories, too long for the machines' UNIX sockets (108 bytes).
_TEMP_ROOT = tempfile.gettempdir()
_lock = threading.Lock()
_built = {}


def require(test):
    """Fail (CI) or skip when the lab cannot run here."""
    missing = [tool for tool in (QEMU, 'apt-get', 'dpkg-deb')
               if shutil.which(tool) is None]
    if missing:
        message = ('the lab needs %s (Debian: qemu-system-x86, apt, dpkg; '
                   'run_tests.sh installs QEMU)' % ', '.join(missing))
        utils.missing(test, message)


def machine_root(test):
    """A directory for a test's QEMU machines, removed after it."""
    root = tempfile.mkdtemp(prefix='nbm-lab-', dir=_TEMP_ROOT)
    test.addCleanup(shutil.rmtree, root, True)
    return root


def ramdisk():
    """``(kernel, initramfs)`` paths of a ramdisk built in this process.

    Test processes run side by side: a file lock makes them build (and
    download) one at a time, each into a directory of its own.
    """
    with _lock:
        if not _built:
            output = os.path.join(CACHE, 'ramdisk-%d' % os.getpid())
            build(output)
            _built['kernel'] = os.path.join(output, builder.KERNEL)
            _built['initramfs'] = os.path.join(output, builder.INITRAMFS)
        return _built['kernel'], _built['initramfs']


def build(output):
    """``builder.build`` into ``output``, one test process at a time,
    with the shared download cache. :returns: its digests."""
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return builder.build(output, os.path.join(CACHE, 'debs'))


def boot_ramdisk(kernel, initramfs, append, disk, serial_log, mac,
                 timeout=600, until=None):
    """Boot a QEMU machine straight into the ramdisk (no firmware, no
    iPXE) and wait until it powers itself off, or (``until``) prints that
    on its console: then it is powered off, as the proxy would.
    :returns: exit status (None: stopped at ``until``)."""
    return _run_machine(
        ['-kernel', kernel, '-initrd', initramfs,
         '-append', 'console=ttyS0,115200 quiet ' + append,
         '-netdev', 'user,id=n0'], disk, serial_log, mac, timeout, until)


def boot_network(boot_url, disk, serial_log, mac, timeout=600):
    """Boot a QEMU machine from the network as a node does: its firmware's
    iPXE gets ``boot_url`` from DHCP (QEMU's user-mode network), then the
    proxy's scripts decide. :returns: exit status once it powers off."""
    return _run_machine(
        ['-netdev', 'user,id=n0,bootfile=%s' % boot_url,
         '-boot', 'once=n,order=cn'], disk, serial_log, mac, timeout)


def _run_machine(options, disk, serial_log, mac, timeout, until=None):
    with open(serial_log, 'w') as log:
        process = subprocess.Popen(
            [QEMU, '-accel', 'tcg', '-m', '512', '-nographic', '-monitor',
             'none', '-no-reboot'] + options +
            ['-device', 'virtio-net-pci,netdev=n0,mac=%s' % mac,
             '-drive', 'file=%s,format=raw,if=virtio' % disk],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            if until is None:
                return process.wait(timeout=timeout)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    return process.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    with open(serial_log, errors='replace') as f:
                        if until in f.read():
                            return None
            raise subprocess.TimeoutExpired(QEMU, timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
