"""Build the deploy kernel and initramfs from Debian packages.

Inputs: Debian's ``linux-image-amd64`` (its kernel and the few modules a
deploy needs: virtio, common NICs and disk controllers) and
``busybox-static``, fetched with ``apt-get download``, and the project's
own ``/init`` (``nova_bm/ramdisk/init``, a busybox shell script speaking the
deploy protocol). The initramfs is a newc cpio archive written here with
sorted names, owner 0 and time 0, gzipped with time 0: the same packages
and the same /init give the same bytes (``deploy.sha256`` lists them).
"""

import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import tempfile

PACKAGES = ('linux-image-amd64', 'busybox-static')

#: Modules loaded at boot, in this order, with what they need.
MODULES = ('virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_scsi',
           'e1000', 'e1000e', 'igb', 'ixgbe', 'nvme', 'ahci', 'sd_mod')

KERNEL = 'deploy.kernel'
INITRAMFS = 'deploy.initramfs'
_HERE = os.path.dirname(os.path.abspath(__file__))


class BuildError(Exception):
    """One line saying what failed."""


def _run(*command, cwd=None):
    try:
        return subprocess.run(  # noqa: S603 (fixed commands, no shell)
            command, cwd=cwd, check=True, text=True,
            capture_output=True).stdout
    except FileNotFoundError:
        raise BuildError('%s is not installed' % command[0]) from None
    except subprocess.CalledProcessError as e:
        last = (e.stderr or e.stdout or '').strip().splitlines()
        raise BuildError('%s failed: %s' % (' '.join(command[:3]),
                                            last[-1] if last else e))


def _kernel_package():
    """The versioned kernel package ``linux-image-amd64`` points at."""
    out = _run('apt-cache', 'depends', '--important', 'linux-image-amd64')
    match = re.search(r'Depends: (linux-image-[0-9][^\s]*-amd64)', out)
    if not match:
        raise BuildError('cannot tell which kernel linux-image-amd64 '
                         'depends on (apt-cache depends)')
    return match.group(1)


def fetch(cache):
    """The .deb files, downloaded into ``cache`` unless already there."""
    os.makedirs(cache, exist_ok=True)
    debs = []
    for package in (_kernel_package(), 'busybox-static'):
        found = sorted(n for n in os.listdir(cache)
                       if n.startswith(package + '_') and n.endswith('.deb'))
        if not found:
            _run('apt-get', 'download', package, cwd=cache)
            found = sorted(n for n in os.listdir(cache)
                           if n.startswith(package + '_')
                           and n.endswith('.deb'))
        if not found:
            raise BuildError('apt-get download %s gave no .deb' % package)
        debs.append(os.path.join(cache, found[-1]))
    return debs


def _closure(dep_lines, wanted):
    """Module paths for ``wanted`` names and everything they depend on."""
    deps = {}
    by_name = {}
    for line in dep_lines:
        path, _, needs = line.partition(':')
        deps[path] = needs.split()
        name = os.path.basename(path).split('.ko')[0].replace('-', '_')
        by_name[name] = path
    paths = []
    todo = [by_name[n] for n in wanted if n in by_name]
    while todo:
        path = todo.pop()
        if path not in paths:
            paths.append(path)
            todo.extend(deps.get(path, ()))
    return sorted(paths)


def _stage(debs, root, work):
    kernel_deb, busybox_deb = debs
    unpacked = os.path.join(work, 'kernel')
    _run('dpkg-deb', '-x', kernel_deb, unpacked)
    _run('dpkg-deb', '-x', busybox_deb, os.path.join(work, 'busybox'))
    (version,) = os.listdir(os.path.join(unpacked, 'lib', 'modules'))
    busybox = os.path.join(work, 'busybox', 'bin', 'busybox')
    modules = os.path.join(unpacked, 'lib', 'modules', version)
    _run(busybox, 'depmod', '-b', unpacked, version)
    with open(os.path.join(modules, 'modules.dep')) as f:
        needed = _closure(f.read().splitlines(), MODULES)
    for relative in needed:
        target = os.path.join(root, 'lib', 'modules', version, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(modules, relative), target)
    _run(busybox, 'depmod', '-b', root, version)
    for name in ('bin', 'proc', 'sys', 'dev', 'etc', 'tmp'):
        os.makedirs(os.path.join(root, name), exist_ok=True)
    # Executable in the staging tree (0700); the archive gives 0755.
    for source, target in ((busybox, 'bin/busybox'),
                           (os.path.join(_HERE, 'init'), 'init'),
                           (os.path.join(_HERE, 'udhcpc.script'),
                            'etc/udhcpc.script')):
        shutil.copyfile(source, os.path.join(root, target))
        os.chmod(os.path.join(root, target), 0o700)
    os.symlink('busybox', os.path.join(root, 'bin', 'sh'))
    with open(os.path.join(root, 'etc', 'nbm-modules'), 'w') as f:
        f.write('\n'.join(MODULES) + '\n')
    return os.path.join(unpacked, 'boot', 'vmlinuz-%s' % version), version


def _cpio(root):
    """A newc archive of ``root``: sorted, owner 0, time 0."""
    out = io.BytesIO()
    entries = []
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            entries.append(os.path.join(directory, name))
    entries.sort(key=lambda p: os.path.relpath(p, root))

    def header(name, mode, size, ino):
        fields = (ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name) + 1, 0)
        return ('070701' + ''.join('%08X' % v for v in fields)).encode()

    def pad(length):
        out.write(b'\0' * (-length % 4))

    for ino, path in enumerate(entries, start=1):
        name = os.path.relpath(path, root).encode()
        info = os.lstat(path)
        if os.path.islink(path):
            data = os.readlink(path).encode()
            mode = 0o120777
        elif os.path.isdir(path):
            data, mode = b'', 0o040755
        else:
            with open(path, 'rb') as f:
                data = f.read()
            mode = 0o100000 | (0o755 if info.st_mode & 0o111 else 0o644)
        out.write(header(name, mode, len(data), ino))
        out.write(name + b'\0')
        pad(110 + len(name) + 1)
        out.write(data)
        pad(len(data))
    trailer = b'TRAILER!!!'
    out.write(('070701' + ''.join('%08X' % v for v in (
        0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, len(trailer) + 1, 0))).encode())
    out.write(trailer + b'\0')
    pad(110 + len(trailer) + 1)
    return out.getvalue()


def build(output, cache):
    """Write ``deploy.kernel`` and ``deploy.initramfs`` into ``output``.

    :returns: ``{file name: sha256}``. :raises: BuildError
    """
    debs = fetch(cache)
    os.makedirs(output, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='nova-bm-ramdisk-') as work:
        root = os.path.join(work, 'root')
        os.makedirs(root)
        vmlinuz, version = _stage(debs, root, work)
        archive = io.BytesIO()
        with gzip.GzipFile(fileobj=archive, mode='wb', mtime=0) as gz:
            gz.write(_cpio(root))
        results = {}
        for name, data in ((KERNEL, open(vmlinuz, 'rb').read()),
                           (INITRAMFS, archive.getvalue())):
            tmp = os.path.join(output, '.' + name + '.tmp')
            with open(tmp, 'wb') as f:
                f.write(data)
            os.replace(tmp, os.path.join(output, name))
            results[name] = hashlib.sha256(data).hexdigest()
    with open(os.path.join(output, 'deploy.sha256'), 'w') as f:
        f.write(''.join('%s  %s\n' % (results[n], n) for n in sorted(results)))
        f.write('# kernel %s; %s\n' % (version, ', '.join(
            os.path.basename(d) for d in debs)))
    return results
