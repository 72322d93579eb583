"""KioskApp: screens, navigation, and the threads that feed the model.

Imported only after ``kiosk.app.configure_kivy`` so the window gets the
config's size and full-screen setting.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.lang import Builder
from kivy.properties import BooleanProperty, DictProperty, NumericProperty, ObjectProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from centre_server.contract import PrinterStatus, TicketOut
from kiosk import needs as needs_text
from kiosk.access import (
    LARGE_TEXT_SCALE,
    PALETTE_HIGH_CONTRAST,
    PALETTE_NORMAL,
    Speaker,
    low_share,
)
from kiosk.api import ApiError, CentreApi, CheckIn, Unreachable
from kiosk.config import KioskConfig
from kiosk.i18n import printer_status_text, tr
from kiosk.model import KioskModel
from kiosk.mqtt_link import KioskLink
from kiosk.payment import AVAILABILITY_RECHECK_S, PAY_SCREEN_CLASSES, PAY_SCREENS, PaymentFlow
from kiosk.printing import BLOCKING, TicketPrinter
from kiosk.screens import SCREEN_CLASSES, SCREEN_NAMES, IdleWarning, StaffCorner, back_button, spoken_screen
from kiosk.visit import VISIT_SCREENS, after_first_service

logger = logging.getLogger(__name__)

KV_DIR = Path(__file__).parent / "kv"

IDLE_SCREENS = ("categories", "services", "needs", "no_documents", "suspended", "priority", "phone", "confirm",
                "staff", "checkin", "book", "more", "pay_choice", "pay_phone")
# where a citizen asks for a ticket: a closed day shows "closed" instead
JOURNEY_SCREENS = ("welcome", "categories", "services", "needs", "no_documents", "suspended", "priority", "phone",
                   "confirm", "checkin", "more", "pay_choice", "pay_phone")
RESULT_SCREENS = ("ticket", "checked_in")  # shown for ticket_screen_s, then the next citizen
PARKED_SCREENS = ("closed", "out_of_service")  # shown for hours: a citizen's modes go after the idle timeout
HEALTH_FAILURES_FOR_OUTAGE = 2
SERVICES_REFRESH_S = 30.0
# A double tap's second touch comes 50-250 ms after the first; the first may already have changed the
# screen, and the second must not press whatever the new screen has under the finger ("Back" under
# "I have these" took a citizen backwards). Touches this soon after a screen change are ignored.
TAP_GUARD_S = 0.35
REGISTRATION_CHECK_S = 3.0  # how often the kiosk asks whether the centre still knows its token


class Worker:
    """A background loop with a stop flag (the health check)."""

    def __init__(self, target, interval_s: float) -> None:
        self._stop = threading.Event()
        self._target = target
        self._interval = interval_s
        self._thread = threading.Thread(target=self._run, daemon=True, name="kiosk-health")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._target()
            except Exception:  # a bug here must not end the health loop
                logger.exception("health check failed")
            self._stop.wait(max(0.05, self._interval - (time.monotonic() - started)))


def printer_fault(cfg: KioskConfig, demo: bool) -> str:
    """Why this kiosk cannot print at all ("" when it can): it then stays out of service."""
    if cfg.printer.kind is None:
        return "no_printer"
    if cfg.printer.kind == "dummy" and not demo:
        return "dummy_printer"
    return ""


class KioskApp(App):
    model = ObjectProperty(None)
    kconfig = ObjectProperty(None)
    portrait = BooleanProperty(False)  # a floor-standing kiosk's tall screen: layouts stack differently
    # the citizen's modes, chosen on welcome and reset for the next citizen
    large_text = BooleanProperty(False)
    high_contrast = BooleanProperty(False)
    low_layout = BooleanProperty(False)
    text_scale = NumericProperty(1.0)
    colors = DictProperty(PALETTE_NORMAL)
    idle_warning = BooleanProperty(False)  # "Are you still there?" is showing
    idle_left = NumericProperty(0)  # seconds until the reset, for its countdown
    printing_ticket = BooleanProperty(False)  # the ticket on screen is being printed now (no fault yet)
    payment = ObjectProperty(None)  # this citizen's M-Pesa payment (kiosk/payment.py), for the kv rules

    def __init__(self, cfg: KioskConfig, printer: TicketPrinter | None = None, demo: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.kconfig = cfg
        self.demo = demo
        self.title = f"Huduma kiosk \u00b7 {cfg.bundle.centre_name}"
        self.model = KioskModel()
        self.model.device_fault = printer_fault(cfg, demo) if printer is None else ""
        self._printer_fault = self.model.device_fault  # fixed by the config; "not_registered" comes and goes
        self._registration_checked = 0.0  # monotonic time of the last GET /session
        if self.model.device_fault:
            logger.error("out of service: %s (printer kind %r)", self.model.device_fault, cfg.printer.kind)
        self.printer = printer or TicketPrinter(cfg.printer)
        self.api = CentreApi(cfg.bundle.server_url, cfg.bundle.token)
        self.pay = PaymentFlow(self)
        self.payment = self.pay.state
        self.link = KioskLink(cfg.bundle, on_service_state=self._mqtt_service_state,
                              on_server_availability=self._mqtt_server_availability,
                              on_connection=self._mqtt_connection,
                              on_day_state=self._mqtt_day_state,
                              on_catalogue=self._mqtt_catalogue)
        self.executor = ThreadPoolExecutor(max_workers=3, thread_name_prefix="kiosk")
        self.health = Worker(self._check_health, cfg.kiosk.health_interval_s)
        self._health_failures = 0
        self._last_touch = time.monotonic()
        self._entered_at = time.monotonic()
        self._screen_since = 0.0  # when the screen last changed (touches just after it are ignored)
        self.ignored_touches = 0  # touches ignored as a double tap's second touch (tests read it)
        self._printer_busy = False
        self._loading_services = False
        self._published: str | None = None
        self.issue_calls = 0  # how many times the kiosk asked the server for a ticket (tests read it)
        self.confirm_taps = 0  # how many times "print my ticket" was pressed
        self._gave_up: list[str] = []  # confirmations whose last attempt failed: withdrawn when the server is back
        self.withdrawn = 0  # given-up confirmations the server was asked to withdraw (tests read it)
        self.checkin_calls = 0  # how many times the kiosk asked the server to check someone in
        self.checkin_taps = 0  # how many times "check in" was pressed
        self.sm: ScreenManager | None = None
        wav_dir = cfg.kiosk.speech_wav_dir
        self.speaker = Speaker(Path(wav_dir) if wav_dir else None, cfg.kiosk.speech_rate_wpm)
        self.audio_used = False  # this citizen asked for speech: the ticket is read back too
        self.language_chosen = False  # this citizen chose a language: welcome is then read in it alone

    # -- building ------------------------------------------------------------------
    def build(self):
        Builder.load_file(str(KV_DIR / "common.kv"))
        for name in (*SCREEN_NAMES, *VISIT_SCREENS, *PAY_SCREENS):
            Builder.load_file(str(KV_DIR / f"{name}.kv"))
        root = FloatLayout()
        with root.canvas.before:  # the low layout leaves the top of the screen empty: the hall's colour there
            self._root_colour = Color(*self.colors["bg"])
            self._root_rect = Rectangle(pos=root.pos, size=root.size)
        root.bind(size=lambda _w, size: setattr(self._root_rect, "size", size))
        self.bind(colors=lambda _a, colors: setattr(self._root_colour, "rgba", colors["bg"]))
        self.sm = ScreenManager(transition=NoTransition(), size_hint_y=1, pos_hint={"x": 0, "y": 0})
        for name in (*SCREEN_NAMES, *VISIT_SCREENS):
            self.sm.add_widget({**SCREEN_CLASSES, **VISIT_SCREENS}[name](name=name))
        for name in PAY_SCREENS:
            self.sm.add_widget(PAY_SCREEN_CLASSES[name](name=name))
        self.sm.bind(current=self._screen_changed)
        root.add_widget(self.sm)
        corner = StaffCorner(size_hint=(None, None), size=(110, 110), pos_hint={"x": 0, "top": 1})
        corner.hold_s = self.kconfig.kiosk.staff_press_s
        root.add_widget(corner)
        self.idle_overlay = IdleWarning()
        root.add_widget(self.idle_overlay)
        self.bind(low_layout=self._layout_changed, portrait=self._layout_changed)
        self.model.bind(services_version=self._services_changed, language=self._services_changed,
                        server_ok=self._server_ok_changed, printer_status=self._printer_status_changed,
                        day_open=self._day_open_changed)
        from kivy.core.window import Window

        Window.bind(size=self._window_resized)
        self._window_resized(Window, Window.size)
        return root

    def _window_resized(self, _window, size) -> None:
        self.portrait = size[1] > size[0]

    def on_start(self) -> None:
        from kivy.core.window import Window

        Window.bind(on_touch_down=self._touched, on_key_down=self._key_down)
        Window.bind(on_touch_down=self._too_soon)  # bound last: runs first, and may stop the touch
        logger.info("window %dx%d (%s)", Window.size[0], Window.size[1], "portrait" if self.portrait else "landscape")
        if self.model.device_fault:
            self.go("out_of_service")
        self.link.start()
        self.health.start()
        self.load_services()
        self.poll_printer()
        Clock.schedule_interval(self._tick, 0.5)
        Clock.schedule_interval(lambda _dt: self.poll_printer(), self.kconfig.printer.status_poll_s)
        Clock.schedule_interval(self._refresh_without_mqtt, SERVICES_REFRESH_S)
        self.pay.refresh()  # may the next citizen pay by M-Pesa? (again on reconnecting, and now and then)
        Clock.schedule_interval(self.pay.refresh, AVAILABILITY_RECHECK_S)

    def on_request_close(self, *_a, **_kw) -> bool:
        """A full-screen kiosk is not closed by a window gesture; a windowed demo is."""
        return bool(self.kconfig.kiosk.fullscreen)

    def on_stop(self) -> None:
        self.health.stop()
        self.speaker.stop()
        try:
            self.link.stop()
        except Exception as exc:  # stopping must finish even with a broken link
            logger.warning("MQTT stop: %s", exc)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.api.close()

    # -- navigation ------------------------------------------------------------------
    def go(self, name: str) -> None:
        """Show a screen; an unreachable server overrides everything but the ticket in hand,
        a kiosk that cannot print overrides everything, a closed day overrides asking for a ticket."""
        if self.model.device_fault and name not in ("out_of_service", "staff"):
            name = "out_of_service"
        elif not self.model.server_ok and name not in ("ticket", "checked_in", "printing", "paying", "out_of_service",
                                                       "staff"):
            name = "out_of_service"
        elif not self.model.day_open and name in JOURNEY_SCREENS:
            name = "closed"
        if self.sm is not None and self.sm.current != name:
            self.sm.current = name

    def _screen_changed(self, _sm, name: str) -> None:
        self._entered_at = self._screen_since = time.monotonic()
        # counted again from the frame that shows it: a slow frame (a long list being built) must not use up
        # the guard while the citizen still sees the old screen; the touches queued meanwhile come after it
        Clock.schedule_once(self._screen_shown, 0)
        self._last_touch = time.monotonic()
        logger.info("screen %s", name)

    def reset(self, *_a) -> None:
        """Back to welcome for the next citizen: choices, language and modes all forgotten."""
        self.model.reset_choices()
        self.pay.cancel()
        self.model.language = "en"
        self.large_text = self.high_contrast = self.low_layout = False
        self.audio_used = self.printing_ticket = self.language_chosen = False
        self.idle_warning = False
        if self.sm is not None:  # the next citizen's lists start at their top, not where the last one slid them
            for name in ("categories", "services"):
                self.sm.get_screen(name).ids.scroll.scroll_y = 1
        self.go("welcome")

    def start_again(self) -> None:
        """"Start again" on a screen: the same citizen, so their modes and voice stay."""
        modes = (self.large_text, self.high_contrast, self.low_layout, self.audio_used, self.language_chosen)
        language = self.model.language
        self.reset()
        self.large_text, self.high_contrast, self.low_layout, self.audio_used, self.language_chosen = modes
        self.model.language = language

    # -- modes and speech -----------------------------------------------------------------
    def toggle_mode(self, mode: str) -> None:
        """A mode toggle on welcome: large_text, high_contrast or low_layout."""
        if mode not in ("large_text", "high_contrast", "low_layout"):
            raise ValueError(mode)
        setattr(self, mode, not getattr(self, mode))
        logger.info("%s %s", mode, "on" if getattr(self, mode) else "off")

    def on_large_text(self, _app, on: bool) -> None:
        self.text_scale = LARGE_TEXT_SCALE if on else 1.0

    def on_high_contrast(self, _app, on: bool) -> None:
        self.colors = PALETTE_HIGH_CONTRAST if on else PALETTE_NORMAL

    def _layout_changed(self, *_a) -> None:
        if self.sm is not None:
            self.sm.size_hint_y = low_share(self.portrait) if self.low_layout else 1

    def read_screen(self, *_a) -> None:
        """Read the current screen aloud, with its choices numbered (the help key, "Read aloud")."""
        if self.sm is None:
            return
        self.audio_used = True
        parts = spoken_screen(self.sm.current_screen, self)
        logger.info("read aloud on %s: %s", self.sm.current, " | ".join(text[:300] for _lang, text in parts))
        self.speaker.say_parts(parts)

    def key_typed(self, key: str) -> None:
        """A key touched on an on-screen keypad: said back (a digit, "plus", "erased") when this citizen
        uses the voice, so a phone number or code is heard as it is typed. Quiet otherwise: a number
        said to the whole hall is only for the citizen who asked for the voice."""
        if not self.audio_used:
            return
        lang = self.model.language
        if key == "<":
            self.speaker.say(tr("speak_erased", lang), lang)
        elif key == "+":
            self.speaker.say(tr("speak_plus", lang), lang)
        elif key.isdigit():
            self.speaker.say(key, lang)

    def read_idle_warning(self) -> None:
        """"Are you still there?" said in the citizen's language with the seconds left; before a
        language is chosen nothing is on screen to warn about, so one language is enough."""
        lang = self.model.language
        self.speaker.say(tr("speak_idle", lang) + " " + tr("idle_countdown", lang, s=self.idle_left) + ".", lang)

    def press_option(self, n: int) -> None:
        """Number key n: the n-th choice as read aloud (0: back); then the next screen is read."""
        if self.sm is None:
            return
        screen = self.sm.current_screen
        before = self.sm.current
        if n == 0:
            target = back_button(screen)
        else:
            options = spoken_screen(screen, self, options_only=True)
            target = options[n - 1] if 0 < n <= len(options) else None
        if target is None:
            logger.info("key %d: no such choice on %s", n, before)
            return
        self.audio_used = True
        target.trigger_action(0)
        Clock.schedule_once(lambda _dt: self._read_if_moved(before), 0.3)

    def _read_if_moved(self, before: str) -> None:
        if self.sm is not None and self.sm.current != before and self.sm.current not in ("printing",):
            self.read_screen()

    def _key_down(self, _window, key: int, _scancode, codepoint, _modifiers) -> bool:
        """The physical help key reads the screen; digits choose what was read; any key is activity."""
        from kivy.core.window import Keyboard

        name = Keyboard.keycode_to_string(None, key) if key is not None else ""
        if self.idle_warning:  # the key answers the warning; the help key also reads the screen again
            self.still_here()
            if name == self.kconfig.kiosk.help_key:
                self.read_screen()
            return True
        self._touched()
        if name == self.kconfig.kiosk.help_key:
            self.read_screen()
            return True
        digit = (name or "").removeprefix("numpad")
        if len(digit) == 1 and digit.isdigit():
            self.press_option(int(digit))
            return True
        return False

    def toggle_language(self) -> None:
        self.model.toggle_language()
        self.language_chosen = True

    def start(self, language: str) -> None:
        self.model.reset_choices()
        self.model.language = language
        self.language_chosen = True
        cats = self.model.categories()
        if len(cats) == 1:
            self.choose_category(cats[0])
        else:
            self.go("categories")
        if not self.model.services_loaded:
            self.load_services()

    def choose_category(self, category: str) -> None:
        self.model.category = category
        self.go("services")

    def choose_service(self, service_id: str) -> None:
        """A service touched: suspended says why; otherwise what to bring (when the catalogue is known)."""
        suspended, reason = self.model.suspension(service_id)
        if suspended:
            self.model.choose_service(service_id)
            self.model.suspend_choice(reason)
            self.go("suspended")
            return
        info = self.model.services.get(service_id)
        if info is not None and not info.accepting:  # no ticket today: say so, offer a booking
            if info.refusal == "day_closed":
                self.model.day_open = False
                self.go("closed")
            else:
                self.offer_booking(service_id, self.model.next_open_day())
            return
        self.model.choose_service(service_id)
        # "Anything else today?" first, then "What you need" for every service chosen, then the ticket
        self.go(after_first_service(self.model, self.kconfig.kiosk.offer_visits))

    def have_documents(self) -> None:
        """"I have these" (for the whole visit): on to the ticket (priority, phone, confirm)."""
        self.go("priority")

    def needs_back(self) -> None:
        """Back from "What you need": to "Anything else today?" when the visit is chosen there, else the services."""
        more = self.model.visit_next or after_first_service(self.model, self.kconfig.kiosk.offer_visits) == "more"
        self.go("more" if more else "services")

    def lack_documents(self) -> None:
        """"I don't have these": no ticket; where to get them, then the next citizen."""
        logger.info("no documents for %s: no ticket", self.model.service_id)
        self.go("no_documents")

    def offer_booking(self, service_id: str, day: str = "") -> None:
        """Today's last ticket for this service is gone: a booking for the next open day instead."""
        self.model.book_service_id = service_id
        self.model.book_day = day or ""
        self.go("book")

    def booking_url(self, service_id: str | None, day: str, language: str) -> str:
        """The centre's /book page for a service and day (what the QR code holds)."""
        from urllib.parse import urlencode

        query = {k: v for k, v in (("service", service_id or ""), ("day", day), ("lang", language)) if v}
        return f"{self.kconfig.bundle.server_url.rstrip('/')}/book?{urlencode(query)}"

    def choose_priority(self, priority: str) -> None:
        self.model.priority = priority
        if self.pay.asks():  # a fee: pay now by M-Pesa, or at the counter
            self.go("pay_choice")
            return
        self.go("phone" if self.kconfig.kiosk.ask_phone else "confirm")

    def open_checkin(self, language: str | None = None) -> None:
        """"I already have a ticket or booking": the check-in screen, in the language already chosen."""
        self.model.reset_choices()
        if language:
            self.model.language = language
            self.language_chosen = True
        self.go("checkin")

    def open_staff(self) -> None:
        if self.sm is not None and self.sm.current not in ("printing",):
            self.go("staff")

    def _screen_shown(self, _dt: float) -> None:
        self._screen_since = time.monotonic()

    def guard_left(self) -> float:
        """Seconds until a touch is taken again after a screen change (0 when it is taken now): the
        one measure of the guard, for ``_too_soon`` and for tests whose finger waits as a citizen's does."""
        return max(0.0, TAP_GUARD_S - (time.monotonic() - self._screen_since))

    def _too_soon(self, _window, touch) -> bool:
        """True (the touch goes no further) within TAP_GUARD_S of a screen change: the second tap of a
        double tap lands on the new screen, where another button may lie under the same finger."""
        if self.guard_left() > 0:
            since = time.monotonic() - self._screen_since
            logger.info("touch %.0f ms after showing %s: ignored (a double tap's second touch)",
                        since * 1000, self.sm.current if self.sm is not None else "?")
            self.ignored_touches += 1
            return True
        return False

    def _touched(self, *_a) -> None:
        """Activity: the idle clock starts again (the warning itself takes the touch that answers it)."""
        self._last_touch = time.monotonic()

    def still_here(self) -> None:
        """The citizen answered "Are you still there?" (a touch on it, or any key)."""
        self._touched()
        if self.idle_warning:
            logger.info("still there: idle warning dismissed")
            self.idle_warning = False

    def _tick(self, _dt: float) -> None:
        """Idle timeouts: a citizen who walked away must not leave choices for the next one."""
        if self.sm is None:
            return
        now = time.monotonic()
        current = self.sm.current
        k = self.kconfig.kiosk
        busy = self.model.issuing or self.model.checking_in
        idle = now - self._last_touch
        if current in IDLE_SCREENS and not busy and idle > k.idle_timeout_s:
            logger.info("idle on %s: back to welcome", current)
            self.reset()
        # at most the last third of the timeout: a short timeout must not greet a citizen with the warning
        elif current in IDLE_SCREENS and not busy and idle > k.idle_timeout_s - min(k.idle_warning_s,
                                                                                       k.idle_timeout_s / 3):
            self.idle_left = max(1, math.ceil(k.idle_timeout_s - idle))
            if not self.idle_warning:
                logger.info("idle on %s: are you still there?", current)
                self.idle_warning = True
                # said aloud whether or not the voice was asked for: a citizen who cannot read the
                # overlay must not lose their place to a silent countdown
                self.read_idle_warning()
        elif self.idle_warning:
            self.idle_warning = False
        elif current in RESULT_SCREENS and now - max(self._entered_at, self._last_touch) > k.ticket_screen_s:
            self.reset()
        elif (current in PARKED_SCREENS and idle > k.idle_timeout_s
              and (self.large_text or self.high_contrast or self.low_layout or self.language_chosen)):
            # the day closed (or the kiosk went out of service) under a citizen: once they have gone, the
            # screen shown all night is the plain one, not their large text, contrast and low layout
            logger.info("idle on %s: modes and language forgotten", current)
            self.reset()  # its welcome is turned into this same screen by ``go``

    # -- services ------------------------------------------------------------------------
    def load_services(self) -> None:
        if self._loading_services:
            return
        self._loading_services = True
        self.executor.submit(self._load_services_worker)

    def _load_services_worker(self) -> None:
        try:
            services = self.api.services()
        except (Unreachable, ApiError) as exc:
            logger.warning("services not loaded: %s", exc)
            services = None
        catalogue = None
        if services is not None:  # the first state of the catalogue, before (or without) MQTT
            try:
                catalogue = self.api.catalogue()
            except (Unreachable, ApiError, ValueError) as exc:  # an older server, or a bad answer
                logger.warning("catalogue not loaded: %s", exc)
        Clock.schedule_once(lambda _dt: self._services_loaded(services, catalogue), 0)

    def _refresh_without_mqtt(self, _dt: float) -> None:
        """Live waits come from MQTT; without a broker, ask HTTP now and then so they do not go stale."""
        if not self.model.mqtt_ok and self.model.server_ok:
            self.load_services()

    def _services_loaded(self, services, catalogue=None) -> None:
        self._loading_services = False
        if services is not None:
            self.model.set_services(services)
        if catalogue is not None:
            self.model.apply_catalogue(catalogue, live=False)

    def _services_changed(self, *_a) -> None:
        if self.sm is None:
            return
        screen = self.sm.current_screen
        if screen.name in ("categories", "services", "needs"):
            screen.refresh()
        m = self.model
        if screen.name == "suspended" and m.service_id:  # the catalogue's reason may follow the service's state
            suspended, reason = m.suspension(m.service_id)
            if suspended and reason is not None:
                m.suspend_choice(reason)
        if screen.name in ("needs", "priority", "phone", "confirm") and m.service_id and not m.issuing:
            suspended, reason = m.suspension(m.service_id)
            if suspended:  # stopped while the citizen was choosing: say so before they ask for a ticket
                logger.info("%s suspended while chosen", m.service_id)
                m.suspend_choice(reason)
                self.go("suspended")

    # -- MQTT (paho thread -> UI thread) -------------------------------------------------
    def _mqtt_service_state(self, state) -> None:
        Clock.schedule_once(lambda _dt: self.model.apply_service_state(state), 0)

    def _mqtt_catalogue(self, catalogue) -> None:
        Clock.schedule_once(lambda _dt: self.model.apply_catalogue(catalogue), 0)

    def _mqtt_day_state(self, day) -> None:
        Clock.schedule_once(lambda _dt: self.model.apply_day_state(day), 0)

    def _day_open_changed(self, _model, is_open: bool) -> None:
        if self.sm is None:
            return
        if not is_open:
            logger.info("the day is closed: no tickets")
            if self.sm.current in JOURNEY_SCREENS:
                self.model.reset_choices()
                self.go("closed")
        else:
            logger.info("the day is open again")
            if self.sm.current == "closed":
                self.reset()

    def _mqtt_server_availability(self, value: str) -> None:
        if value == "offline":  # the server's will: check now rather than at the next tick
            self.executor.submit(self._check_health)

    def _mqtt_connection(self, connected: bool) -> None:
        def apply(_dt: float) -> None:
            self.model.mqtt_ok = connected
            if connected:
                self.pay.refresh()
        Clock.schedule_once(apply, 0)

    # -- server health -------------------------------------------------------------------
    def _check_health(self) -> None:
        ok = self.api.healthy(self.kconfig.kiosk.health_timeout_s)
        Clock.schedule_once(lambda _dt: self._health_result(ok), 0)
        now = time.monotonic()
        if ok and now - self._registration_checked >= REGISTRATION_CHECK_S:
            self._registration_checked = now
            known = self.api.registered(self.kconfig.kiosk.health_timeout_s)
            if known is not None:
                Clock.schedule_once(lambda _dt: self.set_registered(known), 0)

    def set_registered(self, known: bool) -> None:
        """The centre refused this kiosk's token (revoked, rotated, another centre's bundle): out of service
        at once, saying so in both languages, instead of walking a citizen to a ticket it cannot issue.
        Known again (the technician put a new bundle in place and restarted, or reinstated it): welcome."""
        if self._printer_fault:  # a kiosk that cannot print says that first
            return
        fault = "" if known else "not_registered"
        if fault == self.model.device_fault:
            return
        self.model.device_fault = fault
        if fault:
            logger.error("this kiosk's token is refused by the centre (%s): out of service",
                         self.kconfig.bundle.device_id)
            if self.sm is not None and self.sm.current not in ("ticket", "checked_in", "printing", "paying"):
                self.model.reset_choices()
                self.go("out_of_service")
        else:
            logger.info("the centre knows this kiosk again")
            if self.sm is not None and self.sm.current == "out_of_service" and self.model.server_ok:
                self.reset()

    def _health_result(self, ok: bool) -> None:
        if ok:
            self._health_failures = 0
            self.model.server_ok = True
        else:
            self._health_failures += 1
            if self._health_failures >= HEALTH_FAILURES_FOR_OUTAGE:
                self.model.server_ok = False

    def _server_ok_changed(self, _model, ok: bool) -> None:
        if ok:
            logger.info("centre server reachable again")
            if self._gave_up:
                self.executor.submit(self._withdraw_given_up)
            self.load_services()
            self.pay.refresh()
            if self.sm is not None and self.sm.current == "out_of_service" and not self.model.device_fault:
                self.reset()
        elif self.model.issuing:
            # the citizen confirmed and the kiosk is still retrying their ticket (the same idempotency key):
            # "ask staff for a ticket" now would send them away from the ticket about to print (finding 7)
            logger.warning("centre server unreachable while issuing: still trying the citizen's ticket")
            self.go("printing")
        else:
            logger.warning("centre server unreachable: out of service")
            if self.sm is not None and self.sm.current not in ("ticket", "checked_in", "printing", "paying", "staff"):
                self.model.reset_choices()
                self.go("out_of_service")

    # -- issuing and printing ------------------------------------------------------------
    def confirm(self) -> None:
        """The citizen pressed "print my ticket": one request per confirmation, whatever the taps."""
        m = self.model
        self.confirm_taps += 1
        if m.issuing or m.ticket is not None or not m.service_id:
            logger.info("confirm ignored (already issuing or issued)")
            return
        key = m.begin_confirmation()
        request = m.issue_request()
        m.issuing = True
        m.issue_error = ""
        self.issue_calls += 1
        self.executor.submit(self._issue_worker, request, key)

    def _issue_worker(self, request, key: str) -> None:
        try:
            ticket = self.api.issue_ticket(request, key)
        except Unreachable as exc:
            logger.warning("issue failed, server unreachable: %s", exc)
            # the server may still issue it from a request it holds (frozen, not gone): withdrawn when it
            # answers again, since this citizen is now told to ask staff (finding 7)
            self._gave_up.append(key)
            Clock.schedule_once(lambda _dt: self._issue_failed(None), 0)
            return
        except ApiError as exc:
            logger.warning("issue refused: %s", exc)
            Clock.schedule_once(lambda _dt, err=exc: self._issue_failed(err), 0)
            return
        except Exception:
            logger.exception("issue failed")
            Clock.schedule_once(lambda _dt: self._issue_failed(None), 0)
            return
        Clock.schedule_once(lambda _dt: self._issued(ticket), 0)

    def _issue_failed(self, exc: ApiError | None) -> None:
        m = self.model
        m.issuing = False
        if exc is not None and exc.code == "day_closed":  # the server closed the day: say when it opens
            m.day_closed_by_server(exc.opens_at)
            m.reset_choices()
            self.go("closed")
            return
        if exc is not None and exc.code == "service_suspended":  # suspended while the citizen chose
            suspended, reason = m.suspension(str(m.service_id))
            m.suspend_choice(reason, exc.reason_en, exc.reason_sw)
            self.go("suspended")
            return
        if exc is not None and exc.code == "after_last_call":  # too late for today: book instead
            service_id = m.service_id
            info = m.services.get(service_id or "")
            if info is not None:
                info.accepting, info.refusal = False, "after_last_call"
                m.services_version += 1
            self.offer_booking(str(service_id), exc.book_day or m.next_open_day())
            return
        if exc is not None and exc.status == 401:  # the token was refused: not "try again" forever
            m.reset_choices()
            self.set_registered(False)
            return
        m.issue_error = tr("issue_failed", m.language)
        if self.sm is not None and self.sm.current == "printing":
            # the last attempt failed: only now out of service (go() says so while the server is away),
            # or back to the confirmation with "could not get a ticket" when it answers again
            self.go("confirm")
        if exc is None:
            self._health_failures = HEALTH_FAILURES_FOR_OUTAGE - 1  # next failed check is an outage
            self.executor.submit(self._check_health)

    def _withdraw_given_up(self) -> None:
        """Cancel what the server issued late for confirmations this kiosk gave up on (their citizens were
        sent to staff): no ghost ticket waits in the queue for nobody, to become a no-show later."""
        while self._gave_up:
            key = self._gave_up[0]
            try:
                t = self.api.withdraw_ticket(key)
            except Unreachable as exc:
                logger.warning("withdrawing a given-up ticket failed (next time the server answers): %s", exc)
                return
            except ApiError as exc:  # already called or finished: a clerk has it in hand
                logger.warning("given-up confirmation not withdrawn: %s", exc)
            else:
                if t is not None:
                    logger.info("ticket %s issued after this kiosk gave up: cancelled", t.number)
            self._gave_up.pop(0)
            self.withdrawn += 1

    def _issued(self, ticket: TicketOut) -> None:
        """The number on screen at once, while the paper prints (the hot path of a tap on "Print":
        waiting for the whole ticket to print before showing it took the p95 past 300 ms)."""
        logger.info("ticket %s issued (%s)", ticket.number, ticket.id)
        self.model.ticket_issued(ticket)
        if self.pay.wants_push():  # the prompt first; the paper says how it went (kiosk/payment.py)
            self.pay.start(ticket)
            return
        self.print_issued(ticket)

    def print_issued(self, ticket: TicketOut) -> None:
        """Print a fresh ticket and show it."""
        self.printing_ticket = True
        self._print(ticket, self.model.language, reprint=False)
        self.go("ticket")

    def _print(self, ticket: TicketOut, language: str, reprint: bool) -> None:
        self._printer_busy = True
        name = self.kconfig.bundle.centre_name
        payment = [] if reprint else self.pay.state.lines(language)  # the fee paid, pending or at the counter

        def job() -> None:
            try:
                status = self.printer.print(ticket, name, language, reprint=reprint,
                                            needs=needs_text.of_ticket(self.model.needs_of, ticket), payment=payment)
            except Exception:
                logger.exception("printer job failed")
                status = PrinterStatus.error
            Clock.schedule_once(lambda _dt: self._printed(ticket, status, reprint), 0)

        self.executor.submit(job)

    def _printed(self, ticket: TicketOut, status: PrinterStatus, reprint: bool) -> None:
        self._printer_busy = False
        self.model.printer_status = status.value
        ok = status not in BLOCKING
        if reprint:
            staff = self.sm.get_screen("staff") if self.sm else None
            if staff is not None:
                staff.message = (tr("staff_reprinted", self.model.language, number=ticket.number) if ok
                                 else tr("staff_printer", self.model.language,
                                         status=printer_status_text(status.value, self.model.language)))
            return
        if self.model.ticket is not None and self.model.ticket.id == ticket.id:
            self.model.printed = ok
            self.printing_ticket = False
            self.go("checked_in" if self.model.checkin_tickets else "ticket")
            if self.audio_used:  # the number, character by character, and the wait, read back once laid out
                Clock.schedule_once(self.read_screen, 0.3)

    # -- check-in of remote tickets and bookings --------------------------------------------
    def check_in(self) -> None:
        """The citizen pressed "check in": one request at a time, whatever the taps."""
        m = self.model
        self.checkin_taps += 1
        if m.checking_in or m.checkin_tickets:
            logger.info("check-in ignored (already checking in or checked in)")
            return
        try:
            code, phone = m.checkin_body()
        except ValueError as exc:
            m.refuse_checkin_entry(str(exc))
            return
        m.checking_in = True
        m.set_checkin_error("", "")
        self.checkin_calls += 1
        logger.info("check-in by %s", "code" if code else "phone")
        self.executor.submit(self._checkin_worker, code, phone)

    def _checkin_worker(self, code: str | None, phone: str | None) -> None:
        try:
            result = self.api.check_in(code=code, phone=phone)
        except ApiError as exc:
            logger.info("check-in refused: %s", exc)
            Clock.schedule_once(lambda _dt, err=exc: self._checkin_failed(err), 0)
            return
        except Unreachable as exc:
            logger.warning("check-in failed, server unreachable: %s", exc)
            Clock.schedule_once(lambda _dt: self._checkin_failed(None), 0)
            return
        except Exception:
            logger.exception("check-in failed")
            Clock.schedule_once(lambda _dt: self._checkin_failed(None), 0)
            return
        Clock.schedule_once(lambda _dt: self._checked_in(result), 0)

    def _checkin_failed(self, exc: ApiError | None) -> None:
        """The server's own words when it said why (unknown code, too early ...); ours otherwise."""
        m = self.model
        m.checking_in = False
        if exc is not None and exc.status == 401:  # the token was refused: say so, not "try again"
            m.reset_choices()
            self.set_registered(False)
            return
        if exc is not None and exc.message and exc.message_sw:
            m.set_checkin_error(exc.message, exc.message_sw)
        else:
            m.refuse_checkin_entry("checkin_failed")
        if exc is None:
            self._health_failures = HEALTH_FAILURES_FOR_OUTAGE - 1  # next failed check is an outage
            self.executor.submit(self._check_health)

    def _checked_in(self, result: CheckIn) -> None:
        if not result.tickets:  # a 200 with nothing in it: treat as a failure the citizen can retry
            self._checkin_failed(None)
            return
        logger.info("checked in %s", ", ".join(t.number for t in result.tickets))
        self.model.checkin_succeeded(result)
        self.model.printed = False
        self.go("printing")
        self._print_all(list(result.tickets), self.model.language)

    def _print_all(self, tickets: list[TicketOut], language: str) -> None:
        """Every ticket the check-in brought, on paper, with the same layout as a fresh one."""
        self._printer_busy = True
        name = self.kconfig.bundle.centre_name

        def job() -> None:
            status = PrinterStatus.ok
            for t in tickets:
                try:
                    status = self.printer.print(t, name, language, reprint=False,
                                                needs=needs_text.of_ticket(self.model.needs_of, t))
                except Exception:
                    logger.exception("printer job failed")
                    status = PrinterStatus.error
                if status in BLOCKING:
                    break
            Clock.schedule_once(lambda _dt: self._printed(tickets[0], status, False), 0)

        self.executor.submit(job)

    def reprint_last(self) -> None:
        t = self.model.last_ticket
        if t is not None and not self._printer_busy:
            self._print(t, self.model.last_language, reprint=True)

    # -- printer status ------------------------------------------------------------------
    def poll_printer(self) -> None:
        """Ask the printer how it is, so a fault shows (and clears) even between tickets."""
        if self._printer_busy:
            return

        def job() -> None:
            status = self.printer.status()
            Clock.schedule_once(lambda _dt: self._printer_polled(status), 0)

        self.executor.submit(job)

    def _printer_polled(self, status: PrinterStatus) -> None:
        if not self._printer_busy:
            self.model.printer_status = status.value
        if self._published is None:
            self._publish_printer_status()

    def _printer_status_changed(self, *_a) -> None:
        logger.info("printer %s", self.model.printer_status)
        self._publish_printer_status()

    def _publish_printer_status(self) -> None:
        status = PrinterStatus(self.model.printer_status)
        detail = printer_status_text(status.value, "en")
        if self.model.device_fault:  # never "ok" for a kiosk that cannot print
            status, detail = PrinterStatus.error, tr(f"oos_{self.model.device_fault}", "en")
        self._published = status.value
        self.link.publish_status(status, detail)
