"""A fake BMC fleet for tests, and ipmitool to look at it from outside."""

import shutil
import subprocess

import fixtures

from nova_bm.testing import fakebmc


class FleetFixture(fixtures.Fixture):
    """``count`` fake BMCs on free consecutive UDP ports of 127.0.0.1."""

    def __init__(self, count, workers=None):
        super().__init__()
        self.count = count
        self.workers = workers

    def _setUp(self):
        base = fakebmc.free_port_range(self.count)
        self.fleet = fakebmc.Fleet(self.count, base, workers=self.workers)
        self.fleet.start()
        self.addCleanup(self.fleet.stop)
        self.ports = self.fleet.ports
        self.username = self.fleet.username
        self.password = self.fleet.password


def ipmitool(port, *args, username=fakebmc.DEFAULT_USERNAME,
             password=fakebmc.DEFAULT_PASSWORD):
    """Run ipmitool -I lanplus against a fake BMC; return the process."""
    tool = shutil.which('ipmitool')
    if tool is None:
        raise AssertionError('ipmitool is not installed (Debian package '
                             'ipmitool; run_tests.sh installs it)')
    return subprocess.run(
        [tool, '-I', 'lanplus', '-H', '127.0.0.1', '-p', str(port),
         '-U', username, '-P', password, '-R', '1', '-N', '1'] + list(args),
        capture_output=True, text=True, timeout=60)
