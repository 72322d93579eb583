"""A booked one-stop visit: the services after the booked one are kept with the booking and issued on the
same ticket at check-in; an order the menu does not offer is refused when booking."""

from __future__ import annotations

import pytest

from centre_server.channels.core import ChannelError
from centre_server.queue import visits
from tests.channels.test_appointments import book, hub, slot  # noqa: F401  (hub is the fixture)


def test_a_booked_visit_is_one_ticket_at_check_in(hub):  # noqa: F811
    pending = hub.book("land-search", slot(8, 0), "0711000031", "sw", then=("land-rates",))
    code = hub.pending_of(pending["id"])["code"]
    booked = hub.confirm_booking(pending["id"], code)
    assert booked["then_services"] == "land-rates"
    hub.clock.at(7, 40)
    [res] = hub.check_in(code=booked["code"])
    t = res.ticket
    assert t.service_id == "land-search" and visits.remaining(t) == ["land-rates"]
    with pytest.raises(ChannelError) as err:
        hub.book("land-rates", slot(9, 0), "0711000032", "sw", then=("land-search",))
    assert err.value.code == "visit_not_offered" and "haziwezi kushiriki tiketi moja" in err.value.message("sw")
    assert book(hub, "land-rates", slot(9, 0), "0711000032", "en")["then_services"] == ""
