"""The deploy HTTP abuse benchmark still runs, at a size a test can
afford (``tox -e bench -- deploy_http_abuse`` runs it whole).

No figure is checked against its goal here: only that every legitimate
ramdisk completed beside the attack, and that the attack happened.
"""

from benchmarks import deploy_http_abuse
from tests import base


class DeployHTTPAbuseBenchmarkTestCase(base.TestCase):

    def test_ramdisks_complete_beside_half_open_connections(self):
        result = deploy_http_abuse.measure(clients=5, attack=300,
                                           image_mb=1, rounds=1)
        for side in ('reference', 'attacked'):
            self.assertEqual([], result[side]['failed'])
            self.assertEqual(5, len(result[side]['completions']))
            # boot.ipxe, the lookup, the image: three requests each.
            self.assertEqual(15, len(result[side]['requests']))
        # The attacker opened its connections, and the server closed
        # those over the per-source cap.
        self.assertGreaterEqual(result['attacker']['opened'], 300)
        self.assertGreater(result['attacker']['closed'], 0)
