"""The checked-in sample configuration is what the generator makes now."""

import os

import fixtures
from oslo_config import generator

from tests import base

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


class SampleConfigTestCase(base.TestCase):

    def test_sample_is_current(self):
        output = os.path.join(self.useFixture(fixtures.TempDir()).path,
                              'sample.conf')
        # Through the installed oslo.config.opts entry point, as operators'
        # tools find it.
        generator.main(['--config-file', os.path.join(
            ROOT, 'etc/nova-bm/nova-bm-config-generator.conf'),
            '--output-file', output])
        with open(output) as f:
            generated = f.read()
        with open(os.path.join(ROOT, 'etc/nova-bm/nova-bm.conf.sample')) as f:
            checked_in = f.read()
        self.assertEqual(checked_in, generated,
                         'etc/nova-bm/nova-bm.conf.sample is stale: run '
                         '"tox -e genconfig" and commit the result')
        self.assertIn('[baremetal_database]', generated)
        self.assertIn('#connection = sqlite:///$state_path/nova_bm.sqlite',
                      generated)
