"""Exact-fit filters: a bare-metal node passes only a flavor of its size.

Placement's custom resource class already keeps VM flavors off bare-metal
nodes; these filters add that a flavor asking for plain RAM, vCPUs or disk
gets only a node whose free resources are exactly what it asks for, never
a bigger one wasted on it. Each sets ``host_state.limits`` to the node's
size, so that a request racing onto a node already taken fails the compute
claim instead of sharing it (Nova bug 1341420). Hosts that are not
bare-metal nodes pass untouched. Enable with::

    [filter_scheduler]
    available_filters = nova.scheduler.filters.all_filters
    available_filters = nova_bm.scheduler.filters.ExactRamFilter
    available_filters = nova_bm.scheduler.filters.ExactCoreFilter
    available_filters = nova_bm.scheduler.filters.ExactDiskFilter
    enabled_filters = ...,ExactRamFilter,ExactCoreFilter,ExactDiskFilter

``BootModeFilter`` (``available_filters = nova_bm.scheduler.filters.
BootModeFilter``, then in ``enabled_filters``) keeps an image that says
``hw_firmware_type=uefi`` (or ``bios``) off nodes of the other boot mode.
"""

from nova.scheduler import filters
from oslo_log import log as logging

from nova_bm import scheduler

LOG = logging.getLogger(__name__)


class _ExactFilter(filters.BaseHostFilter):

    RUN_ON_REBUILD = False
    #: What is compared, for the log line of a node that does not fit.
    resource = None

    def host_passes(self, host_state, spec_obj):
        if not scheduler.is_baremetal(host_state):
            return True
        wanted, free = self.wanted(spec_obj), self.free(host_state)
        if wanted != free:
            LOG.debug('%(host)s does not fit exactly: %(what)s requested '
                      '%(wanted)s, free %(free)s',
                      {'host': host_state, 'what': self.resource,
                       'wanted': wanted, 'free': free})
            return False
        self.set_limit(host_state)
        return True


class ExactRamFilter(_ExactFilter):
    """Free RAM (MB) equals the flavor's RAM."""

    resource = 'RAM MB'

    def wanted(self, spec_obj):
        return spec_obj.memory_mb

    def free(self, host_state):
        return host_state.free_ram_mb

    def set_limit(self, host_state):
        host_state.limits['memory_mb'] = host_state.total_usable_ram_mb


class ExactCoreFilter(_ExactFilter):
    """Free vCPUs equal the flavor's vCPUs."""

    resource = 'vCPUs'

    def wanted(self, spec_obj):
        return spec_obj.vcpus

    def free(self, host_state):
        return host_state.vcpus_total - host_state.vcpus_used

    def set_limit(self, host_state):
        host_state.limits['vcpu'] = host_state.vcpus_total


class ExactDiskFilter(_ExactFilter):
    """Free disk (MB) equals root + ephemeral GB x 1024 + swap MB."""

    resource = 'disk MB'

    def wanted(self, spec_obj):
        return ((spec_obj.root_gb + spec_obj.ephemeral_gb) * 1024
                + spec_obj.swap)

    def free(self, host_state):
        return host_state.free_disk_mb

    def set_limit(self, host_state):
        host_state.limits['disk_gb'] = host_state.total_usable_disk_gb


class BootModeFilter(filters.BaseHostFilter):
    """An image's ``hw_firmware_type`` equals the node's boot mode.

    Nova's own filters do not read ``hw_firmware_type`` (its image
    metadata prefilter maps other properties to traits), so without this
    filter such an image may be scheduled to a node of the other boot
    mode, and the proxy refuses it there before powering anything
    (:mod:`nova_bm.proxy.provision`). An image without the property, and
    hosts that are not bare-metal nodes, pass. It runs on rebuild too: a
    rebuild onto a new image stays on its node, which must boot it.
    """

    RUN_ON_REBUILD = True

    def host_passes(self, host_state, spec_obj):
        if not scheduler.is_baremetal(host_state):
            return True
        image = (spec_obj.image if spec_obj.obj_attr_is_set('image')
                 else None)
        properties = (image.properties
                      if image is not None and 'properties' in image
                      else None)
        wanted = (properties.get('hw_firmware_type')
                  if properties is not None else None)
        if not wanted:
            return True
        mode = (host_state.stats or {}).get('boot_mode')
        if mode != wanted:
            LOG.debug('%(host)s boots %(mode)s, the image needs %(wanted)s',
                      {'host': host_state, 'mode': mode, 'wanted': wanted})
            return False
        return True
