"""Cleaning on QEMU machines: what is left on the disks' files.

A machine with a virtio disk (the root disk, the deployed image's) and an
NVMe disk (QEMU's NVMe controller: Format NVM supported, OACS bit 1; its
``nvme format --ses=1`` zeroes the namespace), both laid out beforehand
as a tenant's disks would be: a protective MBR, a GPT (both headers), an
ext4 super block in its partition and data. A server deployed through
Nova's API and deleted is cleaned in the default mode (metadata); then an
operator's ``nova-bm-manage node clean --mode express`` and ``--mode
full``. A second machine has a disk its guest cannot write (QEMU's
``readonly=on``): its cleaning fails, and the node is held back.

Each check reads the disk files on the host (and ``wipefs``, a reader
nobody here wrote), and the proof the node keeps (``node show``).
"""

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import uuid
import zlib

from nova_bm.common import states
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.testing import images
from tests import deploy_ramdisk
from tests.lab import test_deploy
from tests import utils

MIB = 1 << 20
SECTOR = 512
MANAGE = os.path.join(os.path.dirname(sys.executable), 'nova-bm-manage')
#: What the ramdisk reads back after an overwrite or an NVMe format.
SAMPLES = 17
LINUX_FS = uuid.UUID('0fc63daf-8483-4772-8e79-3d69d8477de4')
#: A tenant's data: no zero byte in it.
DATA = (b'nova-bm-lab tenant data ' * (MIB // 24 + 1))[:MIB]


def ext4_super_block():
    """The 1 KiB super block of an ext4 file system (what libblkid needs
    to name it: the magic 0xEF53 at 56, a journal, extents)."""
    block = bytearray(1024)
    struct.pack_into('<IIIIIIIIIIIIIHHHHHHIIII', block, 0,
                     1024, 4096, 0, 3000, 1000, 1, 2, 2, 8192, 8192, 256,
                     0, 0, 0, 0xffff, 0xEF53, 1, 1, 0, 0, 0, 0, 1)
    # has_journal; filetype, extents.
    struct.pack_into('<III', block, 0x5c, 0x4, 0x42, 0)
    return bytes(block)


def _gpt_header(current, backup, last, disk_guid, entries_lba, entries_crc):
    header = bytearray(struct.pack(
        '<8sIIIIQQQQ16sQIII', b'EFI PART', 0x10000, 92, 0, 0, current,
        backup, 34, last - 33, disk_guid.bytes_le, entries_lba, 128, 128,
        entries_crc))
    struct.pack_into('<I', header, 16, zlib.crc32(header))
    return bytes(header).ljust(SECTOR, b'\0')


def lay_out(path, size, part_start, part_bytes, data_at=()):
    """Make ``path`` a tenant's disk of ``size`` bytes: a protective MBR,
    a GPT (primary at LBA 1, backup at the last LBA, CRCs right) with one
    Linux partition at ``part_start`` holding an ext4 super block, and
    ``DATA`` at each offset of ``data_at``."""
    last = size // SECTOR - 1
    start = part_start // SECTOR
    entry = struct.pack('<16s16sQQQ72s', LINUX_FS.bytes_le,
                        uuid.uuid4().bytes_le, start,
                        start + part_bytes // SECTOR - 1, 0,
                        'tenant'.encode('utf-16-le'))
    entries = entry.ljust(128 * 128, b'\0')
    crc = zlib.crc32(entries)
    disk_guid = uuid.uuid4()
    mbr = bytearray(SECTOR)
    mbr[446:462] = struct.pack('<8BII', 0, 0, 2, 0, 0xee, 0xff, 0xff, 0xff,
                               1, min(last, 0xffffffff))
    mbr[510:] = b'\x55\xaa'
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'r+b' if os.path.exists(path) else 'w+b') as f:
        f.truncate(size)
        f.seek(0)
        f.write(bytes(mbr))
        f.write(_gpt_header(1, last, last, disk_guid, 2, crc))
        f.write(entries)
        f.seek((last - 32) * SECTOR)
        f.write(entries)
        f.write(_gpt_header(last, 1, last, disk_guid, last - 32, crc))
        f.seek(part_start + 1024)
        f.write(ext4_super_block())
        for offset in data_at:
            f.seek(offset)
            f.write(DATA)


def read(path, offset, length):
    with open(path, 'rb') as f:
        f.seek(offset)
        return f.read(length)


class LabCleaningTestCase(test_deploy.LabDeployTestCase):
    """Helpers: the disk files, wipefs, nova-bm-manage, waiting for a
    cleaning's end."""

    NODES = 1
    DISKS = ()
    #: Disk name -> (partition start, partition bytes, DATA offsets).
    LAYOUT = {}

    def setUp(self):
        if shutil.which('wipefs') is None:
            utils.missing(self, 'the lab\'s cleaning tests need wipefs '
                                '(Debian: util-linux)')
        super().setUp()

    def machines(self):
        return dict(super().machines(), disks=list(self.DISKS))

    def disk_file(self, name, index=0):
        return os.path.join(self.machine_dir(index), 'disk-%s.img' % name)

    def size(self, name):
        return next(d['bytes'] for d in self.DISKS if d['name'] == name)

    def lay_out(self, name, index=0):
        """The disk ``name`` as a tenant left it (``LAYOUT``); wipefs
        sees its tables and the partition's file system."""
        start, length, data_at = self.LAYOUT[name]
        path = self.disk_file(name, index)
        lay_out(path, self.size(name), start, length, data_at)
        self.assertEqual(['PMBR', 'gpt', 'gpt'], sorted(self.wipefs(path)))
        self.assertEqual(['ext4'], self.partition_signatures(name, index))
        self.assertEqual([True, True], self.gpt_headers(path))

    def wipefs(self, path, offset=0, length=None):
        """The signature types ``wipefs`` finds in ``path`` (from
        ``offset``: a copy of ``length`` bytes)."""
        if offset or length is not None:
            piece = os.path.join(self.machine_root, 'piece.img')
            with open(piece, 'wb') as f:
                f.write(read(path, offset, length))
            path = piece
        found = subprocess.run(
            ['wipefs', '--no-act', '--json', path], capture_output=True,
            text=True, timeout=60)
        self.assertEqual(0, found.returncode, found.stderr)
        if not found.stdout.strip():
            return []
        return [s['type'] for s in json.loads(found.stdout)['signatures']]

    def partition_signatures(self, name, index=0):
        """What wipefs finds at the start of the disk's partition."""
        start, _, _ = self.LAYOUT[name]
        return self.wipefs(self.disk_file(name, index), start, MIB)

    def gpt_headers(self, path):
        """Whether LBA 1 and the last LBA hold a GPT header."""
        size = os.path.getsize(path)
        return [read(path, at, 8) == b'EFI PART'
                for at in (SECTOR, size - SECTOR)]

    def assert_zero(self, path):
        """Every byte of the file is zero (read in chunks)."""
        with open(path, 'rb') as f:
            offset = 0
            while True:
                block = f.read(8 * MIB)
                if not block:
                    return
                if block.count(0) != len(block):
                    first = len(block) - len(block.lstrip(b'\0'))
                    self.fail('%s: byte %d is not zero'
                              % (path, offset + first))
                offset += len(block)

    def assert_no_metadata(self, name, index=0):
        """No partition table, GPT header or file system signature."""
        path = self.disk_file(name, index)
        self.assertEqual([], self.wipefs(path), name)
        self.assertEqual([False, False], self.gpt_headers(path), name)
        if name in self.LAYOUT:
            self.assertEqual([], self.partition_signatures(name, index),
                             name)

    def manage(self, *args):
        """nova-bm-manage as an operator runs it, on the proxy's node
        database (no message bus: the proxy's resource cycle sees the
        change). :returns: the finished process."""
        path = os.path.join(self.machine_root, 'nova-bm.conf')
        with open(path, 'w') as f:
            f.write('[DEFAULT]\nhost = operator-box\n'
                    '[baremetal_database]\nconnection = %s\n'
                    % CONF.baremetal_database.connection)
        result = subprocess.run(
            [MANAGE, '--config-file', path] + list(args),
            capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL)
        self.assertNotIn('Traceback', result.stdout + result.stderr)
        return result

    def show(self, index=0):
        result = self.manage('node', 'show', self.node_name(index), '-f',
                             'json')
        self.assertEqual(0, result.returncode, result.stderr)
        return json.loads(result.stdout)

    def clean(self, index=0, *options):
        """``node clean`` the node, then its proxy's resource cycle."""
        result = self.manage('node', 'clean', self.node_name(index),
                             *options)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual(states.CLEANING,
                         self.node(self.node_name(index)).provision_state)
        self._run_periodics()

    def wait_cleaned(self, index=0, before=None):
        """The node once its cleaning ended (available or clean failed,
        with a proof other than ``before``)."""
        name = self.node_name(index)
        deadline = time.monotonic() + test_deploy.SETTLE
        while True:
            node = self.node(name)
            if (node.provision_state in (states.AVAILABLE,
                                         states.CLEAN_FAILED)
                    and node.last_cleaning
                    and node.last_cleaning != before):
                return node
            if time.monotonic() > deadline:
                self.fail('%s still %s after %d s (last error: %s); its '
                          'console ends: %s' % (
                              name, node.provision_state,
                              test_deploy.SETTLE, node.last_error,
                              self.console(index)[-3000:]))
            time.sleep(0.5)

    def assert_available(self, node, index=0):
        self.assertEqual(
            (states.AVAILABLE, False, None),
            (node.provision_state, node.maintenance, node.last_error),
            '%s; console: %s' % (node.last_cleaning,
                                 self.console(index)[-3000:]))
        self.assertEqual('off', self.bmc(node.name)['power'])

    def by_name(self, last_cleaning):
        return {disk['name']: disk for disk in last_cleaning['disks']}


class LabCleanModesTestCase(LabCleaningTestCase):

    DISKS = [
        {'name': 'vda', 'bytes': 96 * MIB, 'bus': 'virtio',
         'serial': 'LAB-ROOT'},
        {'name': 'nvme0n1', 'bytes': 128 * MIB, 'bus': 'nvme',
         'serial': 'LAB-NVME'},
    ]
    # Metadata erases [0, 16 MiB), the last 66 MiB and each partition's
    # first and last MiB: the data between stays. (The deployed image
    # replaces the root disk's table: its old partition is in the last
    # 66 MiB.)
    LAYOUT = {'vda': (40 * MIB, 4 * MIB, [20 * MIB]),
              'nvme0n1': (32 * MIB, 16 * MIB, [20 * MIB, 40 * MIB])}

    def assert_data(self, name, present=True):
        path = self.disk_file(name)
        found = [read(path, at, MIB) == DATA
                 for at in self.LAYOUT[name][2]]
        self.assertEqual([present] * len(found), found, name)

    def test_metadata_on_delete_then_express_then_full(self):
        for disk in self.DISKS:
            self.lay_out(disk['name'])
        db_api.update_node(self.node_name(0), {'root_device_hints': {
            'serial': 'LAB-ROOT'}})
        self.start_proxy()
        server = self.admin_api.post_server({'server': self._build_server(
            name='lab-clean', flavor_id=self.flavor,
            image_uuid=self.image['id'], networks='none')})
        (server,) = self.settle([server], timeout=test_deploy.SETTLE)
        self.assertEqual('ACTIVE', server['status'], server.get('fault'))
        vda, nvme = self.disk_file('vda'), self.disk_file('nvme0n1')
        self.assertEqual(self.image['data'],
                         read(vda, 0, len(self.image['data'])))
        # The deploy wrote the root disk only.
        self.assertEqual(['PMBR', 'gpt', 'gpt'], sorted(self.wipefs(nvme)))
        self.assertEqual([False, True], self.gpt_headers(vda))
        deploy_ramdisk.wait_for(
            lambda: images.marker('A') in self.console(0), 300,
            'the image to boot from the disk')

        # 1. Delete: cleaned in the default mode, metadata.
        self._delete_server(server)
        node = self.wait_cleaned()
        self.assert_available(node)
        for name in ('vda', 'nvme0n1'):
            self.assert_no_metadata(name)
            # Metadata only: the data stays.
            self.assert_data(name)
        shown = self.show()
        self.assertEqual('metadata (default)', shown['clean_mode'])
        last = shown['last_cleaning']
        self.assertEqual(('metadata', 'ok', []),
                         (last['mode'], last['result'], last['problems']),
                         last)
        disks = self.by_name(last)
        self.assertEqual(['/dev/nvme0n1', '/dev/vda'], sorted(disks))
        for name, serial in (('vda', 'LAB-ROOT'), ('nvme0n1', 'LAB-NVME')):
            disk = disks['/dev/' + name]
            self.assertEqual(('metadata', self.size(name), serial),
                             (disk['method'], disk['size'], disk['serial']),
                             disk)
            self.assertGreater(disk['verified'], 0, disk)
            # At least both ends (16 + 66 MiB), at most the disk.
            self.assertTrue(82 * MIB <= disk['bytes'] <= self.size(name),
                            disk)

        # 2. Express: the NVMe disk formats itself (every byte), the
        # virtio disk falls back to metadata, saying why.
        self.clean(0, '--mode', 'express')
        node = self.wait_cleaned(before=last)
        self.assert_available(node)
        shown = self.show()
        last = shown['last_cleaning']
        self.assertEqual(('express', 'ok'), (last['mode'], last['result']),
                         last)
        # This once: the node's own mode is still the default.
        self.assertEqual('metadata (default)', shown['clean_mode'])
        disks = self.by_name(last)
        self.assertEqual(
            ('nvme-format', 128 * MIB, SAMPLES),
            tuple(disks['/dev/nvme0n1'][k]
                  for k in ('method', 'bytes', 'verified')),
            disks['/dev/nvme0n1'])
        self.assert_zero(nvme)
        self.assertEqual('metadata', disks['/dev/vda']['method'],
                         disks['/dev/vda'])
        self.assertIn('not an NVMe disk', disks['/dev/vda']['note'] or '')
        self.assert_data('vda')

        # 3. Full: every byte of every disk. The NVMe disk holds a
        # tenant's disk again; the virtio disk's data is still there.
        self.lay_out('nvme0n1')
        self.clean(0, '--mode', 'full')
        node = self.wait_cleaned(before=last)
        self.assert_available(node)
        last = self.show()['last_cleaning']
        self.assertEqual(('full', 'ok'), (last['mode'], last['result']),
                         last)
        disks = self.by_name(last)
        self.assertEqual(
            ('overwrite', 96 * MIB, SAMPLES),
            tuple(disks['/dev/vda'][k]
                  for k in ('method', 'bytes', 'verified')),
            disks['/dev/vda'])
        self.assertEqual(
            ('nvme-format', 128 * MIB),
            (disks['/dev/nvme0n1']['method'],
             disks['/dev/nvme0n1']['bytes']), disks['/dev/nvme0n1'])
        for path in (vda, nvme):
            self.assert_zero(path)
        # One ramdisk boot each: the deploy and three cleanings.
        self.assertEqual(4, self.console(0).count(
            'nova-bm-ramdisk: starting'))


class LabCleanFailedTestCase(LabCleaningTestCase):
    """A disk the machine cannot write: not erased, so the node is held
    back (clean failed, maintenance) until a cleaning succeeds."""

    DISKS = [
        {'name': 'vda', 'bytes': 32 * MIB, 'bus': 'virtio',
         'serial': 'LAB-RW'},
        {'name': 'vdb', 'bytes': 32 * MIB, 'bus': 'virtio',
         'serial': 'LAB-RO', 'readonly': True},
    ]
    LAYOUT = {'vda': (8 * MIB, 8 * MIB, []),
              'vdb': (8 * MIB, 8 * MIB, [20 * MIB])}

    def test_a_disk_not_erased_holds_the_node_back(self):
        for disk in self.DISKS:
            self.lay_out(disk['name'])
        with open(self.disk_file('vdb'), 'rb') as f:
            read_only = hashlib.sha256(f.read()).hexdigest()
        self.start_proxy()
        self.clean(0)
        node = self.wait_cleaned()
        self.assertEqual((states.CLEAN_FAILED, True),
                         (node.provision_state, node.maintenance),
                         '%s; console: %s' % (node.last_cleaning,
                                              self.console(0)[-3000:]))
        self.assertIn('not erased', node.maintenance_reason)
        self.assertIn('vdb', node.maintenance_reason)
        self.assertEqual('off', self.bmc(node.name)['power'])
        # The writable disk was erased all the same; the other one is as
        # it was.
        self.assert_no_metadata('vda')
        with open(self.disk_file('vdb'), 'rb') as f:
            self.assertEqual(read_only, hashlib.sha256(f.read()).hexdigest())
        self.assertIn('nova-bm-ramdisk: /dev/vdb not erased',
                      self.console(0))
        shown = self.show()
        self.assertEqual(states.CLEAN_FAILED, shown['provision_state'])
        last = shown['last_cleaning']
        self.assertEqual(('metadata', 'failed'),
                         (last['mode'], last['result']), last)
        self.assertIn('/dev/vdb was not erased: cannot write vdb',
                      last['problems'], last)
        disks = self.by_name(last)
        self.assertEqual(('failed', 'LAB-RO'),
                         (disks['/dev/vdb']['method'],
                          disks['/dev/vdb']['serial']), disks)
        self.assertEqual('metadata', disks['/dev/vda']['method'], disks)

        # Out of maintenance only through a cleaning that succeeds (or
        # --force).
        refused = self.manage('node', 'update', self.node_name(0),
                              '--no-maintenance')
        self.assertNotEqual(0, refused.returncode)
        error = refused.stderr.strip()
        self.assertEqual(1, len(error.splitlines()), error)
        self.assertIn('node clean', error)
        node = self.node(self.node_name(0))
        self.assertEqual((states.CLEAN_FAILED, True),
                         (node.provision_state, node.maintenance))
        # Only the disk it could not write fell short: the other one's
        # metadata erase (both ends of a disk smaller than them) is what
        # the mode requires.
        self.assertEqual(['/dev/vdb was not erased: cannot write vdb'],
                         last['problems'], last)
