"""What the installed distribution puts inside Nova's package tree."""

from importlib import metadata
import os

from tests import base


class ShimTestCase(base.TestCase):

    def test_only_the_shim_is_installed_under_nova(self):
        files = metadata.files('nova-bm')
        under_nova = sorted(str(f) for f in files
                            if str(f).startswith('nova/')
                            and not str(f).endswith('.pyc'))
        self.assertEqual(['nova/virt/nova_bm/__init__.py'], under_nova)

    def test_shim_re_exports_the_driver_class(self):
        files = [f for f in metadata.files('nova-bm')
                 if str(f) == 'nova/virt/nova_bm/__init__.py']
        with open(files[0].locate()) as f:
            code = f.read()
        # compute_driver = nova_bm.BareMetalDriver makes Nova import
        # nova.virt.nova_bm and take its BareMetalDriver.
        self.assertIn('from nova_bm.driver import BareMetalDriver', code)
        self.assertTrue(os.path.isfile(files[0].locate()))

    def test_console_script_and_config_entry_points(self):
        entry_points = metadata.distribution('nova-bm').entry_points
        found = {(ep.group, ep.name): ep.value for ep in entry_points}
        self.assertEqual('nova_bm.cmd.manage:main',
                         found[('console_scripts', 'nova-bm-manage')])
        self.assertEqual('nova_bm.conf.opts:list_opts',
                         found[('oslo.config.opts', 'nova_bm')])
