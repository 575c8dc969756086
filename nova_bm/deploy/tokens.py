"""The secret of one deploy or cleaning, and how it is stored.

A job has one token, made when the deploy ramdisk first looks itself up
and handed to it in that answer only (never written into an iPXE script
or a kernel command line); the ramdisk shows it on every later call. The
node database keeps only its sha256, so a copy of the database lets no
one act as a ramdisk.
"""

import hashlib
import secrets

#: Bytes of randomness in a token: 256 bits, printed as 43 characters of
#: URL-safe base64.
TOKEN_BYTES = 32
#: What a token looks like (URL-safe base64, no padding).
SECRET_PATTERN = r'[A-Za-z0-9_-]{43}'  # noqa: S105 (a shape)


def new_token():
    """A new, unguessable token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(secret):
    """What the database stores for a secret: its sha256, in hex."""
    return hashlib.sha256(secret.encode('ascii')).hexdigest()

