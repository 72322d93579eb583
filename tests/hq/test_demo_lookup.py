"""A look-up "to every centre" answers while the caller is on the line, even when some centres never answer.

Found in the demo: the simulated neighbour centres never call in, and the agent's page said "Still asking 6
centre(s)" for two minutes. A real ``huduma-hq serve --demo``; its neighbours are the silent centres.
"""

from __future__ import annotations

from pathlib import Path

from hq.demo import NEIGHBOURS
from tests.conftest import free_port, wait_until
from tests.hq.conftest import HqProcess
from tests.hq.test_callcentre import answers, csrf, new_call


def test_a_look_up_says_which_centres_did_not_answer_in_seconds_not_minutes(tmp_path: Path) -> None:
    hq = HqProcess(db_url="", port=free_port(), log_path=tmp_path / "hq.log", cwd=tmp_path, demo=True)
    hq.start()
    try:
        agent = hq.client("agent")
        call_id = new_call(agent, "0712 345 678")
        page = f"/callcentre/calls/{call_id}"
        r = agent.post(page + "/lookup", data={"csrf": csrf(agent, page), "phone": "0712345678", "code": "",
                                               "centre": ""})
        assert r.status_code == 303, r.text[:300]
        asked = answers(agent, call_id)
        assert "Still asking" in asked  # nobody has answered yet: said as such
        # well within the two minutes a look-up is kept for a centre (the caller has hung up by then)
        def told() -> str | None:
            now = answers(agent, call_id)
            return now if "did not answer in time" in now else None

        late = wait_until(told, timeout=40, what=lambda: answers(agent, call_id)[-600:])
        assert "Still asking" not in late
        for _, name, *_ in NEIGHBOURS:
            assert name in late
        assert "havikujibu kwa wakati" in answers(agent, call_id, "sw")
    finally:
        hq.stop()
