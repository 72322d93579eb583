"""Spoken calls: a chime, then the call in English and in Kiswahili, one at a time.

Speech is synthesised offline with espeak-ng (Debian package ``espeak-ng``,
voices ``en`` and ``sw``), so a centre with no internet still speaks. For every
call one WAV file is written (chime + English + Kiswahili); it is then played
through the first player that works (``paplay``, ``aplay``, sox's ``play``).
With no audio device the playback fails soft (logged once) and the WAV file
remains. A single worker thread takes calls in the order they came, so
announcements never overlap and a recall is announced again as a new call.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from counter_display import i18n
from counter_display.model import Call

logger = logging.getLogger(__name__)

HISTORY_KEPT = 200  # announcements remembered (a display runs for months)
SAMPLE_RATE = 22050  # espeak-ng's own output rate: the chime is made to match it


class SynthesisError(RuntimeError):
    """The speech engine is missing or failed."""


def chime_frames(rate: int = SAMPLE_RATE, volume: float = 0.5) -> bytes:
    """A two-note "ding-dong" (E6 then C6, with a soft overtone and a decay), 16-bit mono."""
    notes = [(1318.5, 0.42), (1046.5, 0.65)]
    out = bytearray()
    for freq, seconds in notes:
        n = int(rate * seconds)
        for i in range(n):
            t = i / rate
            env = math.exp(-4.0 * t) * min(1.0, i / (0.005 * rate))  # 5 ms attack, bell-like decay
            sample = math.sin(2 * math.pi * freq * t) + 0.3 * math.sin(2 * math.pi * 2 * freq * t)
            out += struct.pack("<h", int(max(-1.0, min(1.0, volume * env * sample / 1.3)) * 32767))
    return bytes(out)


def silence_frames(seconds: float, rate: int = SAMPLE_RATE) -> bytes:
    return b"\x00\x00" * int(rate * seconds)


class Synthesiser:
    """Turns a call into one WAV file: chime, English sentence, Kiswahili sentence."""

    def __init__(self, out_dir: Path, espeak: str | None = None, speed: int = 140,
                 voices: dict[str, str] | None = None, keep: int = 50) -> None:
        self.out_dir = Path(out_dir)
        self.espeak = espeak or shutil.which("espeak-ng") or shutil.which("espeak")
        self.speed = speed
        self.voices = voices or {"en": "en", "sw": "sw"}
        self.keep = keep
        self.speech_error: str | None = None  # why the last call had no speech, if it had none
        self._count = 0

    def speak(self, text: str, lang: str) -> tuple[int, bytes]:
        """(sample rate, 16-bit mono frames) of ``text`` said in ``lang``."""
        if not self.espeak:
            raise SynthesisError("espeak-ng is not installed (Debian package espeak-ng)")
        with tempfile.NamedTemporaryFile(suffix=".wav", dir=self.out_dir, delete=False) as tmp:
            path = Path(tmp.name)
        try:
            done = subprocess.run(
                [self.espeak, "-v", self.voices.get(lang, lang), "-s", str(self.speed), "-w", str(path), text],
                capture_output=True, text=True, timeout=30,
            )
            if done.returncode != 0 or not path.exists() or path.stat().st_size <= 44:
                raise SynthesisError(f"espeak-ng failed for {lang}: {done.stderr.strip()[:200]}")
            with wave.open(str(path), "rb") as w:
                if w.getsampwidth() != 2 or w.getnchannels() != 1:
                    raise SynthesisError("espeak-ng wrote an unexpected WAV format")
                return w.getframerate(), w.readframes(w.getnframes())
        finally:
            path.unlink(missing_ok=True)

    def sentences(self, call: Call) -> list[tuple[str, str]]:
        return [(lang, i18n.call_sentence(call.number, call.counter_name, lang, call.recall))
                for lang in ("en", "sw")]

    def synthesise(self, call: Call) -> Path:
        """Write the call's WAV file and return its path."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        parts: list[bytes] = []
        rate = SAMPLE_RATE
        self.speech_error = None
        try:
            for lang, text in self.sentences(call):
                rate, frames = self.speak(text, lang)
                parts.append(frames)
        except (SynthesisError, OSError, subprocess.TimeoutExpired, wave.Error) as exc:
            # The hall still hears the chime and sees the number: better than silence.
            self.speech_error = str(exc)
            logger.error("no speech for %s, chime only: %s", call.number, exc)
            parts, rate = [], SAMPLE_RATE
        audio = chime_frames(rate) + silence_frames(0.3, rate)
        if parts:
            audio += parts[0] + silence_frames(0.6, rate) + parts[1] + silence_frames(0.2, rate)
        self._count += 1
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kind = "recall" if call.recall else "call"
        name = f"{stamp}-{self._count:04d}-{kind}-{_safe(call.number)}-{_safe(call.counter_name)}.wav"
        path = self.out_dir / name
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(audio)
        self._prune()
        return path

    def _prune(self) -> None:
        """Keep the newest ``keep`` files: a display runs for months."""
        files = sorted(self.out_dir.glob("*.wav"), key=lambda p: p.stat().st_mtime)
        for old in files[: max(0, len(files) - self.keep)]:
            old.unlink(missing_ok=True)


def _safe(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum()) or "x"


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


class Player(Protocol):
    def play(self, path: Path) -> bool:
        """Play ``path`` to the end; False when it could not be played."""


def audio_device_present() -> bool:
    """True when ALSA has a sound card or a PulseAudio/PipeWire server is reachable."""
    if os.environ.get("PULSE_SERVER"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}")
    if Path(runtime, "pulse", "native").exists() or Path(runtime, "pipewire-0").exists():
        return True
    cards = Path("/proc/asound/cards")
    try:
        return cards.exists() and "no soundcards" not in cards.read_text() and cards.read_text().strip() != ""
    except OSError:
        return False


class CommandPlayer:
    """Plays through ``paplay``, ``aplay`` or sox's ``play``, whichever exists and works."""

    COMMANDS = (["paplay"], ["aplay", "-q"], ["play", "-q"])

    def __init__(self) -> None:
        self._warned = False

    def _fail(self, why: str) -> bool:
        if not self._warned:
            logger.warning("announcements are not played (%s); their WAV files are still written", why)
            self._warned = True
        return False

    def play(self, path: Path) -> bool:
        if not audio_device_present():
            return self._fail("no audio device")
        for cmd in self.COMMANDS:
            exe = shutil.which(cmd[0])
            if not exe:
                continue
            try:
                done = subprocess.run([exe, *cmd[1:], str(path)], capture_output=True, text=True,
                                      timeout=wav_seconds(path) + 10)
            except (OSError, subprocess.TimeoutExpired) as exc:
                logger.info("%s failed: %s", cmd[0], exc)
                continue
            if done.returncode == 0:
                return True
            logger.info("%s failed: %s", cmd[0], done.stderr.strip()[:200])
        return self._fail("no player could open the audio device")


@dataclass
class Announcement:
    """One announcement as it went: its call, its WAV file, whether it was heard."""

    call: Call
    wav: Path | None = None
    played: bool = False
    skipped: str | None = None
    error: str | None = None
    done_at: float = field(default_factory=time.monotonic)


class AnnouncementQueue:
    """Calls in, announcements out, strictly one after the other on a worker thread.

    A call that waited longer than ``max_age_s`` in the queue (a burst of calls
    after a long outage) is skipped rather than announced late.
    """

    def __init__(self, synthesiser: Synthesiser, player: Player | None = None,
                 max_age_s: float | None = 120.0,
                 on_done: Callable[[Announcement], None] | None = None) -> None:
        self.synthesiser = synthesiser
        self.player = player or CommandPlayer()
        self.max_age_s = max_age_s
        self.on_done = on_done
        self.history: list[Announcement] = []
        self._queue: queue.Queue[tuple[Call, float] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="announcements", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def put(self, call: Call) -> None:
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._queue.put((call, time.monotonic()))

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued call is announced (for tests and clean stops)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            call, queued_at = item
            result = Announcement(call=call)
            try:
                if self.max_age_s is not None and time.monotonic() - queued_at > self.max_age_s:
                    result.skipped = "too old"
                    logger.info("skipping stale announcement of %s", call.number)
                else:
                    result.wav = self.synthesiser.synthesise(call)
                    result.error = self.synthesiser.speech_error
                    result.played = self.player.play(result.wav)
            except Exception as exc:  # noqa: BLE001 - the queue must outlive any single failure
                result.error = str(exc)
                logger.error("announcement of %s failed: %s", call.number, exc)
            result.done_at = time.monotonic()
            self.history.append(result)
            del self.history[:-HISTORY_KEPT]
            if self.on_done is not None:
                try:
                    self.on_done(result)
                except Exception:
                    logger.exception("announcement callback failed")
            with self._lock:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()
