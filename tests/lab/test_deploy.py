"""Real deploys through Nova onto QEMU machines.

Nova's services in-process (the functional harness), this driver, and
fake BMCs each driving a QEMU machine (``nova-bm-fakebmc --machines``): a
server booted through the Nova API powers its machine on from the network;
the machine's own firmware iPXE gets ``boot.ipxe`` from QEMU's DHCP, chains
to its MAC's script on the proxy, boots nova-bm's real deploy ramdisk,
which writes the Glance image to the machine's disk and reports; the proxy
boots the disk, whose image prints its marker on the serial console.
"""

import io
import os
import socket

from nova.console import serial as nova_serial
from nova import context as nova_context

from nova_bm.testing import images
from tests import fleet as fleet_fixture
from tests.functional.compute import test_deploy
from tests import lab

MIB = 1 << 20
DISK = 64 * MIB
ERASED = 16 * MIB
# Under TCG on two busy cores a deploy takes 25-90 s; cleaning about 25 s.
SETTLE = 900


class LabDeployTestCase(test_deploy.DeployTestCase):

    NODES = 2
    FAKE_RAMDISK = False

    def setUp(self):
        lab.require(self)
        kernel, initramfs = lab.ramdisk()
        # The port the machines reach the proxy on, known before the fleet
        # (whose machines' DHCP hands out boot.ipxe) starts.
        self.lab_port = fleet_fixture.unused_tcp_port()
        self.machine_root = lab.machine_root(self)
        super().setUp()
        url = 'http://%s:%d' % (lab.HOST_FROM_MACHINE, self.lab_port)
        self.flags(deploy_http_bind='127.0.0.1:%d' % self.lab_port,
                   deploy_http_url=url, deploy_kernel=kernel,
                   deploy_ramdisk=initramfs, deploy_timeout=SETTLE,
                   deploy_shutdown_timeout=60, deploy_poll_interval=1,
                   group='baremetal')
        # Real machines: a lookup sooner than the default after power on
        # would be an impostor's, as in production.
        self.flags(ramdisk_min_boot_time=5.0, group='baremetal')
        # The lab's disks are small (sparse files of some MiB): without
        # hints the image goes to the smallest.
        self.flags(root_disk_min_gb=0, group='baremetal')
        self.deploy_http_port = self.lab_port

    def machines(self):
        return {'directory': self.machine_root,
                'boot_url': 'http://%s:%d/boot.ipxe' % (
                    lab.HOST_FROM_MACHINE, self.lab_port),
                'disk_bytes': DISK}

    def mac(self, index):
        return self.fleet.fleet.mac(self.fleet.ports[index])

    def image_bytes(self, label):
        return images.boot_disk_image(label)

    def machine_dir(self, index):
        return self.fleet.fleet.machine_directory(self.fleet.ports[index])

    def disk(self, index):
        with open(os.path.join(self.machine_dir(index), 'disk.img'),
                  'rb') as f:
            return f.read()

    def console(self, index):
        path = os.path.join(self.machine_dir(index), 'serial.log')
        with open(path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def index_of(self, server):
        return int(self.hypervisor_of(server).split('-')[1])

    def assert_booted_from_disk(self, index, label, boots):
        """The machine's console: the ramdisk wrote its disk, then (last
        line) the disk booted and printed ``label``'s marker."""
        console = self.console(index)
        self.assertEqual(boots, console.count('nova-bm-ramdisk: starting'),
                         console[-3000:])
        last_boot = console.rsplit('nova-bm-ramdisk: powering off', 1)[1]
        self.assertIn('Booting from Hard Disk', last_boot)
        self.assertEqual(images.marker(label),
                         last_boot.strip().splitlines()[-1]
                         .split('..')[-1].strip(), console[-3000:])

    def assert_console(self, server, label, first_deploy=True):
        """Through Nova's API: the console log shows the instance's boot
        from its disk (after a first deploy, not the ramdisk's: the log
        starts when the instance boots), and its serial console carries
        the machine both ways (the image echoes what is typed)."""
        marker = images.marker(label)
        output = self.wait_console_output(server, marker, timeout=120)
        if first_deploy:
            self.assertNotIn('nova-bm-ramdisk', output)
        self.assertIn('Booting from Hard Disk', output)
        endpoint = self.serial_console(server)
        with socket.create_connection(endpoint, timeout=60) as console:
            typed = b'lab-%s-%s' % (label.encode(), server['id'][:8].encode())
            console.sendall(typed)
            seen = b''
            while typed not in seen:
                chunk = console.recv(4096)
                self.assertTrue(chunk, 'console closed; saw %r' % seen)
                seen += chunk
        return output

    def wait_state(self, server, state):
        return self._wait_for_state_change(server, state,
                                           max_retries=SETTLE * 10)


class LabDeployLifecycleTestCase(LabDeployTestCase):

    def test_two_servers_deploy_rebuild_and_delete_then_clean(self):
        self.enable_serial_console()
        self.start_proxy()
        servers = [self.admin_api.post_server({'server': self._build_server(
            name='lab-%d' % i, flavor_id=self.flavor,
            image_uuid=self.image['id'], networks='none')})
            for i in range(2)]
        servers = self.settle(servers, timeout=SETTLE)
        self.assertEqual(['ACTIVE', 'ACTIVE'],
                         [s['status'] for s in servers],
                         [s.get('fault') for s in servers])
        indexes = sorted(self.index_of(s) for s in servers)
        self.assertEqual([0, 1], indexes)
        for index in indexes:
            # The machine's disk begins with the image; it booted from it.
            self.assertEqual(self.image['data'],
                             self.disk(index)[:len(self.image['data'])])
            self.assert_booted_from_disk(index, 'A', boots=1)
            bmc = self.bmc(self.node_name(index))
            self.assertEqual(('on', 'hd', True), (
                bmc['power'], bmc['boot_device'], bmc['boot_persistent']))
            self.assertEqual('active',
                             self.node(self.node_name(index)).provision_state)
        for server in servers:
            self.assert_console(server, 'A')
        endpoints = [self.serial_console(server) for server in servers]

        # Rebuild with a second image: same node, its marker this time.
        second = self.glance_image('B')
        server = servers[0]
        index = self.index_of(server)
        self.api.post_server_action(server['id'], {'rebuild': {
            'imageRef': second['id']}})
        self.wait_state(server, 'REBUILD')
        self.wait_state(server, 'ACTIVE')
        self.assertEqual(index, self.index_of(server))
        self.assertEqual(second['data'],
                         self.disk(index)[:len(second['data'])])
        self.assert_booted_from_disk(index, 'B', boots=2)
        # The console stayed with the instance: its log has the first
        # boot, the redeploy's ramdisk, then the new image's boot.
        output = self.assert_console(server, 'B', first_deploy=False)
        self.assertLess(output.index(images.marker('A')),
                        output.index('nova-bm-ramdisk: powering off'))
        self.assertLess(output.index('nova-bm-ramdisk: powering off'),
                        output.index(images.marker('B')))

        # Delete: the nodes are cleaned (both ends of the disk erased),
        # then offered again.
        for index in indexes:
            with open(os.path.join(self.machine_dir(index), 'disk.img'),
                      'r+b') as f:
                f.seek(DISK - MIB)
                f.write(os.urandom(MIB))
        for server in servers:
            self._delete_server(server)
        for endpoint in endpoints:
            # Closed with its instance, its port free for the next one.
            self.assertRaises(OSError, socket.create_connection, endpoint,
                              timeout=5)
            self.assertNotIn(endpoint, nova_serial.ALLOCATED_PORTS)
        for index in indexes:
            self.wait_provision(index, 'available', timeout=SETTLE)
            disk = self.disk(index)
            self.assertEqual(bytes(ERASED), disk[:ERASED])
            self.assertEqual(bytes(ERASED), disk[-ERASED:])
            self.assertIn('nova-bm-ramdisk: /dev/vda erased by metadata',
                          self.console(index))
            self.assertEqual('off', self.bmc(self.node_name(index))['power'])
            self.assertIsNone(self.node(self.node_name(index)).instance_uuid)


class LabDeployFailureTestCase(LabDeployTestCase):

    NODES = 1

    def test_a_failed_deploy_leaves_the_node_off_released_and_clean(self):
        # An image larger than the machine's real disk (the node's
        # local_gb says 100 GB): the ramdisk refuses to write it.
        data = images.boot_disk_image('big', size=DISK + MIB)
        image = self.glance.create(
            nova_context.get_admin_context(),
            {'name': 'too-big', 'disk_format': 'raw',
             'container_format': 'bare', 'size': len(data)},
            data=io.BytesIO(data))
        self.start_proxy()
        server = self._build_server(
            name='lab-fail', flavor_id=self.flavor, image_uuid=image['id'],
            networks='none')
        server = self.admin_api.post_server({'server': server})
        server = self.settle([server], timeout=SETTLE)[0]
        self.assertEqual('ERROR', server['status'])
        # The proxy refused the disk the ramdisk reported, before a byte
        # was written.
        self.assertIn('is larger than /dev/vda (%d bytes)' % DISK,
                      server['fault']['message'])
        name = self.node_name(0)
        self.assertIsNone(self.node(name).instance_uuid)
        self.wait_provision(0, 'available', timeout=SETTLE)
        self.assertEqual('off', self.bmc(name)['power'])
        console = self.console(0)
        self.assertIn('nova-bm-ramdisk: failed: the proxy chose no disk',
                      console)
        # Nothing was written: the disk was never the image's.
        self.assertNotIn(images.marker('big'), console)
