"""What an LED board does for each counter state: pure, so every case is cheap to pin."""

from __future__ import annotations

from centre_server.contract import CounterState, CounterStatePayload, TicketState
from firmware_bridge.bridge import BoardState, board_step, nak_reason


def state(ticket: str | None = "A001", ticket_id: str | None = "t1", recalls: int = 0,
          counter: CounterState = CounterState.open,
          ticket_state: TicketState | None = TicketState.called) -> CounterStatePayload:
    return CounterStatePayload(counter_id="c01", name="1", state=counter, ticket=ticket,
                               ticket_id=ticket_id if ticket else None, recalls=recalls,
                               ticket_state=ticket_state if ticket else None)


def test_first_state_shows_without_blinking() -> None:
    step = board_step(None, state())
    assert (step.board.text, step.changed, step.blink, step.beep) == ("A001", True, False, False)


def test_new_call_blinks_and_recall_beeps() -> None:
    shown = board_step(None, state()).board
    call = board_step(shown, state("A002", "t2"))
    assert (call.board.text, call.blink, call.beep) == ("A002", True, False)
    recall = board_step(call.board, state("A002", "t2", recalls=1))
    assert (recall.changed, recall.blink, recall.beep) == (True, True, True)
    again = board_step(recall.board, state("A002", "t2", recalls=1, ticket_state=TicketState.serving))
    assert not again.changed  # serving the same ticket: nothing for the hall to notice


def test_same_number_on_a_new_ticket_is_a_new_call() -> None:
    # Numbers restart every day: A001 today is not yesterday's A001.
    prev = BoardState(text="A001", ticket_id="yesterday", recalls=0)
    assert board_step(prev, state("A001", "today")).blink


def test_board_blanks_when_nobody_is_called() -> None:
    prev = board_step(None, state()).board
    for s in (state(ticket=None), state(counter=CounterState.closed),
              state(ticket_state=TicketState.done), state(ticket_state=TicketState.no_show),
              state(ticket_state=TicketState.transferred)):
        step = board_step(prev, s)
        assert (step.board.text, step.changed, step.blink, step.beep) == ("", True, False, False), s


def test_paused_counter_keeps_its_number() -> None:
    prev = board_step(None, state()).board
    step = board_step(prev, state(counter=CounterState.paused))
    assert step.board.text == "A001" and not step.changed


def test_odd_ticket_text_cannot_break_a_frame() -> None:
    assert board_step(None, state("A,1*$")).board.text == "A1"


def test_nak_reasons_are_short_words() -> None:
    assert nak_reason("nothing_waiting") == "NOTHING_WAITING"
    assert nak_reason("counter 1 is closed: open it first") == "COUNTER_1_IS_CLOSED"
    assert nak_reason(None) == "ERROR"
    assert nak_reason("***") == "ERROR"
