"""The deploy ramdisk's API: what it may say, and what it is told.

The token model is Ironic's agent token: nothing the proxy serves
without credentials (``boot.ipxe``, the per-MAC scripts, the kernel and
ramdisk) holds a secret. The ramdisk identifies itself by its MACs and is
handed its job's token once:

``POST /api/v1/lookup`` (no token)
    Form-encoded ``macs=<mac>,<mac>,…`` (every NIC the ramdisk sees, at
    most :data:`MAX_MACS`). When exactly one node has one of them and its
    job waits for its ramdisk, the answer is ``token=<token>`` followed by
    the job's config (below), and the token is bound to the address the
    lookup came from. Every other case is the same ``404``: unknown MACs
    and enrolled nodes with nothing to do are not told apart. A lookup
    whose MACs name no node may also give ``system_uuid`` (the SMBIOS
    system UUID): it finds the one waiting inspection whose node's BMC
    reported it (a node enrolled with its BMC alone,
    :mod:`nova_bm.common.system_uuid`).

``GET /api/v1/config``
    The config again, ``text/plain``, one ``key=value`` per line:
    ``mode`` (``deploy``, ``clean`` or ``inspect``), ``node`` (its UUID), for a
    cleaning ``clean_mode`` (``metadata``, ``express`` or ``full``), and
    for a deploy ``image_url`` (``/api/v1/image``), ``image_size``
    (bytes), ``image_sha256``, ``root_device`` (empty until the disks are
    reported) and ``configdrive`` (``yes`` or ``no``).
``POST /api/v1/disks`` (a cleaning, before anything is erased)
    The machine's disks (none is no error): the report must cover every
    one of them. The answer is ``erase=<clean mode>``.
``POST /api/v1/disks`` (a deploy, before anything is written)
    The machine's disks (:mod:`nova_bm.deploy.disk_facts`). The proxy
    chooses the root device by the node's root device hints
    (:mod:`nova_bm.common.root_device_hints`) and answers
    ``root_device=<path>``, and for a config drive ``drive=<sector>
    <bytes> <sha256>`` (where ``GET /api/v1/configdrive/0`` goes: the
    ramdisk reads it back before any table edit) and one
    ``table=<n> <sector> <bytes> <sha256>`` per partition table edit
    (``GET /api/v1/configdrive/<n>``,
    :mod:`nova_bm.deploy.partition_table`), in the order to write them,
    after the drive. When no disk fits (no hint matches, the image or
    the config drive has no room) the proxy fails the job itself, with
    the hints and the disks seen, and answers 409: nothing was written.
``POST /api/v1/inventory`` (an inspection)
    The machine's hardware, ``text/plain``
    (:mod:`nova_bm.inspection.inventory`); the answer is ``ok``. A
    malformed one fails the inspection with the reason (400).
``GET /api/v1/image``
    The deploy's image (only to the token holder).
``GET /api/v1/configdrive/<n>``
    The config drive (0) or a partition table edit (only to the token
    holder, once it reported its disks).
``POST /api/v1/heartbeat``
    The ramdisk is alive (recorded, for troubleshooting).
``POST /api/v1/done``
    Form-encoded (or JSON): ``status=ok`` with ``sha256`` (of what was
    written, read back; a deploy without it fails), ``device`` and, with
    a config drive, ``configdrive_sha256`` (the drive read back), or
    ``status=failed`` with ``error``. A cleaning's is ``text/plain``: its
    status line and a line per disk saying how it was erased
    (:mod:`nova_bm.deploy.erase_report`). The first report of a job is
    kept; a later one is 409.

Every call but the lookup carries the token in the ``X-Nova-BM-Token``
header and must come from the address the lookup came from.

What makes a job *suspect* (:func:`nova_bm.db.api.suspect_job`: the
deploy or cleaning fails, and the flow holds the node back), because no
real ramdisk does it: a lookup before the proxy powered the node on or
sooner than ``[baremetal] ramdisk_min_boot_time`` after; a second lookup
once the token was handed out (someone raced the ramdisk, or the machine
booted the ramdisk twice); the token shown from another address; a
deploy reported ``ok`` before its holder had read the whole image.

A token that names no live job is 403 and changes nothing, so a ramdisk
of an earlier, ended deploy cannot touch the node's new one. Values are
checked by shape before anything is stored.
"""

import hashlib
import json
import os
import re
import time
import urllib.parse
import uuid

from oslo_log import log as logging
from oslo_utils import timeutils

from nova_bm.common import root_device_hints
from nova_bm.common import safe_text
from nova_bm.common import states
from nova_bm.common import system_uuid
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.deploy import configdrive
from nova_bm.deploy import disk_facts
from nova_bm.deploy import erase_report
from nova_bm.deploy import partition_table
from nova_bm.deploy import tokens
from nova_bm.inspection import inventory as inventory_report

LOG = logging.getLogger(__name__)

TOKEN_HEADER = 'X-Nova-BM-Token'  # noqa: S105 (a header name)
#: Largest request body the API reads.
MAX_BODY = 16 * 1024
MAX_ERROR = 1024
#: Most MACs a lookup may name (a server has a few NICs, not dozens).
MAX_MACS = 32
#: Seconds a deploy's report waits for its image's sending to be recorded.
IMAGE_SENT_GRACE = 2.0

_TOKEN_RE = re.compile(tokens.SECRET_PATTERN + r'\Z')
_SHA256_RE = re.compile(r'[0-9a-f]{64}\Z')
_DEVICE_RE = re.compile(r'/dev/[A-Za-z0-9][A-Za-z0-9/_.:-]{0,240}\Z')
_MAC_RE = re.compile(r'[0-9a-f]{2}(?::[0-9a-f]{2}){5}\Z')
# A UUID-shaped placeholder (all zeros, all ones…): given, never matched.
_PLACEHOLDER_RE = re.compile(r'[0-9a-fA-F-]{36}\Z')

NOTHING_TO_DO = 'nothing to do for these MACs'


class Refused(Exception):
    """An HTTP error answer: ``status`` and a one-line reason."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _Repeated(Exception):
    """A JSON object names a key twice."""


def _no_repeats(pairs):
    fields = {}
    for key, value in pairs:
        if key in fields:
            raise _Repeated(key)
        fields[key] = value
    return fields


def _form(body, content_type, max_fields=16):
    """A request body as ``{name: str}``: form-encoded or a JSON object
    of strings; a field given twice is refused.

    :raises: Refused (400)
    """
    try:
        text = body.decode('utf-8')
    except UnicodeDecodeError:
        raise Refused(400, 'the body is not UTF-8') from None
    if (content_type or '').split(';')[0].strip() == 'application/json':
        try:
            fields = json.loads(text, object_pairs_hook=_no_repeats)
        except _Repeated as e:
            raise Refused(400, '%s is given twice'
                          % safe_text.quote(e.args[0])) from None
        except (ValueError, RecursionError):
            # RecursionError: nesting deeper than Python's stack.
            raise Refused(400, 'the body is not JSON') from None
        if not isinstance(fields, dict) or not all(
                isinstance(v, str) for v in fields.values()):
            raise Refused(400, 'the body must be an object of strings')
        return fields
    try:
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True,
                                       max_num_fields=max_fields)
    except ValueError:
        raise Refused(400, 'too many fields') from None
    fields = {}
    for key, value in pairs:
        if key in fields:
            raise Refused(400, '%s is given twice' % safe_text.quote(key))
        fields[key] = value
    return fields


def parse_lookup(body, content_type):
    """The lookup's MACs (lower case, colon-separated) and system UUID
    (canonical, or None when not given or a placeholder).

    :raises: Refused (400) for anything malformed.
    """
    fields = _form(body, content_type)
    given = fields.get('system_uuid', '').strip()
    found = system_uuid.parse(given) if given else None
    if given and found is None and not _PLACEHOLDER_RE.match(given):
        raise Refused(400, 'system_uuid must be a UUID')
    return _macs(fields), found


def parse_macs(body, content_type):
    """The lookup's MACs, lower case, colon-separated.

    :raises: Refused (400) for anything malformed.
    """
    return _macs(_form(body, content_type))


def _macs(fields):
    text = fields.get('macs', '')
    macs = [mac.strip().lower().replace('-', ':')
            for mac in text.split(',') if mac.strip()]
    if not macs:
        raise Refused(400, 'macs is missing')
    if len(macs) > MAX_MACS:
        raise Refused(400, 'at most %d MACs' % MAX_MACS)
    if not all(_MAC_RE.match(mac) for mac in macs):
        raise Refused(400, 'macs must be MAC addresses, comma-separated')
    return macs


def parse_report(body, content_type):
    """The ``done`` body as DeployJob columns.

    :raises: Refused (400) for anything malformed.
    """
    fields = _form(body, content_type)
    status = fields.get('status')
    if status == 'ok':
        sha256 = fields.get('sha256', '').lower()
        drive_sha256 = fields.get('configdrive_sha256', '').lower()
        device = fields.get('device', '')
        if sha256 and not _SHA256_RE.match(sha256):
            raise Refused(400, 'sha256 must be 64 hex digits')
        if drive_sha256 and not _SHA256_RE.match(drive_sha256):
            raise Refused(400, 'configdrive_sha256 must be 64 hex digits')
        if device and not _DEVICE_RE.match(device):
            raise Refused(400, 'device must be a /dev path')
        return {'status': states.DONE, 'result_sha256': sha256 or None,
                'result_configdrive_sha256': drive_sha256 or None,
                'result_device': device or None}
    if status == 'failed':
        error = fields.get('error', '').strip() or 'no reason given'
        return {'status': states.FAILED,
                'error': safe_text.escape(error)[:MAX_ERROR]}
    raise Refused(400, 'status must be ok or failed')


def render_config(job, node, base_url):
    lines = [('mode', job.mode), ('node', node.uuid)]
    if job.mode == states.CLEAN:
        lines.append(('clean_mode', job.clean_mode or states.CLEAN_METADATA))
    if job.mode == states.DEPLOY:
        lines += [('image_url', '%s/api/v1/image' % base_url),
                  ('image_size', str(job.image_size)),
                  ('image_sha256', job.image_sha256),
                  ('root_device', job.root_device or ''),
                  ('configdrive', 'yes' if job.configdrive_file else 'no')]
    return ''.join('%s=%s\n' % pair for pair in lines)


def configdrive_plan(job, node, images_dir, disk_size=None):
    """Where the job's config drive goes on its chosen disk (of
    ``disk_size`` bytes; default: the one recorded). The same job gives
    the same plan, so each piece is computed again when it is asked for.

    :raises: partition_table.Unfit
    """
    read = partition_table.file_reader(
        os.path.join(images_dir, job.image_file))
    return partition_table.plan(
        read, job.image_size,
        job.root_size if disk_size is None else disk_size,
        job.configdrive_size,
        new_guid=uuid.uuid5(uuid.NAMESPACE_URL, 'nova-bm:%s:%s' % (
            node.uuid, job.instance_uuid)))


def _fit(job, node, disks, images_dir):
    """``(disk, plan, reason)``: the disk the image goes to and where its
    config drive goes (None without one), or the reason none fits."""
    hints = node.root_device_hints or {}
    min_gb = CONF.baremetal.root_disk_min_gb
    disk = root_device_hints.choose(hints, disks, min_bytes=min_gb << 30)
    seen = 'disks seen: %s' % disk_facts.describe(disks, sorted(hints))
    if disk is None:
        if hints:
            return None, None, ('no disk matches the root device hints '
                                '(%s); %s' % (root_device_hints.describe(
                                    hints), seen))
        return None, None, ('no disk of at least %d GiB ([baremetal] '
                            'root_disk_min_gb) and no root device hints; '
                            '%s' % (min_gb, seen))
    if job.image_size > disk['size']:
        return None, None, ('the image (%d bytes) is larger than %s (%d '
                            'bytes)' % (job.image_size, disk['name'],
                                        disk['size']))
    if not job.configdrive_file:
        return disk, None, None
    try:
        plan = configdrive_plan(job, node, images_dir, disk['size'])
    except partition_table.Unfit as e:
        return None, None, 'the config drive cannot be written to %s: %s' % (
            disk['name'], e)
    return disk, plan, None


class RamdiskAPI:
    """The calls, on the node database; ``on_report(node_uuid)`` is
    called after a ``done`` was recorded or a job became suspect (it
    wakes the waiting flow). ``address`` is the caller's IP address, as
    the server saw it."""

    def __init__(self, base_url, on_report=lambda uuid: None,
                 images_dir=None):
        self.base_url = base_url
        self._on_report = on_report
        self.images_dir = images_dir or CONF.baremetal.image_cache_dir

    # -- no token --------------------------------------------------------

    def lookup(self, body, content_type, address):
        """Hand the job's token out, once, with its config.

        :raises: Refused (400 malformed, 404 nothing to hand out)
        """
        macs, machine_uuid = parse_lookup(body, content_type)
        found = db_api.find_job_by_macs(macs)
        if found is None and machine_uuid is not None:
            # No node has these MACs: one enrolled with its BMC alone,
            # being inspected, whose BMC reported this system UUID.
            found = db_api.find_inspection_by_system_uuid(
                system_uuid.bmc_guids(machine_uuid))
        if found is None or found[0] is None:
            raise Refused(404, NOTHING_TO_DO)
        job, node = found
        now = timeutils.utcnow()
        doubt = self._lookup_doubt(job, now)
        if doubt is None:
            token = tokens.new_token()
            if db_api.hand_out_token(job.id, tokens.digest(token), address,
                                     now):
                LOG.info('The deploy ramdisk of node %(node)s at %(addr)s '
                         'looked itself up: its token is handed out',
                         {'node': node.name,
                          'addr': safe_text.escape(address)})
                return 'token=%s\n%s' % (
                    token, render_config(job, node, self.base_url))
            doubt = 'a second lookup raced the first'
        self._suspect(job, node, '%s (lookup from %s)'
                      % (doubt, safe_text.escape(address)))
        raise Refused(404, NOTHING_TO_DO)

    @staticmethod
    def _lookup_doubt(job, now):
        """Why no real ramdisk would look this job up now, or None."""
        if job.token_hash is not None:
            return ('a second lookup: the token was handed out already, '
                    'to %s' % job.holder_address)
        if job.status != states.WAITING:
            return 'a lookup after the job ended'
        if job.booted_at is None:
            return 'a lookup before the node was powered on'
        since = (now - job.booted_at).total_seconds()
        if since < CONF.baremetal.ramdisk_min_boot_time:
            return ('a lookup %.1f s after power on, sooner than a ramdisk '
                    'boots ([baremetal] ramdisk_min_boot_time)' % since)
        return None

    def _suspect(self, job, node, reason):
        if job.suspicion is not None:
            return  # said once; a flood of the same is not logged
        LOG.warning('The %(mode)s of node %(node)s cannot be trusted: '
                    '%(reason)s', {'mode': job.mode, 'node': node.name,
                                   'reason': reason})
        db_api.suspect_job(job.id, reason)
        self._on_report(node.uuid)

    # -- the token holder ------------------------------------------------

    def _job(self, token, address):
        if not token or not _TOKEN_RE.match(token):
            raise Refused(403, 'no valid token')
        found = db_api.find_job(tokens.digest(token))
        if found is None:
            raise Refused(403, 'the token names no deploy in progress')
        job, node = found
        if address != job.holder_address:
            self._suspect(job, node, 'its token was shown from %s, not from '
                          '%s' % (safe_text.escape(address),
                                  job.holder_address))
            raise Refused(403, 'the token belongs to another address')
        if job.suspicion is not None:
            # Its holder may be the impostor: nothing more for it.
            raise Refused(403, 'this job cannot be trusted')
        return job, node

    def config(self, token, address):
        job, node = self._job(token, address)
        db_api.record_job_call(job.id, timeutils.utcnow())
        return render_config(job, node, self.base_url)

    def heartbeat(self, token, address):
        job, _ = self._job(token, address)
        db_api.record_job_call(job.id, timeutils.utcnow())

    def done(self, token, body, content_type, address):
        job, node = self._job(token, address)
        if job.mode == states.CLEAN:
            result = self._erase_result(job, body, content_type)
        else:
            result = parse_report(body, content_type)
        if job.mode == states.INSPECT and result['status'] == states.DONE:
            # Its success is its inventory (POST /api/v1/inventory).
            raise Refused(409, 'an inspection reports its inventory')
        if (result['status'] == states.DONE and job.mode == states.DEPLOY
                and not self._image_read(job)):
            self._suspect(job, node, 'it reported the image written before '
                          'it had read the whole image')
            raise Refused(409, 'the image was not read')
        if result['status'] == states.DONE and job.mode == states.DEPLOY:
            result = self._on_chosen_disk(job, result)
        if not db_api.record_job_call(job.id, timeutils.utcnow(), **result):
            raise Refused(409, 'this job has reported already')
        self._on_report(node.uuid)

    @staticmethod
    def _erase_result(job, body, content_type):
        """A cleaning's report as DeployJob columns: its status and, per
        disk, what was done (judged against the mode by the flow). A form
        (a ramdisk older than clean modes, or one failing before it knew
        the disks) says only its status.

        :raises: Refused (400 malformed)
        """
        if (content_type or '').split(';')[0].strip() != 'text/plain':
            return parse_report(body, content_type)
        try:
            status, error, entries = erase_report.parse(body)
        except erase_report.Malformed as e:
            raise Refused(400, str(e)) from None
        result = {'status': status,
                  'erase_report': json.dumps(entries, separators=(',', ':'))}
        if error is not None:
            result['error'] = error[:MAX_ERROR]
        return result

    def inventory(self, token, body, address):
        """An inspection's report: the machine's hardware, recorded as the
        job's outcome (the flow applies it once the machine is off).

        :raises: Refused (400 malformed: the job fails with the reason;
            404 not an inspection; 409 reported already)
        """
        job, node = self._job(token, address)
        if job.mode != states.INSPECT:
            raise Refused(404, 'this job is not an inspection')
        now = timeutils.utcnow()
        try:
            found = inventory_report.parse(body)
        except inventory_report.Malformed as e:
            reason = 'the inventory is malformed: %s' % e
            if db_api.record_job_call(job.id, now, status=states.FAILED,
                                      error=reason[:MAX_ERROR]):
                self._on_report(node.uuid)
            raise Refused(400, str(e)) from None
        if not db_api.record_job_call(
                job.id, now, status=states.DONE,
                inventory=json.dumps(found, separators=(',', ':'))):
            raise Refused(409, 'this job has reported already')
        LOG.info('Node %(node)s: its ramdisk reported its hardware: '
                 '%(cpus)d CPUs, %(disks)d disks, %(nics)d NICs',
                 {'node': node.name, 'cpus': found['cpu']['count'],
                  'disks': len(found['disks']),
                  'nics': len(found['interfaces'])})
        self._on_report(node.uuid)
        return 'ok\n'

    def disks(self, token, body, address):
        """A deploy: choose the disk the image goes to (and where the
        config drive goes), or fail the job with the reason. A cleaning:
        record the disks, every one of which its report must cover.

        :raises: Refused (400 malformed, 409 no disk fits or disks
            reported already)
        """
        job, node = self._job(token, address)
        if job.mode == states.INSPECT:
            raise Refused(404, 'an inspection reports its disks in its '
                               'inventory')
        try:
            disks = disk_facts.parse(body, allow_none=job.mode == states.CLEAN)
        except disk_facts.Malformed as e:
            raise Refused(400, str(e)) from None
        now = timeutils.utcnow()
        # Compact, without the facts not reported: what the column keeps.
        facts = json.dumps([{k: v for k, v in disk.items() if v is not None}
                            for disk in disks], separators=(',', ':'))
        if job.mode == states.CLEAN:
            if not db_api.record_disks(job.id, now, facts):
                raise Refused(409, 'the disks were reported already')
            LOG.info('Node %(node)s: cleaning %(disks)s',
                     {'node': node.name,
                      'disks': disk_facts.describe(disks)})
            return 'erase=%s\n' % job.clean_mode
        disk, plan, reason = _fit(job, node, disks, self.images_dir)
        if reason is not None:
            if db_api.record_disks(job.id, now, facts, error=reason):
                LOG.error('The deploy to node %(node)s cannot go on: '
                          '%(reason)s', {'node': node.name,
                                         'reason': reason})
                self._on_report(node.uuid)
            raise Refused(409, reason)
        if not db_api.record_disks(job.id, now, facts, disk['name'],
                                   disk['size']):
            raise Refused(409, 'the disks were reported already')
        LOG.info('Node %(node)s: the image goes to %(disk)s',
                 {'node': node.name,
                  'disk': disk_facts.describe([disk])})
        lines = ['root_device=%s' % disk['name']]
        if plan is not None:
            lines.append('drive=%d %d %s' % (
                plan.drive_offset // partition_table.SECTOR,
                job.configdrive_size, job.configdrive_sha256))
            lines += ['table=%d %d %d %s' % (
                index, offset // partition_table.SECTOR, len(data),
                hashlib.sha256(data).hexdigest())
                for index, (offset, data) in enumerate(plan.writes, 1)]
        return ''.join(line + '\n' for line in lines)

    def configdrive(self, token, address, index):
        """``(path, None)`` of the config drive (index 0), or ``(None,
        bytes)`` of a partition table edit.

        :raises: Refused (403; 404 no such piece)
        """
        job, node = self._job(token, address)
        if not job.configdrive_file or job.root_size is None:
            raise Refused(404, 'no config drive to write (yet)')
        db_api.record_job_call(job.id, timeutils.utcnow())
        if index == 0:
            return configdrive.path_of(job.configdrive_file), None
        try:
            writes = configdrive_plan(job, node, self.images_dir).writes
        except partition_table.Unfit:
            raise Refused(404, 'no config drive to write') from None
        if not 1 <= index <= len(writes):
            raise Refused(404, 'no such piece')
        return None, writes[index - 1][1]

    @staticmethod
    def _on_chosen_disk(job, result):
        """A deploy counts only on the disk the proxy chose for it (a
        ramdisk that chose none itself is one built before the proxy chose
        disks: the deploy fails at once, saying so)."""
        if job.root_device is None:
            return {'status': states.FAILED,
                    'error': 'the deploy ramdisk wrote without reporting its '
                             'disks first (a ramdisk older than this proxy: '
                             'rebuild it with nova-bm-build-ramdisk)'}
        device = result['result_device']
        if device is not None and device != job.root_device:
            return {'status': states.FAILED,
                    'error': 'the image was written to %s, not to the '
                             'disk chosen, %s' % (device, job.root_device)}
        return result

    @staticmethod
    def _image_read(job):
        """Whether the holder read the whole image. The server records it
        once its last ``sendfile`` returned, which a fast ramdisk's report
        can overtake: a report finding it unrecorded waits a moment
        (bounded, :data:`IMAGE_SENT_GRACE`)."""
        deadline = time.monotonic() + IMAGE_SENT_GRACE
        while job.image_served_at is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
            found = db_api.find_job(job.token_hash)
            if found is None:
                return False
            job = found[0]
        return True

    def image(self, token, address):
        """The cache file name of the deploy's image, and what to call
        once all of it was sent: ``(name, on_sent)``.

        :raises: Refused (403; 404 for a cleaning)
        """
        job, _ = self._job(token, address)
        if job.mode != states.DEPLOY or not job.image_file:
            raise Refused(404, 'this job has no image')

        def on_sent():
            db_api.record_image_served(job.id, timeutils.utcnow())
        return job.image_file, on_sent
