"""Payloads a centre server would publish, built from the contract models (for tests with no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from centre_server.contract import (
    CounterState,
    CounterStatePayload,
    DayStatePayload,
    EventPayload,
    EventType,
    HallCall,
    HallStatePayload,
    IssueRefusal,
    ServiceStatePayload,
    Topics,
    WaitUnknown,
)

T0 = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)

SERVICES = [
    ("id-card", "A", "National ID card", "Kitambulisho cha taifa"),
    ("birth-certificate", "B", "Birth certificate", "Cheti cha kuzaliwa"),
    ("kra-pin", "C", "KRA PIN registration", "Usajili wa PIN ya KRA"),
    ("sha", "D", "SHA registration", "Usajili wa SHA"),
    ("nssf", "E", "NSSF statement", "Taarifa ya NSSF"),
    ("good-conduct", "F", "Certificate of good conduct", "Cheti cha tabia njema"),
    ("business-name", "G", "Business name search", "Utafutaji wa jina la biashara"),
    ("driving-licence", "H", "Driving licence renewal", "Kuhuisha leseni ya udereva"),
    ("helb", "J", "HELB loan services", "Huduma za mkopo wa HELB"),
    ("passport", "K", "Passport application", "Maombi ya pasipoti"),
]


def service_state(service_id: str, waiting: int = 0, open_counters: int = 0, wait_s: int | None = 0,
                  wait_unknown: WaitUnknown | None = None, accepting: bool = True,
                  refusal: IssueRefusal | None = None) -> ServiceStatePayload:
    sid, prefix, en, sw = next(s for s in SERVICES if s[0] == service_id)
    return ServiceStatePayload(service_id=sid, prefix=prefix, name_en=en, name_sw=sw, waiting=waiting,
                               estimated_wait_s=wait_s, wait_unknown=wait_unknown, accepting=accepting,
                               refusal=refusal, open_counters=open_counters, target_wait_s=1800)


def day_state(open_: bool = True, opens_at: datetime | None = None,
              reason: str | None = None) -> DayStatePayload:
    """The retained ``state/day`` of 23 November 2026 (hours 08:00 to 17:00)."""
    return DayStatePayload(day="2026-11-23", open=open_, reason=reason, opening_time="08:00",
                           closing_time="17:00", opens_at=opens_at)


def counter_state(counter_id: str, name: str, ticket: str | None = None, state: CounterState = CounterState.open,
                  service_id: str | None = None, minutes: int = 0) -> CounterStatePayload:
    return CounterStatePayload(counter_id=counter_id, name=name, state=state, ticket=ticket,
                               service_id=service_id, called_at=T0 + timedelta(minutes=minutes) if ticket else None)


def hall(calls: list[tuple[str, str, str, int]], notice_en: str = "", notice_sw: str = "") -> HallStatePayload:
    """calls: (number, counter_id, counter_name, seq), newest first."""
    return HallStatePayload(
        centre_name="Huduma Centre Test",
        calls=[HallCall(number=n, counter_id=c, counter_name=name, service_id="", called_at=T0 + timedelta(seconds=seq),
                        seq=seq) for n, c, name, seq in calls],
        notice_en=notice_en, notice_sw=notice_sw,
    )


def call_event(seq: int, number: str, counter_id: str, counter_name: str, recall: bool = False) -> EventPayload:
    return EventPayload(type=EventType.ticket_recalled if recall else EventType.ticket_called, seq=seq,
                        at=T0 + timedelta(seconds=seq), ticket_id=f"t-{number}", number=number,
                        service_id="birth-certificate", counter_id=counter_id, counter_name=counter_name)


def publish_centre(pub, topics: Topics) -> None:
    """A busy morning: services waiting, counters serving, calls in the hall."""
    pub.publish(topics.server_availability, "online")
    for i, (sid, *_rest) in enumerate(SERVICES):
        pub.publish(topics.service_state(sid),
                    service_state(sid, waiting=(i * 7) % 23, open_counters=1 + i % 3, wait_s=300 + i * 170).to_bytes())
    pub.publish(topics.counter_state("c07"),
                counter_state("c07", "7", "B042", service_id="birth-certificate").to_bytes())
    pub.publish(topics.counter_state("c03"), counter_state("c03", "3", "A017", service_id="id-card").to_bytes())
    pub.publish(topics.hall_state, hall(
        [("B042", "c07", "7", 12), ("A017", "c03", "3", 11), ("C005", "c12", "12", 10), ("A016", "c01", "1", 9),
         ("D101", "c21", "21", 8), ("B041", "c07", "7", 7)],
        notice_en="Welcome. Have your ID card ready when your number is called.",
        notice_sw="Karibu. Kuwa na kitambulisho chako tayari namba yako ikiitwa.",
    ).to_bytes())


def catalogue(suspended: dict | None = None, longest: str = "passport"):
    """``state/catalogue`` for the sample services: three documents and a fee each, free for some, the
    longest texts the contract allows for ``longest``, and ``suspended`` ({service id: reason Text})."""
    from centre_server.contract.catalogue import (
        CatalogueService,
        CatalogueStatePayload,
        Fee,
        Offering,
        OfferingStatus,
        ServiceInfo,
        Text,
    )
    from tests.kiosk import catalogue_samples

    infos = []
    for i, (sid, prefix, en, sw) in enumerate(SERVICES):
        service = CatalogueService(
            id=sid, prefix=prefix, name=Text(en=en, sw=sw), category=Text(en="Services", sw="Huduma"),
            description=Text(en=en, sw=sw), agency="Demo agency",
            documents=[Text(en="Original national ID card", sw="Kitambulisho halisi cha taifa"),
                       Text(en="A copy of the ID card", sw="Nakala ya kitambulisho"),
                       Text(en="eCitizen payment receipt", sw="Risiti ya malipo ya eCitizen")],
            fee=Fee(amount_ksh=0 if i % 4 == 0 else 1_050), typical_duration_min=10, target_wait_min=30)
        if sid == longest:
            service = catalogue_samples.longest(service)
        reason = (suspended or {}).get(sid)
        offering = (Offering(service_id=sid, status=OfferingStatus.suspended, reason=reason, since=T0) if reason
                    else Offering(service_id=sid))
        infos.append(ServiceInfo(service=service, offering=offering))
    return CatalogueStatePayload(version=3, published_at=T0, applied_at=T0, services=infos)
