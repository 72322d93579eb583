"""Announcements: real espeak-ng speech, a chime, one WAV per call, strictly in order."""

from __future__ import annotations

import threading
import time
import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest

from counter_display.announce import (
    AnnouncementQueue,
    CommandPlayer,
    Synthesiser,
    chime_frames,
    wav_seconds,
)
from counter_display.model import Call
from tests.conftest import artifacts_dir, need_tool


def call(number: str, counter: str = "7", recall: bool = False, seq: int = 0) -> Call:
    return Call(number=number, counter_id=f"c{int(counter):02d}", counter_name=counter, service_id="x",
                called_at=datetime.now(UTC), recall=recall, seq=seq)


class RecordingPlayer:
    """A player that notes what it was given and when (this machine has no sound card)."""

    def __init__(self, hold_s: float = 0.0) -> None:
        self.hold_s = hold_s
        self.played: list[tuple[Path, float, float]] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def play(self, path: Path) -> bool:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        start = time.monotonic()
        time.sleep(self.hold_s)
        with self._lock:
            self.active -= 1
        self.played.append((path, start, time.monotonic()))
        return True


def test_the_chime_is_a_short_audible_ding_dong():
    frames = chime_frames(22050)
    seconds = len(frames) / 2 / 22050
    assert 0.8 < seconds < 1.5
    peak = max(abs(int.from_bytes(frames[i:i + 2], "little", signed=True)) for i in range(0, len(frames), 200))
    assert 8000 < peak < 32767


def test_one_call_makes_one_wav_with_chime_english_and_kiswahili(tmp_path):
    need_tool("espeak-ng")
    synth = Synthesiser(tmp_path)
    path = synth.synthesise(call("B042", "7"))
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        seconds = w.getnframes() / w.getframerate()
    # chime (~1.1 s) + two sentences of about two seconds each
    assert seconds > 4.0, seconds
    english = synth.speak("Ticket B zero four two, counter seven", "en")
    swahili = synth.speak("Tikiti B sifuri nne mbili, kaunta saba", "sw")
    spoken = (len(english[1]) + len(swahili[1])) / 2 / english[0]
    assert seconds > spoken + 1.0
    (artifacts_dir("counter_display") / "announcement-B042-counter-7.wav").write_bytes(path.read_bytes())


def test_the_queue_announces_in_order_never_overlapping_and_recalls_again(tmp_path):
    need_tool("espeak-ng")
    player = RecordingPlayer(hold_s=0.05)
    done: list[str] = []
    q = AnnouncementQueue(Synthesiser(tmp_path), player, on_done=lambda a: done.append(a.call.number))
    q.start()
    try:
        calls = [call("A001", "1"), call("B042", "7"), call("A001", "1", recall=True), call("C010", "12")]
        for c in calls:
            q.put(c)
        assert q.wait_idle(60)
    finally:
        q.stop()
    assert [a.call for a in q.history] == calls
    assert done == ["A001", "B042", "A001", "C010"]
    assert player.max_active == 1
    starts = [p[1] for p in player.played]
    ends = [p[2] for p in player.played]
    assert all(ends[i] <= starts[i + 1] for i in range(len(calls) - 1))
    assert all(a.wav is not None and a.wav.exists() and wav_seconds(a.wav) > 1.0 for a in q.history)
    assert "recall" in q.history[2].wav.name and q.history[2].wav != q.history[0].wav


def test_without_an_audio_device_playback_fails_soft_and_the_wav_remains(tmp_path, caplog):
    need_tool("espeak-ng")
    q = AnnouncementQueue(Synthesiser(tmp_path), CommandPlayer())
    q.start()
    try:
        q.put(call("D101", "21"))
        q.put(call("D102", "21"))
        assert q.wait_idle(60)
    finally:
        q.stop()
    assert [a.error for a in q.history] == [None, None]
    assert all(a.wav and a.wav.exists() for a in q.history)
    if not Path("/dev/snd").exists():
        assert [a.played for a in q.history] == [False, False]
        assert sum("not played" in r.message for r in caplog.records) == 1  # said once, not per call


def test_without_the_speech_engine_the_chime_still_sounds(tmp_path):
    player = RecordingPlayer()
    q = AnnouncementQueue(Synthesiser(tmp_path, espeak="/nonexistent/espeak-ng"), player)
    q.start()
    try:
        q.put(call("A001"))
        q.put(call("A002"))
        assert q.wait_idle(10)
    finally:
        q.stop()
    assert all(a.error and "espeak-ng" in a.error for a in q.history)
    assert [p[0] for p in player.played] == [a.wav for a in q.history]
    assert all(0.8 < wav_seconds(a.wav) < 2.0 for a in q.history)  # the chime alone


def test_a_call_that_waited_too_long_is_skipped(tmp_path):
    need_tool("espeak-ng")
    player = RecordingPlayer(hold_s=2.0)
    q = AnnouncementQueue(Synthesiser(tmp_path), player, max_age_s=1.5)
    q.start()
    try:
        for n in ("A001", "A002", "A003"):
            q.put(call(n))
        assert q.wait_idle(60)
    finally:
        q.stop()
    assert q.history[0].played and q.history[0].skipped is None
    assert [a.skipped for a in q.history[1:]] == ["too old", "too old"]


def test_old_wav_files_are_pruned(tmp_path):
    need_tool("espeak-ng")
    synth = Synthesiser(tmp_path, keep=2)
    for n in ("A001", "A002", "A003"):
        synth.synthesise(call(n))
    assert len(list(tmp_path.glob("*.wav"))) == 2


@pytest.mark.parametrize("number", ["B042", "BC007"])
def test_sentences_are_those_of_i18n(tmp_path, number):
    sentences = Synthesiser(tmp_path).sentences(call(number, "12"))
    assert [lang for lang, _ in sentences] == ["en", "sw"]
    assert sentences[0][1].endswith("Counter twelve") and sentences[1][1].endswith("Kaunta kumi na mbili")


def test_the_number_is_said_slowly_character_by_character_in_both_languages(tmp_path):
    """What reaches espeak-ng (recorded by a wrapper that then runs the real espeak-ng), and the WAV it makes."""
    real = need_tool("espeak-ng")
    log = tmp_path / "said.txt"
    wrapper = tmp_path / "espeak-wrapper"
    wrapper.write_text(f'#!/bin/sh\nfor a; do last="$a"; done\nprintf "%s\\n" "$last" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    synth = Synthesiser(tmp_path / "out", espeak=str(wrapper))
    path = synth.synthesise(call("A001", "3"))
    said = log.read_text().splitlines()
    assert said == ["Ticket A, zero, zero, one. Counter three", "Tikiti A, sifuri, sifuri, moja. Kaunta tatu"]
    with wave.open(str(path)) as w:
        slow = w.getnframes() / w.getframerate()
    # the pauses between characters make the call longer than the same words said in one breath
    rate, quick = synth.speak("Ticket A zero zero one counter three", "en")
    rate, quick_sw = synth.speak("Tikiti A sifuri sifuri moja kaunta tatu", "sw")
    assert slow > 1.0 + (len(quick) + len(quick_sw)) / 2 / rate
    (artifacts_dir("counter_display") / "announcement-A001-counter-3-slow.wav").write_bytes(path.read_bytes())
