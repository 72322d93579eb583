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
from kivy.clock import Clock, ClockEvent
from kivy.core.image import Image as CoreImage
from kivy.graphics.texture import Texture
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.button import Button
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

from centre_server.contract import opens_again
from centre_server.contract.catalogue import CatalogueService
from centre_server.contract.phone import phone_is_valid
from kiosk import needs as needs_text
from kiosk.access import plain, spelled
from kiosk.i18n import (
    ahead_text,
    category_name,
    day_text,
    estimate_text,
    printer_status_text,
    priority_name,
    too_late_text,
    tr,
    wait_about_text,
    wait_reason_text,
    waiting_text,
)
from kiosk.model import KioskModel, ServiceInfo, phone_display, phone_keyed
from kiosk.pictograms import Pictogram  # noqa: F401 - registered for the kv rules

logger = logging.getLogger(__name__)

SYMBOL_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
SCREEN_NAMES = ("welcome", "categories", "services", "needs", "no_documents", "suspended", "priority", "phone",
                "confirm", "printing", "ticket", "out_of_service", "staff", "checkin", "checked_in", "closed", "book")


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


class FitsText(Label):
    """Text that always fits its box: it wraps to as many lines as it needs and shrinks its font,
    down to ``min_font``, until the whole text fits (choice buttons; the ticket's details when the
    low layout and large text leave little room). ``fits`` says whether it did; the tests check it."""

    max_font = NumericProperty(sp(28))
    min_font = NumericProperty(sp(15))
    pad_x = NumericProperty(dp(16))
    pad_y = NumericProperty(dp(8))
    fits = BooleanProperty(True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._fit_event: ClockEvent | None = None
        self.fitted_size: tuple[float, float] | None = None
        self.font_size = self.max_font  # never Button's 15 sp default, under a subtitle of 19 sp, before a fit
        self.bind(size=self._later, text=self._later, max_font=self._later, parent=self._later)

    def _later(self, *_a) -> None:
        """Fit on the frame after a change, once the layout pass has sized the button.

        Only a button that is on a page is fitted: a button is first sized 100x100 (Kivy's default)
        and a page rebuilt by a burst of service updates leaves whole rows of removed buttons behind;
        fitting those at that size went down to the minimum font, step by step, for nothing, and held
        the frame long enough that the buttons on screen waited seconds for their own fit.
        """
        if self.parent is None:
            if self._fit_event is not None:
                self._fit_event.cancel()
                self._fit_event = None
            return
        if self._fit_event is None:
            self._fit_event = Clock.schedule_once(self.fit, 0)

    def fit(self, *_a) -> None:
        """Largest font size (in whole sp steps) at which the wrapped text fits inside the padding."""
        self._fit_event = None
        if self.parent is None:  # taken off the page since: nothing to fit
            return
        w, h = self.width - 2 * self.pad_x, self.height - 2 * self.pad_y
        if w <= 0 or h <= 0:
            return
        size = self.max_font
        while True:
            self.font_size = size
            self.text_size = (w, None)
            self.texture_update()
            tw, th = self.texture_size
            if (tw <= w + 1 and th <= h) or size <= self.min_font:
                break
            size = max(self.min_font, size - sp(1))
        self.fits = tw <= w + 1 and th <= h
        self.fitted_size = (self.width, self.height)  # what ``fits`` was measured for
        if not self.fits:
            logger.warning("label does not fit its box (%dx%d > %dx%d): %r", tw, th, w, h, self.text)


class FitButton(FitsText, Button):
    """A choice button whose label always fits (kv in common.kv)."""

    value = StringProperty("")


class FitLabel(FitsText):
    """A label whose text always fits its box (kv in common.kv)."""


class Keypad(GridLayout):
    """Digits in phone order, plus two extra keys; emits ``on_key`` with the key's text.

    Each key touched is said aloud when the citizen uses the voice (``KioskApp.key_typed``), so a
    citizen who cannot read the digits hears what they typed; ``secret`` (the staff PIN) is never said."""

    extra_left = StringProperty("+")
    extra_right = StringProperty("<")
    secret = BooleanProperty(False)

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
            b.bind(on_release=self._pressed)
            self.add_widget(b)

    def _pressed(self, button) -> None:
        self.dispatch("on_key", button.key)
        if not self.secret:
            App.get_running_app().key_typed(button.key)

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


class ChoicesScreen(KioskScreen):
    """A page of FitButtons built from the model's services, rebuilt when they change.

    Service updates come one MQTT message per service, so a reconnect brings a burst of them in one
    frame; ``refresh`` rebuilds once, before the next frame, instead of once per message.
    """

    overflowing = BooleanProperty(False)  # more buttons than the view shows
    more_below = BooleanProperty(False)  # and some of them are below: "More below" says so, over the last row

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rebuild = Clock.create_trigger(self.rebuild, -1)

    def on_pre_enter(self, *_a) -> None:
        self.rebuild()

    def on_enter(self, *_a) -> None:
        """Fit every label again once the screen is shown at its final size: a page built while the modes
        changed (large text off, the low layout gone) kept titles fitted for the sizes in between."""
        Clock.schedule_once(self._fit_all, 0)

    def _fit_all(self, *_a) -> None:
        for b in self.ids.grid.children:
            if isinstance(b, FitButton):
                b.fit()

    def refresh(self, *_a) -> None:
        self._rebuild()

    def rebuild(self, *_a) -> None:
        """Clear the grid and add a button for each choice, now."""
        self._rebuild.cancel()
        self.ids.grid.clear_widgets()
        for button in self.choices():
            self.ids.grid.add_widget(button)
        self.fit_rows()
        Clock.schedule_once(self.check_more, 0)

    def check_more(self, *_a) -> None:
        """A citizen who never used a touchscreen does not know a list slides: half a row cut off by the
        screen's edge must say that more lies below (with a wide yellow scroll bar beside it)."""
        scroll, grid = self.ids.scroll, self.ids.grid
        self.overflowing = grid.height > scroll.height + 1
        self.more_below = self.overflowing and scroll.scroll_y > 0.01

    def choices(self) -> list[FitButton]:
        """The page's buttons, in order (each page says what they are)."""
        raise NotImplementedError

    def fit_rows(self, *_a) -> None:
        """Row heights for the page's scroll view (each page says how tall)."""
        raise NotImplementedError


class IdleWarning(FloatLayout):
    """"Are you still there? / Bado upo?" over the screen, with a countdown and a big "Yes" (kv in
    common.kv). While it shows, a touch anywhere only says "yes": it must not also press what lies
    under the citizen's finger."""

    def on_touch_down(self, touch) -> bool:
        app = App.get_running_app()
        if not app.idle_warning:
            return False
        app.still_here()
        return True


def _shown(w) -> bool:
    """On screen now: sized, not transparent, and inside the scroll view's window (one page)."""
    if w.width < 2 or w.height < 2:
        return False
    cx, cy = w.to_window(*w.center)
    node = w
    while node is not None and node is not node.parent:
        if getattr(node, "opacity", 1) == 0:
            return False
        parent = node.parent
        if isinstance(parent, ScrollView):
            x, y = parent.to_window(parent.x, parent.y)
            if not (x <= cx <= x + parent.width and y <= cy <= y + parent.height):
                return False
        if isinstance(parent, Keypad):  # digits on a keypad are typed by touch, not chosen by number
            return False
        node = parent
    return True


def back_button(screen):
    """The screen's "Back" (number key 0), when it has one on show."""
    w = screen.ids.get("back")
    return w if w is not None and _shown(w) else None


def typed_entry(shown: str, language: str) -> str:
    """A keypad's entry as a voice says it: digit by digit ("0, 7, 1, 2"), or that nothing is typed yet
    (the grey placeholder "07__ ___ ___" is not read as characters)."""
    digits = "".join(ch for ch in shown if ch.isdigit() or ch == "+")
    if not digits or "_" in shown:
        return tr("speak_nothing_typed", language)
    return tr("speak_typed", language, typed=spelled(digits))


def spoken_screen(screen, app, options_only: bool = False):
    """What "read aloud" says for a screen: its words top to bottom, then each choice with its number
    ("Press 1 for ..."), then "Press 0 to go back". Welcome, before a language is chosen, is said in
    Kiswahili then English; a keypad's entry is said digit by digit. ``options_only``: the buttons in
    the order they are numbered."""
    widgets = [w for w in screen.walk(restrict=True) if isinstance(w, Label) and w.text and _shown(w)]
    widgets.sort(key=lambda w: (-round(w.to_window(w.x, w.top)[1]), w.to_window(w.x, w.y)[0]))
    back = back_button(screen)
    number = screen.ids.get("number")
    options = [w for w in widgets if isinstance(w, Button) and not w.disabled
               and not getattr(w, "speech_skip", False) and w.text.strip() and (back is None or w.uid != back.uid)]
    if screen.name != "welcome":  # the language switch last: the journey's choices come first
        options.sort(key=lambda b: b.text == app.model.strings["switch_language"])
    if options_only:
        return options
    entry = screen.ids.get("display") if any(isinstance(w, Keypad) for w in screen.walk(restrict=True)) else None
    spell = {w.uid for w in (number, entry) if w is not None}
    # welcome before a language is chosen speaks both; a citizen back on it ("Start again") hears their own
    langs = ("sw", "en") if screen.name == "welcome" and not app.language_chosen else (app.model.language,)
    parts = []
    for lang in langs:
        said = [typed_entry(w.text, lang) if entry is not None and w.uid == entry.uid
                else spelled(w.text) if w.uid in spell else plain(w.text)
                for w in widgets if not isinstance(w, Button)]
        said = [t for t in said if t]
        said += [tr("speak_option", lang, n=i, label=plain(b.text)) for i, b in enumerate(options[:9], 1)]
        if back is not None:
            said.append(tr("speak_back", lang))
        said.append(tr("speak_help", lang))
        parts.append((lang, " ".join(t if t.endswith((".", "?", "!", ":")) else t + "." for t in said)))
    return parts


class WelcomeScreen(KioskScreen):
    printer_fault = BooleanProperty(False)  # a banner warns that tickets will be on screen only


class CategoriesScreen(ChoicesScreen):
    def choices(self) -> list[FitButton]:
        lang = self.model.language
        buttons = []
        for cat in self.model.categories():
            services = self.model.services_in(cat)
            waiting = sum(s.waiting for s in services)
            count = tr("n_services", lang, n=len(services))
            small = "24sp" if self.app.portrait else "20sp"
            b = FitButton(value=cat, text=f"[b]{category_name(cat, lang, self.model.category_sw(cat))}[/b]\n"
                          f"[size={small}]{count} \u00b7 {waiting_text(waiting, lang)}[/size]",
                          max_font=(sp(38) if self.app.portrait else sp(30)) * self.app.text_scale)
            b.bind(on_release=lambda btn: self.app.choose_category(btn.value))
            buttons.append(b)
        return buttons

    def fit_rows(self, *_a) -> None:
        tall = self.app.portrait
        fill_rows(self.ids.grid, self.ids.scroll.height, len(self.ids.grid.children),
                  dp(150), dp(300) if tall else dp(200))


def fill_rows(grid, view_height: float, count: int, lo: float, hi: float) -> None:
    """Rows as tall as the view allows (between lo and hi), so a category's services show without scrolling."""
    rows = max(1, -(-count // max(1, grid.cols)))
    spare = view_height - grid.spacing[1] * (rows - 1) - grid.padding[1] - grid.padding[3]
    grid.row_default_height = max(lo, min(hi, spare / rows)) if view_height > 0 else lo


class ServicesScreen(ChoicesScreen):
    @staticmethod
    def status_line(s, lang: str, suspended: bool = False) -> str:
        """People waiting and the wait as the server gave it; why, when it gave none; or no ticket now."""
        if suspended:
            return f"[color=#ffd10d][b]{tr('suspended_short', lang)}[/b][/color]"
        if not s.accepting and s.refusal == "after_last_call":
            why = too_late_text(s, lang)
            return f"[color=#ffd10d][b]{why}[/b][/color]\n{tr('book_instead', lang)}"
        if s.estimated_wait_s is None:
            return f"{waiting_text(s.waiting, lang)} \u00b7 {wait_reason_text(s.wait_unknown, lang, short=True)}"
        line = f"{waiting_text(s.waiting, lang)} \u00b7 {wait_about_text(s.estimated_wait_s, lang)}"
        if s.open_counters == 0:
            line += f"\n{tr('service_closed', lang)}"
        return line

    def choices(self) -> list[FitButton]:
        lang = self.model.language
        services = self.model.services_in(self.model.category)
        tall = self.app.portrait  # a tall screen has room for bigger names
        small = "24sp" if tall else "19sp"
        buttons = []
        for s in services:
            suspended = self.model.suspension(s.id)[0]
            late = not s.accepting or suspended
            b = FitButton(value=s.id, halign="left", max_font=(sp(36) if tall else sp(28)) * self.app.text_scale,
                          text=f"[b]{s.name(lang)}[/b]\n[size={small}]{self.status_line(s, lang, suspended)}[/size]")
            if late:  # no ticket today: a darker button that reads as "not this way"
                b.background_color = (0.09, 0.33, 0.22, 1)
                b.color = (1, 1, 1, 1)
            b.bind(on_release=lambda btn: self.app.choose_service(btn.value))
            buttons.append(b)
        return buttons

    def fit_rows(self, *_a) -> None:
        fill_rows(self.ids.grid, self.ids.scroll.height, len(self.ids.grid.children), dp(104),
                  dp(240) if self.app.portrait else dp(170))


CHECKBOX = "\u2610"  # a ballot box: a checklist the citizen ticks in their head


def _box() -> str:
    """The checklist box, in a font that has it (Roboto does not)."""
    return f"[font={SYMBOL_FONT}]{CHECKBOX}[/font]" if SYMBOL_FONT.exists() else "-"


def _para(heading: str, lines: list[str], boxed: bool = False, lead: str = "") -> str:
    """A heading in the accent colour, a bold ``lead`` (the fee), and its lines (a checklist when ``boxed``),
    escaped: catalogue text is never markup."""
    mark = f"{_box()}\u2002" if boxed else ""
    body = "\n".join(mark + escape_markup(x) for x in lines if x)
    first = f"\n[b]{escape_markup(lead)}[/b]" if lead else ""
    return f"[b][color=#ffd10d]{escape_markup(heading)}[/color][/b]{first}" + (f"\n{body}" if body else "")


class ScrollText(KioskScreen):
    """A screen whose long text lies in a scroll view: the largest type (``fonts``, in sp) at which it all
    shows without scrolling; if even the smallest does not, it scrolls and ``overflow`` shows the hint.

    kv: ``ids.scroll`` (ScrollView), ``ids.content`` (its only child, a BoxLayout of labels).
    """

    overflow = BooleanProperty(False)
    font = NumericProperty(sp(30))
    fonts_landscape = (32, 30, 28, 26, 24)
    fonts_portrait = (44, 42, 40, 38, 36, 34, 32, 30)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._fit = Clock.create_trigger(self.fit, -1)

    def on_pre_enter(self, *_a) -> None:
        self.model.bind(language=self.refresh)
        self.refresh(from_top=True)

    def on_leave(self, *_a) -> None:
        self.model.unbind(language=self.refresh)

    def refresh(self, *_a, from_top: bool = False) -> None:
        """Set the texts (each screen says which), then fit them on the next frame. Waits change many
        times a minute: a refresh that changes no text leaves a citizen's scrolling where it is."""
        before = [w.text for w in self.ids.content.children]
        self.texts(self.model.language)
        if not from_top and before == [w.text for w in self.ids.content.children]:
            return
        self.ids.scroll.scroll_y = 1
        self._fit()

    def texts(self, lang: str) -> None:
        raise NotImplementedError

    def labels(self) -> list:
        return [w for w in self.ids.content.children if w.text]

    def fit(self, *_a) -> None:
        content, scroll = self.ids.content, self.ids.scroll
        if scroll.height <= 0 or scroll.width <= 0:
            return
        side_by_side = content.orientation == "horizontal"
        needed = 0.0
        for size in (self.fonts_portrait if self.app.portrait else self.fonts_landscape):
            heights = []
            for label in self.labels():
                label.font_size = sp(size) * self.app.text_scale
                label.text_size = (label.width, None)
                label.texture_update()
                heights.append(label.texture_size[1])
            spacing = content.spacing * max(0, len(heights) - 1)
            needed = (max(heights, default=0) if side_by_side else sum(heights) + spacing) + content.padding[1] * 2
            self.font = sp(size) * self.app.text_scale
            if needed <= scroll.height:
                break
        for label in self.labels():
            label.height = label.texture_size[1]
        content.height = needed  # shorter than the view: the scroll view keeps it at the top
        self.overflow = needed > scroll.height + 1


def visit_needs(model: KioskModel) -> list[tuple[str, CatalogueService]]:
    """Every service chosen for this ticket that the catalogue knows, in order, with the menu's name in
    the kiosk's language: "What you need" and "I don't have these" cover the whole visit."""
    plan = [str(model.service_id), *model.visit_next] if model.service_id else []
    out = []
    for sid in plan:
        s = model.needs_of(sid)
        info = model.services.get(sid)
        if s is not None:
            out.append((info.name(model.language) if info else s.name.get(model.language), s))
    return out


class NeedsScreen(ScrollText):
    """"What you need": the documents to bring, the fee, who may apply and who must come in person,
    before the ticket, so nobody queues for an hour to be sent home for a missing paper. For a one-stop
    visit, every service chosen, each under its name, in one column that scrolls when long."""

    grouped = BooleanProperty(False)  # a visit: one column of every service's needs

    def service(self):
        return self.model.needs_of(self.model.service_id)

    def texts(self, lang: str) -> None:
        ids = self.ids
        visit = visit_needs(self.model)
        # a visit; or one whose first service is outside the catalogue: what the others need, under their names
        self.grouped = len(visit) > 1 or (len(visit) == 1 and self.service() is None)
        if self.grouped:
            self.visit_texts(lang, visit)
            return
        s = self.service()
        if s is None:  # the catalogue went away meanwhile: nothing to say
            for label in (ids.documents, ids.facts):
                label.text = ""
            return
        kiosk_service: ServiceInfo | None = self.model.service
        ids.service.text = escape_markup(kiosk_service.name(lang) if kiosk_service else s.name.get(lang))
        docs = needs_text.documents(s, lang)
        ids.documents.text = (_para(tr("needs_documents", lang), docs, boxed=True) if docs
                              else _para(tr("needs_documents", lang), [tr("needs_no_documents", lang)]))
        facts = [_para(tr("needs_fee_title", lang), needs_text.fee_details(s, lang),
                       lead=needs_text.fee_amount(s.fee, lang))]
        if needs_text.eligibility(s, lang):
            facts.append(_para(tr("needs_eligibility", lang), [needs_text.eligibility(s, lang)]))
        if needs_text.in_person(s, lang):
            facts.append(_para(tr("needs_in_person", lang), [needs_text.in_person(s, lang)]))
        ids.facts.text = "\n\n".join(facts)
        ids.have.text = tr("needs_have" if docs else "needs_have_nothing", lang)
        ids.dont_have.text = tr("needs_dont_have", lang)
        ids.dont_have.disabled = not docs  # nothing to lack: one way on
        ids.dont_have.opacity = 1 if docs else 0

    def visit_texts(self, lang: str, visit: list[tuple[str, CatalogueService]]) -> None:
        """Each service of the visit under its number and name: its documents, fee, who may apply."""
        ids = self.ids
        ids.service.text = escape_markup(tr("needs_visit_title", lang, n=len(visit)) if len(visit) > 1
                                         else visit[0][0])
        blocks = []
        for i, (name, s) in enumerate(visit, 1):
            docs = needs_text.documents(s, lang)
            parts = [f"[b][u]{i}. {escape_markup(name)}[/u][/b]",
                     _para(tr("needs_documents", lang), docs or [tr("needs_no_documents", lang)], boxed=bool(docs)),
                     _para(tr("needs_fee_title", lang), needs_text.fee_details(s, lang),
                           lead=needs_text.fee_amount(s.fee, lang))]
            if needs_text.eligibility(s, lang):
                parts.append(_para(tr("needs_eligibility", lang), [needs_text.eligibility(s, lang)]))
            if needs_text.in_person(s, lang):
                parts.append(_para(tr("needs_in_person", lang), [needs_text.in_person(s, lang)]))
            blocks.append("\n".join(parts))
        ids.documents.text = "\n\n".join(blocks)
        ids.facts.text = ""
        ids.facts.height = 0
        any_docs = any(needs_text.documents(s, lang) for _, s in visit)
        ids.have.text = tr("needs_have" if any_docs else "needs_have_nothing", lang)
        ids.dont_have.text = tr("needs_dont_have", lang)
        ids.dont_have.disabled = not any_docs
        ids.dont_have.opacity = 1 if any_docs else 0


class NoDocumentsScreen(ScrollText):
    """"I don't have these": no ticket; what they need and where to get it; then the next citizen.
    For a one-stop visit, each service's documents and where to get them, under its name."""

    def texts(self, lang: str) -> None:
        visit = visit_needs(self.model)
        if len(visit) > 1 or (visit and self.model.needs_of(self.model.service_id) is None):
            docs = [_para(f"{i}. {name}", needs_text.documents(s, lang), boxed=True)
                    for i, (name, s) in enumerate(visit, 1) if needs_text.documents(s, lang)]
            self.ids.documents.text = (f"[b][color=#ffd10d]{escape_markup(tr('nodocs_list', lang))}[/color][/b]\n"
                                       + "\n\n".join(docs))
            self.ids.where.text = "\n\n".join(
                _para(tr("nodocs_visit_where", lang, service=name), [needs_text.where_to_get(s, lang)])
                for name, s in visit if needs_text.documents(s, lang))
            return
        s = self.model.needs_of(self.model.service_id)
        if s is None:
            self.ids.documents.text = self.ids.where.text = ""
            return
        self.ids.documents.text = _para(tr("nodocs_list", lang), needs_text.documents(s, lang), boxed=True)
        self.ids.where.text = _para(tr("nodocs_where", lang), [needs_text.where_to_get(s, lang)])


class SuspendedScreen(KioskScreen):
    """The chosen service is suspended now: its reason, and no ticket."""

    def no_ticket(self, lang: str, *_deps) -> str:
        s = self.model.service
        return tr("suspended_no_ticket", lang, service=escape_markup(s.name(lang)) if s else "")

    def reason(self, lang: str, *_deps) -> str:
        return escape_markup(self.model.suspended_sw if lang == "sw" else self.model.suspended_en)


class PriorityScreen(KioskScreen):
    pass


class PhoneEntryScreen(KioskScreen):
    """A phone number typed on the keypad: one layout (``<PhoneEntryScreen>`` in kv/phone.kv) for the SMS phone
    and the M-Pesa phone, so both look, fit and read alike. Each screen names its words and says where the
    keys go; ``optional`` screens have "Skip" (the others have no such button at all)."""

    phone = StringProperty("")  # what is typed (bound from where the screen keeps it)
    invalid = BooleanProperty(False)  # the number typed is not a Kenyan mobile number
    title_key = StringProperty("")
    sub_key = StringProperty("")
    ok_key = StringProperty("phone_ok")
    optional = BooleanProperty(False)

    def on_kv_post(self, base_widget) -> None:
        super().on_kv_post(base_widget)
        skip = self.ids.get("skip")
        if not self.optional and skip is not None and skip.parent is not None:
            skip.parent.remove_widget(skip)

    def key(self, key: str) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def done(self) -> None:
        raise NotImplementedError

    def skip(self) -> None:
        raise NotImplementedError

    def back(self) -> None:
        raise NotImplementedError


class PhoneScreen(PhoneEntryScreen):
    """The phone for "your turn is near" SMS (optional)."""

    def on_pre_enter(self, *_a) -> None:
        self.invalid = False

    def key(self, key: str) -> None:
        self.invalid = False
        self.model.phone = phone_keyed(self.model.phone, key)

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

    def back(self) -> None:
        """One step back: the M-Pesa phone or the choice of how to pay, when the fee was asked; else priority."""
        choice = self.app.payment.choice if self.app.payment is not None else ""
        self.app.go({"mpesa": "pay_phone", "counter": "pay_choice"}.get(choice, "priority"))


class ConfirmScreen(KioskScreen):
    def on_pre_enter(self, *_a) -> None:
        self.model.begin_confirmation()

    def summary(self, lang: str, *_deps) -> str:
        m = self.model
        s = m.service
        phone = phone_display(m.phone) if m.phone else tr("confirm_no_phone", lang)
        later = [m.services[x].name(lang) for x in m.visit_next if x in m.services]
        rows = [
            f"{tr('confirm_service', lang)}: [b]{s.name(lang) if s else ''}[/b]",
            *([f"{tr('visit_then', lang)}: [b]{', '.join(later)}[/b]"] if later else []),
            f"{tr('confirm_priority', lang)}: [b]{priority_name(m.priority, lang)}[/b]",
            f"{tr('confirm_phone', lang)}: [b]{phone}[/b]",
        ]
        if s is not None:
            # the people ahead the ticket will say (at a shared counter, other services' citizens too); a priority
            # citizen goes before most of them: the people waiting, as before
            normal = str(m.priority) in ("", "none")
            ahead = ahead_text(s.ahead, lang, estimate_known=s.estimated_wait_s is not None) \
                if s.ahead is not None and normal else waiting_text(s.waiting, lang)
            rows.append(f"{ahead} \u00b7 {estimate_text(s.estimated_wait_s, s.wait_unknown, lang)}")
        return "\n".join(rows)


class PrintingScreen(KioskScreen):
    pass


class TicketScreen(KioskScreen):
    """The number, large; the QR code; what to do if no paper came out."""

    # little height (the low layout with large text on a landscape screen): number and details side by side
    short = BooleanProperty(False)

    def on_pre_enter(self, *_a) -> None:
        t = self.model.ticket
        if t is not None and t.status_url:
            self.ids.qr.texture = qr_texture(t.status_url)

    @staticmethod
    def details(ticket, lang: str) -> str:
        if ticket is None:
            return ""
        name = ticket.service_name_sw if lang == "sw" else ticket.service_name_en
        known = ticket.estimated_wait_s is not None
        lines = [f"[b]{name}[/b]", ahead_text(ticket.position, lang, estimate_known=known),
                 estimate_text(ticket.estimated_wait_s, ticket.wait_unknown, lang)]
        if ticket.priority != "none":
            lines.append(f"{tr('priority_mark', lang)}: {priority_name(ticket.priority, lang)}")
        later = [x for x in (ticket.visit or []) if x.state == "next"]
        if later:  # a one-stop visit: what comes next, and where
            lines.append(f"{tr('visit_then', lang)}: " + ", ".join(
                (x.name_sw if lang == "sw" else x.name_en) for x in later))
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
        if not self.app.kconfig.kiosk.staff_pin:  # no PIN configured: nobody gets in by guessing
            self.message = tr("staff_no_pin", self.model.language)
            self.pin = ""
            return
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
        return "07__ ___ ___" if mode == "phone" else "_ _ _ _ _ _"


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
        lines.append(ahead_text(t.position, lang, estimate_known=t.estimated_wait_s is not None))
        lines.append(estimate_text(t.estimated_wait_s, t.wait_unknown, lang))
        if t.priority != "none":
            lines.append(f"{tr('priority_mark', lang)}: {priority_name(t.priority, lang)}")
        return "\n".join(lines)


class OutOfServiceReason:
    """The line under "out of service": why, when the kiosk knows (both languages)."""

    @staticmethod
    def text(fault: str) -> str:
        if fault:
            return tr(f"oos_{fault}", "sw") + "\n\n" + tr(f"oos_{fault}", "en")
        return tr("oos_sub", "sw") + "\n\n" + tr("oos_sub", "en")


class ClosedScreen(KioskScreen):
    """The day is closed: both languages, when it opens again, and a QR code to book another day."""

    def on_pre_enter(self, *_a) -> None:
        self.ids.qr.texture = qr_texture(self.app.booking_url(None, self.model.next_open_day(), ""))

    @staticmethod
    def opens_text(day, lang: str) -> str:
        """"It opens again on Monday 7 December at 08:00." from state/day's opens_at (centre time)."""
        if day is None or day.opens_at is None:
            return tr("closed_opens_unknown", lang)
        return opens_again(day.opens_at, lang)


class BookScreen(KioskScreen):
    """No more tickets today for this service: a QR code to /book for the next open day, and SMS."""

    def on_pre_enter(self, *_a) -> None:
        self.refresh()
        self.model.bind(language=self.refresh)

    def on_leave(self, *_a) -> None:
        self.model.unbind(language=self.refresh)

    def refresh(self, *_a) -> None:
        m = self.model
        self.ids.qr.texture = qr_texture(self.app.booking_url(m.book_service_id, m.book_day, m.language))

    def short_url(self) -> str:
        """The address to type, without the scheme: what fits under the QR code."""
        base = self.app.kconfig.bundle.server_url.rstrip("/")
        return base.split("://", 1)[-1] + "/book"

    def why(self, lang: str, *_deps) -> str:
        s = self.model.services.get(self.model.book_service_id or "")
        name = s.name(lang) if s else ""
        return too_late_text(s, lang, service=name)

    def when(self, lang: str, day: str, *_deps) -> str:
        from datetime import date

        try:
            return tr("book_when", lang, day=day_text(date.fromisoformat(day), lang))
        except ValueError:
            return tr("book_when_any", lang)

    def sms(self, lang: str, *_deps) -> str:
        s = self.model.services.get(self.model.book_service_id or "")
        if s is None:
            return ""
        number = self.app.kconfig.kiosk.sms_number
        if number:
            return tr("book_sms", lang, keyword=s.prefix, number=number)
        return tr("book_sms_any", lang, keyword=s.prefix)


SCREEN_CLASSES = {
    "welcome": WelcomeScreen,
    "categories": CategoriesScreen,
    "services": ServicesScreen,
    "needs": NeedsScreen,
    "no_documents": NoDocumentsScreen,
    "suspended": SuspendedScreen,
    "priority": PriorityScreen,
    "phone": PhoneScreen,
    "confirm": ConfirmScreen,
    "printing": PrintingScreen,
    "ticket": TicketScreen,
    "out_of_service": OutOfServiceScreen,
    "staff": StaffScreen,
    "checkin": CheckinScreen,
    "checked_in": CheckedInScreen,
    "closed": ClosedScreen,
    "book": BookScreen,
}

