"""The deploy: the instance's image written to the node's disk.

One module per concern: :mod:`tokens` (the secrets of one deploy),
:mod:`ipxe` (the boot scripts the nodes fetch), :mod:`image_cache` (raw
images on the proxy, one download per image), :mod:`image_checks` (what
is refused before a node is powered on), :mod:`ramdisk_api` (what the
deploy ramdisk may say and is told), :mod:`http_server` (the proxy's HTTP side,
in nova-compute) and :mod:`flow` (the steps of a deploy and a cleaning).
The driver only translates Nova's calls into these.
"""
