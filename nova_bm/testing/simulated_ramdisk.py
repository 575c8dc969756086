"""A simulated machine's network boot and deploy ramdisk, over real HTTP.

What a machine does once its BMC powers it on to boot from the network,
without QEMU: its firmware's iPXE asks the proxy for the script of each
of its NICs (``/nodes/<mac>.ipxe``), then for ``/unknown.ipxe``, and boots
the first one whose kernel line names the ramdisk's API (``nbm_api=``);
the ramdisk then speaks the protocol of ``nova_bm/ramdisk/init``: one
lookup by its MACs and system UUID, then per the mode it is told

* ``inspect``: its inventory (``POST <api>/inventory``, the format of
  :mod:`nova_bm.inspection.inventory`);
* ``clean``: its disks (``POST <api>/disks``), then an erase report
  (``POST <api>/done``, the grammar of :mod:`nova_bm.deploy.erase_report`)
  saying each disk was erased as the clean mode asks, as the real ramdisk
  does on disks without hardware secure erase (NVMe ones: a format);
* ``deploy``: its disks, then the image (and a config drive, its partition
  table edits) read with the token and hashed while streaming, nothing
  written; ``POST <api>/done`` with ``status=ok``, the sha256 and the
  device the proxy chose;

and powers itself off (``power_off``, the callback a BMC gives). Like the
real one it looks itself up once, never again; with no script for it, or
no token, it stays on (sitting in its firmware, or holding) and says
nothing. A failure after its lookup is reported (``status=failed``), then
it powers off.

Not simulated: DHCP, the downloads of ``boot.ipxe``, the kernel and the
initramfs (the proxy serves them as static files), heartbeats, and any
time taken but the ``firmware_delay`` (power-on self test to iPXE) and
``kernel_delay`` (kernel and initramfs to the lookup) given, 0 by default.

What a caller may rely on: :meth:`SimulatedMachine.boot` returns one of
:data:`OUTCOMES` (a failure's reason after ``'failed: '``) and never
raises; every HTTP call is bounded by ``timeout``; each failed call is
recorded in ``errors``; every call made is in ``requests``. It uses the
standard library only, so any process can run one (the fake BMCs do, per
boot: ``nova_bm.testing.fakebmc``, ``simulate``).
"""

import hashlib
import http.client
import re
import threading
import time
import urllib.parse

TOKEN_HEADER = 'X-Nova-BM-Token'  # noqa: S105 (a header name)
#: What a simulated ramdisk may be told to do: ``ok``; ``silent`` looks
#: itself up and never reports (nor powers off); ``garbage`` reports an
#: inventory no ramdisk sends (refused: it then fails as the real one).
BEHAVIOURS = ('ok', 'silent', 'garbage')
#: What :meth:`SimulatedMachine.boot` returns (a failure as ``'failed: '``
#: and its reason).
OUTCOMES = ('no script', 'no token', 'inspected', 'cleaned', 'deployed',
            'silent', 'failed', 'powered off')
DEFAULT_TIMEOUT = 30.0
#: A disk of the default hardware.
DEFAULT_DISK_BYTES = 10 << 30
GARBAGE = 'cpu count=many\n'
#: The first MiB of a metadata erase and its last MiB, as the real
#: ramdisk's (ERASE_MB, END_MB).
_METADATA_BYTES = (16 + 66) << 20
_SAMPLES = 17
_API_RE = re.compile(r'nbm_api=(\S+)')
_READ_CHUNK = 1 << 20


def encode(value):
    """A report's value: percent-encoded but for ``[A-Za-z0-9._:/-]``."""
    return urllib.parse.quote(str(value), safe='._:/-')


def disk_line(name, size, **facts):
    """One line of a disk report (:mod:`nova_bm.deploy.disk_facts`)."""
    words = ['name=%s' % name, 'size=%d' % size]
    words += ['%s=%s' % (key, encode(value))
              for key, value in facts.items() if value is not None]
    return ' '.join(words)


def loopback_address(port):
    """A source address of its own in 127.0.0.0/8 for the machine behind
    the BMC on ``port``: the proxy sees one address per machine, as on a
    provisioning network (its per-source caps, its token binding)."""
    return '127.1.%d.%d' % (port >> 8 & 0xff, port & 0xff)


class Hardware:
    """What the ramdisk finds in its machine.

    :param macs: its NICs' MACs, the one its firmware boots from first.
    :param system_uuid: the SMBIOS system UUID (what its BMC answers to
        Get System GUID), or None.
    :param disks: disk report lines (:func:`disk_line`); default one
        10 GiB ``/dev/vda``.
    """

    def __init__(self, macs, system_uuid=None, cpus=8, memory_mb=16384,
                 disks=None, boot_mode='bios', architecture='x86_64'):
        if not macs:
            raise ValueError('a machine has at least one NIC')
        self.macs = [mac.lower() for mac in macs]
        self.system_uuid = system_uuid
        self.cpus = cpus
        self.memory_mb = memory_mb
        self.disks = (disk_line('/dev/vda', DEFAULT_DISK_BYTES,
                                rotational=0) if disks is None else disks)
        self.boot_mode = boot_mode
        self.architecture = architecture

    def disk_sizes(self):
        """``[(name, size)]`` of the disk lines."""
        found = []
        for line in self.disks.splitlines():
            words = dict(word.split('=', 1) for word in line.split())
            if words:
                found.append((words['name'], int(words['size'])))
        return found

    def inventory(self, pxe_mac):
        """The inventory report the real ramdisk would write."""
        lines = ['cpu count=%d architecture=%s model=%s' % (
                     self.cpus, self.architecture,
                     encode('Simulated CPU')),
                 # The kernel keeps some: MemTotal is less than installed.
                 'memory total_bytes=%d physical_mb=%d' % (
                     max(1, self.memory_mb - 64) << 20, self.memory_mb),
                 'system vendor=nova-bm product=simulated serial=SIM-%s%s'
                 % (self.macs[0].replace(':', ''),
                    ' uuid=%s' % self.system_uuid if self.system_uuid
                    else ''),
                 'boot mode=%s pxe_mac=%s' % (self.boot_mode, pxe_mac)]
        lines += ['disk ' + line for line in self.disks.splitlines()
                  if line.strip()]
        lines += ['nic name=eth%d mac=%s speed_mbps=10000 carrier=1'
                  % (index, mac) for index, mac in enumerate(self.macs)]
        return '\n'.join(lines) + '\n'

    def erase_lines(self, clean_mode):
        """Per disk, what the real ramdisk reports after erasing it in
        ``clean_mode`` (no hardware secure erase but NVMe's format)."""
        lines = []
        for name, size in self.disk_sizes():
            nvme = name.startswith('/dev/nvme')
            if clean_mode != 'metadata' and nvme:
                done = 'method=nvme-format bytes=%d verified=%d' % (
                    size, _SAMPLES)
            elif clean_mode == 'full':
                done = 'method=overwrite bytes=%d verified=%d' % (
                    size, _SAMPLES)
            else:
                done = 'method=metadata bytes=%d verified=2' % min(
                    size, _METADATA_BYTES)
                if clean_mode == 'express':
                    done += ' note=%s' % encode(
                        'no hardware secure erase: not NVMe')
            lines.append('disk name=%s %s seconds=0.01' % (name, done))
        return lines


class _Failed(Exception):
    """The ramdisk fails: reported (when it holds a token), then off."""


class _Unanswered(Exception):
    """An HTTP call got no answer (recorded already)."""


class SimulatedMachine:
    """One machine booting from the network into the deploy ramdisk.

    :param boot_url: where its iPXE gets scripts: the proxy's deploy
        server root (``http://host:port``; a trailing ``/boot.ipxe`` is
        dropped).
    :param hardware: a :class:`Hardware`.
    :param behaviour: one of :data:`BEHAVIOURS`.
    :param source_address: the address its calls come from (None: the
        host's choice; see :func:`loopback_address`).
    :param power_off: called when the ramdisk powers the machine off.
    :param stopped: a :class:`threading.Event` set when the machine lost
        power (its BMC powered it off): the boot ends at its next step,
        without powering off.
    """

    def __init__(self, boot_url, hardware, firmware_delay=0.0,
                 kernel_delay=0.0, behaviour='ok', timeout=DEFAULT_TIMEOUT,
                 source_address=None, power_off=lambda: None, stopped=None):
        if behaviour not in BEHAVIOURS:
            raise ValueError('behaviour must be one of %s, not %r'
                             % (', '.join(BEHAVIOURS), behaviour))
        base = boot_url.rstrip('/')
        if base.endswith('/boot.ipxe'):
            base = base[:-len('/boot.ipxe')]
        self.base_url = base
        self.hardware = hardware
        self.firmware_delay = firmware_delay
        self.kernel_delay = kernel_delay
        self.behaviour = behaviour
        self.timeout = timeout
        self.source_address = source_address
        self._power_off = power_off
        self.stopped = stopped or threading.Event()
        #: ``(method, path, status or None)`` of every call, in order.
        self.requests = []
        #: One line per call that failed or was refused.
        self.errors = []
        #: The lookup's answer (``token`` left out), once looked up.
        self.config = None
        self.outcome = None

    # -- the boot ------------------------------------------------------

    def boot(self):
        """Boot once: see the module. :returns: the outcome (also in
        ``outcome``), one of :data:`OUTCOMES`."""
        try:
            self.outcome = self._boot()
        except Exception as e:  # noqa: BLE001  (a machine never raises)
            self.errors.append('unexpected: %r' % e)
            self.outcome = 'failed: %r' % e
        return self.outcome

    def _boot(self):
        if not self._pause(self.firmware_delay):
            return 'powered off'
        api, boot_mac = self._script()
        if api is None:
            return 'no script'
        if not self._pause(self.kernel_delay):
            return 'powered off'
        token = self._lookup(api)
        if token is None:
            return 'no token'
        if self.behaviour == 'silent':
            return 'silent'
        mode = self.config.get('mode')
        try:
            if mode == 'inspect':
                self._inspect(api, token, boot_mac)
                outcome = 'inspected'
            elif mode == 'clean':
                self._clean(api, token)
                outcome = 'cleaned'
            elif mode == 'deploy':
                self._deploy(api, token)
                outcome = 'deployed'
            else:
                raise _Failed('unknown mode %s' % mode)
        except _Failed as e:
            if self.stopped.is_set():
                return 'powered off'
            self._post(api + '/done', token, urllib.parse.urlencode(
                {'status': 'failed', 'error': str(e)}),
                'application/x-www-form-urlencoded')
            outcome = 'failed: %s' % e
        if self.stopped.is_set():
            return 'powered off'
        self._power_off()
        return outcome

    def _pause(self, seconds):
        """Wait ``seconds``; False when the machine lost power."""
        if seconds:
            self.stopped.wait(seconds)
        return not self.stopped.is_set()

    def _script(self):
        """``(api URL, MAC booted)`` of the first script that boots the
        ramdisk, NIC by NIC then ``unknown.ipxe``; ``(None, None)``."""
        for mac in self.hardware.macs:
            found = self._ramdisk_api('/nodes/%s.ipxe' % mac.replace(':', '-'))
            if found:
                return found, mac
        # iPXE's ${mac} there: the first NIC's, the one that got DHCP.
        return self._ramdisk_api('/unknown.ipxe'), self.hardware.macs[0]

    def _ramdisk_api(self, path):
        try:
            status, body = self._call('GET', self.base_url + path)
        except _Unanswered:
            return None
        match = _API_RE.search(body.decode('ascii', 'replace'))
        return match.group(1) if status == 200 and match else None

    def _lookup(self, api):
        fields = {'macs': ','.join(self.hardware.macs)}
        if self.hardware.system_uuid:
            fields['system_uuid'] = self.hardware.system_uuid
        try:
            status, body = self._call(
                'POST', api + '/lookup', urllib.parse.urlencode(fields),
                {'Content-Type': 'application/x-www-form-urlencoded'})
        except _Unanswered:
            return None
        if status != 200:
            return None
        answer = {}
        for line in body.decode('utf-8', 'replace').splitlines():
            key, sep, value = line.partition('=')
            if sep:
                answer.setdefault(key, value)
        token = answer.pop('token', None)
        self.config = answer
        if not token:
            self.errors.append('lookup: no token in the answer')
        return token or None

    # -- modes ---------------------------------------------------------

    def _inspect(self, api, token, boot_mac):
        text = (GARBAGE if self.behaviour == 'garbage'
                else self.hardware.inventory(boot_mac))
        self._post(api + '/inventory', token, text, 'text/plain',
                   'the proxy did not take the inventory')

    def _clean(self, api, token):
        answer = self._post(api + '/disks', token, self.hardware.disks,
                            'text/plain', 'the proxy did not take the disks')
        clean_mode = self.config.get('clean_mode', 'metadata')
        told = dict(line.split('=', 1) for line in answer.splitlines()
                    if '=' in line)
        if told.get('erase', clean_mode) != clean_mode:
            raise _Failed('told to erase %s, configured %s'
                          % (told['erase'], clean_mode))
        if clean_mode not in ('metadata', 'express', 'full'):
            raise _Failed('unknown clean mode %s' % clean_mode)
        report = ['status=ok'] + self.hardware.erase_lines(clean_mode)
        self._post(api + '/done', token, '\n'.join(report) + '\n',
                   'text/plain', 'the proxy did not take the report')

    def _deploy(self, api, token):
        answer = self._post(api + '/disks', token, self.hardware.disks,
                            'text/plain', 'the proxy chose no disk')
        placement = {'table': []}
        for line in answer.splitlines():
            key, _, value = line.partition('=')
            if key == 'table':
                placement['table'].append(value)
            else:
                placement[key] = value
        root = placement.get('root_device')
        sizes = dict(self.hardware.disk_sizes())
        if root not in sizes:
            raise _Failed('no root device (%s)' % root)
        size = int(self.config.get('image_size') or 0)
        if size > sizes[root]:
            raise _Failed('the image is larger than %s' % root)
        got, read = self._digest(self.config.get('image_url', ''), token)
        if read != size:
            raise _Failed('read %d bytes of the image, not %d' % (read, size))
        fields = {'status': 'ok', 'sha256': got, 'device': root}
        if placement.get('drive'):
            sector, length, sha = placement['drive'].split()
            drive, read = self._digest(api + '/configdrive/0', token)
            if (drive, read) != (sha, int(length)):
                raise _Failed('the config drive read back from %s is not '
                              'the one sent' % root)
            for line in placement['table']:
                index, _, length, sha = line.split()
                piece, read = self._digest(api + '/configdrive/%s' % index,
                                           token)
                if (piece, read) != (sha, int(length)):
                    raise _Failed('writing the partition table edit %s to '
                                  '%s failed' % (index, root))
            fields['configdrive_sha256'] = drive
        self._post(api + '/done', token, urllib.parse.urlencode(fields),
                   'application/x-www-form-urlencoded',
                   'the proxy did not take the report')

    # -- HTTP ----------------------------------------------------------

    def _post(self, url, token, text, content_type, failure=None):
        """POST ``text``: the answer's text ('' when unanswered).

        :raises: _Failed saying ``failure`` when it was refused or not
            answered (never without ``failure``: a failure's own report
            that is lost is only recorded, as the real ramdisk logs it)
        """
        try:
            status, body = self._call('POST', url, text, {
                'Content-Type': content_type, TOKEN_HEADER: token})
        except _Unanswered as e:
            if failure is None:
                return ''
            raise _Failed('%s: %s' % (failure, e)) from None
        answer = body.decode('utf-8', 'replace')
        if status not in (200, 204) and failure is not None:
            raise _Failed('%s: %d %s' % (failure, status,
                                         answer.strip()[:200]))
        return answer

    def _digest(self, url, token):
        """``(sha256 hex, bytes)`` of what ``url`` answers, streamed.
        :raises: _Failed"""
        digest = hashlib.sha256()
        read = 0
        try:
            connection, response = self._open('GET', url, None,
                                              {TOKEN_HEADER: token})
        except _Unanswered as e:
            raise _Failed('reading %s: %s' % (url, e)) from None
        try:
            if response.status != 200:
                self.errors.append('GET %s: %d' % (url, response.status))
                raise _Failed('reading %s: %d' % (url, response.status))
            while True:
                chunk = response.read(_READ_CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                read += len(chunk)
        except (OSError, http.client.HTTPException) as e:
            self.errors.append('GET %s: %r' % (url, e))
            raise _Failed('reading %s: %r' % (url, e)) from None
        finally:
            connection.close()
        return digest.hexdigest(), read

    def _call(self, method, url, body=None, headers=None):
        """``(status, body)`` of one bounded call.
        :raises: _Unanswered (recorded)"""
        connection, response = self._open(method, url, body, headers or {})
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as e:
            self.errors.append('%s %s: %r' % (method, url, e))
            raise _Unanswered(repr(e)) from None
        finally:
            connection.close()
        if response.status >= 400:
            self.errors.append('%s %s: %d %s' % (
                method, url, response.status,
                data.decode('utf-8', 'replace').strip()[:200]))
        return response.status, data

    def _open(self, method, url, body, headers):
        parts = urllib.parse.urlsplit(url)
        path = (parts.path or '/') + ('?' + parts.query if parts.query
                                      else '')
        if parts.scheme == 'https':
            connection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=self.timeout,
                source_address=self._source())
        elif parts.scheme == 'http':
            connection = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=self.timeout,
                source_address=self._source())
        else:
            self.requests.append((method, url, None))
            self.errors.append('%s %s: not an http URL' % (method, url))
            raise _Unanswered('not an http URL')
        started = time.monotonic()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as e:
            connection.close()
            self.requests.append((method, path, None))
            self.errors.append('%s %s: %r after %.1f s' % (
                method, url, e, time.monotonic() - started))
            raise _Unanswered(repr(e)) from None
        self.requests.append((method, path, response.status))
        return connection, response

    def _source(self):
        return (None if self.source_address is None
                else (self.source_address, 0))
