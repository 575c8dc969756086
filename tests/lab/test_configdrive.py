"""The instance a tenant can log into, on QEMU machines through Nova's API.

A config drive: the lab's Linux image (:mod:`nova_bm.testing.linux_image`)
boots from the machine's disk, finds the filesystem labelled ``config-2``
in the partition the deploy ramdisk added after the image, and prints the
instance's UUID, its key pair's comment and a user-data marker on its
console. Root device hints: a machine with three disks gets the image on
the hinted one only; a hint that matches nothing fails the server with the
reason and leaves every disk as it was.
"""

import base64
import os

from nova_bm.db import api as db_api
from nova_bm.testing import images
from nova_bm.testing import linux_image
from tests import deploy_ramdisk
from tests import lab
from tests.lab import test_deploy

MIB = 1 << 20
PUBLIC_KEY = ('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFi6JYqBqSWdzGFz+X6UD'
              'mCzFb8eU3S0bKD7fbQbOqs2 lab-key-comment')


def user_data(marker):
    return base64.b64encode(
        b'#!/bin/sh\nnova-bm-marker: %s\n' % marker.encode()).decode()


class LabConfigDriveTestCase(test_deploy.LabDeployTestCase):

    NODES = 1
    #: Room for the lab's Linux image and the 64 MiB config drive
    #: partition after it.
    DISK = 192 * MIB

    def machines(self):
        return dict(super().machines(), disk_bytes=self.DISK)

    def image_bytes(self, label):
        path = os.path.join(self.machine_root, 'linux-%s.img' % label)
        linux_image.build(path, label, os.path.join(lab.CACHE, 'debs'))
        with open(path, 'rb') as f:
            return f.read()

    def wait_drive_lines(self, index, boots):
        """The config drive lines of the machine's ``boots``-th boot of
        its instance."""
        def seen():
            console = self.console(index)
            return console.count('config-drive done') >= boots
        deploy_ramdisk.wait_for(seen, 300, 'config-drive done')
        return linux_image.lines(self.console(index))

    def test_key_user_data_and_uuid_then_rebuild_writes_new_metadata(self):
        self.start_proxy()
        self.api.post_keypair({'keypair': {'name': 'lab-key',
                                           'public_key': PUBLIC_KEY}})
        self.api.microversion = '2.57'  # rebuild with user_data
        server = self._build_server(
            name='lab-cd', flavor_id=self.flavor,
            image_uuid=self.image['id'], networks='none')
        server.update(config_drive=True, key_name='lab-key',
                      user_data=user_data('first-boot'))
        server = self.admin_api.post_server({'server': server})
        server = self.settle([server], timeout=test_deploy.SETTLE)[0]
        self.assertEqual('ACTIVE', server['status'], server.get('fault'))
        found = self.wait_drive_lines(0, boots=1)
        self.assertEqual({'uuid': server['id'], 'key': 'lab-key-comment',
                          'user-data': 'first-boot', 'none': False,
                          'done': True, 'firmware': 'bios'}, found)
        self.assertIn(images.marker('A'), self.console(0))

        self.api.post_server_action(server['id'], {'rebuild': {
            'imageRef': self.image['id'],
            'user_data': user_data('after-rebuild')}})
        self.wait_state(server, 'REBUILD')
        self.wait_state(server, 'ACTIVE')
        found = self.wait_drive_lines(0, boots=2)
        self.assertEqual(('after-rebuild', server['id']),
                         (found['user-data'], found['uuid']))

        # Cleaning erases the config drive (it holds the tenant's keys and
        # user-data) with the rest of the disk's metadata.
        with open(os.path.join(self.machine_dir(0), 'disk.img'), 'rb') as f:
            self.assertIn(b'after-rebuild', f.read())
        self._delete_server(server)
        self.wait_provision(0, 'available', timeout=test_deploy.SETTLE)
        with open(os.path.join(self.machine_dir(0), 'disk.img'), 'rb') as f:
            disk = f.read()
        self.assertNotIn(b'nova-bm-marker', disk)
        self.assertNotIn(b'lab-key-comment', disk)
        self.assertEqual(bytes(66 * MIB), disk[-66 * MIB:])


class LabRootDeviceTestCase(test_deploy.LabDeployTestCase):
    """Two machines with three disks each: a virtio disk (the smallest,
    listed first), a SCSI SSD and an NVMe disk."""

    NODES = 2
    DISKS = [
        {'name': 'vda', 'bytes': 64 * MIB, 'bus': 'virtio',
         'serial': 'LAB-VIRTIO'},
        {'name': 'sda', 'bytes': 128 * MIB, 'bus': 'scsi',
         'serial': 'LAB-SSD', 'wwn': 0x5000c50015ea71ac,
         'rotation_rate': 1},
        {'name': 'nvme0n1', 'bytes': 96 * MIB, 'bus': 'nvme',
         'serial': 'LAB-NVME'},
    ]

    def machines(self):
        return dict(super().machines(), disks=self.DISKS)

    def disk_files(self, index):
        directory = self.machine_dir(index)
        return {disk['name']: os.path.join(directory,
                                           'disk-%s.img' % disk['name'])
                for disk in self.DISKS}

    def assert_untouched(self, path):
        """Every byte still zero (a disk nothing wrote to)."""
        with open(path, 'rb') as f:
            while True:
                block = f.read(8 * MIB)
                if not block:
                    return
                self.assertEqual(bytes(len(block)), block, path)

    def test_a_serial_hint_chooses_the_disk_and_no_match_fails_clean(self):
        db_api.update_node(self.node_name(0), {'root_device_hints': {
            'serial': 'LAB-SSD'}})
        db_api.update_node(self.node_name(1), {'root_device_hints': {
            'serial': 'LAB-SSD', 'rotational': True}})
        self.start_proxy()
        servers = [self.admin_api.post_server({'server': self._build_server(
            name='lab-hint-%d' % i, flavor_id=self.flavor,
            image_uuid=self.image['id'], networks='none',
            az='nova:%s:%s' % (self.PROXY, self.node_name(i)))})
            for i in range(2)]
        first, second = self.settle(servers, timeout=test_deploy.SETTLE)
        self.assertEqual('ACTIVE', first['status'], first.get('fault'))
        files = self.disk_files(0)
        with open(files['sda'], 'rb') as f:
            self.assertEqual(self.image['data'],
                             f.read(len(self.image['data'])))
        self.assert_untouched(files['vda'])
        self.assert_untouched(files['nvme0n1'])
        self.assertIn('nova-bm-ramdisk: writing %d bytes to /dev/sda'
                      % len(self.image['data']), self.console(0))

        # The serial is the SSD's, but it is not rotational: no disk
        # matches. (Nova keeps 255 characters of the fault.)
        self.assertEqual('ERROR', second['status'])
        fault = second['fault']['message']
        self.assertIn('no disk matches the root device hints (rotational '
                      'true, serial s== lab-ssd); disks seen: ', fault)
        self.assertIn('/dev/nvme0n1 (96 MiB, serial LAB-NVME, SSD), '
                      '/dev/sda (128 MiB, serial LAB-SSD, SSD), ', fault)
        self.wait_provision(1, 'available', timeout=test_deploy.SETTLE)
        for path in self.disk_files(1).values():
            self.assert_untouched(path)
