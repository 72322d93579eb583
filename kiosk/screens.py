"""The kiosk's screens: thin views over ``KioskModel``; their looks live in ``kv/<screen>.kv``.

Screens read the model and call the app's actions (``app.start``, ``app.choose_service``,
``app.confirm`` ...); they never talk to the network or the printer themselves.
"""

from __future__ import annotations

import logging
from io import BytesIO
from pathlib import Path

import qrcode
from kivy.app import App
from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.graphics.texture import Texture
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from kiosk.i18n import (
    ahead_text,
    category_name,
    printer_status_text,
    priority_name,
    tr,
    wait_about_text,
    wait_text,
    waiting_text,
)
from kiosk.model import KioskModel, normalise_phone, phone_display, phone_is_valid

logger = logging.getLogger(__name__)

SYMBOL_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
SCREEN_NAMES = ("welcome", "categories", "services", "priority", "phone", "confirm", "printing",
                "ticket", "out_of_service", "staff", "checkin", "checked_in")


def qr_texture(url: str) -> Texture:
    """A crisp QR code texture for the ticket screen."""
    img = qrcode.make(url, box_size=10, border=2).get_image().convert("RGB")
    buf = BytesIO()
    img.save(buf, "png")
    buf.seek(0)
    tex = CoreImage(buf, ext="png").texture
    tex.mag_filter = "nearest"
    return tex


class KioskButton(Button):
    """A large, high-contrast touch target (kv rule in common.kv)."""


class ChoiceButton(KioskButton):
    """A button that stands for one choice: a category, a service or a priority class."""

    value = StringProperty("")


class Keypad(GridLayout):
    """Digits in phone order, plus two extra keys; emits ``on_key`` with the key's text."""

    extra_left = StringProperty("+")
    extra_right = StringProperty("<")

    def __init__(self, **kwargs) -> None:
        self.register_event_type("on_key")
        super().__init__(**kwargs)
        Clock.schedule_once(self._build, 0)
        self.bind(extra_left=lambda *_a: Clock.schedule_once(self._build, 0))

    def _build(self, _dt: float) -> None:
        self.clear_widgets()
        for key in ["1", "2", "3", "4", "5", "6", "7", "8", "9", self.extra_left, "0", self.extra_right]:
            if not key:  # no such key in this mode: an empty place, not a dead button
                self.add_widget(Widget())
                continue
            b = KioskButton(text=key, font_size="40sp")
            if key == "<":  # the erase-left symbol, where a font has it
                if SYMBOL_FONT.exists():
                    b.font_name, b.text = str(SYMBOL_FONT), "\u232b"
                else:
                    b.text = "DEL"
            b.key = key
            b.bind(on_release=lambda btn: self.dispatch("on_key", btn.key))
            self.add_widget(b)

    def on_key(self, key: str) -> None:
        pass


class StaffCorner(Widget):
    """An invisible top-left corner: a long press opens the staff screen."""

    hold_s = 2.0

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._event = None

    def on_touch_down(self, touch) -> bool:
        if self.collide_point(*touch.pos):
            logger.info("staff corner pressed")
            self._event = Clock.schedule_once(self._fire, self.hold_s)
            touch.ud["staff_corner"] = True
        return False  # the screen underneath still gets the touch

    def on_touch_up(self, touch) -> bool:
        if touch.ud.get("staff_corner") and self._event is not None:
            self._event.cancel()
            self._event = None
        return False

    def _fire(self, _dt: float) -> None:
        logger.info("staff corner held: staff screen")
        self._event = None
        App.get_running_app().open_staff()


class KioskScreen(Screen):
    """Base screen: access to the app and its model for kv rules and code."""

    @property
    def app(self):
        return App.get_running_app()

    @property
    def model(self) -> KioskModel:
        return App.get_running_app().model


class WelcomeScreen(KioskScreen):
    printer_fault = BooleanProperty(False)  # a banner warns that tickets will be on screen only


class CategoriesScreen(KioskScreen):
    def on_pre_enter(self, *_a) -> None:
        self.refresh()

    def refresh(self, *_a) -> None:
        grid = self.ids.grid
        grid.clear_widgets()
        lang = self.model.language
        for cat in self.model.categories():
            services = self.model.services_in(cat)
            waiting = sum(s.waiting for s in services)
            count = tr("one_service", lang) if len(services) == 1 else tr("n_services", lang, n=len(services))
            b = ChoiceButton(value=cat, text=f"{category_name(cat, lang, self.model.category_sw(cat))}\n"
                             f"[size=20sp]{count} \u00b7 {waiting_text(waiting, lang)}[/size]",
                             markup=True)
            b.bind(on_release=lambda btn: self.app.choose_category(btn.value))
            grid.add_widget(b)


class ServicesScreen(KioskScreen):
    def on_pre_enter(self, *_a) -> None:
        self.refresh()

    def refresh(self, *_a) -> None:
        grid = self.ids.grid
        grid.clear_widgets()
        lang = self.model.language
        for s in self.model.services_in(self.model.category):
            line = f"{waiting_text(s.waiting, lang)} \u00b7 {wait_about_text(s.estimated_wait_s, lang)}"
            if s.open_counters == 0:
                line += f"\n{tr('service_closed', lang)}"
            b = ChoiceButton(value=s.id, markup=True, halign="left",
                             text=f"[b]{s.name(lang)}[/b]\n[size=20sp]{line}[/size]")
            b.bind(on_release=lambda btn: self.app.choose_service(btn.value))
            grid.add_widget(b)


class PriorityScreen(KioskScreen):
    pass


class PhoneScreen(KioskScreen):
    invalid = BooleanProperty(False)

    def on_pre_enter(self, *_a) -> None:
        self.invalid = False

    def key(self, key: str) -> None:
        m = self.model
        self.invalid = False
        if key == "<":
            m.phone = m.phone[:-1]
        elif key == "+":
            if not m.phone:
                m.phone = "+"
        elif len(normalise_phone(m.phone)) < 13:
            m.phone = m.phone + key

    def clear(self) -> None:
        self.model.phone = ""
        self.invalid = False

    def done(self) -> None:
        if self.model.phone and not phone_is_valid(self.model.phone):
            self.invalid = True
            return
        self.app.go("confirm")

    def skip(self) -> None:
        self.model.phone = ""
        self.app.go("confirm")


class ConfirmScreen(KioskScreen):
    def on_pre_enter(self, *_a) -> None:
        self.model.begin_confirmation()

    def summary(self, lang: str, *_deps) -> str:
        m = self.model
        s = m.service
        phone = phone_display(m.phone) if m.phone else tr("confirm_no_phone", lang)
        rows = [
            f"{tr('confirm_service', lang)}: [b]{s.name(lang) if s else ''}[/b]",
            f"{tr('confirm_priority', lang)}: [b]{priority_name(m.priority, lang)}[/b]",
            f"{tr('confirm_phone', lang)}: [b]{phone}[/b]",
        ]
        if s is not None:
            rows.append(f"{waiting_text(s.waiting, lang)} \u00b7 "
                        f"{tr('estimated_wait', lang, w=wait_text(s.estimated_wait_s, lang))}")
        return "\n".join(rows)


class PrintingScreen(KioskScreen):
    pass


class TicketScreen(KioskScreen):
    """The number, large; the QR code; what to do if no paper came out."""

    def on_pre_enter(self, *_a) -> None:
        t = self.model.ticket
        if t is not None and t.status_url:
            self.ids.qr.texture = qr_texture(t.status_url)

    @staticmethod
    def details(ticket, lang: str) -> str:
        if ticket is None:
            return ""
        name = ticket.service_name_sw if lang == "sw" else ticket.service_name_en
        lines = [f"[b]{name}[/b]", ahead_text(ticket.position, lang),
                 tr("estimated_wait", lang, w=wait_text(ticket.estimated_wait_s, lang))]
        if ticket.priority != "none":
            lines.append(f"{tr('priority_mark', lang)}: {priority_name(ticket.priority, lang)}")
        return "\n".join(lines)


class OutOfServiceScreen(KioskScreen):
    pass


class StaffScreen(KioskScreen):
    pin = StringProperty("")
    unlocked = BooleanProperty(False)
    message = StringProperty("")

    def on_pre_enter(self, *_a) -> None:
        self.pin, self.unlocked, self.message = "", False, ""

    def key(self, key: str) -> None:
        self.message = ""
        if key == "<":
            self.pin = self.pin[:-1]
        elif key == "OK":
            self.check()
        elif key.isdigit() and len(self.pin) < 12:
            self.pin += key

    def check(self) -> None:
        if self.pin == self.app.kconfig.kiosk.staff_pin:
            self.unlocked = True
            self.message = tr("staff_printer", self.model.language,
                              status=printer_status_text(self.model.printer_status, self.model.language))
        else:
            self.message = tr("staff_wrong_pin", self.model.language)
            self.pin = ""

    def reprint(self) -> None:
        if self.model.last_ticket is None:
            self.message = tr("staff_no_ticket", self.model.language)
            return
        self.app.reprint_last()


class CheckinScreen(KioskScreen):
    """A remote ticket or a booking checks in: its code (or the phone number) on the keypad."""

    def on_pre_enter(self, *_a) -> None:
        self.model.set_checkin_error("", "")

    def key(self, key: str) -> None:
        if not self.model.checking_in:
            self.model.checkin_key(key)

    def clear(self) -> None:
        if not self.model.checking_in:
            self.model.checkin_entry = ""
            self.model.set_checkin_error("", "")

    @staticmethod
    def shown(mode: str, entry: str) -> str:
        """The entry as people read it; the phone grouped like the phone screen."""
        if mode == "phone":
            return phone_display(entry)
        return " ".join(entry)

    @staticmethod
    def placeholder(mode: str) -> str:
        return "07__ ___ ___" if mode == "phone" else "_ _ _ _"


class CheckedInScreen(KioskScreen):
    """Checked in: the number large, the server's message, and the paper (or why not)."""

    def on_pre_enter(self, *_a) -> None:
        t = self.model.ticket
        if t is not None and t.status_url:
            self.ids.qr.texture = qr_texture(t.status_url)

    @staticmethod
    def numbers(tickets) -> str:
        return "  ".join(t.number for t in tickets)

    @staticmethod
    def details(tickets, lang: str) -> str:
        if not tickets:
            return ""
        lines = []
        for t in tickets:
            name = t.service_name_sw if lang == "sw" else t.service_name_en
            lines.append(f"[b]{name}[/b]" if len(tickets) == 1 else f"[b]{t.number}[/b] {name}")
        t = tickets[0]
        lines.append(ahead_text(t.position, lang))
        lines.append(tr("estimated_wait", lang, w=wait_text(t.estimated_wait_s, lang)))
        if t.priority != "none":
            lines.append(f"{tr('priority_mark', lang)}: {priority_name(t.priority, lang)}")
        return "\n".join(lines)


SCREEN_CLASSES = {
    "welcome": WelcomeScreen,
    "categories": CategoriesScreen,
    "services": ServicesScreen,
    "priority": PriorityScreen,
    "phone": PhoneScreen,
    "confirm": ConfirmScreen,
    "printing": PrintingScreen,
    "ticket": TicketScreen,
    "out_of_service": OutOfServiceScreen,
    "staff": StaffScreen,
    "checkin": CheckinScreen,
    "checked_in": CheckedInScreen,
}

