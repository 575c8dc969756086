"""A bare-metal instance's Neutron ports on its node's own NICs."""
