"""The display's only line to the centre: subscribe to retained state and calls.

The display never publishes anything but its own retained
``device/{id}/availability`` (the device link's: ``online`` on every connect,
``offline`` on a clean stop and as its last will). Messages and link changes are
handed to callbacks on paho's network thread; the app carries them to the UI
thread through a queue, so the model sees them in order.
"""

from __future__ import annotations

from centre_server.contract import DeviceBundle, EventType
from centre_server.contract.link import DeviceLink, LinkHandler, MessageHandler

# A display must show the truth within 2 s of the broker coming back, so it
# retries every second rather than backing off to half a minute.
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 1
KEEPALIVE_S = 10


def subscriptions(bundle: DeviceBundle) -> list[str]:
    """Every topic a display listens to: retained state plus the call events."""
    t = bundle.topics
    return [
        t.server_availability,
        t.all_service_states,
        t.all_counter_states,
        t.hall_state,
        t.day_state,
        t.catalogue_state,
        t.event(EventType.ticket_called),
        t.event(EventType.ticket_recalled),
    ]


class MqttLink(DeviceLink):
    """The device link with a display's subscriptions and timings; every message goes to ``on_message``."""

    def __init__(self, bundle: DeviceBundle, on_message: MessageHandler, on_link: LinkHandler) -> None:
        super().__init__(bundle, subscriptions(bundle), on_message=on_message, on_link=on_link,
                         keepalive_s=KEEPALIVE_S, reconnect_min_s=RECONNECT_MIN_S,
                         reconnect_max_s=RECONNECT_MAX_S)
