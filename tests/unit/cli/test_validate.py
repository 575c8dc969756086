"""``node validate``: one row per node and interface, against fake BMCs,
real files and a real HTTP server on the loopback."""

import functools
import http.server
import json
import os
import socket
import threading
import time
import types

import fixtures

from nova_bm.cli import validate
from nova_bm.db import api as db_api
from nova_bm.deploy import ipxe
from nova_bm.enrolment import node_spec
from tests.unit.cli import base
from tests import base as tests_base
from tests import fleet as fleet_fixture
from tests import utils

PASSWORD = 'Val-pw-3c9d'
SWITCH = {'switch_id': '00:1a:2b:3c:4d:5e', 'port_id': 'Ethernet1/7'}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):

    def log_message(self, fmt, *args):
        pass


def serve_directory(test, root):
    """An HTTP server of ``root`` on 127.0.0.1, an ephemeral port."""
    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(_QuietHandler, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()
        thread.join(5)
    test.addCleanup(stop)
    return server.server_address[1]


def deploy_root(test, kernel=b'kernel', ramdisk=b'initrd'):
    """A directory laid out as the proxy's deploy server serves it:
    deploy/kernel, deploy/ramdisk (boot.ipxe: :func:`write_boot_script`)."""
    root = test.useFixture(fixtures.TempDir()).path
    os.mkdir(os.path.join(root, 'deploy'))
    for name, data in (('deploy/kernel', kernel),
                       ('deploy/ramdisk', ramdisk)):
        if data is not None:
            with open(os.path.join(root, name), 'wb') as f:
                f.write(data)
    return root


def write_boot_script(root, base_url):
    with open(os.path.join(root, 'boot.ipxe'), 'w') as f:
        f.write(ipxe.boot_script(base_url))


def closed_port(test):
    """A TCP port of 127.0.0.1 bound for the test but not listening: a
    connection to it is refused."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    test.addCleanup(sock.close)
    return sock.getsockname()[1]


def silent_port(test):
    """A TCP port of 127.0.0.1 that takes connections and never answers."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(16)
    test.addCleanup(sock.close)
    return sock.getsockname()[1]


class ValidateCommandTestCase(base.ManageTestCase):

    def setUp(self):
        super().setUp()
        self.config_file = self.write_config(
            '[DEFAULT]\nstate_path = %s\nhost = proxy-1\n'
            '[baremetal]\nipmi_timeout = 2.0\n' % self.state)
        self.fleet = self.useFixture(
            fleet_fixture.FleetFixture(2, password=PASSWORD))
        self.assertManage('db', 'sync')
        # This host's deploy ramdisk and deploy HTTP server.
        self.kernel = self.write_file('deploy.kernel', 'kernel')
        self.ramdisk = self.write_file('deploy.initramfs', 'initrd')
        self.root = deploy_root(self)
        self.port = serve_directory(self, self.root)
        self.base_url = 'http://127.0.0.1:%d' % self.port
        write_boot_script(self.root, self.base_url)
        self.conf.config(deploy_kernel=self.kernel,
                         deploy_ramdisk=self.ramdisk,
                         deploy_http_url=self.base_url + '/',
                         group='baremetal')

    def enrol(self, index, bmc=0, macs=(), **values):
        """Node ``node-<index>`` on fake BMC ``bmc`` (None: a dead one),
        with interfaces ``macs``: ``[(index, fields)]``."""
        port = (fleet_fixture.unused_port() if bmc is None
                else self.fleet.ports[bmc])
        db_api.create_nodes([node_spec.new_node(utils.node_values(
            index, ipmi_port=port, ipmi_password=PASSWORD, **values), [])])
        for mac_index, fields in macs:
            db_api.add_interface('node-%d' % index, utils.mac(mac_index),
                                 **node_spec.interface_fields(fields))

    def validate(self, *args):
        """``node validate … -f json``: ``(status, {(name, interface):
        (result, reason)}, stdout, stderr)``."""
        code, out, err = self.manage('node', 'validate', *args, '-f', 'json')
        self.assertNotIn('Traceback', err)
        rows = json.loads(out) if out else []
        return code, {(r['Name'], r['Interface']): (r['Result'], r['Reason'])
                      for r in rows}, out, err

    def row(self, rows, name, interface):
        return rows[(name, interface)]

    # -- finding (8) -------------------------------------------------------

    def test_image_node_without_interfaces_or_ramdisk_fails(self):
        # On HEAD of the review this node validated "ok": only its BMC was
        # checked.
        os.unlink(self.ramdisk)
        self.enrol(1, deploy_interface='image')
        code, out, err = self.manage('node', 'validate', 'node-1', '-f',
                                     'json')
        self.assertEqual(1, code, out)
        self.assertIn('1 of the nodes failed.', err)
        _, rows, out, err = self.validate('node-1')
        self.assertEqual(
            ['console', 'deploy', 'network', 'power'],
            sorted(interface for _, interface in rows))
        result, reason = self.row(rows, 'node-1', 'deploy')
        self.assertIs(False, result)
        self.assertIn('no interface (MAC) enrolled', reason)
        self.assertIn('deploy_ramdisk %s: No such file' % self.ramdisk,
                      reason)
        self.assertIn('on this host ([DEFAULT] host = proxy-1)', reason)
        self.assertNotIn('deploy_kernel', reason)
        self.assertEqual(False, self.row(rows, 'node-1', 'network')[0])
        self.assertEqual(True, self.row(rows, 'node-1', 'power')[0])
        self.assertNotIn(PASSWORD, out + err)

    def test_every_row_true(self):
        self.enrol(1, deploy_interface='image', macs=[(1, {}), (2, {
            'pxe_enabled': False})])
        code, rows, out, err = self.validate('node-1')
        self.assertEqual(0, code, out + err)
        self.assertEqual('', err)
        self.assertTrue(all(result is True for result, _ in rows.values()),
                        rows)
        reason = self.row(rows, 'node-1', 'deploy')[1]
        self.assertIn('PXE boot from %s;' % utils.mac(1), reason)
        self.assertIn('readable on this host ([DEFAULT] host = proxy-1)',
                      reason)
        self.assertIn('%s serves boot.ipxe' % self.base_url, reason)
        self.assertIn('BMC 127.0.0.1:%d accepted' % self.fleet.ports[0],
                      self.row(rows, 'node-1', 'power')[1])
        self.assertEqual(
            'no switch port data: flat network binding (2 interfaces)',
            self.row(rows, 'node-1', 'network')[1])
        self.assertIn('SOL on the BMC is checked when the console opens',
                      self.row(rows, 'node-1', 'console')[1])
        # The table: one line per interface, True in it.
        table = self.assertManage('node', 'validate', 'node-1')
        self.assertEqual(4, table.count('| node-1 |'))
        self.assertIn('| deploy    | True   |', table)
        self.assertEqual(
            'console True\ndeploy True\nnetwork True\npower True\n',
            self.assertManage('node', 'validate', 'node-1', '-c',
                              'Interface', '-c', 'Result', '-f', 'value'))
        self.assertRefused(2, 'no such column', 'node', 'validate', 'node-1',
                           '-c', 'BMC')

    def test_netboot_node_needs_no_deploy_ramdisk(self):
        os.unlink(self.kernel)
        self.conf.config(deploy_http_url='http://127.0.0.1:%d'
                         % closed_port(self), group='baremetal')
        self.enrol(1, deploy_interface='netboot', macs=[(1, {})])
        code, rows, out, _ = self.validate('node-1')
        self.assertEqual(0, code, out)
        self.assertEqual((True, 'not used (netboot)'),
                         self.row(rows, 'node-1', 'deploy'))

    # -- power ---------------------------------------------------------------

    def test_power_keeps_the_bmc_reasons(self):
        self.fleet.fleet.control(self.fleet.ports[1], reject=True)
        self.enrol(1, bmc=0, deploy_interface='netboot', macs=[(1, {})])
        self.enrol(2, bmc=1, deploy_interface='netboot', macs=[(2, {})])
        self.enrol(3, bmc=None, deploy_interface='netboot', macs=[(3, {})])
        start = time.monotonic()
        code, rows, out, err = self.validate('--all')
        self.assertLess(time.monotonic() - start, 2 * 2.0 + 2)
        self.assertEqual(1, code)
        self.assertIs(True, self.row(rows, 'node-1', 'power')[0])
        result, reason = self.row(rows, 'node-2', 'power')
        self.assertIs(False, result)
        self.assertIn('refused the IPMI credentials', reason)
        result, reason = self.row(rows, 'node-3', 'power')
        self.assertIs(False, result)
        self.assertIn('unreachable', reason)
        # The checks without a BMC ran for every node.
        for name in ('node-2', 'node-3'):
            self.assertIs(True, self.row(rows, name, 'network')[0])
            self.assertIs(True, self.row(rows, name, 'deploy')[0])
        self.assertIn('2 of the nodes failed.', err)
        self.assertNotIn(PASSWORD, out + err)

    def test_selection_options_are_today_s(self):
        self.enrol(1, deploy_interface='netboot', macs=[(1, {})])
        self.enrol(2, bmc=1, deploy_interface='netboot', macs=[(2, {})],
                   service_host='proxy-2')
        code, rows, _, _ = self.validate('--all', '--host', 'proxy-2')
        self.assertEqual(0, code)
        self.assertEqual({'node-2'}, {name for name, _ in rows})
        self.assertRefused(2, 'Name nodes or give --all', 'node',
                           'validate')
        self.assertRefused(1, 'Node nope could not be found', 'node',
                           'validate', 'node-1', 'nope')
        self.assertRefused(2, '--host selects nodes only with --all',
                           'node', 'validate', 'node-1', '--host', 'x')

    # -- deploy --------------------------------------------------------------

    def test_deploy_needs_a_pxe_interface(self):
        self.enrol(1, deploy_interface='image',
                   macs=[(1, {'pxe_enabled': False}),
                         (2, {'pxe_enabled': False})])
        code, rows, _, _ = self.validate('node-1')
        self.assertEqual(1, code)
        result, reason = self.row(rows, 'node-1', 'deploy')
        self.assertIs(False, result)
        self.assertIn('none of its 2 interfaces has pxe_enabled', reason)

    def test_deploy_kernel_not_a_file_and_ramdisk_empty(self):
        os.unlink(self.kernel)
        os.mkdir(self.kernel)
        with open(self.ramdisk, 'w'):
            pass
        self.enrol(1, deploy_interface='image', macs=[(1, {})])
        code, rows, _, _ = self.validate('node-1')
        self.assertEqual(1, code)
        reason = self.row(rows, 'node-1', 'deploy')[1]
        self.assertIn('deploy ramdisk on this host ([DEFAULT] host = '
                      'proxy-1): deploy_kernel %s: Is a directory; '
                      'deploy_ramdisk %s: empty' % (self.kernel, self.ramdisk),
                      reason)

    def test_deploy_server_down(self):
        port = closed_port(self)
        self.conf.config(deploy_http_url='http://127.0.0.1:%d' % port,
                         group='baremetal')
        self.enrol(1, deploy_interface='image', macs=[(1, {})])
        code, rows, _, _ = self.validate('node-1')
        self.assertEqual(1, code)
        result, reason = self.row(rows, 'node-1', 'deploy')
        self.assertIs(False, result)
        self.assertIn('http://127.0.0.1:%d: GET /boot.ipxe: Connection '
                      'refused' % port, reason)

    def test_deploy_server_without_boot_script_or_ramdisk(self):
        os.unlink(os.path.join(self.root, 'boot.ipxe'))
        os.unlink(os.path.join(self.root, 'deploy', 'ramdisk'))
        self.enrol(1, deploy_interface='image', macs=[(1, {})])
        code, rows, _, _ = self.validate('node-1')
        self.assertEqual(1, code)
        reason = self.row(rows, 'node-1', 'deploy')[1]
        self.assertIn('GET /boot.ipxe: HTTP 404', reason)
        self.assertIn('HEAD /deploy/ramdisk: HTTP 404', reason)
        self.assertNotIn('/deploy/kernel', reason)

    def test_deploy_url_from_my_ip_and_bind_port(self):
        # What DeployManager.start() gives the nodes without
        # deploy_http_url: http://<my_ip>:<deploy_http_bind's port>.
        write_boot_script(self.root, 'http://127.0.0.1:%d' % self.port)
        self.conf.config(deploy_http_url=None,
                         deploy_http_bind='0.0.0.0:%d' % self.port,
                         group='baremetal')
        self.conf.config(my_ip='127.0.0.1')
        self.enrol(1, deploy_interface='image', macs=[(1, {})])
        code, rows, out, _ = self.validate('node-1')
        self.assertEqual(0, code, out)
        self.assertIn('http://127.0.0.1:%d serves boot.ipxe' % self.port,
                      self.row(rows, 'node-1', 'deploy')[1])

    def test_deploy_url_unknown_or_malformed(self):
        self.conf.config(deploy_http_url=None,
                         deploy_http_bind='127.0.0.1:0', group='baremetal')
        self.enrol(1, deploy_interface='image', macs=[(1, {})])
        code, rows, _, _ = self.validate('node-1')
        self.assertEqual(1, code)
        self.assertIn('deploy_http_bind has port 0',
                      self.row(rows, 'node-1', 'deploy')[1])
        self.conf.config(deploy_http_bind='127.0.0.1:http',
                         group='baremetal')
        code, rows, _, _ = self.validate('node-1')
        self.assertEqual(1, code)
        result, reason = self.row(rows, 'node-1', 'deploy')
        self.assertIs(False, result)
        self.assertIn("deploy_http_bind = '127.0.0.1:http'", reason)
        # The other rows are still there.
        self.assertIs(True, self.row(rows, 'node-1', 'power')[0])

    def test_node_of_another_proxy_is_checked_with_this_host_s_files(self):
        self.enrol(1, deploy_interface='image', macs=[(1, {})],
                   service_host='proxy-2')
        code, rows, _, _ = self.validate('node-1')
        self.assertEqual(0, code)
        self.assertIn("host = proxy-1; the node's proxy is proxy-2: run "
                      "this there", self.row(rows, 'node-1', 'deploy')[1])

    # -- console -------------------------------------------------------------

    def test_console_reports_the_configuration(self):
        self.conf.config(console_enabled=False, group='baremetal')
        self.enrol(1, deploy_interface='netboot', macs=[(1, {})])
        code, rows, _, _ = self.validate('node-1')
        self.assertEqual(0, code)
        result, reason = self.row(rows, 'node-1', 'console')
        self.assertIs(True, result)
        self.assertIn('disabled ([baremetal] console_enabled = False)',
                      reason)

    # -- network -------------------------------------------------------------

    def test_network_switch_port_data_on_every_nic_once_on_one(self):
        self.enrol(1, deploy_interface='netboot', macs=[
            (1, {'pxe_enabled': True}),
            (2, {'pxe_enabled': False, 'local_link_connection': SWITCH,
                 'physical_network': 'physnet1'})])
        code, rows, _, _ = self.validate('node-1')
        self.assertEqual(1, code)
        result, reason = self.row(rows, 'node-1', 'network')
        self.assertIs(False, result)
        self.assertIn('local_link_connection on %s but not on %s (the node '
                      'boots from %s)' % (utils.mac(2), utils.mac(1),
                                          utils.mac(1)), reason)
        db_api.update_interface(utils.mac(1), node_spec.interface_fields(
            {'local_link_connection': dict(SWITCH, port_id='Ethernet1/8')}))
        code, rows, _, _ = self.validate('node-1')
        self.assertEqual(0, code)
        self.assertEqual(
            (True, 'switch port data on every interface (2): '
                   'local_link_information for the ML2 driver; physical '
                   'networks physnet1 (%s without one: it may carry a port '
                   'of any network)' % utils.mac(1)),
            self.row(rows, 'node-1', 'network'))

    def test_network_needs_an_interface(self):
        self.enrol(1, deploy_interface='netboot')
        code, rows, _, _ = self.validate('node-1')
        self.assertEqual(1, code)
        result, reason = self.row(rows, 'node-1', 'network')
        self.assertIs(False, result)
        self.assertIn('no interface (MAC) enrolled', reason)
        self.assertIs(True, self.row(rows, 'node-1', 'deploy')[0])

    def test_network_rechecks_stored_switch_port_data(self):
        self.enrol(1, deploy_interface='netboot', macs=[(1, {})])
        interface = db_api.list_interfaces('node-1')[0][0]
        interface.local_link_connection = {'port_id': 'p1'}
        result, reason = validate.network(None, [interface])
        self.assertIs(False, result)
        self.assertIn('local_link_connection.switch_id: is required', reason)


class ProbeDeployServerTestCase(tests_base.TestCase):
    """The HTTP check alone, against a real server on the loopback."""

    def test_a_served_deploy_root(self):
        root = deploy_root(self)
        port = serve_directory(self, root)
        base_url = 'http://127.0.0.1:%d' % port
        write_boot_script(root, base_url)
        self.assertEqual([], validate.probe_deploy_server(base_url, 3.0))
        # A path under the host, as a deploy_http_url behind a reverse
        # proxy may have.
        self.assertEqual(['GET /boot.ipxe: HTTP 404 File not found',
                          'HEAD /deploy/kernel: HTTP 404 File not found',
                          'HEAD /deploy/ramdisk: HTTP 404 File not found'],
                         validate.probe_deploy_server(base_url + '/sub', 3.0))

    def test_a_script_for_another_url_or_no_script(self):
        root = deploy_root(self, kernel=b'')
        port = serve_directory(self, root)
        write_boot_script(root, 'http://10.9.9.9:8089')
        problems = validate.probe_deploy_server(
            'http://127.0.0.1:%d' % port, 3.0)
        self.assertEqual(2, len(problems), problems)
        self.assertIn('the script chains to another URL', problems[0])
        self.assertEqual('HEAD /deploy/kernel: empty', problems[1])
        with open(os.path.join(root, 'boot.ipxe'), 'w') as f:
            f.write('<html>hello</html>')
        self.assertEqual(['GET /boot.ipxe: not an iPXE script'],
                         validate.probe_deploy_server(
                             'http://127.0.0.1:%d' % port, 3.0)[:1])

    def test_a_closed_port(self):
        port = closed_port(self)
        self.assertEqual(['GET /boot.ipxe: Connection refused'],
                         validate.probe_deploy_server(
                             'http://127.0.0.1:%d' % port, 3.0))

    def test_a_silent_server_is_bounded(self):
        port = silent_port(self)
        start = time.monotonic()
        problems = validate.probe_deploy_server(
            'http://127.0.0.1:%d' % port, 0.5)
        self.assertLess(time.monotonic() - start, 2.0)
        self.assertEqual(['GET /boot.ipxe: no answer within 0.5 s'],
                         problems)

    def test_deploy_host_waits_no_longer_than_its_timeout(self):
        self.conf.config(deploy_http_url='http://127.0.0.1:%d'
                         % silent_port(self), group='baremetal')
        start = time.monotonic()
        host = validate.DeployHost(timeout=0.5)
        problems = host.server_problems()
        self.assertLess(time.monotonic() - start, 2.0)
        self.assertEqual(1, len(problems), problems)
        self.assertIn('no answer within 0.5 s', problems[0])

    def test_not_an_http_url_and_no_password_shown(self):
        self.assertEqual(['ftp://host/x is not an http:// or https:// URL'],
                         validate.probe_deploy_server('ftp://u:pw@host/x',
                                                      1.0))
        self.assertEqual(['http://[::1 is not a valid URL: Invalid IPv6 URL'],
                         validate.probe_deploy_server('http://u:pw@[::1',
                                                      1.0))
        port = closed_port(self)
        self.conf.config(deploy_http_url='http://u:secret-pw@127.0.0.1:%d'
                         % port, group='baremetal')
        node = types.SimpleNamespace(deploy_interface='image',
                                     service_host='proxy-1')
        result, reason = validate.deploy(node, [], validate.DeployHost())
        self.assertIs(False, result)
        self.assertNotIn('secret-pw', reason)
        self.assertIn('http://127.0.0.1:%d: GET /boot.ipxe' % port, reason)
