"""The proxy layer: the one place a bare-metal node changes state.

Ironic's conductor, without its lock (a node has one owning proxy, and the
node database's conditional updates decide every race). The driver calls
:class:`nova_bm.proxy.manager.Proxy`; the mechanisms below (deploy, power,
console, network, db) return outcomes and never call back up.
"""
