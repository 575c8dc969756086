"""Binding an instance's Neutron ports to its node's NICs.

Nova 34 has no ``macs_for_instance`` (removed in Train), so this driver
edits the ports itself, as Nova's ironic driver has Ironic's ``flat``
network interface do: Nova creates (or takes the user's) ports unbound
(``network_binding_host_id()`` is None), then, before the node is powered
on, each port is paired with one of the node's NICs and gets

1. that NIC's MAC, in a call of its own (Neutron refuses a MAC change on a
   bound port);
2. ``binding:vnic_type`` ``baremetal``, ``binding:host_id`` the node's
   UUID, ``binding:profile.local_link_information`` when the switch port
   is known (what an ML2 driver such as networking-baremetal binds on) and,
   on the port of the NIC the node boots from, the iPXE DHCP options
   (``nova_bm.network.dhcp``) while it is deployed.

Nova's info cache is then refreshed from Neutron, so the metadata service,
cloud-init and ``os-interface`` name the node's MACs. Unbinding clears the
binding (``binding:host_id`` '' and ``binding:profile`` {}), then, in a call
of its own, resets the MAC of a port the user brought (Nova deletes the
ports it created). Which port each NIC carries is kept in
``bm_interfaces.vif_id``. A port that is already gone is not an error.
"""

from neutronclient.common import exceptions as neutron_client_exc
from nova import exception as nova_exception
from nova.network import neutron as nova_neutron
from oslo_log import log as logging

from nova_bm.db import api as db_api
from nova_bm.network import dhcp

LOG = logging.getLogger(__name__)

VNIC_TYPE = 'baremetal'


class AttachFailed(nova_exception.InterfaceAttachFailed):
    """Nova's attach failure, saying why (the compute log and the
    ``instance.interface_attach.error`` notification carry it)."""

    msg_fmt = ('Failed to attach network adapter device to '
               '%(instance_uuid)s: %(reason)s')


def _preference(interface):
    # The NIC the node boots from first (the deploy needs its port), then
    # enrolment order.
    return (not interface.pxe_enabled, interface.id)


def pair(node, vifs, taken=()):
    """Each VIF with one of the node's free NICs: ``[(vif, interface)]``.

    A VIF on a network with a physical network goes on a NIC cabled to it,
    or else on one whose cabling is not recorded; NICs that boot the node
    come first.

    :param taken: addresses of NICs already carrying a port.
    :raises: InstanceDeployFailure (before anything is changed) when the
        VIFs outnumber the NICs that can carry them.
    """
    free = sorted((i for i in node.interfaces if i.address not in taken),
                  key=_preference)
    pairs = []
    for vif in vifs:
        physnet = vif.get_physical_network() if vif.get('network') else None
        candidates = [i for i in free
                      if physnet is None or i.physical_network in (physnet,
                                                                   None)]
        if not candidates:
            raise nova_exception.InstanceDeployFailure(
                reason='node %s has no free network interface for port %s%s '
                       '(%d port(s), %d interface(s)): each port of a '
                       'bare-metal server is one of its NICs'
                       % (node.name, vif['id'],
                          ' on physical network %s' % physnet
                          if physnet else '', len(vifs),
                          len(node.interfaces)))
        # Candidates keep the preference order: cabled to the network
        # beats unknown only among equals.
        chosen = min(candidates, key=lambda i: (
            i.physical_network is None, _preference(i)))
        free.remove(chosen)
        pairs.append((vif, chosen))
    return pairs


def binding(node, interface, extra_dhcp_opts=None):
    """The body that binds a port to ``interface`` of ``node``."""
    link = interface.local_link_connection
    port = {'binding:vnic_type': VNIC_TYPE,
            'binding:host_id': node.uuid,
            'binding:profile': ({'local_link_information': [dict(link)]}
                                if link else {})}
    if extra_dhcp_opts:
        port['extra_dhcp_opts'] = extra_dhcp_opts
    return {'port': port}


class BindingFailed(Exception):
    """Neutron took the binding but no mechanism driver could bind it."""


def _check_bound(port_id, response):
    """Neutron answers a binding no ML2 mechanism driver could make with
    ``binding:vif_type`` ``binding_failed``: say so now, not after a
    deploy timeout (no DHCP would answer the node)."""
    port = (response or {}).get('port') or {}
    if port.get('binding:vif_type') == 'binding_failed':
        raise BindingFailed(
            'Neutron could not bind port %s (binding:vif_type '
            'binding_failed): is an ML2 mechanism driver for vnic_type '
            'baremetal (networking-baremetal) enabled?' % port_id)


UNBINDING = {'port': {'binding:host_id': '', 'binding:profile': {}}}
MAC_RESET = {'port': {'mac_address': None}}


class PortBinder:
    """The Neutron side of a node's life: bind, boot options, unbind."""

    def __init__(self, client=None):
        self._client = client or (
            lambda context: nova_neutron.get_client(context, admin=True))

    # -- spawn -----------------------------------------------------------

    @staticmethod
    def check(node, network_info):
        """Refuse, before the claim, ports the node has no NICs for."""
        pair(node, list(network_info or ()))

    def bind(self, context, instance, node, network_info, boot_url=None):
        """Bind every VIF to a NIC; with ``boot_url``, the NIC the node
        boots from gets the iPXE DHCP options. Refreshes Nova's info cache.

        :raises: InstanceDeployFailure (what is bound is unbound first)
        """
        vifs = list(network_info or ())
        if not vifs:
            return
        pairs = pair(node, vifs)
        db_api.assign_vifs(node.uuid, {i.address: v['id'] for v, i in pairs},
                           replace=True)
        client = self._client(context)
        pxe_port = self._pxe_port(pairs) if boot_url else None
        changed = []
        try:
            for vif, interface in pairs:
                changed.append(vif['id'])
                client.update_port(vif['id'], {'port': {
                    'mac_address': interface.address}})
                _check_bound(vif['id'], client.update_port(
                    vif['id'], binding(
                        node, interface,
                        dhcp.pxe_options(boot_url, node.boot_mode)
                        if vif['id'] == pxe_port else None)))
        except (neutron_client_exc.NeutronClientException,
                BindingFailed) as e:
            # Undo what was changed; the ports not reached yet are left as
            # they were.
            self.unbind(context, instance, node, network_info, changed)
            db_api.release_vifs(node.uuid)
            raise nova_exception.InstanceDeployFailure(
                reason='binding the ports of instance %s to node %s failed: '
                       '%s' % (instance.uuid, node.name, e)) from None
        LOG.info('Ports %(ports)s bound to the NICs of node %(node)s',
                 {'ports': ', '.join('%s=%s' % (v['id'], i.address)
                                     for v, i in pairs),
                  'node': node.name}, instance=instance)
        self.refresh(context, instance)

    @staticmethod
    def _pxe_port(pairs):
        for vif, interface in pairs:
            if interface.pxe_enabled:
                return vif['id']
        return None

    def boot_options(self, context, node, boot_url):
        """Give the port on the node's boot NIC the iPXE DHCP options
        again (a rebuild); :returns: whether a port has them."""
        port = self._port_on_boot_nic(node)
        if port is not None:
            self._client(context).update_port(port, {'port': {
                'extra_dhcp_opts': dhcp.pxe_options(boot_url,
                                                    node.boot_mode)}})
        return port is not None

    def remove_boot_options(self, context, node, boot_url):
        """The deploy is over: the instance boots its disk and gets its own
        address, no boot file."""
        port = self._port_on_boot_nic(node)
        if port is None:
            return
        try:
            self._client(context).update_port(port, {'port': {
                'extra_dhcp_opts': dhcp.removal(
                    dhcp.pxe_options(boot_url, node.boot_mode))}})
        except neutron_client_exc.NotFound:
            pass

    @staticmethod
    def _port_on_boot_nic(node):
        for interface in sorted(db_api.get_node(
                node.uuid, with_interfaces=True).interfaces,
                key=_preference):
            if interface.pxe_enabled and interface.vif_id:
                return interface.vif_id
        return None

    # -- teardown --------------------------------------------------------

    def unbind(self, context, instance, node, network_info, vif_ids=None):
        """Unbind the ports the node's NICs carry (``vif_ids``, or all),
        and reset the MAC of those Nova did not create (all of them when
        ``network_info`` is None). Idempotent."""
        created = {vif['id'] for vif in network_info or ()
                   if not vif.get('preserve_on_delete')}
        released = db_api.release_vifs(node.uuid, vif_ids)
        if not released:
            return
        client = self._client(context)
        for _address, port in released:
            try:
                client.update_port(port, UNBINDING)
                if port not in created:
                    client.update_port(port, MAC_RESET)
            except neutron_client_exc.NotFound:
                LOG.info('Port %s is gone already', port, instance=instance)
            except neutron_client_exc.NeutronClientException as e:
                LOG.warning('Could not unbind port %(port)s: %(error)s',
                            {'port': port, 'error': e}, instance=instance)
        LOG.info('Ports %(ports)s unbound from NICs %(nics)s',
                 {'ports': ', '.join(p for _, p in released),
                  'nics': ', '.join(a for a, _ in released)},
                 instance=instance)

    # -- attach and detach -----------------------------------------------

    def attach(self, context, instance, node, vif):
        """Bind one more port to a free NIC of the node.

        :raises: InterfaceAttachFailed with the reason
        """
        node = db_api.get_node(node.uuid, with_interfaces=True)
        taken = {i.address for i in node.interfaces if i.vif_id}
        try:
            ((vif, interface),) = pair(node, [vif], taken)
        except nova_exception.InstanceDeployFailure as e:
            raise AttachFailed(instance_uuid=instance.uuid,
                               reason=e.kwargs['reason']) from None
        db_api.assign_vifs(node.uuid, {interface.address: vif['id']})
        client = self._client(context)
        try:
            client.update_port(vif['id'], {'port': {
                'mac_address': interface.address}})
            _check_bound(vif['id'], client.update_port(
                vif['id'], binding(node, interface)))
        except (neutron_client_exc.NeutronClientException,
                BindingFailed) as e:
            self.unbind(context, instance, node, [vif], [vif['id']])
            raise AttachFailed(instance_uuid=instance.uuid,
                               reason='binding port %s to node %s failed: '
                                      '%s' % (vif['id'], node.name, e)) \
                from None
        self.refresh(context, instance)

    def detach(self, context, instance, node, vif):
        self.unbind(context, instance, node, [vif], [vif['id']])

    # -- Nova's view -----------------------------------------------------

    @staticmethod
    def refresh(context, instance):
        """Nova's info cache from Neutron: the ports now carry the NICs'
        MACs."""
        nova_neutron.API().get_instance_nw_info(context, instance)
