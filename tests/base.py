"""Test bases shared by unit and functional tests."""

import fixtures
from oslo_config import fixture as config_fixture
from oslotest import base

from nova_bm.conf import CONF
from nova_bm.db import api as db_api


class TestCase(base.BaseTestCase):
    """Isolates configuration and the node-database engine per test."""

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(config_fixture.Config(CONF))
        # oslo.messaging's in-memory bus unless a test names a real one:
        # an unset transport_url would mean RabbitMQ on localhost.
        self.conf.config(transport_url='fake:/')
        self.addCleanup(db_api.dispose)
        # A driver's deploy HTTP server on a free loopback port, its files
        # under a directory of the test's own.
        files = self.useFixture(fixtures.TempDir()).path
        self.conf.config(deploy_http_bind='127.0.0.1:0',
                         deploy_http_root=files + '/http',
                         image_cache_dir=files + '/images',
                         group='baremetal')
        # Tests play the deploy ramdisk over HTTP as soon as a node is on
        # (tests/deploy_ramdisk.py); the check of a lookup's earliest
        # plausible time has tests of its own.
        self.conf.config(ramdisk_min_boot_time=0, group='baremetal')
        # The nodes of the tests' fleets are offered as soon as they are
        # enrolled, as in a lab; the road through enroll and manageable
        # (the default) has tests of its own (tests/unit/cli/
        # test_lifecycle.py).
        self.conf.config(enrolled_node_state='available', group='baremetal')
