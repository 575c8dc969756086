"""The RabbitMQ broker tests that need one use.

``NOVA_BM_TEST_RABBIT_URL`` points at another broker. A broker that does
not answer fails the test under ``CI=true`` (naming the address tried) and
skips it, visibly, on a developer's machine without one.
"""

import os
import socket
import urllib.parse

from tests import utils

URL = os.environ.get('NOVA_BM_TEST_RABBIT_URL',
                     'rabbit://guest:guest@127.0.0.1:5672/')


def require(test):
    """Return the broker URL, or fail/skip ``test`` if it does not answer."""
    parsed = urllib.parse.urlparse(URL)
    address = (parsed.hostname, parsed.port or 5672)
    try:
        socket.create_connection(address, timeout=3).close()
    except OSError as e:
        message = ('RabbitMQ at %s:%d does not answer (%s); start it or point '
                   'NOVA_BM_TEST_RABBIT_URL at one' % (address + (e,)))
        utils.missing(test, message)
    return URL
