"""What a deploy refuses before the node is powered on, and why.

Each refusal is an exception Nova turns into the server's fault without
rescheduling (``ImageUnacceptable`` and ``BuildAbortException`` end in
``BuildAbortException`` in ``ComputeManager._build_and_run_instance``):
another node would refuse the same image for the same reason, or (a
size) the scheduler should not have chosen this one. A boot mode the image
does not boot is the node's, not the image's: :func:`boot_mode_mismatch`
says why, and the caller decides (a spawn is rescheduled).
"""

from nova import exception as nova_exception

#: Whole-disk image formats the deploy writes (qcow2 converted to raw).
DISK_FORMATS = ('raw', 'qcow2')
GIB = 1024 ** 3


def check_request(instance, image_meta):
    """Refuse what no node of this driver can deploy.

    :raises: ImageUnacceptable, BuildAbortException
    """
    image_id = image_meta.id if 'id' in image_meta else '(none)'
    if instance.kernel_id or instance.ramdisk_id:
        raise nova_exception.ImageUnacceptable(
            image_id=image_id,
            reason='it is a partition image (kernel_id/ramdisk_id); '
                   'nova-bm deploys whole-disk images only')
    disk_format = image_meta.disk_format if 'disk_format' in image_meta \
        else None
    if disk_format not in DISK_FORMATS:
        raise nova_exception.ImageUnacceptable(
            image_id=image_id,
            reason='its disk_format is %s; nova-bm deploys %s images'
                   % (disk_format, ' or '.join(DISK_FORMATS)))


def boot_mode_mismatch(image_meta, node):
    """Why the node's firmware would not boot the image, or None: its
    ``hw_firmware_type`` (``uefi`` or ``bios``, Nova's image property) is
    not the node's boot mode. The scheduler keeps such images off such
    nodes with ``BootModeFilter`` or a flavor's boot-mode trait; a node
    that gets one anyway refuses it before anything is fetched or
    powered (a spawn is rescheduled: another node may boot it)."""
    properties = image_meta.properties if 'properties' in image_meta \
        else None
    wanted = (properties.hw_firmware_type
              if properties is not None and 'hw_firmware_type' in properties
              else None)
    if not wanted or wanted == node.boot_mode:
        return None
    return ('image %s needs %s firmware (hw_firmware_type) and node %s '
            'boots %s; schedule it with the flavor trait COMPUTE_FIRMWARE_%s '
            'or nova-bm\'s BootModeFilter'
            % (image_meta.id if 'id' in image_meta else '(none)', wanted,
               node.name, node.boot_mode, wanted.upper()))


def check_declared_size(image_meta, node):
    """Refuse, before anything is fetched, an image that Glance says is
    larger than the node's disk (its ``virtual_size``, or ``min_disk``)."""
    virtual_size = (image_meta.virtual_size
                    if 'virtual_size' in image_meta else None)
    if virtual_size:
        check_fits(image_meta, virtual_size, node, 'virtual size')
    min_disk = image_meta.min_disk if 'min_disk' in image_meta else 0
    if min_disk and min_disk > node.local_gb:
        raise nova_exception.ImageUnacceptable(
            image_id=image_meta.id,
            reason='it needs a disk of %d GiB (min_disk); node %s has %d GiB'
                   % (min_disk, node.name, node.local_gb))


def check_fits(image_meta, size, node, what='raw size'):
    """Refuse an image larger than the node's disk.

    :param size: the raw image's size in bytes.
    :raises: ImageUnacceptable
    """
    if size > node.local_gb * GIB:
        raise nova_exception.ImageUnacceptable(
            image_id=image_meta.id,
            reason='its %s, %d bytes, exceeds the %d GiB disk of node %s'
                   % (what, size, node.local_gb, node.name))
