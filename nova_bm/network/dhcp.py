"""The DHCP options that boot a node's PXE NIC into the proxy's iPXE chain.

Neutron's DHCP agent (dnsmasq) answers the NIC's MAC with them while the
node is deployed, as Ironic's ``pxe_utils.dhcp_options_for_instance`` does
for iPXE: firmware whose iPXE says so in its DHCP request (``tag:ipxe``)
gets the URL of the proxy's ``boot.ipxe``; a legacy PXE ROM
(``tag:!ipxe``) first gets iPXE itself over TFTP, when a TFTP server is
configured. Removing them (``opt_value`` null is how Neutron deletes an
extra DHCP option) leaves the instance its own address and no boot file.
"""

from nova_bm.conf import CONF


def _option(name, value):
    return {'opt_name': name, 'opt_value': value, 'ip_version': 4}


def pxe_options(boot_url):
    """``extra_dhcp_opts`` for the PXE port of a node being deployed."""
    options = [_option('tag:ipxe,67', boot_url)]
    server = CONF.baremetal.tftp_server
    if server:
        options += [_option('tag:!ipxe,67', CONF.baremetal.ipxe_bootfile_name),
                    _option('66', server), _option('150', server),
                    _option('server-ip-address', server)]
    return options


def removal(options):
    """``extra_dhcp_opts`` that delete ``options`` from a port."""
    return [_option(option['opt_name'], None) for option in options]
