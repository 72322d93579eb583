"""The frame codec: round trips, the documented examples, and noise that never raises."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from firmware_bridge import frames
from firmware_bridge.frames import Frame, FrameError, FrameReader

ARG = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="$*,"),
              max_size=12)
FRAME = st.builds(
    Frame,
    address=st.integers(0, 255),
    verb=st.from_regex(r"\A[A-Z][A-Z0-9]{0,11}\Z"),
    args=st.lists(ARG, max_size=5).map(tuple),
)


def test_checksum_is_xor_of_body() -> None:
    # The README's example frame: XOR of "1,KEY,NEXT" is 0x61.
    assert frames.checksum(b"1,KEY,NEXT") == 0x61
    assert frames.make(1, "KEY", "NEXT") == b"$1,KEY,NEXT*61\r\n"
    assert frames.parse(b"$1,KEY,NEXT*61\r\n") == Frame(1, "KEY", ("NEXT",))


def test_blank_show_keeps_an_empty_argument() -> None:
    line = frames.make(2, "SHOW", "")
    assert line.startswith(b"$2,SHOW,*")
    assert frames.parse(line) == Frame(2, "SHOW", ("",))


def test_lower_case_checksum_is_accepted() -> None:
    assert frames.parse(b"$1,KEY,NEXT*61").verb == "KEY"
    assert frames.parse(b"$2,PONG*" + f"{frames.checksum(b'2,PONG'):02x}".encode()).verb == "PONG"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"$1,KEY,NEXT*62\r\n", "bad_checksum"),
        (b"$1,KEY,NEXT\r\n", "malformed"),
        (b"$1,KEY,NEXT*3\r\n", "malformed"),
        (b"$1,KEY,NEXT*+5\r\n", "malformed"),
        (b"1,KEY,NEXT*61\r\n", "malformed"),
        (b"$1,KEY,N\xffXT*35\r\n", "non_ascii"),
        (b"$" + b"A" * 200 + b"*00\r\n", "overlong"),
    ],
)
def test_bad_lines_are_rejected_with_a_reason(line: bytes, reason: str) -> None:
    with pytest.raises(FrameError) as info:
        frames.parse(line)
    assert info.value.reason == reason


def test_bad_address_and_verb_are_malformed() -> None:
    for body in (b"x1,KEY", b"1,key", b"1234,PONG", b"300,PONG", b"1"):
        line = b"$" + body + b"*" + f"{frames.checksum(body):02X}".encode()
        with pytest.raises(FrameError) as info:
            frames.parse(line)
        assert info.value.reason == "malformed", body


def test_validate_knows_the_device_verbs() -> None:
    assert frames.validate(Frame(1, "KEY", ("NEXT",))) is None
    assert frames.validate(Frame(1, "KEY", ("JUMP",))) == "bad_args"
    assert frames.validate(Frame(3, "RATE", ("4",))) is None
    assert frames.validate(Frame(3, "RATE", ("5",))) == "bad_args"
    assert frames.validate(Frame(3, "HELLO", ("feedback", "1.0", "SN1"))) is None
    assert frames.validate(Frame(3, "HELLO", ("toaster", "1.0", "SN1"))) == "bad_args"
    assert frames.validate(Frame(3, "PONG")) is None
    assert frames.validate(Frame(3, "SHOW", ("A001",))) == "unknown_verb"
    assert frames.validate(Frame(0, "PONG")) == "bad_address"


@given(FRAME)
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # loaded CI machines
def test_encode_parse_round_trip(frame: Frame) -> None:
    assert frames.parse(frames.encode(frame)) == frame


@given(st.lists(FRAME, max_size=8), st.integers(1, 7))
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # loaded CI machines
def test_reader_splits_any_chunking(items: list[Frame], chunk: int) -> None:
    data = b"".join(frames.encode(f) for f in items)
    reader = FrameReader()
    out: list[Frame] = []
    for i in range(0, len(data), chunk):
        out += reader.feed(data[i:i + chunk])
    assert out == items
    assert sum(reader.errors.values()) == 0


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_bytes_never_raise(data: bytes) -> None:
    reader = FrameReader()
    for f in reader.feed(data):
        assert isinstance(f, Frame)
    reader.reset()
    try:
        frames.parse(data)
    except FrameError:
        pass


@given(st.binary(max_size=300), FRAME)
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # loaded CI machines
def test_reader_recovers_after_noise(noise: bytes, frame: Frame) -> None:
    reader = FrameReader()
    reader.feed(noise)
    # A newline ends whatever line the noise left open; the next frame comes through whole.
    assert reader.feed(b"\r\n" + frames.encode(frame)) == [frame]


def test_reader_counts_each_kind_of_reject() -> None:
    reader = FrameReader()
    good = frames.make(1, "KEY", "NEXT")
    data = (
        b"\x00\xff\xfe hello"            # garbage
        + b"$1,KEY,NE"                    # truncated by the next $
        + good
        + b"$1,KEY,NEXT*00\r\n"           # bad checksum
        + b"$" + b"9" * 300 + b"\r\n"     # overlong
        + good
    )
    out = reader.feed(data)
    assert out == [frames.parse(good)] * 2
    assert reader.errors["garbage"] == 1
    assert reader.errors["truncated"] == 1
    assert reader.errors["bad_checksum"] == 1
    assert reader.errors["overlong"] == 1
    assert reader.frames == 2


def test_hundred_thousand_random_bytes_then_a_frame() -> None:
    rng = random.Random(6)
    reader = FrameReader()
    reader.feed(rng.randbytes(100_000))
    assert sum(reader.errors.values()) > 100
    good = frames.make(7, "RATE", "3")
    assert reader.feed(b"\n" + good) == [Frame(7, "RATE", ("3",))]


def test_encode_refuses_what_a_frame_cannot_carry() -> None:
    with pytest.raises(ValueError):
        Frame(1, "SHOW", ("A,B",))
    with pytest.raises(ValueError):
        Frame(1, "show")
    with pytest.raises(ValueError):
        frames.make(1, "SHOW", "X" * 200)
    assert frames.clean_arg("no ticket, sorry*\n") == "no ticket sorry"
