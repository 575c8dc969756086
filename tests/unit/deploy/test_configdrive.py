"""The config drive's file: built by Nova's builder, bounded, private,
removed; its network_data.json names the node's own NICs."""

import os
import stat
import time
import types
from unittest import mock

import fixtures
from nova import exception as nova_exception
from nova.network import model as network_model
from oslo_concurrency import processutils

from nova_bm.deploy import configdrive
from nova_bm.deploy import partition_table
from tests import base

INSTANCE = types.SimpleNamespace(uuid='6f3c1ab2-0000-4000-8000-000000000001')


class FakeBuilder:
    """Nova's ConfigDriveBuilder, writing ``size`` bytes (or failing)."""

    size = 3000
    error = None

    def __init__(self, instance_md=None):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def make_drive(self, path):
        if self.error is not None:
            raise self.error
        with open(path, 'wb') as f:
            f.write(b'CD001' + b'x' * (self.size - 5))


class BuildTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.conf.config(image_cache_dir=self.useFixture(
            fixtures.TempDir()).path, group='baremetal')
        self.useFixture(fixtures.MonkeyPatch(
            'nova_bm.deploy.configdrive.nova_configdrive.ConfigDriveBuilder',
            FakeBuilder))
        self.metadata = self.useFixture(fixtures.MockPatch(
            'nova_bm.deploy.configdrive.instance_metadata.InstanceMetadata'
        )).mock
        FakeBuilder.size, FakeBuilder.error = 3000, None

    def build(self):
        return configdrive.build(INSTANCE, network_model.NetworkInfo(), [],
                                 's3cret', [])  # noqa: S106 (a test's)

    def test_a_whole_number_of_sectors_private_and_removed(self):
        drive = self.build()
        self.assertEqual(3072, drive.size)
        self.assertEqual(drive.size, os.path.getsize(drive.path))
        self.assertEqual(0o600, stat.S_IMODE(os.stat(drive.path).st_mode))
        self.assertEqual(0o700, stat.S_IMODE(os.stat(
            configdrive.directory()).st_mode))
        self.assertEqual({'admin_pass': 's3cret'},
                         self.metadata.call_args.kwargs['extra_md'])
        configdrive.remove(drive.name)
        self.assertEqual([], os.listdir(configdrive.directory()))

    def test_too_large_or_failing_refused_and_nothing_left(self):
        FakeBuilder.size = partition_table.MAX_DRIVE + 512
        error = self.assertRaises(nova_exception.BuildAbortException,
                                  self.build)
        self.assertIn('at most 64 MiB', str(error))
        FakeBuilder.size = 3000
        FakeBuilder.error = processutils.ProcessExecutionError(
            stderr='genisoimage: No such file or directory\n',
            cmd='genisoimage -o x')
        error = self.assertRaises(nova_exception.BuildAbortException,
                                  self.build)
        self.assertIn('the config drive cannot be built', str(error))
        self.assertEqual([], os.listdir(configdrive.directory()))

    def test_leftovers_removed_after_an_hour_unless_a_job_names_them(self):
        old, kept, fresh = self.build(), self.build(), self.build()
        hour_ago = time.time() - configdrive.UNUSED_GRACE - 1
        for drive in (old, kept):
            os.utime(drive.path, (hour_ago, hour_ago))
        self.assertEqual([old.name], configdrive.remove_unused({kept.name}))
        self.assertEqual(sorted([kept.name, fresh.name]),
                         sorted(os.listdir(configdrive.directory())))


class NetworkMetadataTestCase(base.TestCase):

    def test_links_bound_to_the_nodes_nics_carry_their_macs(self):
        vif = network_model.VIF(
            id='port-1', address='fa:16:3e:00:00:01',
            network=network_model.Network(id='net-1', subnets=[
                network_model.Subnet(
                    cidr='192.0.2.0/24', version=4,
                    ips=[network_model.FixedIP(address='192.0.2.5')])]),
            type='other')
        interfaces = [mock.Mock(vif_id='port-1', address='52:54:00:aa:00:01'),
                      mock.Mock(vif_id=None, address='52:54:00:aa:00:02')]
        metadata = configdrive.network_metadata(
            network_model.NetworkInfo([vif]), interfaces)
        (link,) = metadata['links']
        self.assertEqual(('52:54:00:aa:00:01', 'phy'),
                         (link['ethernet_mac_address'], link['type']))
