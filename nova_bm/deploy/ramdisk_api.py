"""The deploy ramdisk's API: what it may say, and what it is told.

Three calls, each with the job's token in the ``X-Nova-BM-Token`` header:

``GET /api/v1/config``
    ``text/plain``, one ``key=value`` per line, easy to read from a shell:
    ``mode`` (``deploy`` or ``clean``), ``node`` (its UUID), and for a
    deploy ``image_url``, ``image_size`` (bytes), ``image_sha256`` and
    ``root_device`` (a device path, or empty: the first disk).
``POST /api/v1/heartbeat``
    The ramdisk is alive (recorded, for troubleshooting).
``POST /api/v1/done``
    Form-encoded (or JSON): ``status=ok`` with ``sha256`` (of what was
    written, read back; a deploy without it fails) and ``device``, or
    ``status=failed`` with ``error``. The first report of a job is kept;
    a later one is 409.

A token that names no live job is 403 and changes nothing, so a ramdisk
of an earlier, ended deploy cannot touch the node's new one. Values are
checked by shape before anything is stored.
"""

import json
import re
import urllib.parse

from oslo_utils import timeutils

from nova_bm.db import api as db_api
from nova_bm.deploy import tokens
from nova_bm import safe_text

TOKEN_HEADER = 'X-Nova-BM-Token'  # noqa: S105 (a header name)
#: Largest request body the API reads.
MAX_BODY = 16 * 1024
MAX_ERROR = 1024

_TOKEN_RE = re.compile(tokens.SECRET_PATTERN + r'\Z')
_SHA256_RE = re.compile(r'[0-9a-f]{64}\Z')
_DEVICE_RE = re.compile(r'/dev/[A-Za-z0-9][A-Za-z0-9/_.:-]{0,240}\Z')


class Refused(Exception):
    """An HTTP error answer: ``status`` and a one-line reason."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_report(body, content_type):
    """The ``done`` body as DeployJob columns.

    :raises: Refused (400) for anything malformed.
    """
    try:
        text = body.decode('utf-8')
    except UnicodeDecodeError:
        raise Refused(400, 'the body is not UTF-8') from None
    if (content_type or '').split(';')[0].strip() == 'application/json':
        try:
            fields = json.loads(text)
        except ValueError:
            raise Refused(400, 'the body is not JSON') from None
        if not isinstance(fields, dict) or not all(
                isinstance(v, str) for v in fields.values()):
            raise Refused(400, 'the body must be an object of strings')
    else:
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True,
                                       max_num_fields=16)
        fields = {}
        for key, value in pairs:
            if key in fields:
                raise Refused(400, '%s is given twice' % key)
            fields[key] = value
    status = fields.get('status')
    if status == 'ok':
        sha256 = fields.get('sha256', '').lower()
        device = fields.get('device', '')
        if sha256 and not _SHA256_RE.match(sha256):
            raise Refused(400, 'sha256 must be 64 hex digits')
        if device and not _DEVICE_RE.match(device):
            raise Refused(400, 'device must be a /dev path')
        return {'status': 'done', 'result_sha256': sha256 or None,
                'result_device': device or None}
    if status == 'failed':
        error = fields.get('error', '').strip() or 'no reason given'
        return {'status': 'failed',
                'error': safe_text.escape(error)[:MAX_ERROR]}
    raise Refused(400, 'status must be ok or failed')


def render_config(job, node, base_url, token):
    lines = [('mode', job.mode), ('node', node.uuid)]
    if job.mode == 'deploy':
        lines += [('image_url', '%s/images/%s' % (base_url,
                                                  tokens.image_key(token))),
                  ('image_size', str(job.image_size)),
                  ('image_sha256', job.image_sha256),
                  ('root_device', job.root_device or '')]
    return ''.join('%s=%s\n' % pair for pair in lines)


class RamdiskAPI:
    """The calls, on the node database; ``on_report(node_uuid)`` is
    called after a ``done`` was recorded (it wakes the waiting deploy)."""

    def __init__(self, base_url, on_report=lambda uuid: None):
        self.base_url = base_url
        self._on_report = on_report

    def _job(self, token):
        if not token or not _TOKEN_RE.match(token):
            raise Refused(403, 'no valid token')
        found = db_api.find_job(token_hash=tokens.digest(token))
        if found is None:
            raise Refused(403, 'the token names no deploy in progress')
        return found

    def config(self, token):
        job, node = self._job(token)
        db_api.record_job_call(job.token_hash, timeutils.utcnow())
        return render_config(job, node, self.base_url, token)

    def heartbeat(self, token):
        job, _ = self._job(token)
        db_api.record_job_call(job.token_hash, timeutils.utcnow())

    def done(self, token, body, content_type):
        job, node = self._job(token)
        result = parse_report(body, content_type)
        if not db_api.record_job_call(job.token_hash, timeutils.utcnow(),
                                      **result):
            raise Refused(409, 'this job has reported already')
        self._on_report(node.uuid)

    @staticmethod
    def image(key):
        """The cache file name of the image served at ``key``, or None."""
        if not _TOKEN_RE.match(key):
            return None
        found = db_api.find_job(image_key_hash=tokens.digest(key))
        if found is None or found[0].mode != 'deploy':
            return None
        return found[0].image_file
