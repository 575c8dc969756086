"""A bounded set of node jobs a proxy runs in threads of their own, and
those waiting their turn (cleanings, inspections).

Callers may rely on:

* at most one job per node runs in this proxy, and at most
  :meth:`NodeQueue.limit` in all: the others wait in a queue (a node UUID
  each, no thread), in the order they came, and start as running ones
  end;
* :meth:`NodeQueue.resume` is cheap (dictionary work) and is called with
  the owned nodes at every resource cycle: a node that :meth:`needs` the
  job is started or queued;
* a queued node that left the state, or this proxy, meanwhile is skipped
  when its turn comes; a proxy that stops starts none.
"""

import collections
import threading

from oslo_log import log as logging

from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm.deploy import flow as deploy_flow

LOG = logging.getLogger(__name__)


class NodeQueue:
    """Subclasses say what the job is (:meth:`needs`, :meth:`run`,
    :attr:`option`, :attr:`what`, :attr:`thread_prefix`).

    :param parts: the proxy: ``task(node)``, ``deploys``, ``provisioner``,
        ``cache`` (its ``host``).
    """

    #: What a node waiting for the job is, for the log ("cleaned").
    what = None
    thread_prefix = None
    #: The ``[baremetal]`` option that bounds them, for the log.
    option = None

    def __init__(self, parts):
        self._parts = parts
        self._threads = {}
        self._queue = collections.OrderedDict()
        self._lock = threading.Lock()

    def limit(self):
        """How many run at once: ``[baremetal] <option>``, read at each
        start."""
        return getattr(CONF.baremetal, self.option)

    @staticmethod
    def needs(node):
        """Whether the node waits for this job."""
        raise NotImplementedError

    def run(self, task):
        """Run the job on the task's node (interfaces loaded)."""
        raise NotImplementedError

    def reset(self):
        """Forget the threads of an earlier life (they end on their own)
        and the queue (the next resume fills it again)."""
        with self._lock:
            self._threads = {}
            self._queue.clear()

    def resume(self, nodes):
        """Run the job on the nodes among ``nodes`` that wait for it:
        started while fewer than :meth:`limit` run, queued otherwise."""
        for node in nodes:
            if self.needs(node):
                self.start(node)

    def _may_start(self):
        """Deploys are started and not stopping (a proxy that stops starts
        no job: the next start finds the nodes where they were)."""
        deploys = self._parts.deploys
        return deploys.started() and not deploys.stopping()

    def start(self, node):
        if not self._may_start():
            return
        with self._lock:
            if node.uuid in self._threads:
                return
            if len(self._threads) >= self.limit():
                if node.uuid not in self._queue:
                    LOG.info('Node %(node)s waits to be %(what)s: %(n)d '
                             'run ([baremetal] %(option)s)',
                             {'node': node.name, 'what': self.what,
                              'n': len(self._threads),
                              'option': self.option})
                self._queue[node.uuid] = node.name
                return
            self._queue.pop(node.uuid, None)
            thread = self._thread(node.uuid, node.name)
        thread.start()

    def _thread(self, uuid, name):
        """A new job thread, registered (the lock held)."""
        thread = threading.Thread(target=self._work, args=(uuid,),
                                  name=self.thread_prefix + name,
                                  daemon=True)
        self._threads[uuid] = thread
        return thread

    def _work(self, uuid):
        try:
            node = db_api.get_node(uuid, with_interfaces=True)
            # Still, and still ours: it may have waited its turn while an
            # operator or another proxy took it.
            if (self.needs(node)
                    and node.service_host == self._parts.cache.host):
                self.run(self._parts.task(node))
        except deploy_flow.ProxyStopping:
            pass
        except Exception:
            LOG.exception('Node %(node)s could not be %(what)s',
                          {'node': uuid, 'what': self.what})
        finally:
            self._next(uuid)

    def _next(self, uuid):
        """This job ended: start the longest waiting one."""
        with self._lock:
            if self._threads.get(uuid) is threading.current_thread():
                del self._threads[uuid]
            thread = None
            while (self._queue and thread is None
                   and self._may_start()
                   and len(self._threads) < self.limit()):
                waiting, name = self._queue.popitem(last=False)
                if waiting not in self._threads:
                    thread = self._thread(waiting, name)
        if thread is not None:
            thread.start()

    def running(self):
        """UUIDs of the nodes whose job runs now."""
        with self._lock:
            return set(self._threads)

    def waiting(self):
        """UUIDs of the nodes waiting for a slot, in order."""
        with self._lock:
            return list(self._queue)
