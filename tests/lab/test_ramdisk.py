"""nova-bm's real deploy ramdisk on a QEMU machine, against the real
deploy HTTP server and node database of nova_bm.deploy (no Nova here:
tests/functional/compute/test_deploy.py covers Nova's side of the same
protocol with a ramdisk played by the test)."""

import hashlib
import os
import re

import fixtures
from oslo_utils import timeutils

from nova_bm.db import api as db_api
from nova_bm.db import migration
from nova_bm.deploy import configdrive
from nova_bm.deploy import http_server
from nova_bm.deploy import ipxe
from nova_bm.deploy import ramdisk_api
from nova_bm.enrolment import node_spec
from nova_bm.ramdisk import builder
from tests import base
from tests import lab
from tests.unit.deploy import test_partition_table as table_tests

MAC = '52:54:00:00:0b:01'
DISK = 80 << 20  # room for a 4 MiB image and a config drive partition
MIB = 1 << 20
HOLDING = 'waiting for the proxy to power this machine off'


class RamdiskTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        lab.require(self)
        self.kernel, self.initramfs = lab.ramdisk()
        self.work = self.useFixture(fixtures.TempDir()).path
        os.makedirs(os.path.join(self.work, 'images'))
        self.conf.config(connection='sqlite:///%s/nodes.sqlite' % self.work,
                         group='baremetal_database')
        migration.upgrade()
        # A small disk: without hints the image goes to the smallest.
        self.conf.config(root_disk_min_gb=0, group='baremetal')
        db_api.create_nodes([node_spec.new_node(dict(
            name='lab-1', service_host='proxy', cpus=1, memory_mb=512,
            local_gb=1, ipmi_address='127.0.0.1', ipmi_username='admin',
            ipmi_password='pw', deploy_interface='image'), [MAC])])
        self.api = ramdisk_api.RamdiskAPI(
            None, images_dir=os.path.join(self.work, 'images'))
        self.server = http_server.DeployHTTPServer(
            '127.0.0.1', 0, http_server.Files(
                self.work, self.kernel, self.initramfs,
                os.path.join(self.work, 'images')), self.api)
        # QEMU's user-mode network: the host's loopback is 10.0.2.2.
        self.api.base_url = 'http://10.0.2.2:%d' % self.server.port
        self.server.start()
        self.addCleanup(self.server.stop)
        self.disk = os.path.join(self.work, 'disk.img')
        with open(self.disk, 'wb') as f:
            f.truncate(DISK)

    @staticmethod
    def start_job(mode, **fields):
        """A job whose node was just powered on (as the flow marks it)."""
        job = db_api.start_job('lab-1', mode, 'deploying', **fields)
        db_api.mark_job_booted(job.id, timeutils.utcnow())

    def run_job(self, mode, new_job=True, **fields):
        if new_job:
            self.start_job(mode, **fields)
        serial = os.path.join(self.work, 'serial-%s.log' % mode)
        status = lab.boot_ramdisk(
            self.kernel, self.initramfs,
            'nbm_api=%s/api/v1' % self.api.base_url, self.disk, serial, MAC,
            until=None if new_job else HOLDING)
        with open(serial, errors='replace') as f:
            console = f.read()
        if new_job:
            self.assertEqual(0, status, console[-2000:])
            self.assertIn('nova-bm-ramdisk: powering off', console)
        else:
            # No token: it does not power off (the proxy would take an
            # off machine for a finished job); it waits to be.
            self.assertIsNone(status, console[-2000:])
            self.assertNotIn('nova-bm-ramdisk: powering off', console)
        return db_api.get_job('lab-1'), console

    def deploy_fields(self, image):
        with open(os.path.join(self.work, 'images', 'img.raw'), 'wb') as f:
            f.write(image)
        return dict(image_file='img.raw', image_size=len(image),
                    image_sha256=hashlib.sha256(image).hexdigest())

    def test_deploy_writes_the_image_and_clean_erases_both_ends(self):
        image = os.urandom(3 * MIB)
        job, console = self.run_job('deploy', **self.deploy_fields(image))
        # It looked itself up (the kernel command line holds no token)
        # and read the whole image with the token it was handed.
        self.assertIsNotNone(job.token_hash)
        self.assertEqual('127.0.0.1', job.holder_address)
        self.assertIsNotNone(job.image_served_at)
        self.assertIsNone(job.suspicion)
        self.assertEqual(('done', hashlib.sha256(image).hexdigest(),
                          '/dev/vda'),
                         (job.status, job.result_sha256, job.result_device),
                         console[-2000:])
        with open(self.disk, 'rb') as f:
            self.assertEqual(image, f.read(len(image)))
        self.assertIn('nova-bm-ramdisk: writing 3145728 bytes to /dev/vda',
                      console)

        # The disk holds data at both ends; clean mode erases 16 MiB of
        # each.
        with open(self.disk, 'r+b') as f:
            f.seek(DISK - MIB)
            f.write(os.urandom(MIB))
        job, console = self.run_job('clean')
        self.assertEqual('done', job.status, console[-2000:])
        with open(self.disk, 'rb') as f:
            data = f.read()
        self.assertEqual(bytes(16 * MIB), data[:16 * MIB])
        self.assertEqual(bytes(16 * MIB), data[-16 * MIB:])
        self.assertIn('nova-bm-ramdisk: /dev/vda erased by metadata', console)

    def test_config_drive_after_a_gpt_image(self):
        # The real ramdisk writes the drive and the three GPT edits (the
        # protective MBR, the primary header and entries, the backup at
        # the disk's end) where the proxy says, and reads them back.
        image = table_tests.gpt_image(4 * MIB, {0: (
            2048, 4 * MIB // 512 - 40, table_tests.LINUX_DATA, 'root')})
        image.put(MIB, os.urandom(MIB))
        drive = table_tests.drive_bytes(MIB)
        name = 'lab' + configdrive.SUFFIX
        with open(configdrive.path_of(name), 'wb') as f:
            f.write(drive)
        job, console = self.run_job(
            'deploy', configdrive_file=name, configdrive_size=len(drive),
            configdrive_sha256=hashlib.sha256(drive).hexdigest(),
            **self.deploy_fields(bytes(image.bytes())))
        self.assertEqual(('done', hashlib.sha256(drive).hexdigest()),
                         (job.status, job.result_configdrive_sha256),
                         console[-2000:])
        self.assertIn('nova-bm-ramdisk: writing the config drive', console)
        sectors = DISK // 512
        primary = table_tests.parse_gpt_header(self.disk, 1)
        backup = table_tests.parse_gpt_header(self.disk, sectors - 1)
        for header in (primary, backup):
            self.assertTrue(header['crc_ok'] and header['entries_ok'])
        self.assertEqual((sectors - 1, 1),
                         (primary['alternate'], backup['alternate']))
        entry = table_tests.gpt_entry(primary['entries'], 1)
        self.assertEqual('config-2', entry['name'])
        self.assertEqual(sectors - 34, entry['last'])
        self.assertEqual(drive, table_tests.pread(
            self.disk, entry['first'] * 512, len(drive)))
        # The image's own partition is as it was.
        self.assertEqual(image.bytes()[MIB:2 * MIB],
                         table_tests.pread(self.disk, MIB, MIB))

    def test_cleaning_erases_a_config_drive_in_the_images_own_partition(
            self):
        # An image that had its own config-2 partition (a snapshot of a
        # deployed server) got the drive there, mid-disk: cleaning finds
        # the label and erases it, beyond the ends it always zeroes.
        drive = table_tests.drive_bytes(MIB)
        start = 100 * 2048  # sectors: 100 MiB, far from both ends
        other = 60 * 2048
        with open(self.disk, 'r+b') as f:
            f.truncate(256 * MIB)
            f.write(table_tests.mbr_sector({
                1: (0x83, 2048, 8 * 2048), 2: (0x83, start, 20 * 2048),
                3: (0x83, other, 20 * 2048)}))
            f.seek(start * 512)
            f.write(drive)
            f.seek(other * 512)
            f.write(b'not a config drive' * 1000)
            # Mid-partition, beyond its first MiB (its signatures').
            f.seek(other * 512 + 4 * MIB)
            f.write(b'not a config drive' * 1000)
        job, console = self.run_job('clean')
        self.assertEqual('done', job.status, console[-2000:])
        self.assertIn('nova-bm-ramdisk: the config drive in vda2 goes with '
                      'the metadata', console)
        self.assertEqual(bytes(20 * MIB),
                         table_tests.pread(self.disk, start * 512, 20 * MIB))
        # The other partition's first MiB (where file systems keep their
        # signatures) is zeroed; what lies beyond it is left.
        self.assertEqual(bytes(MIB),
                         table_tests.pread(self.disk, other * 512, MIB))
        self.assertEqual(b'not a config drive', table_tests.pread(
            self.disk, other * 512 + 4 * MIB, 18))

    def test_firmware_ipxe_follows_the_proxys_scripts_to_the_ramdisk(self):
        # The node's own firmware: DHCP hands its iPXE boot.ipxe, which
        # chains to the script of the NIC's MAC, which boots the ramdisk
        # from the proxy; the ramdisk looks itself up for its token.
        image = os.urandom(2 * MIB)
        self.start_job('deploy', **self.deploy_fields(image))
        scripts = ipxe.ScriptStore(self.work)
        scripts.write_boot_script(self.api.base_url)
        scripts.put([MAC], ipxe.deploy_script(self.api.base_url,
                                              'console=ttyS0,115200'))
        serial = os.path.join(self.work, 'serial-ipxe.log')
        status = lab.boot_network(self.api.base_url + '/boot.ipxe',
                                  self.disk, serial, MAC)
        with open(serial, errors='replace') as f:
            console = f.read()
        self.assertEqual(0, status, console[-2000:])
        for fetched in ('/boot.ipxe', '/nodes/%s.ipxe' % MAC.replace(':', '-'),
                        '/deploy/kernel', '/deploy/ramdisk'):
            # On a busy machine iPXE shows its progress ("48%" and
            # backspaces) between the dots and the "ok".
            self.assertRegex(console, re.escape(fetched) +
                             r'\.\.\. (?:\d+%|[\x08 ])*ok')
        job = db_api.get_job('lab-1')
        self.assertEqual(('done', hashlib.sha256(image).hexdigest()),
                         (job.status, job.result_sha256), console[-2000:])
        with open(self.disk, 'rb') as f:
            self.assertEqual(image, f.read(len(image)))

    def test_a_failure_is_reported_with_its_reason(self):
        # Root device hints that match no disk: the proxy fails the job
        # with the hints and the disks the ramdisk saw; nothing is written.
        db_api.update_node('lab-1', {'root_device_hints': {
            'serial': 'nothere'}})
        job, console = self.run_job(
            'deploy', **self.deploy_fields(os.urandom(MIB)))
        self.assertEqual('failed', job.status, console[-2000:])
        self.assertEqual(
            'no disk matches the root device hints (serial s== nothere); '
            'disks seen: /dev/vda (80 MiB)', job.error)
        self.assertIn('nova-bm-ramdisk: failed: the proxy chose no disk',
                      console)
        self.assertIsNone(job.suspicion)
        self.assertIsNone(job.image_served_at)
        with open(self.disk, 'rb') as f:
            self.assertEqual(bytes(DISK), f.read())

        # The machine boots the ramdisk again for the same job: its lookup
        # is refused (the token was handed out once), the job is marked
        # suspect, and the ramdisk waits to be powered off.
        job, console = self.run_job('deploy', new_job=False)
        self.assertIn('nova-bm-ramdisk: the proxy has no job for this '
                      'machine', console)
        self.assertIn('a second lookup', job.suspicion)

    def test_build_is_reproducible(self):
        first = lab.build(os.path.join(self.work, 'a'))
        second = lab.build(os.path.join(self.work, 'b'))
        self.assertEqual(first, second)
        for name in (builder.KERNEL, builder.INITRAMFS):
            self.assertEqual(first[name], hashlib.sha256(open(os.path.join(
                self.work, 'a', name), 'rb').read()).hexdigest())
