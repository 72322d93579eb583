"""Access for every citizen: colour palettes, large text, and speech (espeak-ng, offline).

Modes are chosen on the welcome screen and belong to one citizen: the app resets them for the next.
Speech runs espeak-ng in a worker thread: the UI thread only hands over the text, and a new request
stops the one being spoken, so a citizen pressing the help key twice never waits for the first.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

# The hall's deep green with white cards; high contrast is black, white and yellow only.
PALETTE_NORMAL = {
    "bg": (0.03, 0.24, 0.15, 1), "card": (1, 1, 1, 1), "card_down": (0.80, 0.86, 0.83, 1),
    "accent": (1, 0.82, 0.05, 1), "accent_down": (0.85, 0.68, 0.0, 1), "ink": (0.04, 0.10, 0.07, 1),
    "warn": (0.80, 0.10, 0.10, 1), "quiet": (0.09, 0.33, 0.22, 1), "quiet_down": (0.2, 0.42, 0.32, 1),
    "quiet_ink": (1, 1, 1, 1),
}
PALETTE_HIGH_CONTRAST = {
    "bg": (0, 0, 0, 1), "card": (1, 1, 1, 1), "card_down": (0.75, 0.75, 0.75, 1),
    "accent": (1, 0.9, 0, 1), "accent_down": (0.8, 0.7, 0, 1), "ink": (0, 0, 0, 1),
    "warn": (1, 0.2, 0.2, 1), "quiet": (0.18, 0.18, 0.18, 1), "quiet_down": (0.35, 0.35, 0.35, 1),
    "quiet_ink": (1, 1, 1, 1),
}
LARGE_TEXT_SCALE = 1.25  # labels sized for 1.0 still fit (FitButtons shrink; fit tests check both)
# the low layout: every control within the lower part of the screen, reachable from a wheelchair.
# A tall floor-standing screen keeps its lower 60%; a landscape one (usually at desk height) its lower 75%,
# which still leaves room for the largest text.
LOW_LAYOUT_SHARE = {"portrait": 0.60, "landscape": 0.75}


def low_share(portrait: bool) -> float:
    return LOW_LAYOUT_SHARE["portrait" if portrait else "landscape"]
VOICES = {"en": "en", "sw": "sw"}  # espeak-ng voice for each language

_MARKUP = re.compile(r"\[/?[a-z]+(=[^\]]*)?\]")


# Signs drawn for the eye, not words: espeak-ng says "↓" as "down arrow" in English even inside a Kiswahili
# reading ("More below ↓"), and "·" between a count and a wait as "middle dot". Arrows go; the dot is a pause.
_UNSPOKEN = {**{cp: None for cp in range(0x2190, 0x2200)}, 0x00B7: ","}


def plain(text: str) -> str:
    """Kivy markup, arrows and line breaks out: what a voice should say."""
    text = _MARKUP.sub("", text or "").replace("&bl;", "[").replace("&br;", "]").replace("&amp;", "&")
    text = text.translate(_UNSPOKEN)
    return " ".join(text.split()).replace(" ,", ",")


def spelled(number: str) -> str:
    """A ticket number said character by character ("A 0 4 2"), slowly, with pauses."""
    return ", ".join(ch for ch in number if not ch.isspace())


def espeak_path() -> str | None:
    return shutil.which("espeak-ng")


class Speaker:
    """One voice for the kiosk: ``say`` returns at once; the newest request wins.

    ``wav_dir``: write each utterance to ``<wav_dir>/speech-<n>.wav`` (``espeak-ng -w``) instead of
    playing it, for a kiosk without a sound card and for the tests, which measure the audio.
    """

    def __init__(self, wav_dir: Path | None = None, rate_wpm: int = 140) -> None:
        self.exe = espeak_path()
        self.wav_dir = wav_dir
        self.rate = rate_wpm
        self.spoken: list[tuple[str, str, str]] = []  # (language, text, wav path or "") for the tests
        self._lock = threading.Lock()
        self._pending: tuple[int, list[tuple[str, str]]] | None = None
        self._generation = 0
        self._proc: subprocess.Popen | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="kiosk-speech")
        self._thread.start()
        if self.exe is None:
            logger.warning("espeak-ng is not installed: the kiosk cannot read aloud")

    def say(self, text: str, language: str) -> None:
        """Speak ``text`` (markup allowed) in ``language``, stopping whatever was being said."""
        self.say_parts([(language, text)])

    def say_parts(self, parts: list[tuple[str, str]]) -> None:
        """Several utterances in turn, each in its own voice (welcome: Kiswahili, then English)."""
        parts = [(lang, plain(text)) for lang, text in parts if plain(text)]
        if not parts:
            return
        with self._lock:
            self._generation += 1
            self._pending = (self._generation, parts)
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()  # the old request is cancelled: the citizen asked for something new
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()

    def _run(self) -> None:
        count = 0
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                job, self._pending = self._pending, None
            if job is None or self._stop.is_set():
                continue
            generation, parts = job
            for language, text in parts:
                count += 1
                if not self._speak(language, text, count, generation):
                    break

    def _speak(self, language: str, text: str, count: int, generation: int) -> bool:
        """One utterance; False when a newer request came (the rest of this one is dropped)."""
        wav = str(self.wav_dir / f"speech-{count}.wav") if self.wav_dir else ""
        if self.exe is None:
            return False
        cmd = [self.exe, "-v", VOICES.get(language, "en"), "-s", str(self.rate)]
        if wav:
            cmd += ["-w", wav]
        cmd += ["--", text]
        try:
            with self._lock:
                if generation != self._generation:
                    return False
                self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                proc = self._proc
            _out, err = proc.communicate()
            if proc.returncode not in (0, -15):
                logger.warning("espeak-ng exited %s: %s", proc.returncode, err.decode(errors="replace")[:200])
        except OSError as exc:
            logger.warning("espeak-ng failed: %s", exc)
            return False
        if proc.returncode == 0:
            self.spoken.append((language, text, wav))
        return proc.returncode == 0
