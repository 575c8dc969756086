"""Options of the ``[baremetal]`` group: how this plugin treats its nodes."""

from oslo_config import cfg

from nova_bm import node_fields

GROUP = cfg.OptGroup(
    'baremetal',
    title='Bare-metal proxy options',
    help='Options of the nova-bm virt driver, power layer and tools.')

opts = [
    cfg.StrOpt(
        'default_resource_class',
        default='baremetal',
        regex=node_fields.RESOURCE_CLASS_PATTERN,
        help='Resource class given to a node enrolled without one. Nova '
             'sees it as the placement resource class '
             'CUSTOM_<UPPER-CASED NAME>, which flavors request with '
             '"resources:CUSTOM_<NAME>=1".'),
    cfg.StrOpt(
        'default_cpu_arch',
        default='x86_64',
        choices=node_fields.CPU_ARCHITECTURES,
        help='CPU architecture given to a node enrolled without one.'),
]


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(opts, group=GROUP)


def list_opts():
    return {GROUP: opts}
