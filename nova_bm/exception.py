"""The exceptions of nova-bm: one family, each message one actionable line.

Like sushy's and Nova's, the base class fills ``message`` (a class-level
format) from keyword arguments. ``exit_code`` is what ``nova-bm-manage``
exits with when the error reaches it: 2 for input that was refused before
anything was written, 1 for failures at run time.

A message is always one printable line: whatever a keyword argument holds
(a node name typed with a newline, a file path with an escape sequence),
it is escaped by :func:`nova_bm.common.safe_text.escape`.
"""

from nova_bm.common import safe_text
from nova_bm.common import states


class NovaBMException(Exception):
    """Base of every nova-bm error."""

    message = 'An unknown error occurred.'
    exit_code = 1

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            message = self.message % kwargs
        super().__init__(safe_text.escape(message))


class Invalid(NovaBMException):
    """Input was refused; nothing was written."""

    message = 'Invalid input.'
    exit_code = 2


class InvalidField(Invalid):
    message = '%(field)s: %(reason)s'


class NodeFileInvalid(Invalid):
    message = '%(path)s: %(reason)s'


class DuplicateNode(Invalid):
    message = 'A node with %(field)s %(value)s already exists.'


class DuplicateInBatch(Invalid):
    message = '%(field)s %(value)s is given to more than one node.'


class DuplicateInterface(Invalid):
    message = ('MAC address %(address)s is already an interface of node '
               '%(node)s.')


class NodeRenameRefused(Invalid):
    message = ('Node %(node)s cannot be renamed: its name is its '
               'hypervisor_hostname, its identity in Nova.')


class ConfigInvalid(Invalid):
    message = 'Configuration error: %(reason)s'


class NotFound(NovaBMException):
    message = 'Resource could not be found.'


class NodeNotFound(NotFound):
    message = 'Node %(node)s could not be found.'


class InterfaceNotFound(NotFound):
    message = 'No interface has MAC address %(address)s.'


class Conflict(NovaBMException):
    message = 'Conflicting state.'


class NodeInUse(Conflict):
    message = ('Node %(node)s is held by instance %(instance)s; delete or '
               'move that instance first.')


class NodeBusy(Conflict):
    message = ('Node %(node)s is %(state)s: its %(what)s cannot change '
               'until that ends.')


class NodeHeld(Conflict):
    message = ('Node %(node)s is held by instance %(instance)s: its '
               '%(what)s cannot change until that instance is deleted.')


class NodeStateRefused(Conflict):
    message = 'Node %(node)s is %(state)s: %(reason)s'


class NodeNotAvailable(Conflict):
    message = 'Node %(node)s cannot be claimed: %(reason)s'


class DatabaseUnavailable(NovaBMException):
    message = 'The node database is unavailable: %(reason)s'


class DatabaseNotReady(NovaBMException):
    message = ('The node database has no schema or an old one (%(reason)s); '
               'run "nova-bm-manage db sync".')


class InvalidBmcParameters(Invalid):
    message = 'Node %(node)s cannot be managed over IPMI: %(reason)s'


class BmcError(NovaBMException):
    """A BMC did not do what was asked; ``bmc`` is its ``address:port``.

    ``counts_against_bmc`` says whether the failure means the BMC is not
    healthy (it feeds the per-BMC breaker); a BMC that answered with a
    refusal is alive.
    """

    message = 'BMC %(bmc)s failed: %(reason)s'
    counts_against_bmc = True


class BmcUnreachable(BmcError):
    message = 'BMC %(bmc)s is unreachable: %(reason)s'


class BmcTimeout(BmcError):
    message = 'BMC %(bmc)s did not answer %(command)s within %(timeout)s s.'


class BmcAuthFailed(BmcError):
    message = 'BMC %(bmc)s refused the IPMI credentials: %(reason)s'


class BmcCommandRefused(BmcError):
    message = 'BMC %(bmc)s refused %(command)s: %(reason)s'
    counts_against_bmc = False


class BmcBreakerOpen(BmcUnreachable):
    message = ('BMC %(bmc)s failed %(failures)d times in a row (last: '
               '%(reason)s); it is not contacted again for %(remaining)d s.')


class PowerStateTimeout(BmcError):
    message = ('BMC %(bmc)s accepted "power %(target)s" but still reports '
               '%(state)s after %(timeout)s s.')
    counts_against_bmc = False


#: What a call to a node's BMC may raise that is the BMC's trouble (or its
#: parameters'), not a bug: callers catch exactly these.
BMC_TROUBLE = (BmcError, InvalidBmcParameters)


def bmc_fault(error):
    """The fault a BMC error puts a node in (``states.FAULT_*``), or None
    for an error that does not count against the BMC (it answered)."""
    if isinstance(error, BmcAuthFailed):
        return states.FAULT_CREDENTIALS
    if isinstance(error, BmcError) and error.counts_against_bmc:
        return states.FAULT_BMC
    return None
