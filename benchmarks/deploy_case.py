"""The deploy measurement, run in a process of its own.

``python -m benchmarks.deploy_case ROUNDS CONCURRENT`` prints JSON: for
one server and for CONCURRENT servers at once, ROUNDS times each, the
phases of real deploys through Nova onto QEMU machines (the lab), and the
same machines put through the same steps by a script without Nova (the
floor); the two alternate, the order swapped every round.

The floor does, per machine, only what a deploy cannot do without: a job
with a token and the node's iPXE script (the proxy's own HTTP server and
ramdisk API answer the ramdisk, as they do for Nova's deploys), boot
device network once and power on through the BMC's control socket (no
IPMI), wait for the ramdisk's report and for the machine to power itself
off (polling every 20 ms), local-boot script, boot device disk, power on,
until the image's marker shows on the console. nova-bm's side is one
create request through the Nova API (``min_count`` servers at once):
scheduling, the claims, the image through Nova's ``fetch_to_raw`` into the
cache, IPMI power and boot device, the same ramdisk. Both end when the
marker shows. Nova's API, conductor, scheduler and placement run in this
process (the functional harness), on the same two cores as the machines:
in production they run elsewhere.

Phases, from the machine's own clocks (its power-on times, its serial
console read every 20 ms): ``before`` (request → first power on),
``ramdisk`` (→ the ramdisk has its config: firmware, iPXE, kernel, DHCP),
``write`` (→ the ramdisk powers off: image written, read back, reported),
``switch`` (→ power on from disk), ``boot`` (→ the image's marker).

Then the config drive's cost, ROUNDS times, alternating (the order
swapped every round): one server through Nova's API on node 0 without a
config drive against one with ``config_drive: True``, a key pair and
user-data (the proxy builds the drive with Nova's ConfigDriveBuilder, the
ramdisk writes it into a 64 MiB partition after the image), measured as
above. The machines' disks are 128 MiB here (the lab's 64 MiB leave no
room for the drive's partition after the image); nothing else measured
depends on the disk's size (it is a sparse file; only the image is
written, cleaning is off).
"""

import nova.tests.functional  # noqa: F401  (first: concurrency mode)

import base64  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import fixtures  # noqa: E402
from nova import context as nova_context  # noqa: E402
from oslo_utils import timeutils  # noqa: E402

from benchmarks import nova_harness  # noqa: E402
from nova_bm.conf import baremetal as baremetal_conf  # noqa: E402
from nova_bm.conf import CONF  # noqa: E402
from nova_bm.db import api as db_api  # noqa: E402
from nova_bm.deploy import ipxe  # noqa: E402

from nova_bm.testing import images  # noqa: E402
from tests.lab import test_deploy as lab_deploy  # noqa: E402

RESULT = {}
POLL = 0.02
ACTIVE_POLL = 0.25
PHASES = ('before', 'ramdisk', 'write', 'switch', 'boot')
CONFIG_LINE = 'nova-bm-ramdisk: mode deploy'
OFF_LINE = 'nova-bm-ramdisk: powering off'
DRIVE_LINE = 'nova-bm-ramdisk: writing the config drive'
MIB = 1 << 20
#: Room for the image and the 64 MiB config drive partition after it.
DISK = 128 * MIB
KEY_NAME = 'bench-key'
PUBLIC_KEY = ('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFi6JYqBqSWdzGFz+X6UD'
              'mCzFb8eU3S0bKD7fbQbOqs2 bench')
USER_DATA = base64.b64encode(
    b'#!/bin/sh\necho nova-bm-bench: user-data\n').decode()


def default(name):
    """The default of ``[baremetal] name``."""
    return next(opt.default for opt in baremetal_conf.opts
                if opt.name == name)


class ConsoleWatch:
    """When lines first appear on machines' serial logs (from ``offset``
    on), read every 20 ms in a thread of its own."""

    def __init__(self, paths, needles):
        self.paths = paths
        self.needles = needles
        self.offsets = {path: self._size(path) for path in paths}
        self.seen = {path: {} for path in paths}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _size(path):
        try:
            return os.path.getsize(path)
        except FileNotFoundError:
            return 0

    def _run(self):
        while not self._stop.is_set():
            now = time.time()
            for path in self.paths:
                try:
                    with open(path, 'rb') as f:
                        f.seek(self.offsets[path])
                        text = f.read().decode('utf-8', 'replace')
                except FileNotFoundError:
                    continue
                for needle in self.needles[path]:
                    if needle not in self.seen[path] and needle in text:
                        self.seen[path][needle] = now
            self._stop.wait(POLL)

    def wait(self, path, needle, timeout):
        deadline = time.monotonic() + timeout
        while needle not in self.seen[path]:
            if time.monotonic() > deadline:
                raise AssertionError('%s never showed %r' % (path, needle))
            time.sleep(POLL)
        return self.seen[path][needle]

    def stop(self):
        self._stop.set()
        self._thread.join()


class LabDeploys(lab_deploy.LabDeployTestCase):
    """Deploys through Nova onto the lab's machines, measured phase by
    phase (the cases' common part)."""

    def machines(self):
        return dict(super().machines(), disk_bytes=DISK)

    def product_polls(self):
        """The product's defaults where the lab tests poll faster; no
        cleaning after delete (not measured here)."""
        self.flags(power_state_poll_interval=default(
            'power_state_poll_interval'),
            deploy_poll_interval=default('deploy_poll_interval'),
            automated_clean='none', group='baremetal')

    def nova_deploys(self, indexes, image, label, **extra):
        """One create request for all the servers (Nova's
        multi-create), as a user asks for several at once; ``extra``
        goes into the request (a config drive, a key pair...).
        Besides the phases: ``active``, ``status`` (the servers' status
        as last read, ``ACTIVE``; a sorted list if they differed),
        ``config_drive`` (the servers' as Nova's API shows it) and
        ``drive_written`` (every machine's ramdisk said it wrote a
        config drive)."""
        watch = self.watch(indexes, label)
        start = time.time()
        # All the nodes, or forced onto the first of ``indexes`` (the
        # nodes the floor uses too: all of them, or node 0 alone).
        az = (None if len(indexes) == self.NODES else
              'nova:%s:%s' % (self.PROXY, self.node_name(indexes[0])))
        request = self._build_server(
            name='bench', flavor_id=self.flavor,
            image_uuid=image['id'], networks='none', az=az)
        request.update(extra)
        request.update(min_count=len(indexes), max_count=len(indexes))
        self.admin_api.post_server({'server': request})
        servers = self.api.get_servers()
        active, seen = {}, {}
        while len(active) < len(servers):
            for server in servers:
                if server['id'] in active:
                    continue
                server = self.api.get_server(server['id'])
                if server['status'] == 'ERROR':
                    raise AssertionError('deploy failed: %s'
                                         % server['fault'])
                if server['status'] == 'ACTIVE':
                    active[server['id']] = time.time()
                    seen[server['id']] = server
            # Not faster: the API shares this process (and its CPU)
            # with Nova's services, and the machines' TCG.
            time.sleep(ACTIVE_POLL)
        phases = self.phases(watch, indexes, label, start)
        for server in servers:
            self.api.delete_server(server['id'])
        for server in servers:
            self._wait_until_deleted(server)
        phases['active'] = max(active.values()) - start
        statuses = {s['status'] for s in seen.values()}
        phases['status'] = (statuses.pop() if len(statuses) == 1
                            else sorted(statuses))
        phases['config_drive'] = sorted(
            {str(s.get('config_drive')) for s in seen.values()})
        phases['drive_written'] = all(
            DRIVE_LINE in watch.seen[self.serial_log(i)]
            for i in indexes)
        return phases

    def serial_log(self, index):
        return os.path.join(self.machine_dir(index), 'serial.log')

    def watch(self, indexes, label):
        paths = [self.serial_log(i) for i in indexes]
        return ConsoleWatch(paths, {path: (
            CONFIG_LINE, DRIVE_LINE, OFF_LINE, images.marker(label))
            for path in paths})

    def phases(self, watch, indexes, label, start):
        """Per phase, the slowest machine's seconds; ``total``: the
        request to the last marker."""
        try:
            marks = []
            for index in indexes:
                path = self.serial_log(index)
                marker = watch.wait(path, images.marker(label),
                                    lab_deploy.SETTLE)
                ons = [t for t in self.fleet.fleet.state(
                    self.fleet.ports[index])['machine']['power_ons']
                    if t >= start]
                config = watch.seen[path][CONFIG_LINE]
                off = watch.seen[path][OFF_LINE]
                second = [t for t in ons if t >= off][0]
                marks.append({'before': ons[0] - start,
                              'ramdisk': config - ons[0],
                              'write': off - config,
                              'switch': second - off,
                              'boot': marker - second,
                              'total': marker - start})
        finally:
            watch.stop()
        return {key: max(m[key] for m in marks)
                for key in PHASES + ('total',)}

    def power_off(self, indexes):
        for index in indexes:
            self.fleet.fleet.control(self.fleet.ports[index],
                                     power='off')


def make_case(rounds, concurrent):

    class Deploys(LabDeploys):
        NODES = concurrent

        def test_deploys(self):
            self.product_polls()
            downloads = []
            real_download = self.glance.download

            def counting(context, image_id, *args, **kwargs):
                downloads.append(image_id)
                return real_download(context, image_id, *args, **kwargs)
            self.useFixture(fixtures.MockPatchObject(
                self.glance, 'download', side_effect=counting))
            self.start_proxy()
            # The floor works with the proxy's own image cache and
            # scripts (the files its deploy server serves).
            deploys = self.proxy.manager.driver._proxy.deploys
            self.images, self.scripts = deploys._images, deploys._scripts
            self.base_url = deploys.base_url()
            result = {'nova_bm': {}, 'floor': {}}
            sizes = sorted({concurrent, 1}, reverse=True)
            for size in sizes:
                label = 'C' if size > 1 else 'S'
                image = self.glance_image(label)
                indexes = list(range(size))
                for round_ in range(rounds):
                    order = (('nova_bm', 'floor') if round_ % 2 == 0
                             else ('floor', 'nova_bm'))
                    for side in order:
                        run = (self.nova_deploys if side == 'nova_bm'
                               else self.floor_deploys)
                        result[side].setdefault(str(size), []).append(
                            run(indexes, image, label))
                        self.power_off(indexes)
                    if size == sizes[0] and round_ == 0:
                        # The first deploys of a new image, all at once.
                        result['glance_downloads'] = downloads.count(
                            image['id'])
            # The one-server image (label S), already in the cache: the
            # first round does not pay for a download.
            result['config_drive'] = self.config_drive_deploys(image, 'S')
            RESULT.update(result)

        def config_drive_deploys(self, image, label):
            """One server on node 0 with a config drive (a key pair and
            user-data) and one without, alternating."""
            self.api.post_keypair({'keypair': {'name': KEY_NAME,
                                               'public_key': PUBLIC_KEY}})
            drive = {'config_drive': True, 'key_name': KEY_NAME,
                     'user_data': USER_DATA}
            result = {'with': [], 'without': []}
            for round_ in range(rounds):
                order = (('with', 'without') if round_ % 2 == 0
                         else ('without', 'with'))
                for side in order:
                    result[side].append(self.nova_deploys(
                        [0], image, label,
                        **(drive if side == 'with' else {})))
                    self.power_off([0])
            return result

        # -- the floor -----------------------------------------------------

        def floor_deploys(self, indexes, image, label):
            cached = self.images.get(
                nova_context.get_admin_context(), image['id'],
                image.get('checksum'))
            try:
                watch = self.watch(indexes, label)
                start = time.time()
                threads = [threading.Thread(target=self.floor_one,
                                            args=(i, cached))
                           for i in indexes]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                return self.phases(watch, indexes, label, start)
            finally:
                self.images.unpin(cached)

        def floor_one(self, index, cached):
            node = self.node(self.node_name(index))
            port = self.fleet.ports[index]
            mac = self.mac(index)
            job = db_api.start_job(
                node.uuid, 'deploy', db_api.DEPLOYING,
                image_file=cached.name, image_size=cached.size,
                image_sha256=cached.sha256)
            scripts = self.scripts
            scripts.put([mac], ipxe.deploy_script(
                self.base_url,
                CONF.baremetal.deploy_kernel_params))
            db_api.mark_job_booted(job.id, timeutils.utcnow())
            control = self.fleet.fleet.control
            control(port, boot_device='network', boot_persistent=False,
                    power='on')
            while db_api.get_job(node.uuid).status == 'waiting':
                time.sleep(POLL)
            while control(port)['power'] == 'on':
                time.sleep(POLL)
            scripts.put([mac], ipxe.local_boot_script())
            db_api.end_job(node.uuid, job.id)
            control(port, boot_device='hd', boot_persistent=True,
                    power='on')
            db_api.set_provision_state(node.uuid, db_api.AVAILABLE)

    return Deploys('test_deploys')


def main(rounds, concurrent):
    return nova_harness.run_case(make_case(rounds, concurrent), RESULT)


if __name__ == '__main__':
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
