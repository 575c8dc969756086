"""After ``nova-bm-manage`` changed nodes: tell the proxies, notify.

The node database is the truth and is already written when this runs;
the message bus only makes the proxies see it sooner. So a bus that is not
configured or does not answer never fails the command: it says so in one
line on stderr (stdout may be JSON a script reads) and exits 0.
"""

from nova_bm.conf import CONF
from nova_bm.common import node_events
from nova_bm.common import notifications


def announce(stderr, uuids, events=(), power_read=False):
    """Fanout ``nodes_changed(uuids)`` (``power_states_read(uuids)`` when
    ``power_read``: the command stored what their BMCs said); then send
    ``events``, a list of ``(event_type, [nodes])``. One line on
    ``stderr`` says what happened.
    """
    uuids = list(uuids)
    if not CONF.transport_url:
        stderr.write('Proxies not told: no [DEFAULT] transport_url in the '
                     'configuration; they see the change at their next '
                     'resource cycle.\n')
        return False
    client = None
    try:
        client = node_events.NodeEventsClient()
        if power_read:
            client.power_states_read(uuids)
        else:
            client.nodes_changed(uuids)
    except Exception as e:  # noqa: BLE001 - the nodes are written already
        # Whatever the bus library raises (refused connection, bad URL,
        # timeout): one line, and the command still succeeds.
        stderr.write('Proxies not told: the message bus did not take the '
                     'message (%s); they see the change at their next '
                     'resource cycle, and no notification was sent.\n'
                     % (' '.join(str(e).split()) or type(e).__name__))
        return False
    finally:
        if client is not None:
            client.close()
    notifier = notifications.Notifier(CONF.host)
    for event_type, nodes in events:
        notifier.emit_many(event_type, nodes)
    stderr.write('Told the proxies on the message bus (%d nodes).\n'
                 % len(uuids))
    return True
