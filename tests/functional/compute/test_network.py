"""A bare-metal server's Neutron ports on its node's own NICs.

Real Nova in-process against Nova's functional ``NeutronFixture``,
subclassed to behave as Neutron does where the stock one does not for
bare metal: it refuses a MAC change on a bound port (409, as Neutron's
PortBound), unbinds a port that was never bound (the stock fixture raises
``KeyError: None`` for a driver whose binding host is None), resets a MAC
set to null, and applies ``extra_dhcp_opts`` as Neutron does (a null
``opt_value`` deletes the option). Every ``update_port`` body is recorded,
in order.
"""

import copy
import random
import time

from neutronclient.common import exceptions as neutron_client_exc
from nova import exception as nova_exception
from nova.tests import fixtures as nova_fixtures
from nova.tests.functional.api import client as api_client

from nova_bm.db import api as db_api
from tests.functional.compute import test_deploy

NETWORK = nova_fixtures.NeutronFixture.network_1['id']
PXE_OPTION = 'tag:ipxe,67'


class BareMetalNeutronFixture(nova_fixtures.NeutronFixture):

    def __init__(self, test):
        super().__init__(test)
        #: ``(port id, body)`` of every update_port, in order.
        self.updates = []
        #: Answer bindings as Neutron does when no ML2 mechanism driver
        #: binds ``vnic_type`` baremetal.
        self.no_baremetal_driver = False

    def create_user_port(self, name):
        """A port made by the user before the server (Nova keeps it)."""
        port = copy.deepcopy(self.default_port)
        port.update(id='%08x-0000-4000-8000-%012x' % (
            random.getrandbits(32), random.getrandbits(48)),
            name=name, mac_address='fa:16:3e:%02x:%02x:%02x' % tuple(
                random.getrandbits(8) for _ in range(3)),
            device_id='', device_owner='')
        self._ports[port['id']] = port
        return port

    def port(self, port_id):
        return self.show_port(port_id)['port']

    def update_port(self, port_id, body=None):
        if port_id not in self._ports:
            raise neutron_client_exc.PortNotFoundClient()
        self.updates.append((port_id, copy.deepcopy(body)))
        port = self._ports[port_id]
        changes = copy.deepcopy(body['port'])
        if 'mac_address' in changes:
            if port.get('binding:host_id'):
                raise neutron_client_exc.Conflict(
                    message='PortBound: Unable to complete operation on port '
                            '%s, port is already bound' % port_id)
            if changes['mac_address'] is None:
                changes['mac_address'] = 'fa:16:3e:%02x:%02x:%02x' % tuple(
                    random.getrandbits(8) for _ in range(3))
        if 'extra_dhcp_opts' in changes:
            options = {(o['opt_name'], o.get('ip_version', 4)): o
                       for o in port.get('extra_dhcp_opts') or ()}
            for option in changes['extra_dhcp_opts']:
                key = (option['opt_name'], option.get('ip_version', 4))
                if option.get('opt_value') is None:
                    options.pop(key, None)
                else:
                    options[key] = option
            changes['extra_dhcp_opts'] = list(options.values())
        port.update(changes)
        if 'binding:host_id' in changes:
            host, _ = self._get_active_binding(port_id)
            self._port_bindings[port_id].pop(host, None)
            if changes['binding:host_id']:
                self._port_bindings[port_id][changes['binding:host_id']] = {
                    'host': changes['binding:host_id'], 'status': 'ACTIVE',
                    'vif_type': port['binding:vif_type'],
                    'vnic_type': port['binding:vnic_type'],
                    'profile': copy.deepcopy(port.get('binding:profile', {})),
                }
            else:
                # Unbound: what Neutron shows.
                port['binding:host_id'] = ''
        answer = copy.deepcopy(port)
        if (self.no_baremetal_driver and changes.get('binding:host_id')
                and port.get('binding:vnic_type') == 'baremetal'):
            answer['binding:vif_type'] = 'binding_failed'
        return {'port': answer}


class NetworkTestCase(test_deploy.DeployTestCase):

    def setUp(self):
        super().setUp()
        self.neutron = self.useFixture(BareMetalNeutronFixture(self))

    def boot_with(self, index, networks, expected_state='ACTIVE'):
        server = self._build_server(
            name='net-%d' % index, flavor_id=self.flavor,
            image_uuid=self.image['id'], networks=networks,
            az='nova:%s:%s' % (self.PROXY, self.node_name(index)))
        server = self.admin_api.post_server({'server': server})
        return self._wait_for_state_change(server, expected_state)

    def ports_of(self, server):
        return [i['port_id'] for i in self.api.get_port_interfaces(
            server['id'])]

    def ours(self, port_id):
        """The bodies this driver sent for ``port_id``, from its MAC update
        on (Nova's own updates come first)."""
        bodies = [body['port'] for port, body in self.neutron.updates
                  if port == port_id]
        first = next(i for i, b in enumerate(bodies) if 'mac_address' in b)
        return bodies[first:]

    def boot_url(self):
        return 'http://127.0.0.1:%d/boot.ipxe' % self.deploy_http_port


class PortBindingTestCase(NetworkTestCase):

    def test_nova_port_takes_the_nics_mac_then_binding_then_pxe_removed(self):
        self.start_proxy()
        server = self.boot_with(0, [{'uuid': NETWORK}])
        (port_id,) = self.ports_of(server)
        node = self.node(self.node_name(0))
        self.assertEqual([
            {'mac_address': self.mac(0)},
            {'binding:vnic_type': 'baremetal',
             'binding:host_id': node.uuid, 'binding:profile': {},
             'extra_dhcp_opts': [{'opt_name': PXE_OPTION,
                                  'opt_value': self.boot_url(),
                                  'ip_version': 4}]},
            {'extra_dhcp_opts': [{'opt_name': PXE_OPTION,
                                  'opt_value': None, 'ip_version': 4}]},
        ], self.ours(port_id))
        port = self.neutron.port(port_id)
        self.assertEqual((self.mac(0), node.uuid, 'baremetal', []), (
            port['mac_address'], port['binding:host_id'],
            port['binding:vnic_type'], port['extra_dhcp_opts']))
        # Nova's info cache (the metadata service, cloud-init) and
        # os-interface name the node's MAC.
        (interface,) = self.api.get_port_interfaces(server['id'])
        self.assertEqual(self.mac(0), interface['mac_addr'])
        server = self.api.get_server(server['id'])
        macs = [a['OS-EXT-IPS-MAC:mac_addr']
                for addresses in server['addresses'].values()
                for a in addresses]
        self.assertEqual({self.mac(0)}, set(macs))
        self.assertEqual([port_id], [i.vif_id for i in db_api.get_node(
            node.uuid, with_interfaces=True).interfaces])

        # Delete: unbound (Nova then deletes the port it made).
        self._delete_server(server)
        self.assertEqual({'binding:host_id': '', 'binding:profile': {}},
                         self.ours(port_id)[3])
        self.assertNotIn({'mac_address': None}, self.ours(port_id))
        self.assertRaises(nova_exception.PortNotFound, self.neutron.port,
                          port_id)
        self.assertEqual([None], [i.vif_id for i in db_api.get_node(
            node.uuid, with_interfaces=True).interfaces])

    def test_user_port_with_switch_port_is_unbound_and_its_mac_reset(self):
        node = self.node(self.node_name(1))
        (interface,) = db_api.get_node(node.uuid,
                                       with_interfaces=True).interfaces
        link = {'switch_id': '00:1a:2b:3c:4d:5e', 'port_id': 'Ethernet1/7'}
        db_api.update_interface(interface.address,
                                {'local_link_connection': link})
        self.start_proxy()
        port = self.neutron.create_user_port('mine')
        server = self.boot_with(1, [{'port': port['id']}])
        bound = self.neutron.port(port['id'])
        self.assertEqual((self.mac(1), node.uuid,
                          {'local_link_information': [link]}), (
            bound['mac_address'], bound['binding:host_id'],
            bound['binding:profile']))
        self._delete_server(server)
        ours = self.ours(port['id'])
        # Unbind, then the MAC reset in a call of its own.
        self.assertEqual([{'binding:host_id': '', 'binding:profile': {}},
                          {'mac_address': None}], ours[3:5])
        after = self.neutron.port(port['id'])
        self.assertNotEqual(self.mac(1), after['mac_address'])
        self.assertEqual('', after['binding:host_id'])

    def test_netboot_node_ports_bound_without_dhcp_options(self):
        db_api.update_node(self.node_name(2), {'deploy_interface': 'netboot'})
        self.start_proxy()
        server = self.boot_with(2, [{'uuid': NETWORK}])
        (port_id,) = self.ports_of(server)
        node = self.node(self.node_name(2))
        self.assertEqual([
            {'mac_address': self.mac(2)},
            {'binding:vnic_type': 'baremetal',
             'binding:host_id': node.uuid, 'binding:profile': {}},
        ], self.ours(port_id))
        self.assertEqual(self.mac(2),
                         self.api.get_port_interfaces(server['id'])[0][
                             'mac_addr'])


class TooManyPortsTestCase(NetworkTestCase):

    def test_two_ports_on_one_nic_nodes_refused_on_every_node(self):
        # Reschedules allowed: every node has one NIC, so each refuses.
        self.flags(max_attempts=3, group='scheduler')
        self.start_proxy()
        ports = [self.neutron.create_user_port('p%d' % i) for i in range(2)]
        server = self._build_server(
            name='two-ports', flavor_id=self.flavor,
            image_uuid=self.image['id'],
            networks=[{'port': p['id']} for p in ports])
        server = self.api.post_server({'server': server})
        server = self._wait_for_state_change(server, 'ERROR')
        # Nova's NoValidHost after the reschedules (MaxRetriesExceeded),
        # with the last node's reason.
        fault = server['fault']['message']
        self.assertIn('Exceeded max scheduling attempts 3', fault)
        self.assertIn('has no free network interface for port', fault)
        # Refused before any claim or power on: nothing bound, no MAC
        # taken, no node touched.
        for port in ports:
            after = self.neutron.port(port['id'])
            self.assertEqual(port['mac_address'], after['mac_address'])
            self.assertFalse(after.get('binding:host_id'))
        for _port_id, body in self.neutron.updates:
            self.assertNotIn('mac_address', body['port'])
        for index in range(self.NODES):
            name = self.node_name(index)
            self.assertIsNone(self.node(name).instance_uuid)
            self.assertNotIn('on', self.bmc(name)['actions'])
            self.assertEqual([None], [i.vif_id for i in db_api.get_node(
                name, with_interfaces=True).interfaces])


class AttachInterfaceTestCase(NetworkTestCase):

    SECOND_NIC = '52:54:00:be:ff:01'

    def test_attach_to_a_free_nic_then_detach(self):
        db_api.add_interface(self.node_name(3), self.SECOND_NIC,
                             pxe_enabled=False)
        self.start_proxy()
        server = self.boot_with(3, [{'uuid': NETWORK}])
        extra = self.neutron.create_user_port('extra')
        self.api.attach_interface(server['id'], {'interfaceAttachment': {
            'port_id': extra['id']}})
        macs = {i['port_id']: i['mac_addr']
                for i in self.api.get_port_interfaces(server['id'])}
        self.assertEqual(self.SECOND_NIC, macs[extra['id']])
        self.assertEqual({self.mac(3), self.SECOND_NIC}, set(macs.values()))
        node = self.node(self.node_name(3))
        bound = self.neutron.port(extra['id'])
        self.assertEqual((node.uuid, 'baremetal'), (
            bound['binding:host_id'], bound['binding:vnic_type']))
        # No DHCP boot options on an attached port: the node runs its OS.
        self.assertNotIn('extra_dhcp_opts', self.ours(extra['id'])[1])

        # Every NIC carries a port: a third is refused, nothing changed.
        third = self.neutron.create_user_port('third')
        error = self.assertRaises(
            api_client.OpenStackApiException, self.api.attach_interface,
            server['id'],
            {'interfaceAttachment': {'port_id': third['id']}})
        self.assertIn('Failed to attach network adapter', str(error))
        self.assertEqual(third['mac_address'],
                         self.neutron.port(third['id'])['mac_address'])
        self.assertEqual(2, len(self.api.get_port_interfaces(server['id'])))

        # Detach: unbound, MAC reset, the NIC free again.
        self.api.detach_interface(server['id'], extra['id'])
        self._wait_for_port_detach(server, extra)
        after = self.neutron.port(extra['id'])
        self.assertEqual('', after['binding:host_id'])
        self.assertNotEqual(self.SECOND_NIC, after['mac_address'])
        self.assertEqual({self.mac(3): self.ports_of(server)[0],
                          self.SECOND_NIC: None},
                         {i.address: i.vif_id for i in db_api.get_node(
                             node.uuid, with_interfaces=True).interfaces})

    def test_firmware_without_ipxe_gets_the_build_of_its_boot_mode(self):
        # With a TFTP server for PXE ROMs without iPXE: a UEFI node's port
        # names snponly.efi, a BIOS node's undionly.kpxe (Ironic's choice,
        # by the node's boot mode).
        self.flags(tftp_server='192.0.2.9', group='baremetal')
        db_api.update_node(self.node_name(0), {'boot_mode': 'uefi'})
        db_api.update_node(self.node_name(1), {'boot_mode': 'bios'})
        self.start_proxy()
        for index, loader in ((0, 'snponly.efi'), (1, 'undionly.kpxe')):
            server = self.boot_with(index, [{'uuid': NETWORK}])
            (port_id,) = self.ports_of(server)
            binding = self.ours(port_id)[1]
            self.assertIn({'opt_name': 'tag:!ipxe,67', 'opt_value': loader,
                           'ip_version': 4}, binding['extra_dhcp_opts'])
            # Gone once the node boots its disk.
            self.assertEqual([], self.neutron.port(port_id)[
                'extra_dhcp_opts'])

    def _wait_for_port_detach(self, server, port):
        deadline = time.monotonic() + 60
        while port['id'] in self.ports_of(server):
            self.assertLess(time.monotonic(), deadline,
                            'port %s still attached' % port['id'])
            time.sleep(0.1)


class DeployAndNetworkTestCase(NetworkTestCase):

    def test_rebuild_boots_from_the_network_again(self):
        self.start_proxy()
        server = self.boot_with(0, [{'uuid': NETWORK}])
        (port_id,) = self.ports_of(server)
        second = self.glance_image('B')
        self._rebuild_server(server, second['id'])
        pxe = [{'opt_name': PXE_OPTION, 'opt_value': self.boot_url(),
                'ip_version': 4}]
        removal = [dict(pxe[0], opt_value=None)]
        # After the spawn's three calls: the options again, then gone.
        self.assertEqual([{'extra_dhcp_opts': pxe},
                          {'extra_dhcp_opts': removal}],
                         self.ours(port_id)[3:])
        port = self.neutron.port(port_id)
        self.assertEqual((self.mac(0), []), (port['mac_address'],
                                             port['extra_dhcp_opts']))

    def test_failed_deploy_unbinds_and_resets_the_users_port(self):
        self.start_proxy()
        self.ramdisk.behaviour[self.node_name(2)] = 'fail'
        port = self.neutron.create_user_port('mine')
        server = self.boot_with(2, [{'port': port['id']}],
                                expected_state='ERROR')
        self.assertIn('the deploy ramdisk failed', self.fault(server))
        after = self.neutron.port(port['id'])
        self.assertEqual('', after['binding:host_id'])
        self.assertNotEqual(self.mac(2), after['mac_address'])
        self.assertEqual([None], [i.vif_id for i in db_api.get_node(
            self.node_name(2), with_interfaces=True).interfaces])

    def test_a_binding_no_mechanism_driver_makes_fails_before_power_on(self):
        self.neutron.no_baremetal_driver = True
        self.start_proxy()
        server = self.boot_with(1, [{'uuid': NETWORK}],
                                expected_state='ERROR')
        self.assertIn('binding_failed', self.fault(server))
        name = self.node_name(1)
        self.assertNotIn('on', self.bmc(name)['actions'])
        self.assertEqual(('available', None), (
            self.node(name).provision_state, self.node(name).instance_uuid))

    def test_delete_with_a_port_already_gone_is_not_an_error(self):
        self.start_proxy()
        port = self.neutron.create_user_port('short-lived')
        server = self.boot_with(3, [{'port': port['id']}])
        self.neutron.delete_port(port['id'])
        self._delete_server(server)
        name = self.node_name(3)
        self.assertIsNone(self.node(name).instance_uuid)
        self.assertEqual([None], [i.vif_id for i in db_api.get_node(
            name, with_interfaces=True).interfaces])

    def test_ports_of_a_deploy_cut_short_by_a_restart_are_unbound(self):
        self.start_proxy()
        self.ramdisk.behaviour[self.node_name(0)] = 'silent'
        port = self.neutron.create_user_port('mine')
        server = self.boot_with(0, [{'port': port['id']}],
                                expected_state='BUILD')
        self.wait_provision(0, 'deploying')
        self.assertEqual(self.mac(0),
                         self.neutron.port(port['id'])['mac_address'])
        # Nova deallocated the port when the spawn failed with the proxy
        # stopping, which left the node to the next start; that start
        # releases the node and gives the port its own MAC back.
        self.restart_compute_service(self.proxy, keep_hypervisor_state=False)
        self.wait_provision(0, 'available')
        after = self.neutron.port(port['id'])
        self.assertEqual('', after['binding:host_id'])
        self.assertNotEqual(self.mac(0), after['mac_address'])
        self._delete_server(server)
        self.assertEqual([None], [i.vif_id for i in db_api.get_node(
            self.node_name(0), with_interfaces=True).interfaces])
