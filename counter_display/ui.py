"""The Kivy side of the display: two screens that copy their text from the model's views.

Import this module only after Kivy's configuration is set (``app.main`` does):
Kivy reads its settings when its window module is first imported.
MQTT messages arrive on paho's thread and wait in a queue; a Clock callback on
the UI thread drains it into the model, so widgets are only touched here.
"""

from __future__ import annotations

import logging
import queue
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from kivy.app import App
from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget
from kivy.utils import escape_markup

from centre_server.contract import DeviceBundle
from counter_display import i18n
from counter_display.announce import AnnouncementQueue, Synthesiser
from counter_display.model import CounterView, DisplayModel, HallView, Layout, Mode, Slide
from counter_display.mqtt_link import MqttLink

logger = logging.getLogger(__name__)


class Txt(Label):
    """A label whose font is ``max_font`` unless its text would not fit its width: then smaller.

    The same board runs at 1280x800, 1920x1080 and in portrait, in English and in
    Kiswahili (whose words are longer): text is never cut off, it shrinks.
    """

    max_font = NumericProperty(16)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.fbind("text", self._fit)
        self.fbind("width", self._fit)
        self.fbind("max_font", self._fit)
        self.fbind("bold", self._fit)
        self.fbind("font_name", self._fit)
        self._fit()

    def natural_width(self, font_size: float) -> float:
        """How wide the text is drawn at ``font_size`` (the widest line)."""
        if not self.text:
            return 0.0
        core = CoreLabel(font_size=font_size, font_name=self.font_name, bold=self.bold)
        return max(core.get_extents(line)[0] for line in self.text.split("\n"))

    def _fit(self, *_args) -> None:
        size = max(1.0, float(self.max_font))
        room = self.width - 2 * self.padding_x - 2
        if self.text and room > 0:
            wide = self.natural_width(size)
            if wide > room:
                size = max(6.0, size * room / wide * 0.97)
        self.font_size = size


class Para(Label):
    """A paragraph that wraps to its width and, when it is taller than its place, is drawn smaller
    (down to a third of ``max_font``) until it fits: a long document list on the hall's slide."""

    max_font = NumericProperty(16)
    fits = BooleanProperty(True)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._refit = Clock.create_trigger(self._fit, -1)
        for prop in ("text", "width", "height", "max_font"):
            self.fbind(prop, self._refit)

    def _fit(self, *_args) -> None:
        if self.width <= 1 or self.height <= 1:
            return
        size = max(1.0, float(self.max_font))
        while True:
            self.font_size = size
            self.text_size = (self.width, None)
            self.texture_update()
            if self.texture_size[1] <= self.height or size <= self.max_font / 3:
                break
            size *= 0.92
        self.fits = self.texture_size[1] <= self.height + 1
        if self.fits:  # the paragraph starts at the top of its place (valign needs a bounded text box)
            self.text_size = (self.width, self.height)


Builder.load_file(str(Path(__file__).with_name("screens.kv")))
Builder.load_file(str(Path(__file__).with_name("hall_far.kv")))

BLINK_PERIOD_S = 0.5
MARQUEE_SPEED = 0.12  # screen widths per second


class StatusBanner(BoxLayout):
    text_en = StringProperty("")
    text_sw = StringProperty("")
    band = NumericProperty(40)
    stacked = BooleanProperty(False)  # English above Kiswahili (portrait), not side by side


class DayBanner(BoxLayout):
    """A gold band, English above Kiswahili: the centre is closed today, and when it opens."""

    text_en = StringProperty("")
    text_sw = StringProperty("")
    band = NumericProperty(80)


class TopBar(BoxLayout):
    centre_name = StringProperty("")
    clock = StringProperty("")
    date_en = StringProperty("")
    date_sw = StringProperty("")


class Panel(BoxLayout):
    """A rounded box whose colour (``bg``) the kv rules set and the blink changes."""

    bg = ColorProperty((0.075, 0.173, 0.310, 1))


class CallCell(Panel):
    number = StringProperty("")
    counter_en = StringProperty("")
    counter_sw = StringProperty("")


class ServiceLine(Panel):
    prefix = StringProperty("")
    name_en = StringProperty("")
    name_sw = StringProperty("")
    waiting = StringProperty("")
    wait_en = StringProperty("")
    wait_sw = StringProperty("")
    unknown = BooleanProperty(False)  # the wait column says why there is no number


class SlidePanel(Panel):
    """The hall's information panel: one ``model.Slide`` at a time."""

    kind = StringProperty("")
    title = StringProperty("")
    service = StringProperty("")
    body = StringProperty("")
    fee = StringProperty("")
    body_font = NumericProperty(30)

    def show(self, slide: Slide | None) -> None:
        if slide is None:
            self.kind = self.title = self.service = self.body = self.fee = ""
            return
        self.kind, self.title, self.service, self.fee = slide.kind, slide.title, slide.service, slide.fee
        if slide.kind == "next":  # each visit's number in gold, what comes next in English, then Kiswahili
            self.body = "\n".join(
                f"[b][color=ffd23f]{escape_markup(r.number)}[/color][/b]  \u2014  {escape_markup(r.line_en)}\n"
                f"[color=c7d6eb]{escape_markup(r.line_sw)}[/color]" for r in slide.rows)
        elif slide.kind == "suspended":  # English, then Kiswahili in the softer colour
            en, sw = (escape_markup(x) for x in slide.lines)
            self.body = f"{en}\n[color=c7d6eb]{sw}[/color]"
        else:
            self.body = "\n".join(f"\u2022 {escape_markup(line)}" for line in slide.lines)


class Marquee(Widget):
    """A notice line that scrolls from right to left, for ever."""

    text = StringProperty("")
    offset = NumericProperty(0)

    def step(self, dt: float) -> None:
        line = self.ids.line
        width = line.texture_size[0]
        if width <= self.width * 0.95:  # fits: stand still, centred
            self.offset = (self.width - width) / 2
            return
        self.offset -= max(60.0, self.width * MARQUEE_SPEED) * dt
        if self.offset < -width:
            self.offset = self.width


def _clock_texts(tz: ZoneInfo | None) -> tuple[str, str, str]:
    now = datetime.now(tz) if tz else datetime.now()
    return now.strftime("%H:%M"), i18n.date_text(now, "en"), i18n.date_text(now, "sw")


class HallBoard(BoxLayout):
    """What both hall layouts share: the top bar, the banners, the latest call and the notice line."""

    live = BooleanProperty(False)
    flash = BooleanProperty(False)
    portrait = BooleanProperty(False)
    unit = NumericProperty(800)
    now_title = StringProperty(i18n.both("now_calling", sep="  /  "))
    now_number = StringProperty("")
    now_counter_en = StringProperty("")
    now_counter_sw = StringProperty("")
    arrow = "\u2192 "  # before the counter's name under the latest number

    def render(self, view: HallView, blink_on: bool) -> None:
        top = self.ids.top
        top.centre_name = view.centre_name
        self.ids.status.text_en = view.status_en
        self.ids.status.text_sw = view.status_sw
        self.ids.day.text_en, self.ids.day.text_sw = view.day_en, view.day_sw
        self.live = view.live
        self.flash = view.blinking and blink_on
        self.now_title = i18n.both("now_calling")
        if not view.live:
            self.now_number = "--"
            self.now_counter_en, self.now_counter_sw = i18n.tr("not_live", "en"), i18n.tr("not_live", "sw")
        elif view.latest is None:  # nothing called yet, or the server's state still on its way
            key = "no_calls_yet" if view.settled else "waiting_for_server"
            self.now_number = ""
            self.now_counter_en, self.now_counter_sw = i18n.tr(key, "en"), i18n.tr(key, "sw")
        else:
            self.now_title = i18n.both("recall" if view.latest.recall else "now_calling")
            self.now_number = view.latest.number
            self.now_counter_en = self.arrow + view.latest.counter_en
            self.now_counter_sw = view.latest.counter_sw
        self.render_rest(view)
        notice = "      \u2022      ".join(x for x in (view.notice_en, view.notice_sw) if x)
        if not notice:
            notice = f"{i18n.tr('welcome', 'en')} / {i18n.tr('welcome', 'sw')}  \u2022  {view.centre_name}"
        self.ids.notice.text = notice

    def render_rest(self, view: HallView) -> None:
        """The layout's own part: the last calls, the services, the information panel."""
        raise NotImplementedError


class HallScreen(HallBoard):
    """The hall board read from within about 4.5 m: the latest call large, the last calls, waits per
    service and the information panel all at once, and the notice line."""

    recent_title = StringProperty(i18n.both("last_calls"))
    services_title = StringProperty(i18n.both("service"))
    waiting_title = StringProperty(i18n.tr("waiting", "en"))
    waiting_title_sw = StringProperty(i18n.tr("waiting", "sw"))
    wait_title = StringProperty(i18n.tr("est_wait", "en"))
    wait_title_sw = StringProperty(i18n.tr("est_wait", "sw"))
    page_text = StringProperty("")
    has_slide = BooleanProperty(False)  # the information panel is shown (it never covers "now calling")

    def __init__(self, recent_rows: int = 9, page_size: int = 8, **kw) -> None:
        super().__init__(**kw)
        self.recent_cells = [CallCell() for _ in range(recent_rows)]
        for cell in self.recent_cells:
            self.ids.recent.add_widget(cell)
        self.service_lines = [ServiceLine() for _ in range(page_size)]
        for line in self.service_lines:
            self.ids.services.add_widget(line)

    def render_rest(self, view: HallView) -> None:
        for i, cell in enumerate(self.recent_cells):
            row = view.recent[i] if i < len(view.recent) else None
            cell.number = row.number if row else ""
            cell.counter_en = row.counter_en if row else ""
            cell.counter_sw = row.counter_sw if row else ""
            cell.opacity = 1 if row else 0
        self.has_slide = view.slide is not None
        if not self.has_slide:  # kv's "height: 0" is set once: a panel the layout had grown keeps its room
            self.ids.slide.height = 0
        self.ids.slide.show(view.slide)
        for i, line in enumerate(self.service_lines):
            shown = i < view.page_size  # the panel takes some rows' room: those rows go, not shrink
            line.size_hint_y = 1 if shown else None
            if not shown:
                line.height = 0
            srow = view.services[i] if i < len(view.services) and shown else None
            line.opacity = 1 if srow else 0
            line.prefix = srow.prefix if srow else ""
            line.name_en = srow.name_en if srow else ""
            line.name_sw = srow.name_sw if srow else ""
            line.waiting = str(srow.waiting) if srow else ""
            line.wait_en = srow.wait_en if srow else ""
            line.wait_sw = srow.wait_sw if srow else ""
            line.unknown = srow.unknown if srow else False
        if not view.services and view.live and view.settled:
            self.page_text = i18n.both("no_one_waiting")
        elif view.pages > 1:
            self.page_text = i18n.both("page", sep="  /  ", i=view.page, n=view.pages)
        else:
            self.page_text = ""


class FarCallRow(Panel):
    """One of the last calls in the far layout: "A017  →  3" at the height read at 10 m."""

    font = NumericProperty(100)
    number = StringProperty("")
    counter = StringProperty("")


class FarServiceRow(Panel):
    """One service in the far layout: its letter, how many wait and the wait at 10 m; names below, nearer."""

    font = NumericProperty(100)
    prefix = StringProperty("")
    waiting = StringProperty("")
    wait_en = StringProperty("")
    wait_sw = StringProperty("")
    names = StringProperty("")
    unknown = BooleanProperty(False)


class FarNextRow(Panel):
    """A visit that moved on, in the far layout: "A012 → 12" at the height read at 10 m, what comes next
    below in both languages, nearer."""

    font = NumericProperty(100)
    number = StringProperty("")
    counters = StringProperty("")
    names = StringProperty("")


class FarNextPanel(Panel):
    """The far layout's panel for visits that moved on to their next service (same number)."""

    font = NumericProperty(100)
    title = StringProperty(i18n.both("next_title"))
    counter_title = StringProperty(i18n.both("counter_heading"))
    watch = StringProperty(i18n.both("next_watch"))


class FarCallsPanel(Panel):
    font = NumericProperty(100)
    title = StringProperty(i18n.both("last_calls"))
    counter_title = StringProperty(i18n.both("counter_heading"))


class FarServicesPanel(Panel):
    font = NumericProperty(100)
    title = StringProperty(i18n.both("service"))
    waiting_title = StringProperty(i18n.both("waiting"))
    wait_title = StringProperty(i18n.both("est_wait"))
    page_text = StringProperty("")


class FarHallScreen(HallBoard):
    """The hall board read from the back of a 10 m hall (``counter_display.legibility``): the latest
    call on the left; on the right one panel at a time (the last calls, three services, a slide)."""

    far = NumericProperty(100)  # the font whose capitals are read at 10 m on this screen
    arrow = ""  # the counter's name stands on its own line under the number: no room for an arrow at 10 m

    def __init__(self, recent_rows: int = 4, page_size: int = 3, next_rows: int = 3, **kw) -> None:
        super().__init__(**kw)
        self.calls_panel = FarCallsPanel()
        self.services_panel = FarServicesPanel()
        self.slide_panel = SlidePanel()
        self.next_panel = FarNextPanel()
        self.next_rows = [FarNextRow() for _ in range(next_rows)]
        for row in self.next_rows:
            self.next_panel.ids.rows.add_widget(row)
        self.recent_cells = [FarCallRow() for _ in range(recent_rows)]
        for cell in self.recent_cells:
            self.calls_panel.ids.rows.add_widget(cell)
        self.service_lines = [FarServiceRow() for _ in range(page_size)]
        for line in self.service_lines:
            self.services_panel.ids.rows.add_widget(line)
        self.fbind("far", self._sizes)
        self._sizes()
        self._shown: Widget | None = None
        self._show(self.calls_panel)
        self.shown = "calls"  # the panel on screen now, "calls" | "services-2" | "slide" (for tests and logs)

    def _sizes(self, *_args) -> None:
        for w in (self.calls_panel, self.services_panel, self.next_panel, *self.recent_cells, *self.service_lines,
                  *self.next_rows):
            w.font = self.far
        self.slide_panel.body_font = self.far * 0.5

    def _show(self, panel: Widget) -> None:
        """One panel at a time in the right half: the others leave the screen, not just fade."""
        if self._shown is not panel:
            self.ids.right.clear_widgets()
            self.ids.right.add_widget(panel)
            self._shown = panel

    def render_rest(self, view: HallView) -> None:
        for i, cell in enumerate(self.recent_cells):
            row = view.recent[i] if i < len(view.recent) else None
            cell.number = row.number if row else ""
            cell.counter = row.counter if row else ""
            cell.opacity = 1 if row else 0
        for i, line in enumerate(self.service_lines):
            srow = view.services[i] if i < len(view.services) else None
            line.opacity = 1 if srow else 0
            line.prefix = srow.prefix if srow else ""
            line.waiting = str(srow.waiting) if srow else ""
            line.wait_en = srow.wait_en if srow else ""
            line.wait_sw = srow.wait_sw if srow else ""
            line.names = f"{srow.name_en}  \u00b7  {srow.name_sw}" if srow else ""
            line.unknown = srow.unknown if srow else False
        panel = self.services_panel
        if not view.services and view.live and view.settled:
            panel.page_text = i18n.both("no_one_waiting")
        elif view.pages > 1:
            panel.page_text = i18n.both("page", sep="  /  ", i=view.page, n=view.pages)
        else:
            panel.page_text = ""
        for i, nrow in enumerate(self.next_rows):
            step = view.next_steps[i] if i < len(view.next_steps) else None
            nrow.opacity = 1 if step else 0
            nrow.number = step.number if step else ""
            nrow.counters = step.counters if step else ""
            names = f"{step.service_en}  \u00b7  {step.service_sw}" if step else ""
            if step and not step.counters:  # nowhere to go yet: say so, nearer
                names += f"  \u2014  {step.where_en} / {step.where_sw}"
            nrow.names = names
        self.slide_panel.show(view.slide)
        shown = {"services": self.services_panel, "slide": self.slide_panel,
                 "next": self.next_panel}.get(view.panel, self.calls_panel)
        self._show(shown)
        self.shown = f"services-{view.page}" if view.panel == "services" else view.panel or "calls"


class CounterScreen(BoxLayout):
    """The screen above one counter: its name and the number it serves, large."""

    live = BooleanProperty(False)
    flash = BooleanProperty(False)
    portrait = BooleanProperty(False)
    unit = NumericProperty(800)
    title = StringProperty(i18n.both("now_serving"))
    counter_en = StringProperty("")
    counter_sw = StringProperty("")
    has_number = BooleanProperty(False)
    number = StringProperty("")
    number_sw = StringProperty("")
    state_en = StringProperty("")
    state_sw = StringProperty("")

    def render(self, view: CounterView, blink_on: bool) -> None:
        self.ids.top.centre_name = view.centre_name
        self.ids.status.text_en = view.status_en
        self.ids.status.text_sw = view.status_sw
        self.live = view.live
        self.flash = view.blinking and blink_on
        self.counter_en, self.counter_sw = view.counter_en, view.counter_sw
        self.has_number = bool(view.number)
        if view.number:
            self.title = i18n.both("now_serving")
            self.number, self.number_sw = view.number, ""
            self.state_en, self.state_sw = view.service_en, view.service_sw
        else:  # nothing called here: the counter's state large, and what to do
            self.title = ""
            self.number, self.number_sw = view.state_en, view.state_sw
            self.state_en, self.state_sw = view.hint_en, view.hint_sw


@dataclass
class DisplaySettings:
    bundle: DeviceBundle
    mode: Mode = Mode.hall
    counter_id: str | None = None
    announce: bool = True
    audio_dir: Path | None = None
    timezone: str = "Africa/Nairobi"
    fullscreen: bool = True
    page_size: int = 8
    last_calls: int = 10
    layout: Layout = Layout.near


FAR_PAGE_SIZE = 3  # the far layout's services a page, and its calls: what fits at the height read at 10 m
FAR_LAST_CALLS = 5  # the latest and four before it


class DisplayApp(App):
    """The display: model + MQTT link + announcement queue + one screen."""

    def __init__(self, settings: DisplaySettings, **kw) -> None:
        super().__init__(**kw)
        self.settings = settings
        bundle = settings.bundle
        self.title = f"Huduma display {bundle.device_id}"
        far = settings.layout == Layout.far
        self.model = DisplayModel(topics=bundle.topics, centre_name=bundle.centre_name, mode=settings.mode,
                                  counter_id=settings.counter_id, layout=settings.layout,
                                  page_size=min(settings.page_size, FAR_PAGE_SIZE) if far else settings.page_size,
                                  last_calls=FAR_LAST_CALLS if far else settings.last_calls)
        self.inbox: queue.Queue[tuple] = queue.Queue()
        self.link = MqttLink(bundle, on_message=self._from_network, on_link=self._link_from_network)
        self.announcer: AnnouncementQueue | None = None
        if settings.announce and settings.audio_dir is not None:
            self.announcer = AnnouncementQueue(Synthesiser(settings.audio_dir))
        try:
            self.tz: ZoneInfo | None = ZoneInfo(settings.timezone)
        except Exception:  # unknown zone or no tz database: the device's local time
            logger.warning("unknown time zone %s: using local time", settings.timezone)
            self.tz = None
        self.screen: HallBoard | CounterScreen | None = None
        self._started = time.monotonic()

    # network thread -> queue
    def _from_network(self, topic: str, payload: bytes, retained: bool) -> None:
        self.inbox.put(("msg", topic, payload, retained))

    def _link_from_network(self, up: bool) -> None:
        self.inbox.put(("link", up))

    def build(self) -> Widget:
        if self.settings.mode == Mode.hall and self.settings.layout == Layout.far:
            self.screen = FarHallScreen(recent_rows=self.model.last_calls - 1, page_size=self.model.page_size,
                                        next_rows=self.model.next_shown)
        elif self.settings.mode == Mode.hall:
            self.screen = HallScreen(recent_rows=max(0, self.settings.last_calls - 1),
                                     page_size=self.settings.page_size)
        else:
            self.screen = CounterScreen()
        Clock.schedule_interval(self.drain, 0.05)
        Clock.schedule_interval(self.refresh, 0.25)
        if isinstance(self.screen, HallBoard):
            Clock.schedule_interval(self.screen.ids.notice.step, 1 / 30)
        self.refresh(0)
        return self.screen

    def on_start(self) -> None:
        # SIGTERM (systemd, a supervisor) and Ctrl+C are clean stops: say offline before leaving. Ctrl+C through
        # Python's KeyboardInterrupt could land inside a Kivy callback and be lost (the display then ran on: seen
        # once in a whole-suite run), so both go through the same scheduled stop.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: Clock.schedule_once(lambda _dt: self.stop()))
        if self.announcer is not None:
            self.announcer.start()
        self.link.start()

    def on_stop(self) -> None:
        self.link.stop()
        if self.announcer is not None:
            self.announcer.stop(timeout=2)

    def drain(self, _dt: float = 0) -> None:
        """Move what the network delivered into the model, in order (UI thread)."""
        changed = False
        while True:
            try:
                item = self.inbox.get_nowait()
            except queue.Empty:
                break
            changed = True
            if item[0] == "link":
                (self.model.link_up if item[1] else self.model.link_down)()
                continue
            _, topic, payload, retained = item
            for call in self.model.handle(topic, payload, retained=retained, now=time.monotonic()):
                logger.info("call %s to counter %s%s", call.number, call.counter_name,
                            " (recall)" if call.recall else "")
                if self.announcer is not None:
                    self.announcer.put(call)
        if changed:
            self.refresh(0)

    def refresh(self, _dt: float = 0) -> None:
        """Redraw from the model: the clock, blinking and paging move with time."""
        if self.screen is None:
            return
        now = time.monotonic()
        blink_on = int((now - self._started) / BLINK_PERIOD_S) % 2 == 0
        clock, date_en, date_sw = _clock_texts(self.tz)
        top = self.screen.ids.top
        top.clock, top.date_en, top.date_sw = clock, date_en, date_sw
        if isinstance(self.screen, HallBoard):
            self.screen.render(self.model.hall_view(now), blink_on)
        else:
            self.screen.render(self.model.counter_view(now), blink_on)
