"""Build the deploy kernel and initramfs from Debian packages.

Inputs: Debian's ``linux-image-amd64`` (its kernel and the few modules a
deploy needs: virtio, common NICs and disk controllers),
``busybox-static``, and ``nvme-cli`` with the packages holding the shared
libraries it needs (``NVME_PACKAGES``), fetched with ``apt-get download``,
and the project's own ``/init`` (``nova_bm/ramdisk/init``, a busybox shell
script speaking the deploy protocol).

Why ``nvme``: erasing an NVMe disk's user data (Format NVM with Secure
Erase Settings, ``nvme format --ses``) and reading what the controller
supports (``nvme id-ctrl``: OACS, FNA, SANICAP) take NVMe admin commands,
an ioctl on the controller busybox cannot issue. Debian's ``nvme`` is
dynamically linked: the ramdisk holds it as ``/bin/nvme``, the dynamic
loader where its PT_INTERP says (``/lib64/ld-linux-x86-64.so.2``, a link
into ``/lib/x86_64-linux-gnu``) and exactly the libraries of its DT_NEEDED
closure, read from the ELF files here (not ``ldd``, which would answer for
the build host), each copied under its soname into
``/lib/x86_64-linux-gnu``. Busybox stays static; its applets are unchanged.

The initramfs is a newc cpio archive written here with sorted names, owner
0 and time 0, gzipped with time 0: the same packages and the same /init
give the same bytes (``deploy.sha256`` lists them).
"""

import gzip
import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import tempfile

PACKAGES = ('linux-image-amd64', 'busybox-static')

#: ``nvme`` and the packages of its shared libraries, a fixed list (Debian
#: 12: libnvme1 needs libjson-c5 and libssl3's libcrypto, libnvme-mi
#: libdbus-1-3, which needs libsystemd0 and its compression and crypto
#: libraries). Only the libraries in nvme's DT_NEEDED closure are copied;
#: a soname none of these packages holds fails the build, naming it.
NVME_PACKAGES = ('nvme-cli', 'libnvme1', 'libjson-c5', 'zlib1g', 'libssl3',
                 'libdbus-1-3', 'libsystemd0', 'libcap2', 'libgcrypt20',
                 'libgpg-error0', 'liblz4-1', 'liblzma5', 'libzstd1',
                 'libc6')
NVME = 'usr/sbin/nvme'
#: Where the libraries go in the ramdisk, and where they are looked for in
#: the unpacked packages (Debian 12 ships both, /lib being /usr/lib).
LIBDIR = 'lib/x86_64-linux-gnu'
_SEARCH = (LIBDIR, 'usr/' + LIBDIR)

#: Modules loaded at boot, in this order, with what they need.
#: The storage controllers' drivers: a controller none of them takes
#: fails a cleaning (its disks cannot be erased), so the common ones are
#: here: SATA (AHCI, Intel PIIX/ICH IDE), NVMe, and the SAS/RAID HBAs of
#: Broadcom/LSI (mpt3sas, megaraid_sas, mpi3mr), HPE (hpsa), Microchip
#: (smartpqi) and Adaptec (aacraid).
MODULES = ('virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_scsi',
           'e1000', 'e1000e', 'igb', 'ixgbe', 'nvme', 'ahci', 'ata_piix',
           'mpt3sas', 'megaraid_sas', 'mpi3mr', 'hpsa', 'smartpqi',
           'aacraid', 'sd_mod')

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
    """The .deb files, downloaded into ``cache`` unless already there.

    :returns: paths: the kernel's, busybox's, then ``NVME_PACKAGES``' in
        that order.
    """
    os.makedirs(cache, exist_ok=True)
    packages = (_kernel_package(), 'busybox-static') + NVME_PACKAGES

    def found(package):
        return sorted(n for n in os.listdir(cache)
                      if n.startswith(package + '_') and n.endswith('.deb'))

    missing = [p for p in packages if not found(p)]
    if missing:
        _run('apt-get', 'download', *missing, cwd=cache)
    debs = []
    for package in packages:
        names = found(package)
        if not names:
            raise BuildError('apt-get download %s gave no .deb' % package)
        debs.append(os.path.join(cache, names[-1]))
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


def _elf_dynamic(path):
    """``(PT_INTERP or None, [DT_NEEDED sonames])`` of an x86-64 ELF file,
    read from its program headers and dynamic section."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:6] != b'\x7fELF\x02\x01':
        raise BuildError('%s is not a 64-bit little-endian ELF file'
                         % os.path.basename(path))
    try:
        (phoff,) = struct.unpack_from('<Q', data, 0x20)
        phentsize, phnum = struct.unpack_from('<HH', data, 0x36)
        loads, dynamic, interp = [], None, None
        for i in range(phnum):
            kind, _, offset, vaddr, _, filesz = struct.unpack_from(
                '<IIQQQQ', data, phoff + i * phentsize)
            if kind == 1:  # PT_LOAD
                loads.append((vaddr, offset, filesz))
            elif kind == 2:  # PT_DYNAMIC
                dynamic = (offset, filesz)
            elif kind == 3:  # PT_INTERP
                interp = data[offset:offset + filesz].split(b'\0')[0]
                interp = interp.decode()
        needed, strtab = [], None
        if dynamic:
            offset, size = dynamic
            for entry in range(offset, offset + size - 15, 16):
                tag, value = struct.unpack_from('<qQ', data, entry)
                if tag == 0:  # DT_NULL
                    break
                if tag == 1:  # DT_NEEDED: an offset in DT_STRTAB
                    needed.append(value)
                elif tag == 5:  # DT_STRTAB: an address, not an offset
                    strtab = value
        names = []
        if needed:
            (base,) = [offset + strtab - vaddr
                       for vaddr, offset, filesz in loads
                       if vaddr <= strtab < vaddr + filesz]
            for value in needed:
                start = base + value
                names.append(data[start:data.index(b'\0', start)].decode())
    except (struct.error, ValueError, TypeError, UnicodeDecodeError):
        raise BuildError('%s: cannot read its ELF dynamic section'
                         % os.path.basename(path)) from None
    return interp, names


def _library_closure(needs, names, binary='nvme'):
    """The sonames ``names`` (what ``binary`` needs) lead to, sorted.

    ``needs(soname)``: the sonames that library needs, or None when no
    package holds it (then BuildError, naming it).
    """
    by = {}
    todo = [(name, None) for name in names]
    while todo:
        name, parent = todo.pop(0)
        if name in by:
            continue
        by[name] = parent
        more = needs(name)
        if more is None:
            raise BuildError('%s needs %s%s, in none of the packages fetched '
                             '(%s)' % (binary, name,
                                       ' (for %s)' % parent if parent else '',
                                       ', '.join(NVME_PACKAGES)))
        todo.extend((n, name) for n in more)
    return sorted(by)


def _inside(tree, path):
    """``path`` as the target system would find it in ``tree`` (an
    unpacked package), following its links, absolute ones inside ``tree``;
    None when that is no file."""
    parts, done = path.strip('/').split('/'), []
    for _ in range(1000):
        if not parts:
            break
        part = parts.pop(0)
        if part in ('', '.'):
            continue
        if part == '..':
            done = done[:-1]
            continue
        here = os.path.join(tree, *done, part)
        if os.path.islink(here):
            target = os.readlink(here)
            if target.startswith('/'):
                done = []
            parts = target.split('/') + parts
        else:
            done.append(part)
    full = os.path.join(tree, *done)
    return full if not parts and os.path.isfile(full) else None


def _copy(source, target):
    """A copy, executable (0700 when staged; 0755 in the archive) if the
    source is."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, 0o700 if os.stat(source).st_mode & 0o111 else 0o600)


def _stage_nvme(debs, root, work):
    """``/bin/nvme``, its dynamic loader and its libraries' closure."""
    tree = os.path.join(work, 'nvme')
    for deb in debs:
        _run('dpkg-deb', '-x', deb, tree)
    binary = _inside(tree, NVME)
    if binary is None:
        raise BuildError('nvme-cli has no %s' % NVME)
    interp, needed = _elf_dynamic(binary)
    if not interp:
        raise BuildError('%s has no PT_INTERP' % NVME)
    found = {}

    def lookup(soname):
        for directory in _SEARCH:
            path = _inside(tree, '%s/%s' % (directory, soname))
            if path:
                found[soname] = path
                return _elf_dynamic(path)[1]
        return None

    loader = os.path.basename(interp)
    for soname in _library_closure(lookup, needed + [loader]):
        _copy(found[soname], os.path.join(root, LIBDIR, soname))
    _copy(binary, os.path.join(root, 'bin', 'nvme'))
    if os.path.dirname(interp).strip('/') != LIBDIR:
        link = os.path.join(root, interp.lstrip('/'))
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(os.path.join(root, LIBDIR, loader),
                                   os.path.dirname(link)), link)


def _stage(debs, root, work):
    kernel_deb, busybox_deb, *nvme_debs = debs
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
    _stage_nvme(nvme_debs, root, work)
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
