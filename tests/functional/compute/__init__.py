"""Nova's own services, in-process, with this driver.

Importing ``nova.tests.functional`` first applies Nova's concurrency mode
(eventlet monkey-patching, or native threading when
``OS_NOVA_DISABLE_EVENTLET_PATCHING=1``) before anything else can import
eventlet; native mode refuses to start otherwise.
"""

import nova.tests.functional  # noqa: F401
