"""The proxy's deploy and cleaning over the steps of one deploy manager
or flow, for the tests of those steps (no driver, no consoles)."""

import types

from nova_bm.proxy import cleaning
from nova_bm.proxy import node_cache
from nova_bm.proxy import power_sync
from nova_bm.proxy import provision
from nova_bm.proxy import task as node_task


class _NoConsoles:
    enabled = False

    def open(self, node, wait=0):
        return False

    def close(self, node_uuid):
        pass


class ProxySteps:
    """``deploy(node, instance_uuid, image)`` and ``clean(node)`` as the
    proxy runs them, over ``steps`` (DeployManager or Flow)."""

    def __init__(self, steps, power, host='proxy-1'):
        self._steps = steps
        self._sync = power_sync.PowerSync(power)
        self._power = node_task.RecordingPower(power, self._sync)
        self._cache = node_cache.NodeCache(host)
        self.provisioner = provision.Provisioner(types.SimpleNamespace(
            consoles=_NoConsoles(), cache=self._cache))

    def task(self, node):
        return node_task.NodeTask(node, self._power, self._sync, self._cache,
                                  lambda *args, **kwargs: None)

    def deploy(self, node, instance_uuid, image, drive=None):
        self.provisioner.run_deploy(self.task(node), self._steps,
                                    instance_uuid, image, drive)

    def clean(self, node):
        return cleaning.run_cleaning(self.provisioner, self.task(node),
                                     self._steps)
