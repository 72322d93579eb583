"""The writer thread: a command the engine fails on (a bug, not a refusal) is answered, never lost."""

from __future__ import annotations

import threading
from typing import Any

from centre_server.config import load_settings
from centre_server.queue import engine
from centre_server.runtime.centre import Centre


class EngineBug(RuntimeError):
    pass


def execute_within(centre: Centre, command: engine.Command, seconds: float = 10.0) -> Any:
    """What ``centre.execute`` returned or raised, from another thread; a caller left waiting fails here."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["events"] = centre.execute(command)
        except BaseException as err:  # handed to the test as it came
            out["error"] = err

    caller = threading.Thread(target=run, daemon=True)
    caller.start()
    caller.join(seconds)
    assert out, f"{command!r} was never answered"
    return out.get("error", out.get("events"))


def test_an_engine_failure_reaches_the_waiting_caller_and_the_writer_goes_on(centre_dir, monkeypatch) -> None:
    real_apply = engine.apply

    def apply(state: engine.State, command: engine.Command, now: float) -> list[engine.Event]:
        if isinstance(command, engine.IssueTicket) and command.ticket_id == "BOOM":
            raise EngineBug("a bug in the rules")
        return real_apply(state, command, now)

    monkeypatch.setattr(engine, "apply", apply)
    centre = Centre(load_settings(centre_dir.path))
    centre.start_writer()
    try:
        assert isinstance(execute_within(centre, engine.IssueTicket(ticket_id="BOOM", service_id="kra-pin")),
                          EngineBug)
        events = execute_within(centre, engine.IssueTicket(ticket_id="OK1", service_id="kra-pin"))
        assert [e.type for e in events][-1:] == ["ticket_issued"]
        assert centre.ticket("BOOM") is None
        assert centre.ticket("OK1") is not None
    finally:
        centre.stop_writer()
        centre.close()
