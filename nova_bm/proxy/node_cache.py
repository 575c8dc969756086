"""The driver's view of the nodes its proxy owns, one query per refresh.

Nova's resource cycle asks for the node list, then for each node its
resources and its placement inventory. The cache is refreshed by the first
call (one bulk query, whatever the number of nodes); the per-node calls
read it. Callers may rely on:

* ``refresh()`` runs exactly one query;
* entries are detached rows; a refresh replaces the whole mapping at once,
  so a reader sees either the old or the new set, never a mix;
* ``put(node)`` replaces one entry after an operation changed it (a claim,
  a release), so the driver's answers follow its own writes at once.
"""

import threading

from nova_bm.db import api as db_api


class NodeCache:
    """Nodes whose ``service_host`` is ``host``, by name."""

    def __init__(self, host):
        self.host = host
        self._by_name = {}
        self._by_instance = {}
        self._lock = threading.Lock()
        self._filled = False

    def refresh(self):
        """Reload every owned node in one query; return them, oldest first."""
        nodes = db_api.list_nodes(service_host=self.host)
        with self._lock:
            self._index({node.name: node for node in nodes})
            self._filled = True
        return nodes

    def nodes(self):
        """The cached nodes, oldest first; refreshed once if never filled."""
        if not self._filled:
            self.refresh()
        return sorted(self._by_name.values(), key=lambda node: node.id)

    def get(self, name):
        """The node called ``name``, or None when this proxy does not own it.

        A name missing from the cache triggers one refresh (a node enrolled
        since the last cycle); a name still missing afterwards is not ours.
        """
        node = self._by_name.get(name)
        if node is None:
            self.refresh()
            node = self._by_name.get(name)
        return node

    def holding(self, instance_uuid):
        """The cached node an instance holds, or None (no query)."""
        return self._by_instance.get(instance_uuid)

    def put(self, node):
        """Replace one entry with a fresher row of the same node."""
        with self._lock:
            by_name = dict(self._by_name)
            if node.service_host == self.host:
                by_name[node.name] = node
            else:
                by_name.pop(node.name, None)
            self._index(by_name)

    def _index(self, by_name):
        # New mappings are built, then swapped in: readers never see a
        # mapping change under them.
        self._by_instance = {node.instance_uuid: node
                             for node in by_name.values()
                             if node.instance_uuid is not None}
        self._by_name = by_name
