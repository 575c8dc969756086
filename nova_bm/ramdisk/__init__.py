"""The deploy ramdisk: a stock Debian kernel, busybox, and nova-bm's /init.
"""
