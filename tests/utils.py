"""Node values for tests, and what every test does when this machine
lacks something it needs."""

import os

from nova_bm.enrolment import node_spec


def under_ci():
    """Whether this run is CI's (``CI=1|true|yes``)."""
    return os.environ.get('CI', '').lower() in ('1', 'true', 'yes')


def missing(test, message):
    """This machine lacks what ``test`` needs: under CI the test fails
    (never a skip counted as a pass), elsewhere it is skipped."""
    if under_ci():
        test.fail(message)
    test.skipTest(message)


def node_values(index=1, **overrides):
    """Values of a valid node; each index gets its own name, BMC and MAC."""
    values = {
        'name': 'node-%d' % index,
        'service_host': 'proxy-1',
        'cpus': 8,
        'memory_mb': 16384,
        'local_gb': 100,
        'ipmi_address': '127.0.0.1',
        'ipmi_port': 10000 + index,
        'ipmi_username': 'admin',
        'ipmi_password': 'pw-secret-%d' % index,
    }
    values.update(overrides)
    return values


def mac(index):
    return '52:54:00:%02x:%02x:%02x' % (
        (index >> 16) & 0xff, (index >> 8) & 0xff, index & 0xff)


def node_spec_for(index=1, macs=None, **overrides):
    """A validated ``(row, macs)`` pair, as node_spec.new_node returns."""
    return node_spec.new_node(node_values(index, **overrides),
                              [mac(index)] if macs is None else macs)


def ironic_node(index, **overrides):
    """One node of an Ironic ``baremetal create`` node file."""
    node = {
        'name': 'node-%d' % index,
        'driver': 'ipmi',
        'resource_class': 'baremetal-gold',
        'driver_info': {'ipmi_address': '10.%d.%d.%d' % (
            (index >> 16) & 0xff, (index >> 8) & 0xff, index & 0xff),
            'ipmi_username': 'admin', 'ipmi_password': 'file-secret'},
        'properties': {'cpus': 16, 'memory_mb': 65536, 'local_gb': 480,
                       'cpu_arch': 'x86_64'},
        'ports': [{'address': mac(index)}],
    }
    node.update(overrides)
    return node
