"""A real Nova in one process, a fake BMC fleet, and the demo's steps.

Built on Nova's own functional-test harness (``nova.tests.functional``,
shipped with Nova): ``ProviderUsageBaseTestCase`` starts the API (served
over an intercepted HTTP socket), conductor, scheduler and placement on
SQLite and in-memory messaging; the demo adds nova-bm-scheduler's manager,
the nova-compute proxy loading ``nova_bm.BareMetalDriver`` by name, a node
database and ``nova-bm-fakebmc`` BMCs, each driving a QEMU machine (the
lab, ``nova_bm.testing.machine``) unless the demo is power-only. With
machines, every server is a real deploy: the machine's firmware boots
nova-bm's deploy ramdisk from the proxy, which writes the server's Glance
image and its config drive to the machine's disk; the machine then boots
that disk, a small Linux (``nova_bm.testing.linux_image``) that prints its
name and what it reads from the config drive (the instance's UUID, its key
pair's comment, its user-data) on the serial console; deleting the server
cleans the disk.
The harness is a test case, so the demo runs as one: ``run()`` runs it and
turns its outcome into an exit status and the name of the step that failed.
"""

import nova.tests.functional  # noqa: F401  (first: concurrency mode)

import base64  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402

from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova.tests.functional.api import client as api_client  # noqa: E402
from nova.tests.functional import integrated_helpers  # noqa: E402
import yaml  # noqa: E402

from nova_bm.cli import node as node_commands  # noqa: E402
from nova_bm.cmd import build_ramdisk  # noqa: E402
from nova_bm.common import states  # noqa: E402
from nova_bm.conf import CONF  # noqa: E402
from nova_bm.db import api as db_api  # noqa: E402
from nova_bm.db import migration  # noqa: E402
from nova_bm.demo import commands as demo_commands  # noqa: E402
from nova_bm.enrolment import node_file  # noqa: E402
from nova_bm.power import base as power_base  # noqa: E402
from nova_bm.power import ipmi  # noqa: E402
from nova_bm.power import ipmi_loop  # noqa: E402
from nova_bm.ramdisk import builder  # noqa: E402
from nova_bm.scheduler import manager as scheduler_manager  # noqa: E402
from nova_bm.testing import fakebmc  # noqa: E402
from nova_bm.testing import images  # noqa: E402
from nova_bm.testing import linux_image  # noqa: E402
from nova_bm.testing import nova_harness  # noqa: E402

PROXY = 'bm-proxy'
RESOURCE_CLASS = 'baremetal-demo'
PLACEMENT_RC = 'CUSTOM_BAREMETAL_DEMO'
NODE_SIZE = {'cpus': 8, 'memory_mb': 16384, 'local_gb': 100}
# A QEMU machine of the lab: what the node says is what the machine has
# (a sparse disk: at least [baremetal] root_disk_min_gb, 4 GiB).
MACHINE_SIZE = {'cpus': 1, 'memory_mb': 512, 'local_gb': 4}
#: The key pair the demo's servers get; its comment comes back from each
#: machine's config drive.
KEY_NAME = 'demo-key'
KEY_COMMENT = 'nova-bm-demo-key'
BMC_USER = 'admin'
SETTLE_TIMEOUT = 60
# A deploy under TCG on two cores: about 30-60 s; several at once share
# the cores.
DEPLOY_TIMEOUT = 600
# QEMU's user-mode network: the host's loopback seen from a machine.
HOST_FROM_MACHINE = '10.0.2.2'
EXACT_FILTERS = ['ExactRamFilter', 'ExactCoreFilter', 'ExactDiskFilter']
#: And the one that keeps an image's hw_firmware_type on its boot mode.
NOVA_BM_FILTERS = EXACT_FILTERS + ['BootModeFilter']
# Captured at import: the harness points tempfile at per-test directories
# nested five deep, which would make the paths --keep prints unreadable.
_TEMP_ROOT = tempfile.gettempdir()


class StepFailed(Exception):
    """A demo step did not do what it must; the message says what."""


class Progress:
    """One line per step on stdout, with the seconds since the start."""

    def __init__(self, stream=sys.stdout):
        self.stream = stream
        self.start = time.monotonic()
        self.step = 'start'

    def begin(self, step):
        self.step = step
        self.say('%s ...' % step)

    def say(self, text):
        self.stream.write('[%5.1fs] %s\n' % (time.monotonic() - self.start,
                                             text))
        self.stream.flush()

    def show(self, text):
        self.stream.write(text + '\n')
        self.stream.flush()


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows))
              for i, h in enumerate(headers)]
    line = '+-' + '-+-'.join('-' * w for w in widths) + '-+'

    def row(values):
        return '| ' + ' | '.join(str(v).ljust(w) for v, w in
                                 zip(values, widths, strict=True)) + ' |'
    return '\n'.join([line, row(headers), line] + [row(r) for r in rows]
                     + [line])


class DemoCloud(integrated_helpers.ProviderUsageBaseTestCase):
    """The demo as a test case of Nova's harness: setUp starts Nova."""

    compute_driver = 'nova_bm.BareMetalDriver'
    # Nova's node-identity check runs for real, as in production.
    STUB_COMPUTE_ID = False

    nodes = 8
    servers = 3
    keep = False
    machines = True
    progress = None

    def setUp(self):
        self.progress.begin('start Nova: API, conductor, scheduler '
                            '(nova-bm-scheduler, exact and boot mode '
                            'filters), placement')
        # Nova's harness takes its cell and database locks in both orders;
        # one order (nova_bm.testing.nova_harness).
        self.useFixture(nova_harness.ConsistentCellLockOrder())
        # Nova installed from PyPI keeps api-paste.ini under sys.prefix.
        self.flags(api_paste_config=os.path.join(
            sys.prefix, 'etc', 'nova', 'api-paste.ini'), group='wsgi')
        # nova-bm's filters, as doc/source/install/scheduler.rst enables
        # them.
        self.flags(available_filters=['nova.scheduler.filters.all_filters']
                   + ['nova_bm.scheduler.filters.%s' % name
                      for name in NOVA_BM_FILTERS],
                   enabled_filters=CONF.filter_scheduler.enabled_filters
                   + NOVA_BM_FILTERS, group='filter_scheduler')
        super().setUp()
        self.state = tempfile.mkdtemp(prefix='nova-bm-demo-', dir=_TEMP_ROOT)
        self.addCleanup(shutil.rmtree, self.state, True)
        self.flags(state_path=self.state)
        # A whole machine per server: Nova's default 20-core quota would
        # stop the third 8-core server.
        self.flags(cores=-1, ram=-1, instances=-1, group='quota')
        self.flags(connection='sqlite:///%s' % os.path.join(
            self.state, 'nova_bm.sqlite'), group='baremetal_database')
        self.flags(ipmi_timeout=2.0, power_state_poll_interval=0.1,
                   power_sync_interval=10, group='baremetal')
        self.addCleanup(db_api.dispose)
        self.addCleanup(ipmi_loop.reset_loop)
        migration.upgrade()

    def start_service(self, name, *args, **kwargs):
        if name == 'scheduler':
            kwargs.setdefault('manager', scheduler_manager.MANAGER)
        service = super().start_service(name, *args, **kwargs)
        if name == 'scheduler':
            enabled = [type(f).__name__
                       for f in service.manager.host_manager.enabled_filters]
            self.progress.say('scheduler: %s, filters %s' % (
                type(service.manager.host_manager).__name__,
                ', '.join(enabled)))
        return service

    # -- the steps -------------------------------------------------------

    def test_demo(self):
        step = self.progress.begin
        if self.machines:
            step('build the deploy ramdisk (nova-bm-build-ramdisk: Debian\'s '
                 'kernel and busybox, nova-bm\'s /init)')
            self.build_ramdisk()
        step('start %d fake BMCs (IPMI 2.0 over UDP on 127.0.0.1)%s'
             % (self.nodes, ', each driving a QEMU machine (the first with '
                'UEFI firmware, OVMF; the others SeaBIOS)'
                if self.machines else ''))
        self.password = secrets.token_urlsafe(12)
        self.fleet = fakebmc.Fleet(
            self.nodes, fakebmc.free_port_range(self.nodes),
            username=BMC_USER, password=self.password,
            machines=self.machine_options())
        self.fleet.start()
        self.addCleanup(self.fleet.stop)

        path = self.write_node_file()
        specs = node_file.load(path, default_host=PROXY)
        if self.machines:
            step('enrol %d nodes by their BMC addresses alone, to be '
                 'inspected (nova-bm-manage node import --inspect: a node '
                 'file of driver_info and resource_class)' % self.nodes)
            node_commands.to_inspect(specs, path)
        else:
            step('enrol %d nodes from a node file (nova-bm-manage node '
                 'import)' % self.nodes)
        db_api.create_nodes(specs)

        step('start nova-compute %r with compute_driver = '
             'nova_bm.BareMetalDriver' % PROXY)
        self._start_compute(PROXY)
        self.wait_for_hypervisors()
        if self.machines:
            step('inspect them: each boots the deploy ramdisk, which reads '
                 'its hardware (a machine with no known MAC is found by '
                 'the system GUID its BMC reports); the nodes are filled '
                 'from it')
            self.wait_for_nodes(states.MANAGEABLE, states.INSPECTING)
            self.progress.show(self.inventory_table())
            step('provide them (nova-bm-manage node provide --all): each '
                 'is cleaned, then available')
            self.provide()

        size = self.node_size()
        step('create flavor bm.demo (resources:%s=1)' % PLACEMENT_RC)
        self.flavor = self._create_flavor(
            name='bm.demo', vcpu=size['cpus'], memory_mb=size['memory_mb'],
            disk=size['local_gb'], ephemeral=0, extra_spec={
                'resources:%s' % PLACEMENT_RC: '1', 'resources:VCPU': '0',
                'resources:MEMORY_MB': '0', 'resources:DISK_GB': '0'})

        if self.machines:
            step('upload %d whole-disk images to Glance, each a small Linux '
                 'that prints its name and reads its config drive when it '
                 'boots (demo-1 for UEFI, the others for BIOS: '
                 'hw_firmware_type)' % self.servers)
            self.upload_images()
            step('create key pair %s through the Nova API' % KEY_NAME)
            self.create_key_pair()
            step('boot %d servers through the Nova API with the key pair, '
                 'user-data and a config drive (each a real deploy: '
                 'firmware iPXE -> deploy ramdisk -> image and config drive '
                 'on disk -> boot from disk)' % self.servers)
        else:
            step('boot %d servers through the Nova API' % self.servers)
        servers = self.boot_servers()

        step('read every node over IPMI%s' % (
            ', and its serial console' if self.machines else ''))
        self.check_booted(servers)
        self.progress.show(self.node_table(servers))
        if self.machines:
            step('read each server\'s console log through the Nova API '
                 '(os-getConsoleOutput: the node\'s IPMI Serial-over-LAN): '
                 'what its system read from its config drive')
            self.progress.show(self.console_logs(servers))

        if self.keep:
            self.wait_for_user(servers)

        step('delete the servers through the Nova API')
        self.delete_servers(servers)
        if self.machines:
            self.progress.show(self.node_table([]))
            step('wait for cleaning: the deploy ramdisk erases both ends of '
                 'each disk, then the node is available again')
            self.wait_for_cleaning()

        step('read every node over IPMI again')
        self.check_released()
        self.progress.show(self.node_table([]))
        if self.machines:
            self.progress.say(
                'done: %d servers deployed on %d distinct machines, each '
                'booted its own disk; deleted and cleaned'
                % (len(servers), len(servers)))
        else:
            self.progress.say('done: %d servers booted on %d distinct '
                              'nodes, powered on, then off after delete'
                              % (len(servers), len(servers)))

    # -- helpers ---------------------------------------------------------

    def node_name(self, index):
        return 'bm-%02d' % index

    def node_size(self):
        return MACHINE_SIZE if self.machines else NODE_SIZE

    def build_ramdisk(self):
        """The deploy kernel and initramfs, built as operators build them;
        the proxy serves them to the machines over HTTP."""
        output = os.path.join(self.state, 'ramdisk')
        try:
            builder.build(output, build_ramdisk.DEFAULT_CACHE)
        except (builder.BuildError, OSError) as e:
            raise StepFailed('cannot build the deploy ramdisk: %s' % e)
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            self.http_port = probe.getsockname()[1]
        self.flags(my_ip='127.0.0.1')
        self.flags(deploy_kernel=os.path.join(output, builder.KERNEL),
                   deploy_ramdisk=os.path.join(output, builder.INITRAMFS),
                   deploy_http_bind='127.0.0.1:%d' % self.http_port,
                   deploy_http_url='http://%s:%d' % (HOST_FROM_MACHINE,
                                                     self.http_port),
                   deploy_timeout=DEPLOY_TIMEOUT, deploy_poll_interval=1,
                   group='baremetal')
        with open(os.path.join(output, 'deploy.sha256')) as f:
            self.progress.say('deploy ramdisk: %s' % f.read().splitlines()[
                -1].lstrip('# '))

    def machine_options(self):
        if not self.machines:
            return None
        return {'directory': os.path.join(self.state, 'machines'),
                'boot_url': 'http://%s:%d/boot.ipxe' % (HOST_FROM_MACHINE,
                                                        self.http_port),
                'disk_bytes': MACHINE_SIZE['local_gb'] << 30,
                'memory_mb': MACHINE_SIZE['memory_mb'],
                'boot_modes': [self.boot_mode(i) for i in range(self.nodes)]}

    @staticmethod
    def boot_mode(index):
        """The first machine's firmware is UEFI (OVMF), the others'
        SeaBIOS: both kinds deploy side by side."""
        return states.UEFI if index == 0 else states.BIOS

    @staticmethod
    def mac(index):
        """A node's MAC without machines (a lab machine's own MAC is
        found by inspection)."""
        return '52:54:00:de:%02x:%02x' % divmod(index, 256)

    def write_node_file(self):
        """An Ironic-style node file, as operators keep their inventory."""
        if self.machines:
            return self._write_node_file({'nodes': [{
                'name': self.node_name(i), 'driver': 'ipmi',
                'resource_class': RESOURCE_CLASS,
                'driver_info': {'ipmi_address': '127.0.0.1',
                                'ipmi_port': port,
                                'ipmi_username': BMC_USER,
                                'ipmi_password': self.password},
                # The firmware's boot path, as an operator knows a model's:
                # the BMC is told it when the node boots the ramdisk.
                'properties': {
                    'capabilities': 'boot_mode:%s' % self.boot_mode(i)},
                'deploy_interface': 'image',
                'provision_state': 'enroll',
            } for i, port in enumerate(self.fleet.ports)]})
        document = {'nodes': [{
            'name': self.node_name(i), 'driver': 'ipmi',
            'resource_class': RESOURCE_CLASS,
            'driver_info': {'ipmi_address': '127.0.0.1', 'ipmi_port': port,
                            'ipmi_username': BMC_USER,
                            'ipmi_password': self.password},
            'properties': dict(self.node_size(), cpu_arch='x86_64'),
            'ports': [{'address': self.mac(i)}],
            # Power only without machines: no disk to deploy to.
            'deploy_interface': 'netboot',
            # Offered to Nova at once, not enrolled to be checked first
            # ([baremetal] enrolled_node_state).
            'provision_state': 'available',
        } for i, port in enumerate(self.fleet.ports)]}
        return self._write_node_file(document)

    def _write_node_file(self, document):
        path = os.path.join(self.state, 'nodes.yaml')
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as f:
            yaml.safe_dump(document, f)
        return path

    def hypervisors(self):
        return self.admin_api.api_get(
            '/os-hypervisors').body['hypervisors']

    def wait_for_hypervisors(self):
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while len(self.hypervisors()) < self.nodes:
            if time.monotonic() > deadline:
                raise StepFailed('Nova shows %d of %d nodes as hypervisors'
                                 % (len(self.hypervisors()), self.nodes))
            time.sleep(0.2)
        self.progress.say('Nova lists %d hypervisors: %s' % (
            self.nodes, ', '.join(sorted(
                h['hypervisor_hostname'] for h in self.hypervisors()))))

    def upload_images(self):
        """One image per server, named like it: its console says which
        disk it booted, then what its config drive holds. The first is a
        UEFI image (GPT, GRUB in an EFI System Partition), the others
        BIOS images (MBR, SYSLINUX), each saying so in its
        ``hw_firmware_type``: the scheduler's BootModeFilter sends each
        to a machine that boots it."""
        self.images = {}
        for i in range(1, self.servers + 1):
            name = 'demo-%d' % i
            firmware = self.boot_mode(i - 1)
            path = os.path.join(self.state, '%s.img' % name)
            try:
                linux_image.build(path, name, build_ramdisk.DEFAULT_CACHE,
                                  firmware=firmware)
            except (builder.BuildError, OSError) as e:
                raise StepFailed('cannot build image %s: %s' % (name, e))
            with open(path, 'rb') as f:
                data = f.read()
            os.unlink(path)
            self.images[name] = self.glance.create(
                nova_context.get_admin_context(),
                {'name': name, 'disk_format': 'raw',
                 'container_format': 'bare', 'size': len(data),
                 'properties': {'hw_firmware_type': firmware}},
                data=io.BytesIO(data))['id']

    def create_key_pair(self):
        """A key pair as a tenant uploads one (an Ed25519 public key)."""
        key = ed25519.Ed25519PrivateKey.generate().public_key()
        public = key.public_bytes(serialization.Encoding.OpenSSH,
                                  serialization.PublicFormat.OpenSSH)
        self.api.post_keypair({'keypair': {
            'name': KEY_NAME,
            'public_key': '%s %s' % (public.decode(), KEY_COMMENT)}})

    @staticmethod
    def user_data(name):
        return 'hello from %s' % name

    def boot_servers(self):
        posted = []
        for i in range(1, self.servers + 1):
            name = 'demo-%d' % i
            extra = ({'image_uuid': self.images[name]} if self.machines
                     else {})
            server = self._build_server(name=name, flavor_id=self.flavor,
                                        networks='none', **extra)
            if self.machines:
                server.update(config_drive=True, key_name=KEY_NAME,
                              user_data=base64.b64encode((
                                  '#!/bin/sh\nnova-bm-marker: %s\n'
                                  % self.user_data(name)).encode()).decode())
            posted.append(self.api.post_server({'server': server}))
        timeout = DEPLOY_TIMEOUT if self.machines else SETTLE_TIMEOUT
        deadline = time.monotonic() + timeout
        servers = {}
        while len(servers) < len(posted):
            for server in posted:
                server = self.api.get_server(server['id'])
                if server['status'] == 'ERROR':
                    raise StepFailed('server %s went to ERROR: %s' % (
                        server['name'],
                        server.get('fault', {}).get('message')))
                if server['status'] == 'ACTIVE':
                    servers[server['id']] = server
            if time.monotonic() > deadline:
                raise StepFailed('%d of %d servers ACTIVE after %d s' % (
                    len(servers), len(posted), timeout))
            time.sleep(0.2)
        self.progress.say('%d servers ACTIVE' % len(servers))
        return [servers[s['id']] for s in posted]

    def delete_servers(self, servers):
        for server in servers:
            self.api.delete_server(server['id'])
        deadline = time.monotonic() + SETTLE_TIMEOUT
        for server in servers:
            while True:
                try:
                    self.api.get_server(server['id'])
                except api_client.OpenStackApiNotFoundException:
                    break
                if time.monotonic() > deadline:
                    raise StepFailed('server %s still there after %d s'
                                     % (server['name'], SETTLE_TIMEOUT))
                time.sleep(0.2)

    def read_bmcs(self):
        """Node name -> (node row, power state, boot device), over IPMI."""
        power = ipmi.IPMIPower()
        nodes = db_api.list_nodes()
        power_states = power.get_power_states(nodes)
        result = {}
        for node in nodes:
            state = power_states.get(node.uuid)
            if isinstance(state, Exception):
                raise StepFailed('BMC of %s: %s' % (node.name, state))
            boot = power.get_boot_device(node)
            result[node.name] = (node, state, boot['boot_device'])
        return result

    def node_table(self, servers):
        by_node = {s['OS-EXT-SRV-ATTR:hypervisor_hostname']: s
                   for s in servers}
        rows = []
        for name, (node, state, boot) in sorted(self.read_bmcs().items()):
            server = by_node.get(name)
            row = (
                name, '%s:%d' % (node.ipmi_address, node.ipmi_port), state,
                boot, '%s (%s)' % (server['name'], server['id'])
                if server else '-',
                server['OS-EXT-SRV-ATTR:hypervisor_hostname']
                if server else '-', node.provision_state)
            if self.machines:
                row += (self.console_line(node) or '-',)
            rows.append(row)
        headers = ('node', 'BMC', 'power (IPMI)', 'boot device', 'instance',
                   'hypervisor_hostname', 'provision state')
        if self.machines:
            headers += ('console, last line',)
        return table(headers, rows)

    def console_line(self, node):
        """The last line the node's machine printed on its serial console
        (what its disk's boot code, or the deploy ramdisk, said last)."""
        path = os.path.join(self.fleet.machine_directory(node.ipmi_port),
                            'serial.log')
        try:
            with open(path, 'rb') as f:
                text = f.read()[-4096:].decode('ascii', 'replace')
        except FileNotFoundError:
            return None
        lines = [''.join(c for c in line if c.isprintable()).strip()
                 for line in text.splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            return None
        # SeaBIOS prints its "Booting from Hard Disk.." on the same line.
        return lines[-1].split('Booting from Hard Disk..')[-1].strip()

    def console_logs(self, servers):
        """Each server's console log, as a tenant reads it: its image's
        marker, then what its system read from its config drive: the
        server's UUID, the key pair's comment, the user-data."""
        rows = []
        for server in servers:
            deadline = time.monotonic() + SETTLE_TIMEOUT
            while True:
                output = self.api.post_server_action(
                    server['id'], {'os-getConsoleOutput': {}})['output']
                read = linux_image.lines(output)
                if (read['done'] and images.marker(server['name'])
                        in output):
                    break
                if time.monotonic() > deadline:
                    raise StepFailed('%s: its console log shows no config '
                                     'drive read: %r' % (server['name'],
                                                         output[-300:]))
                time.sleep(0.2)
            node = db_api.get_node(
                server['OS-EXT-SRV-ATTR:hypervisor_hostname'])
            expected = (server['id'], KEY_COMMENT,
                        self.user_data(server['name']), node.boot_mode)
            got = (read['uuid'], read['key'], read['user-data'],
                   read['firmware'])
            if got != expected:
                raise StepFailed('%s: its config drive says %r, not %r'
                                 % (server['name'], got, expected))
            rows.append((server['name'], 'image %s booted' % server['name'],
                         read['key'], read['user-data'], 'its own',
                         read['firmware']))
        return table(('server', 'console log (Nova API)',
                      'key pair (config drive)', 'user-data (config drive)',
                      'instance UUID (config drive)', 'firmware'), rows)

    def check_booted(self, servers):
        nodes = [s['OS-EXT-SRV-ATTR:hypervisor_hostname'] for s in servers]
        if len(set(nodes)) != len(servers):
            raise StepFailed('servers share nodes: %s' % nodes)
        bmcs = self.read_bmcs()
        # Power-only nodes boot from the network; deployed ones their disk.
        expected_boot = 'disk' if self.machines else 'pxe'
        for server, name in zip(servers, nodes, strict=True):
            node, state, boot = bmcs[name]
            if (state, boot) != (power_base.POWER_ON, expected_boot):
                raise StepFailed('%s holds %s but its BMC reports power %s, '
                                 'boot device %s' % (name, server['name'],
                                                     state, boot))
            if node.instance_uuid != server['id']:
                raise StepFailed('%s is not claimed by %s' % (
                    name, server['name']))
            if self.machines:
                self.wait_for_marker(node, server['name'])

    def wait_for_marker(self, node, label):
        """The machine booted its disk: the image's line is on its console,
        then its system read the config drive (within seconds of ACTIVE;
        TCG is slow on a busy machine)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while not self.read_config_drive(node, label):
            if time.monotonic() > deadline:
                raise StepFailed('%s: the console shows %r, not image %s '
                                 'reading its config drive' % (
                                     node.name, self.console_line(node),
                                     label))
            time.sleep(0.2)

    def read_config_drive(self, node, label):
        """Whether the machine's console shows image ``label`` booted and
        done reading its config drive."""
        path = os.path.join(self.fleet.machine_directory(node.ipmi_port),
                            'serial.log')
        try:
            with open(path, 'rb') as f:
                text = f.read().decode('ascii', 'replace')
        except FileNotFoundError:
            return False
        return (images.marker(label) in text
                and linux_image.lines(text)['done'])

    def wait_for_cleaning(self):
        self.wait_for_nodes(states.AVAILABLE, states.CLEANING)

    def wait_for_nodes(self, state, passing):
        """Until every node is ``state``; one that is neither that nor
        ``passing`` fails the step."""
        deadline = time.monotonic() + DEPLOY_TIMEOUT
        while True:
            nodes = {node.name: (node.provision_state, node.last_error)
                     for node in db_api.list_nodes()}
            if {found for found, _ in nodes.values()} <= {state}:
                return
            failed = {n: s for n, s in nodes.items()
                      if s[0] not in (state, passing)}
            if failed or time.monotonic() > deadline:
                raise StepFailed('nodes not %s: %s' % (state, ', '.join(
                    '%s %s%s' % (name, found, ' (%s)' % error if error
                                 else '') for name, (found, error) in sorted(
                        (failed or nodes).items()))))
            time.sleep(0.5)

    def inventory_table(self):
        """What inspection found and filled in, per node."""
        rows = []
        for node in sorted(db_api.list_nodes(), key=lambda n: n.name):
            found = db_api.get_inventory(node.uuid)
            rows.append((
                node.name, node.cpus, node.memory_mb, node.local_gb,
                node.boot_mode, ', '.join('%s %s' % (
                    disk['name'], disk['size']) for disk in found['disks']),
                ', '.join(nic['mac'] for nic in found['interfaces']),
                node.provision_state))
        return table(('node', 'cpus', 'memory_mb', 'local_gb', 'boot mode',
                      'disks (bytes)', 'NICs', 'provision state'), rows)

    def provide(self):
        """``node provide`` of every node: cleaning, which the proxy
        starts at its next resource cycle, then available."""
        for node in db_api.list_nodes():
            db_api.change_provision_state(
                node.uuid, (states.MANAGEABLE,), states.CLEANING,
                'only manageable nodes can be provided', maintenance=False)
        self._run_periodics()
        self.wait_for_cleaning()
        # Placement offers them from the next resource cycle on.
        self._run_periodics()

    def check_released(self):
        for name, (node, state, _boot) in self.read_bmcs().items():
            if state != power_base.POWER_OFF or node.instance_uuid:
                raise StepFailed('%s: power %s, instance %s after delete'
                                 % (name, state, node.instance_uuid))
            if node.provision_state != 'available':
                raise StepFailed('%s is %s after delete' % (
                    name, node.provision_state))

    def wait_for_user(self, servers):
        """Print commands to look at the cloud with (runnable as printed:
        :mod:`nova_bm.demo.commands`), then wait for Ctrl-C."""
        conf, secret = demo_commands.write_files(
            self.state, PROXY, CONF.baremetal_database.connection,
            self.password)
        name = servers[0]['OS-EXT-SRV-ATTR:hypervisor_hostname']
        port = {node.name: node.ipmi_port
                for node in db_api.list_nodes()}[name]
        serial_log = (os.path.join(self.fleet.machine_directory(port),
                                   'serial.log') if self.machines else None)
        self.progress.show(demo_commands.message(demo_commands.commands(
            conf, name, port, BMC_USER, secret, serial_log)))
        stop = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *a: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        finally:
            signal.signal(signal.SIGINT, previous)


def run(nodes, servers, keep=False, machines=True, stream=sys.stdout):
    """Run the demo; return the exit status (0: every step did its job).

    Nova's services log into the harness's capture while the demo runs;
    outside it (start-up, shutdown) their INFO lines would bury the
    progress, so only warnings and errors reach stderr.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    quiet = logging.StreamHandler(sys.stderr)
    quiet.setLevel(logging.WARNING)
    root.addHandler(quiet)
    progress = Progress(stream)
    case = DemoCloud('test_demo')
    case.nodes, case.servers, case.keep = nodes, servers, keep
    case.machines = machines
    case.progress = progress
    result = unittest.TestResult()
    case.run(result)
    problems = result.errors + result.failures
    if not problems:
        return 0
    reason = problems[0][1].strip().splitlines()[-1]
    sys.stderr.write('nova-bm-demo: step "%s" failed: %s\n'
                     % (progress.step, reason))
    return 1
