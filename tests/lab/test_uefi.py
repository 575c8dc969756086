"""UEFI machines through Nova's API: OVMF, the EFI boot flag, the ESP.

Two QEMU machines behind fake BMCs: one with OVMF (UEFI, its own NVRAM)
and one with SeaBIOS, each enrolled with its boot mode. Each obeys only
boot overrides of its own boot type, as real firmware does: without the
EFI flag the UEFI machine ignores a network or disk override and boots
its own order (its disk first), so once its disk holds a system, a
rebuild or a cleaning of it works only when nova-bm sets the flag. The
lab's Linux image comes in both kinds (GPT with an EFI System Partition
holding GRUB's BOOTX64.EFI; MBR with SYSLINUX) and prints which firmware
booted it and what it read on its config drive.
"""

import os

from nova_bm.testing import images
from nova_bm.testing import linux_image
from nova_bm.testing import machine
from tests import deploy_ramdisk
from tests import fleet as fleet_fixture
from tests import lab
from tests.functional.compute import base
from tests.functional.compute import test_boot_mode
from tests.lab import test_configdrive
from tests.lab import test_deploy

MIB = 1 << 20
#: Fleet index -> firmware.
MODES = ['uefi', 'bios']


class LabUefiTestCase(test_deploy.LabDeployTestCase):

    NODES = len(MODES)
    #: The Linux image and the config drive partition after it.
    DISK = 192 * MIB

    def setUp(self):
        test_boot_mode.enable_boot_mode_filter(self)
        super().setUp()

    def machines(self):
        return dict(super().machines(), disk_bytes=self.DISK,
                    boot_modes=MODES)

    def image_bytes(self, label):
        # "uefi-…" images are GPT + ESP, the others MBR + SYSLINUX.
        firmware = 'bios' if label.startswith('bios') else 'uefi'
        path = os.path.join(self.machine_root, 'linux-%s.img' % label)
        linux_image.build(path, label, os.path.join(lab.CACHE, 'debs'),
                          firmware=firmware)
        with open(path, 'rb') as f:
            return f.read()

    def flavor_requiring(self, trait):
        size = base.NODE_SIZE
        return self._create_flavor(
            name='bm.%s' % trait.lower(), vcpu=size['cpus'],
            memory_mb=size['memory_mb'], disk=size['local_gb'], ephemeral=0,
            extra_spec={'resources:%s' % base.PLACEMENT_RC: '1',
                        'resources:VCPU': '0', 'resources:MEMORY_MB': '0',
                        'resources:DISK_GB': '0',
                        'trait:%s' % trait: 'required'})

    def wait_lines(self, index, boots):
        """The image's lines of the machine's ``boots``-th boot of an
        instance (the last boot's)."""
        def seen():
            return self.console(index).count('config-drive done') >= boots
        deploy_ramdisk.wait_for(seen, test_deploy.SETTLE,
                                '%d boots to "config-drive done"' % boots)
        return linux_image.lines(self.console(index))

    def wait_rebuilt(self, server):
        """The rebuild began (REBUILD), then ended ACTIVE: fails at once
        on ERROR, with the fault, and within SETTLE seconds."""
        self.wait_state(server, 'REBUILD')
        (server,) = self.settle([server], timeout=test_deploy.SETTLE)
        self.assertEqual('ACTIVE', server['status'], server.get('fault'))

    def ipmitool_boot_flags(self, index):
        node = self.node(self.node_name(index))
        shown = fleet_fixture.ipmitool(
            node.ipmi_port, 'chassis', 'bootparam', 'get', '5',
            username=self.fleet.username, password=base.PASSWORD)
        self.assertEqual(0, shown.returncode, shown.stderr)
        return shown.stdout

    def test_uefi_and_bios_side_by_side_deploy_rebuild_and_clean(self):
        self.start_proxy()
        self.api.post_keypair({'keypair': {
            'name': 'lab-key', 'public_key': test_configdrive.PUBLIC_KEY}})
        uefi_flavor = self.flavor_requiring('COMPUTE_FIRMWARE_UEFI')
        uefi_image = self.glance_image(
            'uefi-1', properties={'hw_firmware_type': 'uefi'})
        bios_image = self.glance_image(
            'bios-1', properties={'hw_firmware_type': 'bios'})
        # Each request fits one node only: the flavor's trait (placement)
        # for the first, the image's firmware type (BootModeFilter) for
        # the second.
        requests = [(uefi_flavor, uefi_image, 'lab-uefi'),
                    (self.flavor, bios_image, 'lab-bios')]
        servers = []
        for flavor, image, name in requests:
            server = self._build_server(name=name, flavor_id=flavor,
                                        image_uuid=image['id'],
                                        networks='none')
            server.update(config_drive=True, key_name='lab-key')
            servers.append(self.admin_api.post_server({'server': server}))
        servers = self.settle(servers, timeout=test_deploy.SETTLE)
        self.assertEqual(['ACTIVE', 'ACTIVE'],
                         [s['status'] for s in servers],
                         [s.get('fault') for s in servers])
        self.assertEqual([0, 1], [self.index_of(s) for s in servers])
        labels = ('uefi-1', 'bios-1')
        for index, (server, label) in enumerate(zip(servers, labels,
                                                    strict=True)):
            found = self.wait_lines(index, boots=1)
            self.assertEqual(
                (MODES[index], server['id'], 'lab-key-comment'),
                (found['firmware'], found['uuid'], found['key']),
                self.console(index)[-3000:])
            self.assertIn(images.marker(label), self.console(index))
            bmc = self.bmc(self.node_name(index))
            self.assertEqual(('on', 'hd', True, index == 0), (
                bmc['power'], bmc['boot_device'], bmc['boot_persistent'],
                bmc['boot_efi']))
        # ipmitool, a client nobody here wrote, reads the flags back.
        flags = self.ipmitool_boot_flags(0)
        self.assertIn('BIOS EFI boot', flags)
        self.assertIn('Options apply to all future boots', flags)
        self.assertIn('Force Boot from default Hard-Drive', flags)
        self.assertIn('BIOS PC Compatible (legacy) boot',
                      self.ipmitool_boot_flags(1))
        # OVMF keeps its NVRAM (its boot options) in the machine's own
        # file, which it wrote.
        with open(os.path.join(self.machine_dir(0), 'OVMF_VARS.fd'),
                  'rb') as nvram, open(machine.OVMF_VARS, 'rb') as template:
            self.assertNotEqual(template.read(), nvram.read())

        # Rebuild the UEFI server with another UEFI image: the ramdisk
        # boots from the network again (the EFI flag: without it OVMF
        # would boot the old image from its disk and the deploy would
        # never report).
        second = self.glance_image(
            'uefi-2', properties={'hw_firmware_type': 'uefi'})
        self.api.post_server_action(servers[0]['id'], {'rebuild': {
            'imageRef': second['id']}})
        self.wait_rebuilt(servers[0])
        found = self.wait_lines(0, boots=2)
        self.assertEqual(('uefi', servers[0]['id']),
                         (found['firmware'], found['uuid']))
        self.assertIn(images.marker('uefi-2'), self.console(0))
        self.assertEqual(2, self.console(0).count('nova-bm-ramdisk: starting'))

        # A BMC that forgot the disk boot: the machine boots the network,
        # iPXE gets the node's local boot script. Under UEFI it hands the
        # machine back to the firmware with an error, without trying a
        # BIOS drive (iPXE says "Could not boot: Error 0x00000001" for
        # that error, and OVMF tries its own network boot options), and
        # OVMF boots its next option, the disk; under BIOS it boots the
        # first disk itself ("Booting from SAN device 0x80").
        for index, boots in ((0, 3), (1, 2)):
            name = self.node_name(index)
            self.bmc_control(name, boot_device='network',
                             boot_persistent=False, boot_efi=index == 0,
                             power='off')
            self.bmc_control(name, power='on')
            found = self.wait_lines(index, boots=boots)
            self.assertEqual((MODES[index], servers[index]['id']),
                             (found['firmware'], found['uuid']))
            last_boot = self.console(index).rsplit(
                'config-drive done', 2)[-2]
            self.assertIn('nova-bm: boot from the disk', last_boot)
            self.assertNotIn('nova-bm-ramdisk: starting', last_boot)
            self.assertNotIn('no script for this machine', last_boot)
            handed_back = 'nova-bm: back to the firmware' in last_boot
            self.assertEqual(index == 0, handed_back, last_boot[-3000:])
            self.assertEqual(index == 1, 'SAN device 0x80' in last_boot,
                             last_boot[-3000:])

        # Delete both: each machine boots the ramdisk to be cleaned (the
        # UEFI one, again, only with the flag) and is offered again.
        for server in servers:
            self._delete_server(server)
        for index in range(2):
            self.wait_provision(index, 'available', timeout=test_deploy.SETTLE)
            disk = self.disk(index)
            self.assertEqual(bytes(16 * MIB), disk[:16 * MIB])
            self.assertEqual(bytes(66 * MIB), disk[-66 * MIB:])
            self.assertIn('nova-bm-ramdisk: /dev/vda erased by metadata',
                          self.console(index))
            bmc = self.bmc(self.node_name(index))
            self.assertEqual('off', bmc['power'])
            # Every override nova-bm sent was of the machine's boot type
            # (the test's own "forgot" overrides too): none ignored.
            self.assertEqual(0, bmc['ignored_overrides'], bmc['overrides'])
            self.assertEqual({index == 0},
                             {efi for _, _, efi in bmc['overrides']})
