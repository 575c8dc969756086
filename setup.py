import setuptools


class Distribution(setuptools.Distribution):
    """pbr's distribution, with every package named by its dotted name.

    pbr takes only directories in setup.cfg's ``[files] packages`` and
    passes them on as written, so the driver shim is the package
    "nova/virt/nova_bm". A regular build copes (it only joins the name into
    a path), but an editable install (``pip install -e .``, as devstack
    does) maps import names to directories and never maps
    "nova.virt.nova_bm": Nova's ``load_compute_driver`` then cannot import
    the driver. With the dotted name both work.
    """

    def finalize_options(self):
        super().finalize_options()  # pbr fills in the packages here
        if self.packages:
            self.packages = [p.replace('/', '.') for p in self.packages]


setuptools.setup(setup_requires=['pbr>=2.0.0'], pbr=True,
                 distclass=Distribution)
