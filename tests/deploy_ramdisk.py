"""A stand-in for the deploy ramdisk, speaking its protocol over real HTTP.

It watches the fake BMCs as a machine's firmware would live through them:
when a node is powered on to boot from the network, it fetches
``boot.ipxe``'s per-MAC script from the proxy, reads the API URL off the
kernel command line, looks itself up by its MAC (the answer: its token,
handed out once, and its config), downloads the image with the token,
hashes it, reports, and powers the machine off through the fake BMC's
control socket (as the real ramdisk's ``poweroff`` would). Each power on
is one boot: it looks itself up once per boot, as the real one does.
What it wrote is kept per node: ``disks[node_name]`` (bytes), so tests
can look at the "disk", and a config drive in ``configdrives[node_name]``
(its partition table edits in ``tables[node_name]``). It reports its
disks as ``disk_facts[node_name]`` says (default: one 10 GiB /dev/vda).

``behaviour[node_name]`` picks what it does in a deploy, and
``clean_behaviour[node_name]`` in a cleaning: ``ok`` (default), ``fail``
(reports a failure), ``bad_sha`` (reports the wrong sha256), ``silent``
(never reports), ``stay_on`` (reports, but does not power off); in a
cleaning also ``skip_disk`` (its erase report leaves the last disk out),
``disk_failed`` (the last disk reported not erased, as a read-only one)
and ``no_disks`` (erases without reporting the disks first, as a ramdisk
older than clean modes). A cleaning erases per its ``clean_mode`` as the
real ramdisk does on a disk without hardware secure erase: ``metadata``
and ``express`` (a note says why no secure erase) zero both ends,
``full`` every byte; ``erased[node_name]`` keeps its report's lines.

An inspection (``mode=inspect``) posts ``inventories[node_name]`` (default:
:func:`inventory` of its MAC and disks) and powers off;
``inspect_behaviour[node_name]``: ``ok``, ``garbage`` (a report no ramdisk
sends), ``silent``. A node in ``system_uuids`` has no MAC known to the
proxy: it boots ``unknown.ipxe`` when no per-MAC script is there and looks
itself up with that system UUID too.
"""

import hashlib
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

TOKEN_HEADER = 'X-Nova-BM-Token'
ERASED = b'\0' * 16
#: The disk the stand-in reports by default.
DEVICE = '/dev/vda'


class FakeRamdisk:

    def __init__(self, fleet, nodes, base_url):
        """``nodes``: ``{node name: (BMC port, MAC)}``."""
        self.fleet = fleet
        self.nodes = dict(nodes)
        self.base_url = base_url
        self.behaviour = {}
        self.clean_behaviour = {}
        self.disks = {}
        self.disk_facts = {}
        self.erased = {}
        self.configdrives = {}
        self.tables = {}
        self.placements = {}
        self.reports = []
        self.inventories = {}
        self.inspect_behaviour = {}
        #: ``{node name: system UUID}`` of the nodes enrolled without MACs.
        self.system_uuids = {}
        self.errors = []
        #: ``{node name: (api URL, token, config)}`` of each node's last
        #: lookup: a test may go on as a ramdisk that stayed silent.
        self.tokens = {}
        self._seen = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(10)

    def _run(self):
        while not self._stop.is_set():
            for name, (port, mac) in list(self.nodes.items()):
                try:
                    self._look(name, port, mac)
                except Exception as e:  # noqa: BLE001  (kept for asserts)
                    self.errors.append('%s: %r' % (name, e))
            self._stop.wait(0.05)

    def _look(self, name, port, mac):
        state = self.fleet.state(port)
        if state['power'] != 'on' or state['boot_device'] != 'network':
            return
        boot = state['actions'].get('on', 0)
        if self._seen.get(name) == boot:
            return
        script = self.get('/nodes/%s.ipxe' % mac.replace(':', '-'))
        match = re.search(r'nbm_api=(\S+)', script or '')
        if match is None and name in self.system_uuids:
            match = re.search(r'nbm_api=(\S+)',
                              self.get('/unknown.ipxe') or '')
        if match is None:
            return
        self._seen[name] = boot
        api = match.group(1)
        token, config = self.lookup(api, [mac], self.system_uuids.get(name))
        if token is None:
            # As the real one: no token, no power off (the proxy will).
            self.reports.append((name, None, 'lookup refused', config))
            return
        self.tokens[name] = (api, token, config)
        if config['mode'] == 'inspect':
            self.inspect(name, port, mac, api, token)
            return
        behaviour = (self.behaviour if config['mode'] == 'deploy'
                     else self.clean_behaviour).get(name, 'ok')
        if behaviour == 'silent':
            self.reports.append((name, config['mode'], 'silent', None))
            return
        drive_digest = None
        if config['mode'] == 'deploy':
            placement = self.place(api, token, name)
            self.placements[name] = placement
            if placement is None:
                self.reports.append((name, 'deploy', 'no disk', None))
                self.fleet.control(port, power='off')
                return
            image = self.fetch(config['image_url'], token)
            self.disks[name] = image
            digest = hashlib.sha256(image).hexdigest()
            if behaviour == 'bad_sha':
                digest = hashlib.sha256(b'not the image').hexdigest()
            if 'drive' in placement:
                drive = self.fetch(api + '/configdrive/0', token)
                self.configdrives[name] = drive
                self.tables[name] = []
                for line in placement.get('table', []):
                    index, _, length, sha = line.split()
                    table = self.fetch(api + '/configdrive/%s' % index, token)
                    # What the real ramdisk checks before writing it.
                    if (len(table), hashlib.sha256(table).hexdigest()) != (
                            int(length), sha):
                        raise AssertionError('table edit %s is not what the '
                                             'placement says' % index)
                    self.tables[name].append(table)
                drive_digest = hashlib.sha256(drive).hexdigest()
                if placement['drive'].split()[2] != drive_digest:
                    raise AssertionError('the drive is not what the '
                                         'placement says')
        else:
            self.clean(name, port, api, token, config, behaviour)
            return
        if behaviour == 'fail':
            fields = {'status': 'failed', 'error': 'no disk found'}
        else:
            fields = {'status': 'ok', 'device': self.placements.get(
                name, {}).get('root_device', DEVICE)}
            if digest:
                fields['sha256'] = digest
            if drive_digest:
                fields['configdrive_sha256'] = drive_digest
        status = self.post(api + '/done', token, fields)
        self.reports.append((name, config['mode'], fields['status'], status))
        if behaviour != 'stay_on':
            self.fleet.control(port, power='off')

    def facts(self, name):
        return self.disk_facts.get(name, 'name=%s size=%d\n'
                                   % (DEVICE, 10 << 30))

    def inspect(self, name, port, mac, api, token):
        """Report the machine's hardware, as the real ramdisk does."""
        behaviour = self.inspect_behaviour.get(name, 'ok')
        if behaviour == 'silent':
            self.reports.append((name, 'inspect', 'silent', None))
            return
        text = self.inventories.get(name) or inventory(mac, self.facts(name))
        if behaviour == 'garbage':
            text = 'cpu count=many\n'
        code = self.post_text(api + '/inventory', token, text)
        self.reports.append((name, 'inspect', behaviour, code))
        self.fleet.control(port, power='off')

    def clean(self, name, port, api, token, config, behaviour):
        """Erase as the real ramdisk does, and report per disk."""
        mode = config.get('clean_mode')
        if behaviour != 'no_disks' and self.place(api, token, name) is None:
            self.reports.append((name, 'clean', 'disks refused', None))
            self.fleet.control(port, power='off')
            return
        disk = bytearray(self.disks.get(name, b''))
        if mode == 'full':
            disk = bytearray(len(disk))
        else:
            disk[:16] = ERASED
            disk[-16:] = ERASED
        self.disks[name] = bytes(disk)
        lines = []
        for line in self.facts(name).splitlines():
            words = dict(word.split('=', 1) for word in line.split())
            size = int(words['size'])
            if mode == 'full':
                erased = 'method=overwrite bytes=%d verified=18' % size
            else:
                erased = 'method=metadata bytes=%d verified=2' % min(
                    size, 82 << 20)
                if mode == 'express':
                    erased += ' note=not%20an%20NVMe%20disk'
            lines.append('disk name=%s %s seconds=0.25'
                         % (words['name'], erased))
        if behaviour == 'skip_disk':
            lines.pop()
        elif behaviour == 'disk_failed':
            lines[-1] = lines[-1].split(' method=')[0] + (
                ' method=failed bytes=0 seconds=0.01 verified=0 '
                'note=read-only%20disk')
        status = 'status=ok'
        if behaviour == 'fail':
            status = 'status=failed error=no%20disk%20found'
        elif behaviour == 'disk_failed':
            # As the real one: the others erased, then the failure.
            status = 'status=failed error=not%%20erased:%%20%s' % (
                lines[-1].split()[1].split('/')[-1])
        self.erased[name] = lines
        code = self.post_text(api + '/done', token,
                              '\n'.join([status] + lines) + '\n')
        self.reports.append((name, 'clean', status.split()[0][7:], code))
        if behaviour != 'stay_on':
            self.fleet.control(port, power='off')

    # -- HTTP ------------------------------------------------------------

    def get(self, path, token=None):
        try:
            with self.open(self.base_url + path, token) as response:
                return response.read().decode()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def open(self, url, token=None, data=None):
        # http:// URLs of the proxy under test only.
        request = urllib.request.Request(url, data=data)  # noqa: S310
        if token is not None:
            request.add_header(TOKEN_HEADER, token)
        return urllib.request.urlopen(request, timeout=30)  # noqa: S310

    def lookup(self, api, macs, system_uuid=None):
        """``(token, config)``, or ``(None, HTTP status)`` if refused."""
        fields = {'macs': ','.join(macs)}
        if system_uuid is not None:
            fields['system_uuid'] = system_uuid
        data = urllib.parse.urlencode(fields).encode()
        try:
            with self.open(api + '/lookup', data=data) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as e:
            return None, e.code
        fields = dict(line.split('=', 1) for line in text.splitlines())
        return fields.pop('token'), fields

    def place(self, api, token, name):
        """Report the disks (``self.disk_facts[name]``, default one
        10 GiB ``/dev/vda``): the proxy's placement as ``{key: value}``
        (``table``: a list of lines), or None when it refused."""
        facts = self.facts(name)
        request = urllib.request.Request(  # noqa: S310
            api + '/disks', data=facts.encode(),
            headers={'Content-Type': 'text/plain', TOKEN_HEADER: token})
        try:
            with urllib.request.urlopen(  # noqa: S310
                    request, timeout=30) as response:
                text = response.read().decode()
        except urllib.error.HTTPError:
            return None
        placement = {'table': []}
        for line in text.splitlines():
            key, _, value = line.partition('=')
            if key == 'table':
                placement['table'].append(value)
            else:
                placement[key] = value
        return placement

    def config(self, api, token):
        with self.open(api + '/config', token) as response:
            text = response.read().decode()
        return dict(line.split('=', 1) for line in text.splitlines())

    def fetch(self, url, token):
        with self.open(url, token) as response:
            return response.read()

    def post_text(self, url, token, text):
        request = urllib.request.Request(  # noqa: S310
            url, data=text.encode(),
            headers={'Content-Type': 'text/plain', TOKEN_HEADER: token})
        try:
            with urllib.request.urlopen(  # noqa: S310
                    request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    def post(self, url, token, fields):
        data = urllib.parse.urlencode(fields).encode()
        try:
            with self.open(url, token, data) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code


def inventory(mac, disks, cpus=8, memory_mb=16384, boot_mode='bios'):
    """An inventory report as the real ramdisk writes it: one NIC
    (``mac``, the one it booted from) and the disk lines ``disks``."""
    lines = ['cpu count=%d architecture=x86_64 model=Test%%20CPU' % cpus,
             'memory total_bytes=%d physical_mb=%d' % (
                 (memory_mb - 100) << 20, memory_mb),
             'system vendor=nova-bm product=stand-in serial=SN-%s'
             % mac.replace(':', ''),
             'boot mode=%s pxe_mac=%s' % (boot_mode, mac)]
    lines += ['disk ' + line for line in disks.splitlines() if line.strip()]
    lines.append('nic name=eth0 mac=%s speed_mbps=10000 carrier=1' % mac)
    return '\n'.join(lines) + '\n'


def disk_image(label, size=1 << 20):
    """A raw whole-disk image: an MBR with one partition (Nova's format
    inspector refuses a raw disk without one) and ``label`` in its first
    sector and at its end, so tests can tell images apart."""
    image = bytearray(size)
    marker = ('nova-bm test image %s' % label).encode()
    image[:len(marker)] = marker
    # One Linux partition from sector 1 to the end.
    sectors = size // 512 - 1
    entry = bytes([0x00, 0, 2, 0, 0x83, 0, 0, 0]) + (1).to_bytes(
        4, 'little') + sectors.to_bytes(4, 'little')
    image[446:462] = entry
    image[510:512] = b'\x55\xaa'
    image[-len(marker):] = marker
    return bytes(image)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %s s waiting for %s'
                                 % (timeout, what))
        time.sleep(0.05)
