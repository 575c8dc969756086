"""The DHCP options that boot a node's PXE NIC into the proxy's iPXE chain.

Neutron's DHCP agent (dnsmasq) answers the NIC's MAC with them while the
node is deployed, as Ironic's ``pxe_utils.dhcp_options_for_instance`` does
for iPXE: firmware whose iPXE says so in its DHCP request (``tag:ipxe``,
the one tag Neutron's dnsmasq sets for IPv4: ``--dhcp-match=set:ipxe,175``)
gets the URL of the proxy's ``boot.ipxe``; firmware without iPXE
(``tag:!ipxe``) first gets iPXE itself over TFTP, when a TFTP server is
configured: the build for the node's boot mode, ``ipxe_bootfile_name``
(``undionly.kpxe``) for BIOS and ``uefi_ipxe_bootfile_name``
(``snponly.efi``) for UEFI.

Why by the node's boot mode and not by the client's architecture (DHCP
option 93): Neutron's dnsmasq defines no tag for option 93, so an
extra DHCP option cannot name it, and the boot mode is what nova-bm tells
the node's BMC too (the EFI flag), so the two agree. A site DHCP server
that is not Neutron's chooses by option 93 instead (doc/source/admin/
boot-modes.rst gives dnsmasq's and ISC dhcpd's lines). Removing the options
(``opt_value`` null is how Neutron deletes an extra DHCP option) leaves the
instance its own address and no boot file.
"""

from nova_bm.common import states
from nova_bm.conf import CONF


def _option(name, value):
    return {'opt_name': name, 'opt_value': value, 'ip_version': 4}


def bootfile_name(boot_mode):
    """The iPXE build on the TFTP server for firmware of ``boot_mode``."""
    if boot_mode == states.UEFI:
        return CONF.baremetal.uefi_ipxe_bootfile_name
    return CONF.baremetal.ipxe_bootfile_name


def pxe_options(boot_url, boot_mode):
    """``extra_dhcp_opts`` for the PXE port of a node being deployed."""
    options = [_option('tag:ipxe,67', boot_url)]
    server = CONF.baremetal.tftp_server
    if server:
        options += [_option('tag:!ipxe,67', bootfile_name(boot_mode)),
                    _option('66', server), _option('150', server),
                    _option('server-ip-address', server)]
    return options


def removal(options):
    """``extra_dhcp_opts`` that delete ``options`` from a port."""
    return [_option(option['opt_name'], None) for option in options]
