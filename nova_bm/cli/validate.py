"""What ``nova-bm-manage node validate`` checks, interface by interface.

Like Ironic's ``baremetal node validate``, every node gets one row per
interface, True or False with the reason:

* ``console``: ``[baremetal] console_enabled``. Whether the BMC has
  Serial-over-LAN enabled is not asked here (activating SOL would take the
  one SOL session a BMC has from whoever holds it); the console says so
  when it opens, in the compute log;
* ``deploy``: for ``image`` nodes, an enrolled NIC that boots from the
  network (``pxe_enabled``), the deploy kernel and ramdisk readable on
  *this* host (the command usually runs on the proxy), and the deploy HTTP
  server answering ``boot.ipxe`` and having the kernel and ramdisk, at the
  URL the proxy gives the nodes; ``netboot`` nodes use none of it;
* ``network``: the NICs carry what binding Neutron ports needs
  (:mod:`nova_bm.network.ports`): at least one NIC, and switch port data
  (``local_link_connection``) on every NIC once any has it;
* ``power``: the BMC accepts the node's credentials (a logon at operator
  privilege; :meth:`IPMIPower.check_access_many`, all BMCs at once).

Pure checks: nothing here writes to the node database or contacts a BMC.
What this host has (files, the HTTP server) is checked once per command,
the HTTP server in a thread of its own while the BMCs are asked.
"""

import http.client
import os
import re
import socket
import stat
import threading
import time
import urllib.parse

from nova_bm.cli import base
from nova_bm.common import node_fields
from nova_bm.common import safe_text
from nova_bm.common import states
from nova_bm.conf import CONF
from nova_bm.db import api as db_api
from nova_bm import exception

CONSOLE = 'console'
DEPLOY = 'deploy'
NETWORK = 'network'
POWER = 'power'
#: The rows of a node, in this order (Ironic's: alphabetical).
INTERFACES = (CONSOLE, DEPLOY, NETWORK, POWER)

#: Seconds the deploy HTTP server has to answer all of the check's
#: requests (one connection each, one after the other).
HTTP_TIMEOUT = 3.0
#: How much of ``boot.ipxe`` is read: the script is a few hundred bytes.
MAX_SCRIPT = 64 * 1024
#: ``user:password@`` in a URL (urllib.parse's netloc ends at the first
#: ``/``; its userinfo at the last ``@`` before it).
_USERINFO = re.compile(r'(//)[^/]*@')
#: Below this many named nodes their NICs are read node by node; more
#: (and ``--all``) read every NIC in one query.
_FEW_NODES = 20


# -- the NICs ---------------------------------------------------------------

def interfaces_of(nodes):
    """``{node uuid: [Interface, …]}`` for ``nodes``, in enrolment order."""
    wanted = {node.uuid for node in nodes}
    found = {uuid: [] for uuid in wanted}
    if len(wanted) <= _FEW_NODES:
        rows = [row for uuid in wanted
                for row in db_api.list_interfaces(uuid)]
    else:
        rows = db_api.list_interfaces()
    for interface, _name, uuid in rows:
        if uuid in found:
            found[uuid].append(interface)
    for interfaces in found.values():
        interfaces.sort(key=lambda i: i.id)
    return found


def _macs(interfaces, limit=4):
    macs = [i.address for i in interfaces]
    more = ' and %d more' % (len(macs) - limit) if len(macs) > limit else ''
    return ', '.join(macs[:limit]) + more


# -- this host ----------------------------------------------------------------

def deploy_base_url():
    """The URL the proxy gives its nodes for its deploy HTTP server, as
    :meth:`nova_bm.deploy.manager.DeployManager.start` builds it, without
    starting a server: ``deploy_http_url``, else ``http://<my_ip>:<port
    of deploy_http_bind>``. None when that port is 0 (a free port picked
    when nova-compute starts: not known here).

    :raises: ConfigInvalid (``deploy_http_bind`` malformed; the proxy
        would not start either)
    """
    # Imported here: the deploy manager brings Nova's image modules, which
    # only a command checking an image node needs.
    from nova_bm.deploy import manager as deploy_manager

    _host, port = deploy_manager.bind_address()
    if port == 0 and not CONF.baremetal.deploy_http_url:
        return None
    return deploy_manager.base_url(port)


def _shown_url(url):
    """``url`` without any ``user:password@`` it may have, escaped."""
    return safe_text.escape(_USERINFO.sub(r'\1', url), limit=200)


def _file_problem(option):
    """Why ``[baremetal] <option>`` is not a readable file here, or None."""
    path = getattr(CONF.baremetal, option)
    shown = safe_text.escape(path, limit=200)
    try:
        with open(path, 'rb') as f:
            info = os.fstat(f.fileno())
    except OSError as e:
        return '%s %s: %s' % (option, shown, e.strerror or e)
    if not stat.S_ISREG(info.st_mode):
        return '%s %s: not a file' % (option, shown)
    if info.st_size == 0:
        return '%s %s: empty' % (option, shown)
    return None


def _error_text(error, timeout):
    if isinstance(error, (socket.timeout, TimeoutError)):
        return 'no answer within %g s' % timeout
    if isinstance(error, OSError):
        return error.strerror or str(error) or type(error).__name__
    return '%s: %s' % (type(error).__name__, error) if str(error) else (
        type(error).__name__)


def probe_deploy_server(base, timeout):
    """The problems of the deploy HTTP server at ``base``: [] when it
    serves ``boot.ipxe`` (an iPXE script chaining to ``base``) and has the
    deploy kernel and ramdisk. One connection per request, each bounded by
    what is left of ``timeout`` seconds; no proxy (``http_proxy``) is
    used, as the nodes use none."""
    deadline = time.monotonic() + timeout
    try:
        parts = urllib.parse.urlsplit(base)
        port = parts.port
    except ValueError as e:
        return ['%s is not a valid URL: %s' % (_shown_url(base), e)]
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        return ['%s is not an http:// or https:// URL' % _shown_url(base)]
    connection_class = (http.client.HTTPSConnection
                        if parts.scheme == 'https'
                        else http.client.HTTPConnection)
    problems = []
    for method, path in (('GET', '/boot.ipxe'), ('HEAD', '/deploy/kernel'),
                         ('HEAD', '/deploy/ramdisk')):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            problems.append('%s %s: no answer within %g s'
                            % (method, path, timeout))
            break
        connection = connection_class(parts.hostname, port,
                                      timeout=remaining)
        try:
            connection.request(method, parts.path.rstrip('/') + path)
            response = connection.getresponse()
            body = response.read(MAX_SCRIPT) if method == 'GET' else b''
        except (OSError, http.client.HTTPException) as e:
            problems.append('%s %s: %s' % (method, path,
                                           _error_text(e, timeout)))
            break  # the same for the next request
        finally:
            connection.close()
        if response.status != 200:
            problems.append('%s %s: HTTP %d %s' % (
                method, path, response.status,
                safe_text.escape(response.reason or '', limit=60)))
        elif method == 'GET' and not body.startswith(b'#!ipxe'):
            problems.append('GET %s: not an iPXE script' % path)
        elif method == 'GET' and (base + '/nodes/').encode() not in body:
            problems.append(
                'GET %s: the script chains to another URL than %s: the '
                'proxy serving it has another [baremetal] deploy_http_url '
                'than this host\'s configuration' % (path, _shown_url(base)))
        elif method == 'HEAD' and response.getheader(
                'Content-Length') == '0':
            problems.append('HEAD %s: empty' % path)
    return problems


class DeployHost:
    """This host's side of ``image`` deploys, checked once per command:
    the deploy kernel and ramdisk files, and (in a thread started at once,
    so that it overlaps the BMC checks) the deploy HTTP server."""

    def __init__(self, timeout=None):
        self.host = CONF.host
        self.timeout = HTTP_TIMEOUT if timeout is None else timeout
        self.file_problems = [p for p in (_file_problem('deploy_kernel'),
                                          _file_problem('deploy_ramdisk'))
                              if p]
        self.base = None
        self._server_problems = None
        try:
            self.base = deploy_base_url()
        except exception.ConfigInvalid as e:
            self._server_problems = [str(e)]
            return
        if self.base is None:
            self._server_problems = [
                '[baremetal] deploy_http_bind has port 0 (a free port picked '
                'when nova-compute starts) and deploy_http_url is not set: '
                'the deploy HTTP server cannot be found from here']
            return
        # A daemon thread: a server that trickles its answer cannot keep
        # the command from ending at the deadline.
        self._deadline = time.monotonic() + self.timeout
        self._thread = threading.Thread(
            target=self._probe, name='validate-deploy-http', daemon=True)
        self._thread.start()

    def _probe(self):
        try:
            problems = probe_deploy_server(self.base, self.timeout)
        except Exception as e:  # a bug here must not hang the command
            problems = ['checking it failed: %s'
                        % _error_text(e, self.timeout)]
        self._server_problems = problems

    def server_problems(self):
        """What is wrong with the deploy HTTP server ([] when nothing),
        waiting at most until the check's deadline."""
        if self._server_problems is None:
            self._thread.join(max(0.0, self._deadline - time.monotonic())
                              + 0.5)
        if self._server_problems is None:
            return ['no complete answer within %g s' % self.timeout]
        return self._server_problems


# -- the rows -----------------------------------------------------------------

def console(node):
    if not CONF.baremetal.console_enabled:
        return True, ('disabled ([baremetal] console_enabled = False): no '
                      'console log and no serial console for the instance')
    return True, ('enabled ([baremetal] console_enabled): Serial-over-LAN '
                  'through the BMC while an instance runs; SOL on the BMC '
                  'is checked when the console opens, not here')


def deploy(node, interfaces, host):
    """``image`` nodes: a PXE NIC, this host's deploy ramdisk files and
    deploy HTTP server. ``host``: a :class:`DeployHost`."""
    if node.deploy_interface != states.IMAGE:
        return True, 'not used (%s)' % node.deploy_interface
    problems = []
    pxe = [i for i in interfaces if i.pxe_enabled]
    if not interfaces:
        problems.append('no interface (MAC) enrolled: the node cannot boot '
                        'the deploy ramdisk from the network '
                        '(nova-bm-manage interface add)')
    elif not pxe:
        problems.append('none of its %s has pxe_enabled: the node cannot '
                        'boot the deploy ramdisk from the network '
                        '(nova-bm-manage interface update MAC --pxe)'
                        % base.plural(len(interfaces), 'interface'))
    where = 'on this host ([DEFAULT] host = %s%s)' % (
        safe_text.escape(host.host, limit=100),
        '' if node.service_host == host.host else
        '; the node\'s proxy is %s: run this there to check its files'
        % safe_text.escape(node.service_host, limit=100))
    if host.file_problems:
        problems.append('deploy ramdisk %s: %s' % (
            where, '; '.join(host.file_problems)))
    server = host.server_problems()
    if server:
        shown = _shown_url(host.base) if host.base else 'deploy HTTP server'
        problems.append('%s: %s' % (shown, '; '.join(server)))
    if problems:
        return False, '; '.join(problems)
    return True, ('PXE boot from %s; deploy kernel and ramdisk readable %s; '
                  '%s serves boot.ipxe, the deploy kernel and ramdisk'
                  % (_macs(pxe), where, _shown_url(host.base)))


def network(node, interfaces):
    """The NICs' data that binding Neutron ports needs
    (:func:`nova_bm.network.ports.binding`, :func:`~.ports.pair`)."""
    if not interfaces:
        return False, ('no interface (MAC) enrolled: each Neutron port of '
                       'an instance is one of the node\'s NICs')
    problems = []
    linked = []
    for interface in interfaces:
        link = interface.local_link_connection
        if not link:
            continue
        try:
            node_fields.local_link_connection(link)
        except exception.InvalidField as e:
            problems.append('%s: %s' % (interface.address, e))
        linked.append(interface)
    unlinked = [i for i in interfaces if i not in linked]
    if linked and unlinked:
        pxe = [i for i in unlinked if i.pxe_enabled]
        problems.append(
            'local_link_connection on %s but not on %s%s: a port bound to '
            'such a NIC gets no local_link_information for the switch\'s '
            'ML2 driver (nova-bm-manage interface update MAC --switch-id ID '
            '--port-id PORT)'
            % (_macs(linked), _macs(unlinked),
               ' (the node boots from %s)' % _macs(pxe) if pxe else ''))
    if problems:
        return False, '; '.join(problems)
    physnets = sorted({i.physical_network for i in interfaces
                       if i.physical_network})
    without = [i for i in interfaces if not i.physical_network]
    networks = ''
    if physnets:
        networks = '; physical networks %s%s' % (
            ', '.join(physnets),
            ' (%s without one: it may carry a port of any network)'
            % _macs(without) if without else '')
    if not linked:
        return True, ('no switch port data: flat network binding (%s)%s'
                      % (base.plural(len(interfaces), 'interface'), networks))
    return True, ('switch port data on every interface (%d): '
                  'local_link_information for the ML2 driver%s'
                  % (len(interfaces), networks))


def power(node, result):
    """``result``: what ``check_access_many`` said for the node."""
    if isinstance(result, Exception):
        return False, str(result)
    return True, ('BMC %s:%s accepted the node\'s credentials (a logon at '
                  'operator privilege)' % (node.ipmi_address,
                                           node.ipmi_port or 623))


def node_rows(node, interfaces, bmc_result, host):
    """``[(interface, result, reason)]`` of one node, in
    :data:`INTERFACES` order. ``host`` may be None when no node of the
    command is an ``image`` node."""
    checks = {
        CONSOLE: lambda: console(node),
        DEPLOY: lambda: deploy(node, interfaces, host),
        NETWORK: lambda: network(node, interfaces),
        POWER: lambda: power(node, bmc_result),
    }
    return [(name,) + checks[name]() for name in INTERFACES]
