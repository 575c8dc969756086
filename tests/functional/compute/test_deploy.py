"""Deploys through Nova's API: the image reaches the node's disk.

Real Nova services in-process, the driver's real deploy HTTP server on
loopback, Glance (Nova's fixture) feeding Nova's own ``fetch_to_raw``, fake
BMCs over IPMI, and the test playing the deploy ramdisk over real HTTP
(``tests.deploy_ramdisk``): it boots what the node's iPXE script says,
looks itself up by its MAC for its token and config, fetches the image,
reports, and powers the machine off.
"""

import base64
import hashlib
import io
import os
import subprocess
import urllib.error

import fixtures
from nova import context as nova_context

from nova_bm.db import api as db_api
from nova_bm.deploy import configdrive
from nova_bm.deploy import ipxe
from tests import deploy_ramdisk
from tests import fleet as fleet_fixture
from tests.functional.compute import base


class DeployTestCase(base.BareMetalCloudTestCase):

    NODES = 4
    DEPLOY_INTERFACE = 'image'

    def setUp(self):
        super().setUp()
        # One proxy, on the same port across its restarts.
        self.deploy_http_port = fleet_fixture.unused_tcp_port()
        self.flags(deploy_http_bind='127.0.0.1:%d' % self.deploy_http_port,
                   group='baremetal')
        self.flags(deploy_timeout=120, deploy_shutdown_timeout=10,
                   deploy_poll_interval=0.2, group='baremetal')
        # One attempt: a failed deploy ends in ERROR with its reason (a
        # reschedule would end in "no valid host" on this small cloud).
        self.flags(max_attempts=1, group='scheduler')
        self.image = self.glance_image('A')

    #: Whether the test plays the ramdisk (the lab boots the real one).
    FAKE_RAMDISK = True

    def start_proxy(self):
        proxy = super().start_proxy()
        if not self.FAKE_RAMDISK:
            return proxy
        self.ramdisk = deploy_ramdisk.FakeRamdisk(
            self.fleet.fleet,
            {self.node_name(i): (self.fleet.ports[i], self.mac(i))
             for i in range(self.NODES)},
            'http://127.0.0.1:%d' % self.deploy_http_port).start()
        self.addCleanup(self.ramdisk.stop)
        return proxy

    def image_bytes(self, label):
        """The whole-disk image labelled ``label``."""
        return deploy_ramdisk.disk_image(label)

    def glance_image(self, label, **metadata):
        data = self.image_bytes(label)
        values = {'name': 'disk-%s' % label, 'disk_format': 'raw',
                  'container_format': 'bare', 'size': len(data),
                  'checksum': 'sum-%s' % label}
        values.update(metadata)
        image = self.glance.create(nova_context.get_admin_context(), values,
                                   data=io.BytesIO(data))
        return dict(image, data=data)  # a copy: the fixture keeps its own

    def boot_on(self, index, image=None, expected_state='ACTIVE', **extra):
        """A server forced onto node ``index`` (admin: host:node)."""
        server = self._build_server(
            name='server-%d' % index, flavor_id=self.flavor,
            image_uuid=(image or self.image)['id'], networks='none',
            az='nova:%s:%s' % (self.PROXY, self.node_name(index)))
        server.update(extra)
        server = self.admin_api.post_server({'server': server})
        return self._wait_for_state_change(server, expected_state)

    def wait_provision(self, index, state, timeout=120):
        name = self.node_name(index)
        deploy_ramdisk.wait_for(
            lambda: self.node(name).provision_state == state, timeout,
            '%s to be %s (it is %s)' % (name, state,
                                        self.node(name).provision_state))

    def fault(self, server):
        return self.api.get_server(server['id'])['fault']['message']

    def script(self, index):
        """The node's iPXE script, or None when it has none (and gets the
        answer every MAC without one gets)."""
        text = self.ramdisk.get('/nodes/%s.ipxe'
                                % self.mac(index).replace(':', '-'))
        return None if text == ipxe.NO_SCRIPT else text

    def report_clean(self, index):
        """Report for a cleaning ramdisk that stayed silent: its disks,
        each erased, then the power off."""
        name = self.node_name(index)
        api, token, config = self.ramdisk.tokens[name]
        self.ramdisk.clean(name, self.fleet.ports[index], api, token, config,
                           'ok')
        self.assertEqual((name, 'clean', 'ok', 204),
                         self.ramdisk.reports[-1])

    def reserved(self, index):
        return self.inventory_of(self.node_name(index))[
            base.PLACEMENT_RC]['reserved']


class ImageDeployTestCase(DeployTestCase):

    def test_image_written_then_node_boots_its_disk(self):
        self.start_proxy()
        server = self.boot_on(0)
        name = self.node_name(0)
        self.assertEqual(name, self.hypervisor_of(server))
        node = self.node(name)
        self.assertEqual(('active', server['id']),
                         (node.provision_state, node.instance_uuid))
        # What the "ramdisk" read from the proxy is the Glance image.
        self.assertEqual(self.image['data'], self.ramdisk.disks[name])
        self.assertEqual([(name, 'deploy', 'ok', 204)], self.ramdisk.reports)
        bmc = self.bmc(name)
        self.assertEqual(('on', 'hd', True), (bmc['power'],
                                              bmc['boot_device'],
                                              bmc['boot_persistent']))
        # The ramdisk powered it off; the proxy powered it on from disk.
        self.assertEqual(2, bmc['actions']['on'])
        # The node's script now boots its disk; the deploy's token is dead.
        self.assertIn('sanboot --no-describe --drive 0x80', self.script(0))
        self.assertIsNone(db_api.get_job(name))
        self.assertEqual([], self.ramdisk.errors)
        # Nova knows the image types this driver deploys.
        traits = self._get_provider_traits(node.uuid)
        self.assertIn('COMPUTE_IMAGE_TYPE_RAW', traits)
        self.assertIn('COMPUTE_IMAGE_TYPE_QCOW2', traits)

    def test_delete_cleans_the_disk_before_the_node_is_offered_again(self):
        self.start_proxy()
        self.ramdisk.clean_behaviour[self.node_name(0)] = 'silent'
        server = self.boot_on(0)
        self._delete_server(server)
        self.wait_provision(0, 'cleaning')
        node = self.node(self.node_name(0))
        self.assertIsNone(node.instance_uuid)
        # Reserved in placement while its disk holds the last tenant's data.
        self._run_periodics()
        self.assertEqual(1, self.reserved(0))
        # The ramdisk was booted to clean; let it finish (the proxy's
        # cleaning waits for its report).
        deploy_ramdisk.wait_for(
            lambda: ('bm-00', 'clean', 'silent', None) in self.ramdisk.reports,
            60, 'the cleaning ramdisk to boot')
        job = db_api.get_job(self.node_name(0))
        self.assertEqual('clean', job.mode)
        # Report for the ramdisk that stayed silent.
        self.report_clean(0)
        self.wait_provision(0, 'available')
        self._run_periodics()
        self.assertEqual(0, self.reserved(0))
        self.assertEqual('off', self.bmc(self.node_name(0))['power'])
        self.assertIsNone(self.script(0))

    def test_wrong_or_old_token_is_refused_and_changes_nothing(self):
        self.start_proxy()
        name = self.node_name(1)
        self.ramdisk.behaviour[name] = 'silent'
        server = self.boot_on(1, expected_state='BUILD')
        self.wait_provision(1, 'deploying')
        deploy_ramdisk.wait_for(lambda: self.ramdisk.reports, 60,
                                'the ramdisk to ask for its config')
        api = 'http://127.0.0.1:%d/api/v1' % self.deploy_http_port
        for token in ('x' * 43, 'short', ''):
            error = self.assertRaises(urllib.error.HTTPError,
                                      self.ramdisk.config, api, token)
            self.assertEqual(403, error.code)
            self.assertEqual(403, self.ramdisk.post(
                api + '/done', token, {'status': 'ok', 'sha256': '0' * 64}))
        self.assertEqual('waiting', db_api.get_job(name).status)
        # Not the image either, nor any file outside the routes.
        for token in ('x' * 43, 'short', ''):
            error = self.assertRaises(urllib.error.HTTPError,
                                      self.ramdisk.fetch, api + '/image',
                                      token)
            self.assertEqual(403, error.code)
        for path in ('/images/' + 'x' * 43, '/nodes/', '/../etc/passwd',
                     '/nodes/..%2f..%2fetc%2fpasswd.ipxe', '/'):
            self.assertIsNone(self.ramdisk.get(path), path)
        # The real report: the server goes ACTIVE; the token is dead after.
        _, token, _ = self.ramdisk.tokens[name]
        config = self.ramdisk.config(api, token)
        self.assertEqual('/dev/vda', self.ramdisk.place(
            api, token, name)['root_device'])
        image = self.ramdisk.fetch(config['image_url'], token)
        self.assertEqual(self.image['data'], image)
        self.assertEqual(config['image_sha256'],
                         hashlib.sha256(image).hexdigest())
        self.assertEqual(204, self.ramdisk.post(
            api + '/done', token, {'status': 'ok',
                                   'sha256': config['image_sha256'],
                                   'device': '/dev/vda'}))
        self.fleet.fleet.control(self.fleet.ports[1], power='off')
        self._wait_for_state_change(server, 'ACTIVE')
        error = self.assertRaises(urllib.error.HTTPError,
                                  self.ramdisk.config, api, token)
        self.assertEqual(403, error.code)
        # The image died with the deploy's token.
        error = self.assertRaises(urllib.error.HTTPError,
                                  self.ramdisk.fetch, config['image_url'],
                                  token)
        self.assertEqual(403, error.code)

    def qcow2_image(self, label):
        """A qcow2 image in Glance, and the raw bytes it stands for."""
        raw = deploy_ramdisk.disk_image(label)
        work = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(work, 'disk.raw'), 'wb') as f:
            f.write(raw)
        subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2',
                        os.path.join(work, 'disk.raw'),
                        os.path.join(work, 'disk.qcow2')], check=True)
        with open(os.path.join(work, 'disk.qcow2'), 'rb') as f:
            data = f.read()
        self.assertNotEqual(raw[:4], data[:4])  # b'QFI\xfb'
        image = self.glance.create(
            nova_context.get_admin_context(),
            {'name': 'disk-%s' % label, 'disk_format': 'qcow2',
             'container_format': 'bare', 'size': len(data)},
            data=io.BytesIO(data))
        return dict(image, data=raw)

    def test_a_deploy_that_cannot_be_trusted_ends_in_error(self):
        # Every lookup comes sooner than a real ramdisk boots: not the
        # node's ramdisk. Nova must not reschedule onto another node the
        # impostor may be waiting at; the node is held back.
        self.flags(ramdisk_min_boot_time=600, group='baremetal')
        self.start_proxy()
        server = self.boot_on(0, expected_state='ERROR')
        fault = self.fault(server)
        self.assertIn('cannot be trusted', fault)
        self.assertIn('sooner than a ramdisk boots', fault)
        self.assertIn(('bm-00', None, 'lookup refused', 404),
                      self.ramdisk.reports)
        node = self.node(self.node_name(0))
        self.assertEqual(('clean failed', True, None),
                         (node.provision_state, node.maintenance,
                          node.instance_uuid))
        self.assertIn('cannot be trusted', node.maintenance_reason)
        self.assertEqual('off', self.bmc(self.node_name(0))['power'])
        self.assertIsNone(self.script(0))
        self.assertIsNone(db_api.get_job(self.node_name(0)))
        self._run_periodics()
        self.assertEqual(1, self.reserved(0))

    def test_rebuild_keeps_the_node_and_writes_the_new_image(self):
        self.start_proxy()
        server = self.boot_on(2)
        # A qcow2 image: the node's disk gets it converted to raw.
        second = self.qcow2_image('B')
        self._rebuild_server(server, second['id'])
        name = self.node_name(2)
        self.assertEqual(name, self.hypervisor_of(server))
        self.assertEqual(server['id'], self.node(name).instance_uuid)
        self.assertEqual(second['data'], self.ramdisk.disks[name])
        self.assertEqual('active', self.node(name).provision_state)
        self.assertEqual(2, len([r for r in self.ramdisk.reports
                                 if r[:2] == (name, 'deploy')]))

    def test_without_automated_clean_a_freed_node_is_available_at_once(self):
        self.flags(automated_clean='none', group='baremetal')
        self.start_proxy()
        server = self.boot_on(3)
        self._delete_server(server)
        node = self.node(self.node_name(3))
        self.assertEqual(('available', None), (node.provision_state,
                                               node.instance_uuid))
        self.assertEqual('off', self.bmc(self.node_name(3))['power'])
        self.assertEqual([], [r for r in self.ramdisk.reports
                              if r[1] == 'clean'])

    def test_concurrent_deploys_of_one_image_download_it_once(self):
        downloads = []
        real_download = self.glance.download

        def counting_download(context, image_id, *args, **kwargs):
            downloads.append(image_id)
            return real_download(context, image_id, *args, **kwargs)
        self.useFixture(fixtures.MockPatchObject(
            self.glance, 'download', side_effect=counting_download))
        self.start_proxy()
        servers = [self.admin_api.post_server({'server': self._build_server(
            name='many-%d' % i, flavor_id=self.flavor,
            image_uuid=self.image['id'], networks='none')})
            for i in range(4)]
        for server in servers:
            self._wait_for_state_change(server, 'ACTIVE')
        # Glance was asked for the image's data once.
        self.assertEqual([self.image['id']], downloads)
        driver = self.proxy.manager.driver
        self.assertEqual(1, driver._proxy.deploys.downloads(
            self.image['id']))
        self.assertEqual(4, len(self.ramdisk.disks))
        for disk in self.ramdisk.disks.values():
            self.assertEqual(self.image['data'], disk)


class DeployFailureTestCase(DeployTestCase):

    def assert_failed_and_released(self, index, server, reason):
        self.assertIn(reason, self.fault(server))
        name = self.node_name(index)
        # Released at once, off, its script gone or cleaning; then clean.
        self.assertIsNone(self.node(name).instance_uuid)
        self.wait_provision(index, 'available')
        self.assertEqual('off', self.bmc(name)['power'])
        self.assertIsNone(db_api.get_job(name))
        self.assertIsNone(self.script(index))

    def test_ramdisk_error_checksum_mismatch_and_timeout(self):
        self.start_proxy()
        self.ramdisk.behaviour.update({self.node_name(0): 'fail',
                                       self.node_name(1): 'bad_sha'})
        server = self.boot_on(0, expected_state='ERROR')
        self.assert_failed_and_released(
            0, server, 'the deploy ramdisk failed: no disk found')
        server = self.boot_on(1, expected_state='ERROR')
        self.assert_failed_and_released(
            1, server, "not the image's")
        self.flags(deploy_timeout=3, group='baremetal')
        self.ramdisk.behaviour[self.node_name(2)] = 'silent'
        server = self.boot_on(2, expected_state='ERROR')
        self.flags(deploy_timeout=120, group='baremetal')
        self.assert_failed_and_released(
            2, server, 'did not report within 3 s')

    def test_refused_before_the_node_is_powered_on(self):
        self.start_proxy()
        kernel = self.glance_image('kernel', disk_format='aki',
                                   container_format='aki')
        ramdisk = self.glance_image('ramdisk', disk_format='ari',
                                    container_format='ari')
        cases = [
            (self.glance_image('big', virtual_size=101 * 1024 ** 3), {},
             'exceeds the 100 GiB disk'),
            (self.glance_image('part', properties={
                'kernel_id': kernel['id'], 'ramdisk_id': ramdisk['id']}), {},
             'partition image'),
            (self.glance_image('vmdk', disk_format='vmdk'), {},
             'disk_format is vmdk'),
        ]
        for image, extra, reason in cases:
            server = self.boot_on(3, image=image, expected_state='ERROR',
                                  **extra)
            self.assertIn(reason, self.fault(server))
            self.assertNotIn('on', self.bmc(self.node_name(3))['actions'])
            self.assertEqual('available',
                             self.node(self.node_name(3)).provision_state)
            self._delete_server(server)


class DeployRestartTestCase(DeployTestCase):

    def test_restart_mid_deploy_and_mid_cleaning_recovers(self):
        self.start_proxy()
        deploying, cleaning = self.node_name(0), self.node_name(1)
        self.ramdisk.behaviour[deploying] = 'silent'
        self.ramdisk.clean_behaviour[cleaning] = 'silent'
        stuck = self.boot_on(0, expected_state='BUILD')
        self.wait_provision(0, 'deploying')
        done = self.boot_on(1)
        self._delete_server(done)
        self.wait_provision(1, 'cleaning')
        deploy_ramdisk.wait_for(
            lambda: {deploying, cleaning} <= {
                r[0] for r in self.ramdisk.reports if r[2] == 'silent'},
            60, 'both ramdisks to boot')
        self.ramdisk.clean_behaviour.clear()

        # A new driver, as in a new nova-compute process.
        self.restart_compute_service(self.proxy, keep_hypervisor_state=False)

        # The deploy no process runs any more: node released and cleaned;
        # the cleaning: started again (a new token), to the end.
        self.wait_provision(0, 'available')
        self.wait_provision(1, 'available')
        for index in (0, 1):
            self.assertIsNone(self.node(self.node_name(index)).instance_uuid)
            self.assertEqual('off', self.bmc(self.node_name(index))['power'])
        self.assertEqual('ERROR', self.api.get_server(stuck['id'])['status'])
        # The stopped service's build of it has ended too (in a real
        # restart that process is gone; here its thread must end before
        # the test does). Nova records a build that set its instance to
        # ERROR itself as a finished event.
        self._wait_for_instance_action_event(
            stuck, 'create', 'compute__do_build_and_run_instance', 'Success')


PUBLIC_KEY = ('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFi6JYqBqSWdzGFz+X6UD'
              'mCzFb8eU3S0bKD7fbQbOqs2 functional-key-comment')


class ConfigDriveTestCase(DeployTestCase):
    """Config drives and root device hints through Nova's API, the
    ramdisk played over HTTP (tests/lab boots the real one)."""

    def test_config_drive_is_built_served_with_the_token_and_checked(self):
        self.start_proxy()
        self.api.post_keypair({'keypair': {'name': 'k1',
                                           'public_key': PUBLIC_KEY}})
        user_data = base64.b64encode(b'#!/bin/sh\nnova-bm-marker: fn-1\n')
        server = self.boot_on(0, config_drive=True, key_name='k1',
                              user_data=user_data.decode())
        name = self.node_name(0)
        drive = self.ramdisk.configdrives[name]
        # Nova's builder: an ISO 9660 filesystem labelled config-2.
        self.assertEqual(b'CD001', drive[32769:32774])
        self.assertEqual(b'config-2', drive[32808:32840].rstrip())
        self.assertIn(server['id'].encode(), drive)
        self.assertIn(b'functional-key-comment', drive)
        self.assertIn(b'nova-bm-marker: fn-1', drive)
        self.assertEqual(0, len(drive) % 512)
        # The MBR image got one table edit: its sector 0, a new entry.
        (table,) = self.ramdisk.tables[name]
        self.assertEqual(512, len(table))
        self.assertEqual(b'\x55\xaa', table[510:])
        self.assertEqual(0x83, table[446 + 16 + 4])
        # Served to the token holder only, and only while the job ran.
        self.assertEqual([(name, 'deploy', 'ok', 204)], self.ramdisk.reports)
        api, token, _ = self.ramdisk.tokens[name]
        self.assertRaises(urllib.error.HTTPError, self.ramdisk.fetch,
                          api + '/configdrive/0', token)
        self.assertRaises(urllib.error.HTTPError, self.ramdisk.fetch,
                          api + '/configdrive/0', 'x' * 43)
        # Nothing of it is left on the proxy once the deploy is over.
        self.assertEqual([], os.listdir(configdrive.directory()))
        # A server without one gets none.
        self.boot_on(1)
        self.assertNotIn(self.node_name(1), self.ramdisk.configdrives)

    def test_an_image_that_cannot_take_a_drive_is_refused_before_power(self):
        self.start_proxy()
        data = bytearray(deploy_ramdisk.disk_image('full'))
        for slot in range(1, 4):  # four primary partitions: none is left
            data[446 + 16 * slot:462 + 16 * slot] = bytes(
                [0, 0, 0, 0, 0x83, 0, 0, 0]) + (100 * slot).to_bytes(
                4, 'little') + (50).to_bytes(4, 'little')
        image = self.glance.create(
            nova_context.get_admin_context(),
            {'name': 'full', 'disk_format': 'raw',
             'container_format': 'bare', 'size': len(data)},
            data=io.BytesIO(bytes(data)))
        server = self.boot_on(2, image=image, expected_state='ERROR',
                              config_drive=True)
        self.assertIn("four primary partitions", self.fault(server))
        self.assertNotIn('on', self.bmc(self.node_name(2))['actions'])
        self.assertEqual('available',
                         self.node(self.node_name(2)).provision_state)
        self.assertEqual([], os.listdir(configdrive.directory()))

    def test_rebuild_writes_the_new_metadata(self):
        self.start_proxy()
        server = self.boot_on(0, config_drive=True,
                              metadata={'generation': 'first'})
        name = self.node_name(0)
        self.assertIn(b'first', self.ramdisk.configdrives[name])
        self.api.post_server_action(server['id'], {'rebuild': {
            'imageRef': self.image['id'],
            'metadata': {'generation': 'second'}}})
        self._wait_for_state_change(server, 'REBUILD')
        self._wait_for_state_change(server, 'ACTIVE')
        drive = self.ramdisk.configdrives[name]
        self.assertIn(b'second', drive)
        self.assertNotIn(b'first', drive)

    def test_hints_choose_the_disk_and_no_match_fails_before_writing(self):
        self.start_proxy()
        names = [self.node_name(i) for i in (0, 1)]
        facts = ('name=/dev/sda size=%d serial=USB1\n'
                 'name=/dev/sdb size=%d serial=S3Z1 rotational=0\n'
                 'name=/dev/sdc size=%d serial=HDD9 rotational=1\n'
                 % (8 << 30, 480 << 30, 4000 << 30))
        for name in names:
            self.ramdisk.disk_facts[name] = facts
        db_api.update_node(names[0], {'root_device_hints': {
            'serial': 'S3Z1'}})
        db_api.update_node(names[1], {'root_device_hints': {
            'serial': 'NOPE'}})
        self.boot_on(0)
        self.assertEqual('/dev/sdb',
                         self.ramdisk.placements[names[0]]['root_device'])
        server = self.boot_on(1, expected_state='ERROR')
        fault = self.fault(server)
        self.assertIn('no disk matches the root device hints (serial s== '
                      'nope)', fault)
        self.assertIn('/dev/sdb (480 GiB, serial S3Z1)', fault)
        # Refused before the image was read: nothing was written.
        self.assertIn((names[1], 'deploy', 'no disk', None),
                      self.ramdisk.reports)
        self.assertNotIn((names[1], 'deploy', 'ok', 204),
                         self.ramdisk.reports)
