"""Boot modes through Nova's API: a UEFI node and a BIOS node side by side.

The node's boot mode reaches placement as a standard trait and the
scheduler as a stat, so a flavor can ask for one (Ironic's
``capabilities:boot_mode`` too) and ``BootModeFilter`` keeps an image's
``hw_firmware_type`` off the other mode; the BMC of a UEFI node gets
every boot override with the EFI flag; a node that gets an image of the
other mode anyway refuses it before powering anything. The deploy ramdisk
is played by the test (the lab boots OVMF for real: tests/lab/
test_uefi.py).
"""

from nova_bm.db import api as db_api
from nova_bm.enrolment import node_spec
from tests.functional.compute import base
from tests.functional.compute import test_deploy
from tests.functional.compute import test_scheduler

#: Fleet index -> boot mode.
MODES = ['uefi', 'bios']


def enable_boot_mode_filter(test):
    """Nova's default filters and nova-bm's BootModeFilter, on the
    scheduler the test case starts (call before its setUp)."""
    test.flags(available_filters=[
        'nova.scheduler.filters.all_filters',
        'nova_bm.scheduler.filters.BootModeFilter'],
        enabled_filters=test_scheduler.default_enabled_filters() + [
            'BootModeFilter'],
        group='filter_scheduler')


class BootModeTestCase(test_deploy.DeployTestCase):

    NODES = len(MODES)
    ENROLLED = 0

    def setUp(self):
        enable_boot_mode_filter(self)
        super().setUp()
        for index, mode in enumerate(MODES):
            self.enrol([index], boot_mode=mode)
        self.start_proxy()

    def flavor_with(self, name, **extra_spec):
        size = base.NODE_SIZE
        return self._create_flavor(
            name=name, vcpu=size['cpus'], memory_mb=size['memory_mb'],
            disk=size['local_gb'], ephemeral=0,
            extra_spec=dict(extra_spec, **{
                'resources:%s' % base.PLACEMENT_RC: '1',
                'resources:VCPU': '0', 'resources:MEMORY_MB': '0',
                'resources:DISK_GB': '0'}))

    def boot(self, flavor, image, name):
        server = self.admin_api.post_server({'server': self._build_server(
            name=name, flavor_id=flavor, image_uuid=image['id'],
            networks='none')})
        return self._wait_for_state_change(server, 'ACTIVE')

    def test_traits_and_the_efi_flag_on_the_uefi_node(self):
        uefi, bios = (self.node(self.node_name(i)) for i in range(2))
        uefi_traits = self._get_provider_traits(uefi.uuid)
        bios_traits = self._get_provider_traits(bios.uuid)
        self.assertIn('COMPUTE_FIRMWARE_UEFI', uefi_traits)
        self.assertNotIn('COMPUTE_FIRMWARE_BIOS', uefi_traits)
        self.assertIn('COMPUTE_FIRMWARE_BIOS', bios_traits)
        self.assertNotIn('COMPUTE_FIRMWARE_UEFI', bios_traits)
        # Nova's own capability traits are kept beside them.
        self.assertIn('COMPUTE_IMAGE_TYPE_RAW', uefi_traits)

        # Each request fits one node only: whichever is sent first, both
        # land where they must.
        flavor = self.flavor_with(
            'bm.uefi', **{'trait:COMPUTE_FIRMWARE_UEFI': 'required'})
        bios_image = self.glance_image(
            'bios', properties={'hw_firmware_type': 'bios'})
        on_bios = self.boot(self.flavor, bios_image, 'by-image')
        on_uefi = self.boot(flavor, self.image, 'by-trait')
        self.assertEqual(self.node_name(1), self.hypervisor_of(on_bios))
        self.assertEqual(self.node_name(0), self.hypervisor_of(on_uefi))

        # Every override the UEFI node's BMC got was for the EFI path: the
        # ramdisk's network boot and the disk boot after it; the BIOS
        # node's for the legacy path.
        for index, efi in ((0, True), (1, False)):
            bmc = self.bmc(self.node_name(index))
            self.assertEqual(('on', 'hd', True, efi), (
                bmc['power'], bmc['boot_device'], bmc['boot_persistent'],
                bmc['boot_efi']))
            self.assertEqual([['network', True, efi], ['hd', True, efi]],
                             bmc['overrides'])
            self.assertEqual(2, bmc['actions']['on'])

    def test_capabilities_flavors(self):
        # Ironic's spelling: Nova's API validates extra specs from
        # microversion 2.86 and knows no "capabilities:boot_mode"; the
        # flavors Ironic's docs make (older microversions) work as they
        # are, and "capabilities:stats:boot_mode" passes validation.
        self.admin_api.microversion = '2.85'
        ironic = self.flavor_with('bm.bios', **{
            'capabilities:boot_mode': 'bios'})
        self.admin_api.microversion = '2.86'
        stats = self.flavor_with('bm.uefi', **{
            'capabilities:stats:boot_mode': 'uefi'})
        on_bios = self.boot(ironic, self.image, 'by-capability')
        on_uefi = self.boot(stats, self.image, 'by-stats')
        self.assertEqual([self.node_name(1), self.node_name(0)],
                         [self.hypervisor_of(s) for s in (on_bios, on_uefi)])

    def test_image_of_the_other_mode_refused_before_power_on(self):
        # Forced onto the node (host:node skips the filters): the node
        # itself refuses, with the reason, before anything is powered (a
        # refusal Nova reschedules when it has other nodes to try; here
        # it has none).
        image = self.glance_image('uefi-only',
                                  properties={'hw_firmware_type': 'uefi'})
        server = self.boot_on(1, image=image, expected_state='ERROR')
        fault = self.fault(server)
        self.assertIn('needs uefi firmware (hw_firmware_type) and node '
                      '%s boots bios' % self.node_name(1), fault)
        self.assertIn('COMPUTE_FIRMWARE_UEFI', fault)
        self.assertNotIn('on', self.bmc(self.node_name(1))['actions'])
        self.assertEqual('available',
                         self.node(self.node_name(1)).provision_state)
        self.assertIsNone(self.node(self.node_name(1)).instance_uuid)

    def test_rebuild_onto_the_other_mode_refused_by_the_scheduler(self):
        server = self.boot_on(0)
        name = self.node_name(0)
        actions = self.bmc(name)['actions']
        bios_image = self.glance_image(
            'bios', properties={'hw_firmware_type': 'bios'})
        self.api.post_server_action(server['id'], {'rebuild': {
            'imageRef': bios_image['id']}})
        # BootModeFilter runs on rebuild: no valid host, Nova's ERROR,
        # the image rolled back; the node never heard of it.
        server = self._wait_for_state_change(server, 'ERROR')
        self.assertEqual(self.image['id'], server['image']['id'])
        self.assertEqual(actions, self.bmc(name)['actions'])
        node = self.node(name)
        self.assertEqual(('active', server['id']),
                         (node.provision_state, node.instance_uuid))
        self.assertEqual(self.image['data'], self.ramdisk.disks[name])

    def test_an_active_node_is_relabelled(self):
        # "node update --boot-mode" on a node that holds an instance: a
        # node enrolled before boot modes existed is "bios" until its
        # operator says otherwise. Its trait follows.
        server = self.boot_on(0)
        name = self.node_name(0)
        db_api.update_node(name, node_spec.node_changes(
            {'boot_mode': 'bios'}))
        self._run_periodics()
        traits = self._get_provider_traits(self.node(name).uuid)
        self.assertIn('COMPUTE_FIRMWARE_BIOS', traits)
        self.assertNotIn('COMPUTE_FIRMWARE_UEFI', traits)
        self.assertEqual(server['id'], self.node(name).instance_uuid)
