"""Which port goes on which NIC, and the DHCP options of the boot NIC."""

import types

from nova import exception as nova_exception
from nova.network import model as network_model

from nova_bm.network import dhcp
from nova_bm.network import ports
from tests import base


def nic(id_, address, pxe=True, physnet=None):
    return types.SimpleNamespace(id=id_, address=address, pxe_enabled=pxe,
                                 physical_network=physnet)


def vif(port_id, physnet=None):
    return network_model.VIF(id=port_id, network=network_model.Network(
        id='net', meta={'physical_network': physnet} if physnet else {}))


class PairTestCase(base.TestCase):

    def node(self, *nics):
        return types.SimpleNamespace(name='n1', interfaces=list(nics))

    def test_the_boot_nic_first_then_enrolment_order(self):
        node = self.node(nic(1, 'aa', pxe=False), nic(2, 'bb'),
                         nic(3, 'cc', pxe=False))
        pairs = ports.pair(node, [vif('p1'), vif('p2'), vif('p3')])
        self.assertEqual([('p1', 'bb'), ('p2', 'aa'), ('p3', 'cc')],
                         [(v['id'], i.address) for v, i in pairs])

    def test_physical_network_decides_then_unknown_cabling(self):
        node = self.node(nic(1, 'aa', physnet='storage'),
                         nic(2, 'bb', physnet='tenant', pxe=False),
                         nic(3, 'cc', pxe=False))
        pairs = ports.pair(node, [vif('p1', 'tenant'), vif('p2', 'tenant'),
                                  vif('p3')])
        self.assertEqual([('p1', 'bb'), ('p2', 'cc'), ('p3', 'aa')],
                         [(v['id'], i.address) for v, i in pairs])

    def test_no_nic_for_a_port_is_refused_with_the_reason(self):
        node = self.node(nic(1, 'aa', physnet='storage'))
        error = self.assertRaises(nova_exception.InstanceDeployFailure,
                                  ports.pair, node, [vif('p1', 'tenant')])
        self.assertIn('node n1 has no free network interface for port p1 '
                      'on physical network tenant (1 port(s), 1 '
                      'interface(s))', str(error))
        error = self.assertRaises(nova_exception.InstanceDeployFailure,
                                  ports.pair, self.node(nic(1, 'aa')),
                                  [vif('p1'), vif('p2')])
        self.assertIn('for port p2 (2 port(s), 1 interface(s))', str(error))

    def test_taken_nics_are_not_free(self):
        node = self.node(nic(1, 'aa'), nic(2, 'bb', pxe=False))
        ((_, interface),) = ports.pair(node, [vif('p2')], taken={'aa'})
        self.assertEqual('bb', interface.address)

    def test_binding_body(self):
        node = types.SimpleNamespace(uuid='u-1')
        interface = types.SimpleNamespace(local_link_connection={
            'switch_id': '00:1a:2b:3c:4d:5e', 'port_id': 'Ethernet1/7'})
        self.assertEqual({'port': {
            'binding:vnic_type': 'baremetal', 'binding:host_id': 'u-1',
            'binding:profile': {'local_link_information': [{
                'switch_id': '00:1a:2b:3c:4d:5e',
                'port_id': 'Ethernet1/7'}]}}},
            ports.binding(node, interface))


class DhcpOptionsTestCase(base.TestCase):

    def test_ipxe_only_without_tftp(self):
        self.assertEqual([{'opt_name': 'tag:ipxe,67',
                           'opt_value': 'http://p:8089/boot.ipxe',
                           'ip_version': 4}],
                         dhcp.pxe_options('http://p:8089/boot.ipxe', 'uefi'))

    def test_legacy_pxe_roms_get_ipxe_over_tftp_when_configured(self):
        self.conf.config(tftp_server='10.1.0.5', group='baremetal')
        options = {o['opt_name']: o['opt_value']
                   for o in dhcp.pxe_options('http://p/boot.ipxe', 'bios')}
        self.assertEqual({'tag:ipxe,67': 'http://p/boot.ipxe',
                          'tag:!ipxe,67': 'undionly.kpxe',
                          '66': '10.1.0.5', '150': '10.1.0.5',
                          'server-ip-address': '10.1.0.5'}, options)
        removal = dhcp.removal(dhcp.pxe_options('http://p/boot.ipxe',
                                                'bios'))
        self.assertEqual({None}, {o['opt_value'] for o in removal})
        self.assertEqual(set(options), {o['opt_name'] for o in removal})

    def test_uefi_firmware_gets_the_efi_ipxe(self):
        # Ironic's choice by the node's boot mode: the option names are
        # the same for both modes (so one removal undoes either), only
        # the boot loader differs.
        self.conf.config(tftp_server='10.1.0.5', group='baremetal')
        uefi = {o['opt_name']: o['opt_value']
                for o in dhcp.pxe_options('http://p/boot.ipxe', 'uefi')}
        bios = {o['opt_name']: o['opt_value']
                for o in dhcp.pxe_options('http://p/boot.ipxe', 'bios')}
        self.assertEqual('snponly.efi', uefi['tag:!ipxe,67'])
        self.assertEqual('undionly.kpxe', bios['tag:!ipxe,67'])
        self.assertEqual(set(uefi), set(bios))
        self.conf.config(uefi_ipxe_bootfile_name='ipxe.efi',
                         group='baremetal')
        self.assertIn({'opt_name': 'tag:!ipxe,67', 'opt_value': 'ipxe.efi',
                       'ip_version': 4},
                      dhcp.pxe_options('http://p/boot.ipxe', 'uefi'))
