"""Inspection: what a machine's hardware is, as the deploy ramdisk reports
it when told ``mode=inspect``, and the node properties that follow.

:mod:`.inventory` reads the ramdisk's report (hostile input),
:mod:`.lldp` the switch advertisements it carries, and :mod:`.properties`
derives a node's properties from it and compares them with the node's.
Pure functions only: no database, no BMC, no proxy.
"""
