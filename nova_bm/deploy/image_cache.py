"""Raw images on the proxy, fetched once from Glance whatever the number
of deploys that want them, and evicted by age and total size.

An image is fetched with Nova's own ``nova.virt.images.fetch_to_raw``: its
format inspector refuses what is not what Glance says it is, images with
backing files or data files, and converts qcow2 to raw. Each file is named
by the image's id and Glance checksum, so an image re-uploaded under the
same id is a new file. What a caller may rely on:

* :meth:`ImageCache.get` returns a whole, verified file: its size and the
  sha256 the ramdisk must report are measured once, when it arrives;
* concurrent callers for one image wait for one download (a lock per
  image; callers for other images are not held up);
* an image :meth:`ImageCache.get` returned is pinned until :meth:`unpin`
  (the deploy ends): :meth:`ImageCache.evict` never removes a pinned image
  nor one named in ``in_use``.
"""

import collections
import hashlib
import os
import re
import tempfile
import threading
import time

from nova.virt import images as nova_images
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

CachedImage = collections.namedtuple('CachedImage',
                                     'name path size sha256')

_SAFE = re.compile(r'[^A-Za-z0-9_.-]')
_SUFFIX = '.raw'
_CHUNK = 1 << 20


def _file_name(image_id, checksum):
    checksum = checksum or 'nochecksum'
    return _SAFE.sub('_', '%s-%s' % (image_id, checksum))[:200] + _SUFFIX


class ImageCache:

    def __init__(self, directory, fetch=None):
        self.directory = directory
        self._fetch = fetch or nova_images.fetch_to_raw
        self._locks = {}
        self._locks_lock = threading.Lock()
        self._pins = collections.Counter()
        #: Downloads started, by image id (tests and benchmarks read it).
        self.downloads = collections.Counter()

    def _lock(self, name):
        with self._locks_lock:
            return self._locks.setdefault(name, threading.Lock())

    def get(self, context, image_id, checksum=None):
        """The image as a raw file in the cache, fetched if missing.

        :raises: whatever ``fetch_to_raw`` raises (``ImageUnacceptable``
            for an image Nova refuses, Glance errors)
        """
        name = _file_name(image_id, checksum)
        path = os.path.join(self.directory, name)
        with self._lock(name):
            image = self._load(name)
            if image is None:
                image = self._download(context, image_id, name)
            os.utime(path)  # last use, for eviction
            with self._locks_lock:
                self._pins[name] += 1
        return image

    def unpin(self, image):
        """The deploy that got ``image`` is over with it."""
        with self._locks_lock:
            self._pins[image.name] -= 1
            if self._pins[image.name] <= 0:
                del self._pins[image.name]

    def _load(self, name):
        path = os.path.join(self.directory, name)
        try:
            with open(path + '.sha256') as f:
                sha256, size = f.read().split()
            if os.path.getsize(path) != int(size):
                return None
        except (OSError, ValueError):
            return None
        return CachedImage(name, path, int(size), sha256)

    def _download(self, context, image_id, name):
        os.makedirs(self.directory, exist_ok=True)
        self.downloads[image_id] += 1
        started = time.monotonic()
        work = tempfile.mkdtemp(dir=self.directory, prefix='.fetch-')
        try:
            raw = os.path.join(work, 'image')
            self._fetch(context, image_id, raw)
            sha256, size = _measure(raw)
            path = os.path.join(self.directory, name)
            os.replace(raw, path)
            with open(path + '.sha256.tmp', 'w') as f:
                f.write('%s %d\n' % (sha256, size))
            os.replace(path + '.sha256.tmp', path + '.sha256')
        finally:
            for leftover in os.listdir(work):
                os.unlink(os.path.join(work, leftover))
            os.rmdir(work)
        LOG.info('Image %(id)s in the deploy cache: %(size)d bytes raw, '
                 'fetched in %(secs).1f s',
                 {'id': image_id, 'size': size,
                  'secs': time.monotonic() - started})
        return CachedImage(name, path, size, sha256)

    def entries(self):
        """``[(name, size, last use)]`` of every whole image."""
        result = []
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return result
        for name in names:
            if not name.endswith(_SUFFIX):
                continue
            try:
                stat = os.stat(os.path.join(self.directory, name))
            except FileNotFoundError:
                continue
            result.append((name, stat.st_size, stat.st_mtime))
        return result

    def evict(self, in_use, max_bytes, ttl, now=None):
        """Remove images unused for ``ttl`` seconds, then the least
        recently used until the rest fit in ``max_bytes``; never one in
        ``in_use`` (names). :returns: the names removed."""
        now = time.time() if now is None else now
        with self._locks_lock:
            in_use = set(in_use) | set(self._pins)
        removed = []
        kept = []
        for name, size, used in sorted(self.entries(), key=lambda e: e[2]):
            if name not in in_use and now - used > ttl:
                removed.append(name)
            else:
                kept.append((name, size, used))
        total = sum(size for _, size, _ in kept)
        for name, size, _ in kept:
            if total <= max_bytes:
                break
            if name not in in_use:
                removed.append(name)
                total -= size
        gone = []
        for name in removed:
            with self._lock(name):
                with self._locks_lock:
                    if name in self._pins:
                        continue  # got by a deploy meanwhile
                for path in (name, name + '.sha256'):
                    try:
                        os.unlink(os.path.join(self.directory, path))
                    except FileNotFoundError:
                        pass
            gone.append(name)
            LOG.info('Image file %s evicted from the deploy cache', name)
        return gone


def _measure(path):
    digest = hashlib.sha256()
    size = 0
    with open(path, 'rb') as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
