"""A cloud in one process: Nova's API, conductor, scheduler, placement and
one nova-compute proxy with this driver, a node database and fake BMCs.

Built on Nova's own functional harness (``ProviderUsageBaseTestCase``:
real API over WSGI, real conductor and scheduler, placement, Nova's cell
databases on SQLite). The proxy is a real nova-compute service loading the
driver by its public name; its node database is a real SQLite file
migrated by alembic; its BMCs are ``nova-bm-fakebmc`` servers speaking
IPMI over UDP on loopback.
"""

import os
import sys
import time

import fixtures
from nova import context as nova_context
from nova import objects
from nova.tests.functional.api import client as api_client
from nova.tests.functional import integrated_helpers

from nova_bm.db import api as db_api
from nova_bm.db import migration
from nova_bm.enrolment import node_spec
from nova_bm.power import ipmi_loop
from nova_bm.testing import nova_harness
from tests import fleet as fleet_fixture

PASSWORD = 'Func-pw-3c9d'
RESOURCE_CLASS = 'baremetal-gold'
PLACEMENT_RC = 'CUSTOM_BAREMETAL_GOLD'
# Each node: 8 vCPUs, 16 GiB, 100 GB.
NODE_SIZE = {'cpus': 8, 'memory_mb': 16384, 'local_gb': 100}


class BareMetalCloudTestCase(integrated_helpers.ProviderUsageBaseTestCase):
    """Subclasses set NODES (fake BMCs and enrolled nodes) and may add
    nodes that are dead or in maintenance before ``start_proxy``."""

    compute_driver = 'nova_bm.BareMetalDriver'
    # Let Nova's node-identity check at start-up run for real: restarting
    # the proxy must pass it.
    STUB_COMPUTE_ID = False
    PROXY = 'bm-proxy'
    #: Fake BMCs started; ENROLLED of them (default all) enrolled at setUp.
    NODES = 4
    ENROLLED = None

    def setUp(self):
        # Nova's harness takes its cell and database locks in both orders
        # (a test blocked for good on a busy machine): one order.
        self.useFixture(nova_harness.ConsistentCellLockOrder())
        # Nova installed from PyPI keeps api-paste.ini under sys.prefix,
        # not next to its package where the fixtures look for it.
        self.flags(api_paste_config=os.path.join(
            sys.prefix, 'etc', 'nova', 'api-paste.ini'), group='wsgi')
        super().setUp()
        state = self.useFixture(fixtures.TempDir()).path
        self.flags(state_path=state)
        # Nova counts a flavor's vCPUs and RAM against the project quota;
        # a few whole machines exceed the default 20 cores.
        self.flags(cores=-1, ram=-1, instances=-1, group='quota')
        self.flags(connection=self.node_database_url(state),
                   group='baremetal_database')
        # A BMC has 5 s to answer: enough on a machine whose cores are
        # busy (CI shares its machine); only a dead BMC ever reaches it.
        self.flags(ipmi_timeout=5.0, power_state_timeout=20,
                   power_state_poll_interval=0.05, power_sync_interval=0,
                   group='baremetal')
        # Nova's fixtures stop a compute service without waiting for its
        # cleanup_host (manager_shutdown_timeout 0), which then ends with
        # Nova's real shutdown_all_executors: once the test's stub of it
        # is gone, that breaks every later test of the worker ("Cannot
        # create the default thread pool executor"). Wait for it (up to
        # 5 s; Nova reserves all of it for cleanup_host, none for tasks).
        self.flags(manager_shutdown_timeout=5)
        # The deploy HTTP server on loopback: a free port for each proxy
        # (some tests run several).
        self.flags(my_ip='127.0.0.1')
        self.flags(deploy_http_bind='127.0.0.1:0', group='baremetal')
        # Tests play the deploy ramdisk as soon as a node is on; the lab
        # (real machines) keeps the default.
        self.flags(ramdisk_min_boot_time=0, group='baremetal')
        # The fleet is offered as soon as it is enrolled, as in a lab (the
        # road through enroll and manageable: tests/unit/cli/
        # test_lifecycle.py).
        self.flags(enrolled_node_state='available', group='baremetal')
        self.addCleanup(db_api.dispose)
        migration.upgrade()
        self.addCleanup(ipmi_loop.reset_loop)
        self.lab_machines = self.machines()
        self.fleet = self.useFixture(fleet_fixture.FleetFixture(
            self.NODES, password=PASSWORD, machines=self.lab_machines))
        self.enrol(range(self.NODES if self.ENROLLED is None
                         else self.ENROLLED))
        self.flavor = self.baremetal_flavor()

    def node_database_url(self, state):
        """The node database: a SQLite file unless a subclass says."""
        return 'sqlite:///%s' % os.path.join(state, 'nova_bm.sqlite')

    # -- the node side ---------------------------------------------------

    def machines(self):
        """QEMU machines behind the BMCs (the lab's ``fakebmc.Fleet``
        argument), or None: BMCs only."""
        return None

    def node_name(self, index):
        return 'bm-%02d' % index

    #: How the nodes enrolled at setUp get their OS (see nova_bm.deploy):
    #: these tests are about power, so their nodes boot from the network.
    DEPLOY_INTERFACE = 'netboot'

    def mac(self, index):
        return '52:54:00:be:%02x:%02x' % divmod(index, 256)

    def enrol(self, indexes, **overrides):
        """Enrol fleet BMCs as nodes of the proxy, as node import does,
        each with one NIC (``mac(index)``)."""
        specs = []
        for index in indexes:
            values = dict(NODE_SIZE, name=self.node_name(index),
                          service_host=self.PROXY,
                          resource_class=RESOURCE_CLASS,
                          ipmi_address='127.0.0.1',
                          ipmi_port=self.fleet.ports[index],
                          ipmi_username=self.fleet.username,
                          ipmi_password=PASSWORD,
                          deploy_interface=self.DEPLOY_INTERFACE)
            if self.lab_machines:
                # Enrolled with its machine's firmware, as an operator
                # would (fake BMCs alone: [baremetal] default_boot_mode).
                values['boot_mode'] = self.machine_boot_mode(index)
            values.update(overrides)
            specs.append(node_spec.new_node(values, [self.mac(index)]))
        db_api.create_nodes(specs)

    def machine_boot_mode(self, index):
        """The firmware of the lab machine behind BMC ``index``."""
        machines = self.lab_machines
        if machines.get('boot_modes') is not None:
            return machines['boot_modes'][index]
        return (machines.get('boot_mode_by_port') or {}).get(
            self.fleet.ports[index], machines.get('boot_mode', 'bios'))

    def enrol_dead(self, name):
        """A node whose BMC address has nothing listening."""
        values = dict(NODE_SIZE, name=name, service_host=self.PROXY,
                      resource_class=RESOURCE_CLASS,
                      ipmi_address='127.0.0.1',
                      ipmi_port=fleet_fixture.unused_port(),
                      ipmi_username='admin', ipmi_password=PASSWORD,
                      deploy_interface=self.DEPLOY_INTERFACE)
        db_api.create_nodes([node_spec.new_node(values, [])])

    def bmc(self, name):
        """What the fake BMC of node ``name`` says: power, boot device."""
        node = db_api.get_node(name)
        return self.fleet.fleet.state(node.ipmi_port)

    def bmc_control(self, name, **request):
        """Change what the fake BMC of node ``name`` does (its faults)."""
        return self.fleet.fleet.control(db_api.get_node(name).ipmi_port,
                                        **request)

    def node(self, name):
        return db_api.get_node(name)

    # -- the Nova side ---------------------------------------------------

    def start_proxy(self):
        self.proxy = self._start_compute(self.PROXY)
        return self.proxy

    def baremetal_flavor(self):
        """The flavor operators give bare-metal nodes: one unit of the
        node's resource class and none of the VM resources."""
        return self._create_flavor(
            name='bm.gold', vcpu=NODE_SIZE['cpus'],
            memory_mb=NODE_SIZE['memory_mb'], disk=NODE_SIZE['local_gb'],
            ephemeral=0,
            extra_spec={'resources:%s' % PLACEMENT_RC: '1',
                        'resources:VCPU': '0',
                        'resources:MEMORY_MB': '0',
                        'resources:DISK_GB': '0'})

    def _wait_for_state_change(self, server, expected_status,
                               max_retries=240, wait_for_fault_key=True):
        """Nova's helper, waiting up to 2 minutes instead of 5 s: a build
        that reschedules, or a deploy, takes longer on a busy machine."""
        return super()._wait_for_state_change(
            server, expected_status, max_retries,
            wait_for_fault_key=wait_for_fault_key)

    def _wait_until_deleted(self, server, timeout=120):
        """Nova's helper, waiting up to 2 minutes instead of 20 s: a
        delete powers the node off over IPMI and unbinds its ports, which
        takes longer on a busy machine."""
        initially_in_error = server.get('status') == 'ERROR'
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                server = self.api.get_server(server['id'])
            except api_client.OpenStackApiNotFoundException:
                return
            if not initially_in_error and server['status'] == 'ERROR':
                self.fail('Server went to error state instead of '
                          'disappearing.')
            time.sleep(0.5)
        self.fail('Server failed to delete within %d s.' % timeout)

    def boot(self, name, expected_state='ACTIVE'):
        return self._create_server(
            name=name, flavor_id=self.flavor, networks='none',
            expected_state=expected_state)

    def settle(self, servers, timeout=60):
        """Wait until every server is ACTIVE or ERROR (with its fault)."""
        deadline = time.monotonic() + timeout
        settled = {}
        while True:
            for server in servers:
                if server['id'] in settled:
                    continue
                server = self.api.get_server(server['id'])
                if (server['status'] == 'ACTIVE' or
                        (server['status'] == 'ERROR' and 'fault' in server)):
                    settled[server['id']] = server
            if len(settled) == len(servers):
                return [settled[s['id']] for s in servers]
            if time.monotonic() > deadline:
                self.fail('servers still building after %s s: %s' % (
                    timeout, [s['id'] for s in servers
                              if s['id'] not in settled]))
            time.sleep(0.2)

    def post_servers(self, count, prefix='server'):
        """Ask for ``count`` servers at once, without waiting."""
        return [self.api.post_server({'server': self._build_server(
            name='%s-%d' % (prefix, i), flavor_id=self.flavor,
            networks='none')}) for i in range(count)]

    def hypervisor_of(self, server):
        server = self.api.get_server(server['id'])
        return server['OS-EXT-SRV-ATTR:hypervisor_hostname']

    def compute_nodes(self):
        ctxt = nova_context.get_admin_context()
        return objects.ComputeNodeList.get_all_by_host(ctxt, self.PROXY)

    def inventory_of(self, name):
        rp_uuid = self.node(name).uuid
        return self._get_provider_inventory(rp_uuid)

    # -- consoles ----------------------------------------------------------

    def enable_serial_console(self):
        """Nova's serial console on, its ports in a free loopback range."""
        low = fleet_fixture.free_tcp_port_range(8)
        self.flags(enabled=True, port_range='%d:%d' % (low, low + 8),
                   proxyclient_address='127.0.0.1',
                   base_url='ws://127.0.0.1:6083/', group='serial_console')

    def console_output(self, server, length=None):
        """``os-getConsoleOutput`` through the API: the text."""
        action = {'os-getConsoleOutput': {}}
        if length is not None:
            action['os-getConsoleOutput']['length'] = length
        return self.api.post_server_action(server['id'], action)['output']

    def wait_console_output(self, server, text, timeout=60):
        """The console log through the API, once it holds ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            output = self.console_output(server)
            if text in output:
                return output
            if time.monotonic() > deadline:
                self.fail('no %r in the console log after %s s: %r'
                          % (text, timeout, output[-500:]))
            time.sleep(0.1)

    def serial_console(self, server):
        """``os-remote-consoles`` type serial through the API, then what
        nova-serialproxy does with its URL: the token names the TCP
        ``(host, port)`` it connects to."""
        body = {'remote_console': {'protocol': 'serial', 'type': 'serial'}}
        microversion, self.api.microversion = self.api.microversion, '2.6'
        try:
            response = self.api.api_post(
                '/servers/%s/remote-consoles' % server['id'], body).body
        finally:
            self.api.microversion = microversion
        url = response['remote_console']['url']
        self.assertTrue(url.startswith('ws://127.0.0.1:6083/?token='), url)
        token = url.split('token=', 1)[1]
        connect_info = objects.ConsoleAuthToken.validate(
            nova_context.get_admin_context(), token)
        return connect_info.host, connect_info.port
