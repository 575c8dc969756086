"""A peer's address as the proxy compares it."""

import ipaddress


def peer_ip(sockaddr):
    """The IP address of an ``accept()``ed peer (``sockaddr`` as
    ``accept()`` gives it), an IPv4 client of a dual-stack IPv6 socket
    (``::ffff:192.0.2.5``) as IPv4, a scope (``%eth0``) left out; None if
    it is not an IP address."""
    try:
        ip = ipaddress.ip_address(sockaddr[0].partition('%')[0])
    except (ValueError, TypeError, AttributeError, IndexError):
        return None
    return getattr(ip, 'ipv4_mapped', None) or ip
