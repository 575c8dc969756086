"""Lets nova-compute load nova-bm (compute_driver = nova_bm.BareMetalDriver).

Nova 34 imports a driver only as ``nova.virt.<compute_driver>``
(``nova.virt.driver.load_compute_driver``), so this one module is shipped
inside Nova's package tree. It re-exports the driver and holds nothing else.
"""

from nova_bm.driver import BareMetalDriver  # noqa: F401
