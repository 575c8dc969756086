"""``nova-bm-build-ramdisk``: build the deploy kernel and initramfs.

Writes ``deploy.kernel``, ``deploy.initramfs`` and ``deploy.sha256`` into
``--output`` (default: the current directory) from Debian's
``linux-image-amd64``, ``busybox-static``, and ``nvme-cli`` with the
packages of its shared libraries (``builder.NVME_PACKAGES``: the
cleanings' NVMe secure erase), all downloaded with ``apt-get download``
into ``--cache`` and reused when there, and nova-bm's own /init. The
initramfs holds ``/bin/nvme`` with exactly the libraries of its
``DT_NEEDED`` closure (about 7.6 MB in all). Point ``[baremetal]
deploy_kernel`` and ``deploy_ramdisk`` at the files.
"""

import argparse
import os
import sys

from nova_bm.ramdisk import builder
from nova_bm.common import safe_text

DEFAULT_CACHE = os.path.join(os.path.expanduser('~'), '.cache',
                             'nova-bm-ramdisk')


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='nova-bm-build-ramdisk',
        description='Build the nova-bm deploy kernel and initramfs from '
                    'Debian packages (needs apt-get and dpkg-deb).')
    parser.add_argument('--output', default='.', metavar='DIR',
                        help='Where to write deploy.kernel, '
                             'deploy.initramfs and deploy.sha256 '
                             '(default: here).')
    parser.add_argument('--cache', default=DEFAULT_CACHE, metavar='DIR',
                        help='Where the downloaded .deb files are kept '
                             '(default: %(default)s).')
    args = parser.parse_args(argv)
    for option, path in (('--output', args.output), ('--cache', args.cache)):
        if os.path.exists(path) and not os.path.isdir(path):
            parser.error('%s: %s is not a directory'
                         % (option, safe_text.quote(path)))
    try:
        digests = builder.build(args.output, args.cache)
    except (builder.BuildError, OSError) as e:
        print('nova-bm-build-ramdisk: %s' % safe_text.escape(str(e)),
              file=sys.stderr)
        return 1
    for name in sorted(digests):
        print('%s  %s' % (digests[name], os.path.join(args.output, name)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
