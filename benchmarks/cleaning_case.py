"""The cleaning measurement, run in a process of its own.

``python -m benchmarks.cleaning_case`` prints JSON: one lab machine (a
QEMU machine behind a fake BMC, booting nova-bm's real deploy ramdisk)
with two 256 MiB disks, a ``virtio-blk`` one and an ``nvme`` one (QEMU's
NVMe controller, one namespace), cleaned once in each clean mode
(``MODES``) as an operator asks for it: ``nova-bm-manage node clean NODE
--mode MODE`` (the command as installed, against the proxy's node
database), then the proxy told at once, as the command's message on the
bus would tell it (no bus here: ``nodes_changed`` called directly).

Per mode, first the floor, on the host, the machine off: ``dd
if=/dev/zero of=DISK bs=1M count=256 conv=notrunc,fsync`` onto each disk
file the machine will erase (its host's write rate, in the same run,
just before the cleaning; the files were written once, untimed, before
the first: each timed dd overwrites allocated blocks); then a GPT with
one partition spanning the disk (the lab's GPT writer), so that a
metadata erase has a partition's signatures to find as after a deploy.
Then the
cleaning, timed from the machine's own clocks: ``request`` (command →
power on), ``boot`` (→ the ramdisk has its config: firmware, iPXE,
kernel, DHCP), ``erase`` (→ the ramdisk powers off: disks reported,
erased, read back, reported), ``notice`` (→ the node ``available``: the
proxy's polls, at the product's intervals), ``wall`` (power on →
available) and ``total`` (command → available).
``disks``: the node's ``last_cleaning`` disks (what the ramdisk reported
per disk: method, bytes, its own ``seconds``), each with its ``bus``;
``floor``: ``{bus: dd seconds}``.
"""

import nova.tests.functional  # noqa: F401  (first: concurrency mode)

import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from benchmarks import deploy_case  # noqa: E402
from benchmarks import nova_harness  # noqa: E402
from nova_bm.conf import CONF  # noqa: E402
from nova_bm.testing import linux_image  # noqa: E402
from tests.lab import test_deploy as lab_deploy  # noqa: E402

RESULT = {}
MODES = ('metadata', 'express', 'full')
MIB = 1 << 20
DISK_MIB = 256
#: The machine's disks, by bus; the serial tells them apart in the
#: ramdisk's report.
DISKS = [{'name': 'virtio', 'bytes': DISK_MIB * MIB, 'bus': 'virtio',
          'serial': 'BENCH-VIRTIO'},
         {'name': 'nvme', 'bytes': DISK_MIB * MIB, 'bus': 'nvme',
          'serial': 'BENCH-NVME'}]
CLEAN_LINE = 'nova-bm-ramdisk: mode clean'
STATE_POLL = 0.25


def bus_of(disk):
    """The bus of a disk of ``last_cleaning``: by its serial, else by
    its name."""
    for known in DISKS:
        if disk.get('serial') == known['serial']:
            return known['bus']
    return 'nvme' if (disk.get('name') or '').startswith('/dev/nvme') else (
        'virtio')


def manage_script():
    """``nova-bm-manage`` as installed next to this Python."""
    found = shutil.which('nova-bm-manage',
                         path=os.path.dirname(sys.executable))
    if not found:
        raise AssertionError('nova-bm-manage is not installed next to %s '
                             '(pip install .)' % sys.executable)
    return found


def floor_dd(path):
    """Seconds ``dd`` takes to write ``DISK_MIB`` MiB of zeros onto
    ``path`` and fsync it."""
    start = time.monotonic()
    subprocess.run(['dd', 'if=/dev/zero', 'of=%s' % path, 'bs=1M',
                    'count=%d' % DISK_MIB, 'conv=notrunc,fsync',
                    'status=none'], check=True)
    return time.monotonic() - start


def partition(path):
    """One GPT partition over the disk (from 1 MiB), as a deployed image
    leaves: the lab's GPT writer, no partitioning tool needed."""
    sectors = os.path.getsize(path) // 512
    head, tail = linux_image.gpt(sectors, 2048, sectors - 34)
    with open(path, 'r+b') as f:
        f.write(head)
        f.seek((sectors - 33) * 512)
        f.write(tail)


class Cleanings(deploy_case.LabDeploys):

    NODES = 1

    def machines(self):
        return dict(super().machines(), disks=DISKS)

    def test_cleanings(self):
        self.product_polls()
        self.start_proxy()
        self.manage = manage_script()
        self.config = os.path.join(self.machine_root, 'manage.conf')
        with open(self.config, 'w') as f:
            # No transport_url: the command says the proxies were not
            # told; this test tells the proxy itself.
            f.write('[DEFAULT]\nhost = operator-box\n'
                    '[baremetal_database]\nconnection = %s\n'
                    % CONF.baremetal_database.connection)
        directory = self.machine_dir(0)
        os.makedirs(directory, exist_ok=True)
        paths = {disk['bus']: os.path.join(directory,
                                           'disk-%s.img' % disk['name'])
                 for disk in DISKS}
        for path in paths.values():
            # Untimed: the files allocated, as the machine's writes and
            # every timed dd then find them.
            floor_dd(path)
        result = {}
        for mode in MODES:
            if self.fleet.fleet.control(self.fleet.ports[0])['power'] != (
                    'off'):
                raise AssertionError('the machine is on before the %s '
                                     'cleaning' % mode)
            floor = {bus: floor_dd(path) for bus, path in paths.items()}
            for path in paths.values():
                partition(path)
            run = self.clean(mode)
            run['floor'] = floor
            result[mode] = run
        RESULT.update(result)

    def clean(self, mode):
        name = self.node_name(0)
        path = self.serial_log(0)
        watch = deploy_case.ConsoleWatch(
            [path], {path: (CLEAN_LINE, deploy_case.OFF_LINE)})
        try:
            start = time.time()
            done = subprocess.run(
                [self.manage, '--config-file', self.config, 'node', 'clean',
                 name, '--mode', mode], capture_output=True, text=True,
                timeout=120, stdin=subprocess.DEVNULL)
            if done.returncode or 'ok: its proxy cleans it' not in (
                    done.stdout):
                raise AssertionError('node clean --mode %s: %d\n%s%s' % (
                    mode, done.returncode, done.stdout, done.stderr))
            node = self.node(name)
            self.proxy.manager.driver._proxy.nodes_changed([node.uuid])
            deadline = time.monotonic() + lab_deploy.SETTLE
            while node.provision_state != 'available':
                if node.provision_state == 'clean failed':
                    raise AssertionError('the %s cleaning failed: %s; %s' % (
                        mode, node.last_error, node.last_cleaning))
                if time.monotonic() > deadline:
                    raise AssertionError('the %s cleaning: still %s after '
                                         '%d s' % (mode,
                                                   node.provision_state,
                                                   lab_deploy.SETTLE))
                time.sleep(STATE_POLL)
                node = self.node(name)
            available = time.time()
            config = watch.wait(path, CLEAN_LINE, 60)
            off = watch.wait(path, deploy_case.OFF_LINE, 60)
        finally:
            watch.stop()
        ons = [t for t in self.fleet.fleet.state(
            self.fleet.ports[0])['machine']['power_ons'] if t >= start]
        last = node.last_cleaning or {}
        if (last.get('mode'), last.get('result')) != (mode, 'ok'):
            raise AssertionError('the %s cleaning left %s' % (mode, last))
        disks = [dict(disk, bus=bus_of(disk))
                 for disk in last.get('disks') or ()]
        return {'request': ons[0] - start, 'boot': config - ons[0],
                'erase': off - config, 'notice': available - off,
                'wall': available - ons[0], 'total': available - start,
                'power_ons': len(ons), 'disks': disks}


def main():
    return nova_harness.run_case(Cleanings('test_cleanings'), RESULT)


if __name__ == '__main__':
    sys.exit(main())
