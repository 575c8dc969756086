"""What a deploy refuses before the node is powered on, and why.

Each refusal is an exception Nova turns into the server's fault without
rescheduling (``ImageUnacceptable`` and ``BuildAbortException`` end in
``BuildAbortException`` in ``ComputeManager._build_and_run_instance``):
another node would refuse the same image for the same reason.
"""

from nova import exception as nova_exception
from nova.virt import configdrive

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
    if configdrive.required_by(instance):
        raise nova_exception.BuildAbortException(
            instance_uuid=instance.uuid,
            reason='config drives are not supported by nova-bm yet; use '
                   'the metadata service')


def check_fits(image_meta, size, node):
    """Refuse an image larger than the node's disk.

    :param size: the raw image's size in bytes.
    :raises: ImageUnacceptable
    """
    if size > node.local_gb * GIB:
        raise nova_exception.ImageUnacceptable(
            image_id=image_meta.id,
            reason='its raw size, %d bytes, exceeds the %d GiB disk of '
                   'node %s' % (size, node.local_gb, node.name))
