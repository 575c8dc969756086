"""The secrets of one deploy or cleaning, and how they are stored.

A job has one token, put on the deploy ramdisk's kernel command line in
the node's iPXE script; the ramdisk shows it on every API call. A deploy
also has an image key: the secret part of the URL its image is served
at. The node database keeps only sha256 digests of both, so a copy of
the database lets no one act as a ramdisk or read an image. The image key
is derived from the token (an HMAC), so any proxy sharing the database
can tell the ramdisk its image URL, yet the digest of one tells nothing
about the other.
"""

import base64
import hashlib
import hmac
import secrets

#: Bytes of randomness in a token: 256 bits, printed as 43 characters of
#: URL-safe base64.
TOKEN_BYTES = 32
#: What a token and an image key look like (URL-safe base64, no padding).
SECRET_PATTERN = r'[A-Za-z0-9_-]{43}'  # noqa: S105 (a shape)


def new_token():
    """A new, unguessable token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(secret):
    """What the database stores for a secret: its sha256, in hex."""
    return hashlib.sha256(secret.encode('ascii')).hexdigest()


def image_key(token):
    """The secret path element of the image URL of a token's deploy."""
    mac = hmac.new(token.encode('ascii'), b'nova-bm image', hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode('ascii').rstrip(
        '=')
