"""Scenarios the driver plays on the real kiosk app (see driver.py)."""

from __future__ import annotations

import os
import time

from driver import Sleep, Wait


def _ticket_data(app) -> dict:
    t = app.model.ticket or app.model.last_ticket
    return t.model_dump(mode="json") if t is not None else {}


def _service(d, service_id: str):
    return d.find(d.screen.ids.grid, value=service_id)


def _past_needs(d, shot: str = ""):
    """After a service: "What you need" (the catalogue is known), "I have these", then priority."""
    yield Wait(lambda: d.app.sm.current in ("needs", "priority"), "needs or priority")
    if d.app.sm.current == "needs":
        yield d.at("needs")  # shown, and past the app's guard against a double tap's second touch
        if shot:
            d.shot(shot)
        d.tap(d.screen.ids.have)
    yield d.at("priority")


def flow(d):
    """The whole journey in English, with a bad phone number, a double tap, Kiswahili and a reprint."""
    app = d.app
    service_id = os.environ.get("KIOSK_SERVICE", "id-card-new")
    yield d.at("welcome")
    yield Wait(lambda: app.model.services_loaded and app.model.server_ok, "services loaded")
    yield Wait(lambda: app.model.mqtt_ok, "MQTT connected")
    d.shot("welcome")
    d.tap(d.screen.ids.start_en)
    yield d.at("categories")
    yield Sleep(0.3)
    d.shot("categories")
    category = app.model.services[service_id].category
    d.tap(d.find(d.screen.ids.grid, value=category))
    yield d.at("services")
    yield Sleep(0.3)
    d.shot("services")
    d.tap(_service(d, service_id))
    yield from _past_needs(d, "needs")
    yield Sleep(0.2)
    d.shot("priority")
    d.tap(d.screen.ids.priority_elderly)
    yield d.at("phone")
    keypad = d.screen.ids.keypad
    yield from d.keypad_type(keypad, "0812")
    d.tap(d.screen.ids.done)
    yield Wait(lambda: d.screen.invalid, "phone refused")
    yield Sleep(0.2)
    d.shot("phone-invalid")
    d.result["data"]["invalid_phone_refused"] = app.sm.current == "phone"
    # the example number is read whole, in both languages: never "0712 345" on one line and "678" below
    d.result["data"]["invalid_lines"] = {"en": _lines(d.screen.ids.invalid)}
    d.tap(d.screen.ids.header.ids.lang_button)
    yield Wait(lambda: app.model.language == "sw", "Kiswahili")
    yield Sleep(0.3)
    d.shot("phone-invalid-sw")
    d.result["data"]["invalid_lines"]["sw"] = _lines(d.screen.ids.invalid)
    d.tap(d.screen.ids.header.ids.lang_button)
    yield Wait(lambda: app.model.language == "en", "English again")
    yield Sleep(0.2)
    yield from d.keypad_type(keypad, "<<<<")
    yield from d.keypad_type(keypad, "0712345678")
    yield Sleep(0.2)
    d.shot("phone")
    d.tap(d.screen.ids.done)
    yield d.at("confirm")
    d.result["data"]["waiting_at_confirm"] = app.model.services[service_id].waiting
    yield Sleep(0.2)
    d.shot("confirm")
    d.result["data"]["idempotency_key"] = app.model.idempotency_key
    button = d.screen.ids.confirm
    d.tap(button)
    d.tap(button)  # the impatient second tap
    yield d.at("ticket")
    yield Sleep(0.4)
    d.shot("ticket")
    d.result["data"].update(ticket=_ticket_data(app), printed=app.model.printed, confirm_taps=app.confirm_taps,
                            issue_calls=app.issue_calls, printer_status=app.model.printer_status)
    d.tap(d.screen.ids.header.ids.lang_button if "header" in d.screen.ids else _lang_button(d))
    yield Wait(lambda: app.model.language == "sw", "Kiswahili")
    yield Sleep(0.2)
    d.shot("ticket-sw")
    # the server's retained state/service/<id> now counts this ticket: the kiosk hears it over MQTT
    yield Wait(lambda: app.model.services[service_id].waiting == d.result["data"]["waiting_at_confirm"] + 1,
               "live wait from MQTT")
    d.result["data"]["waiting_after"] = app.model.services[service_id].waiting
    d.tap(d.screen.ids.done)
    yield d.at("welcome")
    # "Done" ends this citizen's visit: the next one meets the welcome in English, with no modes kept
    d.result["data"]["language_after_done"] = app.model.language
    yield from staff_reprint(d)


def staff_reprint(d):
    """Long press in the top-left corner, a wrong PIN, the right PIN, reprint the last ticket."""
    app = d.app
    yield d.at("welcome")
    # staff: long press in the top-left corner, PIN, reprint
    touch = d.press(None)
    yield Sleep(app.kconfig.kiosk.staff_press_s + 0.3)
    touch.touch_up()
    yield d.at("staff")
    staff = d.screen
    yield from d.keypad_type(staff.ids.keypad, "9999")
    d.tap(d.find(staff.ids.keypad, key="OK"))
    yield Wait(lambda: staff.message != "", "wrong PIN message")
    d.result["data"]["wrong_pin_unlocked"] = staff.unlocked
    yield from d.keypad_type(staff.ids.keypad, app.kconfig.kiosk.staff_pin)
    d.tap(d.find(staff.ids.keypad, key="OK"))
    yield Wait(lambda: staff.unlocked, "staff unlocked")
    d.tap(staff.ids.reprint)
    yield Wait(lambda: "Reprinted" in staff.message, "reprint done")
    yield Sleep(0.2)
    d.shot("staff")
    d.result["data"]["staff_message"] = staff.message
    d.tap(staff.ids.back)
    yield d.at("welcome")


def _lang_button(d):
    from kivy.uix.button import Button

    for w in d.screen.walk(restrict=True):
        if isinstance(w, Button) and w.text in ("Kiswahili", "English") and getattr(w, "width", 0) < 400:
            return w
    raise LookupError("no language button")


def quick_ticket(d):
    """Welcome -> ticket in Kiswahili with no phone, as fast as a regular; for fault tests."""
    app = d.app
    service_id = os.environ.get("KIOSK_SERVICE", "kra-pin")
    yield d.at("welcome")
    yield Wait(lambda: app.model.services_loaded and app.model.server_ok and app.model.mqtt_ok, "ready")
    d.tap(d.screen.ids.start_sw)
    yield d.at("categories")
    d.tap(d.find(d.screen.ids.grid, value=app.model.services[service_id].category))
    yield d.at("services")
    d.tap(_service(d, service_id))
    yield from _past_needs(d)
    d.tap(d.screen.ids.priority_none)
    yield d.at("phone")
    d.tap(d.screen.ids.skip)
    yield d.at("confirm")
    d.tap(d.screen.ids.confirm)
    printing_shot = os.environ.get("KIOSK_SHOT_PRINTING")
    if printing_shot:
        yield Wait(lambda: app.sm.current in ("printing", "ticket"), "printing")
        if app.sm.current == "printing":
            d.shot(printing_shot)
    yield d.at("ticket")
    yield Sleep(0.4)
    d.result["data"].update(ticket=_ticket_data(app), printed=app.model.printed,
                            printer_status=app.model.printer_status, issue_calls=app.issue_calls)
    name = os.environ.get("KIOSK_SHOT")
    if name:
        d.shot(name)
    d.mark("ticket")
    d.tap(d.screen.ids.done)
    yield d.at("welcome")
    d.result["data"]["banner_while_faulty"] = d.screen.printer_fault
    if name:
        d.shot(f"welcome-{name}")
    # the test fixes the printer; the kiosk must notice by itself
    yield d.go_signal("fixed")
    yield Wait(lambda: app.model.printer_status == "ok", "printer ok again", 30)
    d.result["data"]["printer_status_after_fix"] = app.model.printer_status
    d.result["data"]["banner_after_fix"] = d.screen.printer_fault
    yield Sleep(0.5)


def outage(d):
    """The server goes away (test kills it) and comes back (test restarts it)."""
    import time

    app = d.app
    yield d.at("welcome")
    yield Wait(lambda: app.model.services_loaded and app.model.server_ok, "ready")
    d.tap(d.screen.ids.start_en)
    yield d.at("categories")
    d.mark("ready")
    yield d.go_signal("killed")
    started = time.monotonic()
    yield d.at("out_of_service", timeout=10)
    d.result["data"]["seconds_to_out_of_service"] = time.monotonic() - started
    yield Sleep(0.3)
    d.shot("out-of-service")
    d.mark("out_of_service")
    yield d.go_signal("restarted")
    started = time.monotonic()
    yield Wait(lambda: app.sm.current == "welcome" and app.model.server_ok, "recovered", 20)
    d.result["data"]["seconds_to_recover"] = time.monotonic() - started
    yield d.at("welcome")
    d.tap(d.screen.ids.start_sw)
    yield d.at("categories")
    d.shot("categories-sw")
    d.result["data"]["usable_after_recovery"] = True
    # then the citizen walks away mid-choice: back to welcome, choices forgotten
    d.tap(d.screen.ids.grid.children[-1])
    yield d.at("services")
    d.result["data"]["category_chosen"] = app.model.category
    yield d.at("welcome", timeout=app.kconfig.kiosk.idle_timeout_s + 5)
    d.result["data"].update(category_after=app.model.category, language_after=app.model.language)



def checkin(d):
    """Remote tickets check in: a wrong code (error in both languages), the right code tapped twice
    (in Kiswahili), then a second citizen by phone number from the categories screen."""
    app = d.app
    data = d.result["data"]
    yield d.at("welcome")
    yield Wait(lambda: app.model.services_loaded and app.model.server_ok and app.model.mqtt_ok, "ready")
    yield Sleep(0.2)
    d.shot("checkin-welcome")
    d.tap(d.screen.ids.checkin)
    yield d.at("checkin")
    screen = d.screen
    keypad = screen.ids.keypad
    data["welcome_language"] = app.model.language
    # a code nobody holds: the server says so, the citizen may try again
    yield from d.keypad_type(keypad, os.environ["KIOSK_WRONG_CODE"])
    d.tap(screen.ids.confirm)
    yield Wait(lambda: not app.model.checking_in and screen.ids.error.text, "error shown")
    yield Sleep(0.2)
    d.shot("checkin-error")
    data["error_en"] = screen.ids.error.text
    d.tap(screen.ids.header.ids.lang_button)
    yield Wait(lambda: app.model.language == "sw", "Kiswahili")
    yield Sleep(0.2)
    d.shot("checkin-error-sw")
    data["error_sw"] = screen.ids.error.text
    data["screen_after_error"] = app.sm.current
    # too short a code never reaches the server
    d.tap(screen.ids.clear_entry)
    yield from d.keypad_type(keypad, "12")
    calls = app.checkin_calls
    d.tap(screen.ids.confirm)
    yield Wait(lambda: screen.ids.error.text, "short code refused")
    data["short_code_error"] = screen.ids.error.text
    data["short_code_sent"] = app.checkin_calls != calls
    # the right code, tapped twice by an impatient finger
    d.tap(screen.ids.clear_entry)
    yield from d.keypad_type(keypad, os.environ["KIOSK_CODE"])
    yield Sleep(0.2)
    d.shot("checkin-code")
    d.tap(screen.ids.confirm)
    d.tap(screen.ids.confirm)
    yield d.at("checked_in")
    yield Sleep(0.4)
    d.shot("checkin-done-sw")
    data.update(code_ticket=_ticket_data(app), code_message=d.screen.ids.message.text,
                code_number_shown=d.screen.ids.number.text, code_printed=app.model.printed,
                checkin_taps=app.checkin_taps, checkin_calls=app.checkin_calls)
    d.tap(d.screen.ids.done)
    yield d.at("welcome")
    # the next citizen chose English, then remembered the booking: by phone number from categories
    d.tap(d.screen.ids.start_en)
    yield d.at("categories")
    yield Sleep(0.3)
    d.shot("checkin-categories")
    d.tap(d.screen.ids.checkin)
    yield d.at("checkin")
    screen = d.screen
    d.tap(screen.ids.by_phone)
    yield Wait(lambda: app.model.checkin_mode == "phone", "phone mode")
    yield Sleep(0.2)  # the keypad gains its + key
    yield from d.keypad_type(screen.ids.keypad, os.environ["KIOSK_PHONE"])
    yield Sleep(0.2)
    d.shot("checkin-phone")
    d.tap(screen.ids.confirm)
    yield d.at("checked_in")
    yield Sleep(0.4)
    d.shot("checkin-done")
    data.update(phone_ticket=_ticket_data(app), phone_message=d.screen.ids.message.text,
                phone_number_shown=d.screen.ids.number.text, phone_printed=app.model.printed,
                checkin_calls_total=app.checkin_calls)
    # nobody touches it: back to welcome by itself
    yield d.at("welcome", timeout=app.kconfig.kiosk.ticket_screen_s + 5)
    data["language_after"] = app.model.language


# -- the kiosk tells the truth and fails safe (issue 15) ----------------------------------------

def _ready(app, mqtt: bool = True):
    return Wait(lambda: app.model.services_loaded and app.model.server_ok and (app.model.mqtt_ok or not mqtt),
                "ready")


def _to_confirm(d, service_id: str, start: str = "start_en"):
    """Welcome -> confirm for one service, by touch, no priority, no phone (use with yield from)."""
    app = d.app
    yield d.at("welcome")
    d.tap(d.screen.ids[start])
    yield d.at("categories")
    d.tap(d.find(d.screen.ids.grid, value=app.model.services[service_id].category))
    yield d.at("services")
    yield Sleep(0.3)
    d.tap(_service(d, service_id))
    yield from _past_needs(d)
    d.tap(d.screen.ids.priority_none)
    yield d.at("phone")
    d.tap(d.screen.ids.skip)
    yield d.at("confirm")
    yield Sleep(0.3)


def no_counter(d):
    """No counter serves the service: every screen says why instead of a number, in both languages."""
    app = d.app
    data = d.result["data"]
    sid = os.environ.get("KIOSK_SERVICE", "kra-pin")
    yield d.at("welcome")
    yield _ready(app)
    yield Wait(lambda: app.model.services[sid].estimated_wait_s is None, "no estimate from the server")
    data["wait_unknown"] = app.model.services[sid].wait_unknown
    d.tap(d.screen.ids.start_en)
    yield d.at("categories")
    d.tap(d.find(d.screen.ids.grid, value=app.model.services[sid].category))
    yield d.at("services")
    yield Sleep(0.4)
    data["services_en"] = _service(d, sid).text
    d.shot("services-no-counter")
    d.tap(_service(d, sid))
    yield from _past_needs(d)
    d.tap(d.screen.ids.priority_none)
    yield d.at("phone")
    d.tap(d.screen.ids.skip)
    yield d.at("confirm")
    yield Sleep(0.3)
    data["confirm_en"] = d.screen.ids.summary.text
    d.shot("confirm-no-counter")
    d.tap(d.screen.ids.confirm)
    yield d.at("ticket")
    yield Sleep(0.4)
    data["ticket_en"] = d.screen.ids.details.text
    data["ticket"] = _ticket_data(app)
    data["printed"] = app.model.printed
    d.shot("ticket-no-counter")
    d.tap(d.screen.ids.header.ids.lang_button)
    yield Wait(lambda: app.model.language == "sw", "Kiswahili")
    yield Sleep(0.3)
    data["ticket_sw"] = d.screen.ids.details.text
    d.shot("ticket-no-counter-sw")
    d.tap(d.screen.ids.done)
    yield d.at("welcome")
    d.tap(d.screen.ids.start_sw)
    yield d.at("categories")
    d.tap(d.find(d.screen.ids.grid, value=app.model.services[sid].category))
    yield d.at("services")
    yield Sleep(0.4)
    data["services_sw"] = _service(d, sid).text
    d.shot("services-no-counter-sw")
    d.tap(_service(d, sid))
    yield from _past_needs(d)
    d.tap(d.screen.ids.priority_none)
    yield d.at("phone")
    d.tap(d.screen.ids.skip)
    yield d.at("confirm")
    yield Sleep(0.3)
    data["confirm_sw"] = d.screen.ids.summary.text


def _closed_texts(d) -> dict:
    ids = d.screen.ids
    return {k: ids[k].text for k in ("title_sw", "opens_sw", "title_en", "opens_en")}


def day_closed(d):
    """A manager closes the day (retained state/day): the kiosk says so in both languages and issues nothing."""
    app = d.app
    data = d.result["data"]
    yield d.at("welcome")
    yield _ready(app)
    d.tap(d.screen.ids.start_en)
    yield d.at("categories")
    d.mark("ready")
    yield d.go_signal("closed")
    yield d.at("closed", timeout=20)
    yield Sleep(0.5)
    d.shot(os.environ.get("KIOSK_SHOT", "closed"))
    data.update(_closed_texts(d))
    data["day"] = app.model.day.model_dump(mode="json") if app.model.day else None
    app.start("en")  # whatever a citizen touches, no ticket journey starts
    yield Sleep(0.3)
    data["after_start"] = app.sm.current
    data["issue_calls"] = app.issue_calls
    # a citizen with large text and high contrast on, then gone: the screen shown all night is the plain one
    app.large_text = app.high_contrast = True
    app.model.language = "sw"
    app._last_touch = time.monotonic() - app.kconfig.kiosk.idle_timeout_s - 1  # as if they left that long ago
    yield Wait(lambda: not app.large_text, "modes forgotten after the idle timeout", 10)
    data["after_idle"] = [app.sm.current, app.large_text, app.high_contrast, app.model.language]


def refused_day_closed(d):
    """No broker (no state/day): the server's 409 day_closed itself brings the closed screen."""
    app = d.app
    data = d.result["data"]
    sid = os.environ.get("KIOSK_SERVICE", "kra-pin")
    yield d.at("welcome")
    yield _ready(app, mqtt=False)
    yield from _to_confirm(d, sid)
    d.mark("confirm")
    yield d.go_signal("closed")
    d.tap(d.screen.ids.confirm)
    yield d.at("closed", timeout=20)
    yield Sleep(0.5)
    d.shot("closed-refused")
    data.update(_closed_texts(d))
    data["issue_calls"] = app.issue_calls
    data["mqtt_ok"] = app.model.mqtt_ok


def last_call(d):
    """A counter opens while the citizen confirms, but too late for today's last call: the server refuses
    (409 after_last_call) and the kiosk offers a booking; the service's button then says so itself."""
    app = d.app
    data = d.result["data"]
    sid = os.environ.get("KIOSK_SERVICE", "kra-pin")
    yield d.at("welcome")
    yield _ready(app)
    yield from _to_confirm(d, sid)
    data["accepting_before"] = app.model.services[sid].accepting
    d.mark("confirm")
    yield d.go_signal("counter_open")
    yield Wait(lambda: not app.model.services[sid].accepting, "refusal heard over MQTT")
    data["refusal"] = app.model.services[sid].refusal
    d.tap(d.screen.ids.confirm)
    yield d.at("book", timeout=20)
    yield Sleep(0.5)
    d.shot("book")
    ids = d.screen.ids
    data.update(book_day=app.model.book_day, book_url=app.booking_url(sid, app.model.book_day, "en"),
                why_en=ids.why.text, when_en=ids.when.text, scan_en=ids.scan.text, sms_en=ids.sms.text,
                issue_calls=app.issue_calls)
    d.tap(ids.back)
    yield d.at("services")
    yield Sleep(0.4)
    data["services_en"] = _service(d, sid).text
    d.shot("services-last-call")
    d.tap(_service(d, sid))
    yield d.at("book")
    data["book_day_from_button"] = app.model.book_day
    d.tap(d.screen.ids.header.ids.lang_button)
    yield Wait(lambda: app.model.language == "sw", "Kiswahili")
    yield Sleep(0.4)
    d.shot("book-sw")
    ids = d.screen.ids
    data.update(why_sw=ids.why.text, when_sw=ids.when.text, scan_sw=ids.scan.text)
    data["issue_calls_after"] = app.issue_calls


def out_of_service_fault(d):
    """A kiosk that cannot print stays out of service, says why, and ignores touches."""
    app = d.app
    data = d.result["data"]
    yield d.at("out_of_service", timeout=30)
    yield Wait(lambda: app.model.server_ok and app.model.services_loaded, "server reachable")
    yield Sleep(1.5)  # the server answering must not bring it back
    yield d.at("out_of_service")
    d.shot(os.environ.get("KIOSK_SHOT", "out-of-service-no-printer"))
    data["reason"] = d.screen.ids.reason.text
    data["fault"] = app.model.device_fault
    app.start("en")
    yield Sleep(0.3)
    data["after_start"] = app.sm.current
    data["issue_calls"] = app.issue_calls


def fit_all(d):
    """Every category page in both languages: each label inside its button, every button in view.
    Screenshots of each page, at the real screen's size (full screen, no window manager)."""
    from kivy.core.window import Window

    from kiosk.screens import FitButton

    app = d.app
    data = d.result["data"]
    tag = os.environ.get("KIOSK_TAG", "screen")
    data["window"] = list(Window.size)
    data["portrait"] = app.portrait
    data["labels"] = []
    yield d.at("welcome")
    yield _ready(app)
    yield Sleep(0.5)
    d.shot(f"welcome-{tag}")
    data["welcome_buttons"] = [list(d.screen.ids[k].to_window(*d.screen.ids[k].pos)) + list(d.screen.ids[k].size)
                               for k in ("start_sw", "start_en")]

    def outside(screen) -> list[str]:
        """Widgets of a screen's main column that poke out of the window."""
        column = screen.children[0]
        return [f"{type(w).__name__} {getattr(w, 'text', '')[:30]!r}" for w in column.children
                if w.height > 0 and (w.y < -1 or w.top > Window.height + 1)]

    data["welcome_outside"] = outside(d.screen)
    app.model.printer_status = "paper_out"  # the warning banner takes its place too
    yield Sleep(0.4)
    data["welcome_fault_outside"] = outside(d.screen)
    d.shot(f"welcome-printer-fault-{tag}")
    app.model.printer_status = "ok"
    yield Sleep(0.2)

    def settled() -> bool:
        """Every label fitted at its button's current size (a resize fits again on the next frame)."""
        buttons = [w for w in d.screen.ids.grid.children if isinstance(w, FitButton)]
        return bool(buttons) and all(b._fit_event is None and b.fitted_size == (b.width, b.height)
                                     for b in buttons)

    def measure(page: str):
        scroll = d.screen.ids.get("scroll")
        for w in d.screen.ids.grid.children:
            if not isinstance(w, FitButton):
                continue
            tw, th = w.texture_size
            x, y = w.to_window(w.x, w.y)
            visible, where = True, {}
            if scroll is not None:
                sx, sy = scroll.to_window(scroll.x, scroll.y)
                visible = sy - 1 <= y and y + w.height <= sy + scroll.height + 1
                # the geometry, for a failure's message: the view, the list in it, this button
                where = {"view_y": sy, "view_h": scroll.height, "grid_h": d.screen.ids.grid.height,
                         "scroll_y": scroll.scroll_y, "y": y, "h": w.height}
            data["labels"].append({"page": page, "value": w.value, "text": w.text, "fits": w.fits,
                                   "texture": [tw, th], "size": [w.width, w.height],
                                   "room": [w.width - 2 * w.pad_x, w.height - 2 * w.pad_y],
                                   "font": w.font_size, "visible": visible, "where": where})

    for lang, start in (("en", "start_en"), ("sw", "start_sw")):
        yield d.at("welcome")
        d.tap(d.screen.ids[start])
        yield d.at("categories")
        yield Sleep(0.5)
        yield Wait(settled, "category labels fitted", 10)
        measure(f"categories-{lang}")
        d.shot(f"categories-{tag}-{lang}")
        for i, cat in enumerate(app.model.categories()):
            d.tap(d.find(d.screen.ids.grid, value=cat))
            yield d.at("services")
            yield Sleep(0.5)
            yield Wait(settled, "service labels fitted", 10)
            measure(f"services-{lang}-{i}")
            d.shot(f"services-{tag}-{lang}-{i}")
            d.tap(d.screen.ids.back)
            yield d.at("categories")
            yield Sleep(0.2)
        d.tap(d.screen.ids.back)
    data["categories"] = app.model.categories()
    data["services"] = len(app.model.services_in(None))
    # the rest of the journey at this size, and one ticket (the number, the QR code)
    sid = os.environ.get("KIOSK_SERVICE", "kra-pin")
    yield d.at("welcome")
    d.tap(d.screen.ids.checkin)
    yield d.at("checkin")
    yield Sleep(0.4)
    d.shot(f"checkin-{tag}")
    app.reset()
    yield d.at("welcome")
    d.tap(d.screen.ids.start_sw)
    yield d.at("categories")
    d.tap(d.find(d.screen.ids.grid, value=app.model.services[sid].category))
    yield d.at("services")
    yield Sleep(0.3)
    d.tap(_service(d, sid))
    yield from _past_needs(d, f"needs-{tag}")
    yield Sleep(0.3)
    d.shot(f"priority-{tag}")
    d.tap(d.screen.ids.priority_none)
    yield d.at("phone")
    yield Sleep(0.3)
    d.shot(f"phone-{tag}")
    d.tap(d.screen.ids.skip)
    yield d.at("confirm")
    yield Sleep(0.3)
    d.shot(f"confirm-{tag}")
    d.tap(d.screen.ids.confirm)
    yield d.at("ticket")
    yield Sleep(0.5)
    d.shot(f"ticket-{tag}")


# -- what you need before the ticket (issue 19) ------------------------------------------------------------

def _to_service(d, service_id: str, start: str):
    """Welcome -> the service's button touched (use with yield from)."""
    app = d.app
    yield d.at("welcome")
    d.tap(d.screen.ids[start])
    yield d.at("categories")
    d.tap(d.find(d.screen.ids.grid, value=app.model.services[service_id].category))
    yield d.at("services")
    yield Sleep(0.4)
    d.tap(_service(d, service_id))


def _measure_text(d, data: dict, page: str) -> None:
    """Every text of a screen: inside its widget's width (wrapped), and as large as it must be."""
    from kivy.uix.label import Label

    for w in d.screen.walk(restrict=True):
        if not isinstance(w, Label) or not w.text or w.opacity == 0 or w.height <= 0:
            continue
        tw, th = w.texture_size
        room_w = (w.text_size[0] or w.width) if w.text_size else w.width
        room_h = w.text_size[1] if w.text_size and w.text_size[1] else w.height
        data.setdefault("texts", []).append({
            "page": page, "id": next((k for k, v in d.screen.ids.items() if v is w), ""), "text": w.text[:80],
            "texture": [tw, th], "room": [room_w, room_h], "font": w.font_size,
        })


def _fitted(screen) -> Wait:
    return Wait(lambda: screen.ids.content.height > 0 and not screen._fit.is_triggered, "text fitted", 10)


def needs_tour(d):
    """The "What you need" screen for the longest and a typical service, in both languages; "I don't have
    these" (no ticket); a suspended service (no ticket, its reason); then one ticket with its checklist."""
    from kivy.core.window import Window

    app = d.app
    data = d.result["data"]
    tag = os.environ.get("KIOSK_TAG", "landscape")
    longest, typical, suspended = (os.environ["KIOSK_LONGEST"], os.environ["KIOSK_TYPICAL"],
                                   os.environ["KIOSK_SUSPENDED"])
    version = int(os.environ["KIOSK_CATALOGUE_VERSION"])
    data["window"] = list(Window.size)
    yield d.at("welcome")
    yield _ready(app)
    yield Wait(lambda: app.model.catalogue is not None and app.model.catalogue.version == version,
               "the test's catalogue over MQTT", 30)
    data["pages"] = {}
    for lang, start in (("en", "start_en"), ("sw", "start_sw")):
        for sid, kind in ((longest, "longest"), (typical, "typical")):
            yield from _to_service(d, sid, start)
            yield d.at("needs")
            screen = d.screen
            yield _fitted(screen)
            yield Sleep(0.3)
            page = f"needs-{kind}-{tag}-{lang}"
            d.shot(page)
            _measure_text(d, data, page)
            data["pages"][page] = {
                "overflow": screen.overflow, "font": screen.font, "service": screen.ids.service.text,
                "documents": screen.ids.documents.text, "facts": screen.ids.facts.text,
                "have": screen.ids.have.text, "dont_have": screen.ids.dont_have.text,
                "more": screen.ids.more.text,
                "buttons": [list(b.to_window(*b.pos)) + list(b.size) for b in
                            (screen.ids.have, screen.ids.dont_have, screen.ids.back)],
            }
            if screen.overflow:  # the end of the text can be reached, and it is all there
                screen.ids.scroll.scroll_y = 0
                yield Sleep(0.4)
                d.shot(f"{page}-end")
                app.model.services_version += 1  # what each live wait over MQTT does: not back to the top
                yield Sleep(0.3)
                data["pages"][page]["scroll_after_update"] = screen.ids.scroll.scroll_y
            if kind == "longest":
                d.tap(screen.ids.dont_have)
                yield d.at("no_documents")
                yield _fitted(d.screen)
                yield Sleep(0.3)
                d.shot(f"no-documents-{tag}-{lang}")
                _measure_text(d, data, f"no-documents-{tag}-{lang}")
                data["pages"][f"no-documents-{lang}"] = {
                    "no_ticket": d.screen.ids.no_ticket.text, "where": d.screen.ids.where.text,
                    "documents": d.screen.ids.documents.text}
                d.tap(d.screen.ids.done)
            else:
                d.tap(screen.ids.back)
                yield d.at("services")
                app.reset()
            yield d.at("welcome")
    # a suspended service: its button says so, touching it says why; no ticket
    yield from _to_service(d, suspended, "start_en")
    yield d.at("suspended")
    yield Sleep(0.3)
    d.shot(f"suspended-{tag}")
    _measure_text(d, data, f"suspended-{tag}-en")
    data["suspended_en"] = {"no_ticket": d.screen.ids.no_ticket.text, "reason": d.screen.ids.reason.text}
    d.tap(d.screen.ids.header.ids.lang_button)
    yield Wait(lambda: app.model.language == "sw", "Kiswahili")
    yield Sleep(0.3)
    d.shot(f"suspended-{tag}-sw")
    _measure_text(d, data, f"suspended-{tag}-sw")
    data["suspended_sw"] = {"no_ticket": d.screen.ids.no_ticket.text, "reason": d.screen.ids.reason.text}
    d.tap(d.screen.ids.other)
    yield d.at("services")
    yield Sleep(0.4)
    data["suspended_button"] = _service(d, suspended).text
    app.reset()
    data["issue_calls_before_ticket"] = app.issue_calls
    # one ticket for the longest service, in Kiswahili: the paper carries its checklist and fee
    yield from _to_service(d, longest, "start_sw")
    yield d.at("needs")
    yield _fitted(d.screen)
    d.tap(d.screen.ids.have)
    yield d.at("priority")
    d.tap(d.screen.ids.priority_none)
    # the passport has a fee (issue 20): "Pay now" is asked only while M-Pesa can be reached (this test's
    # centre has no M-Pesa beside it); where it is asked, this citizen pays at the counter
    yield Wait(lambda: app.sm.current in ("phone", "pay_choice"), "after priority")
    if app.sm.current == "pay_choice":
        yield d.at("pay_choice")  # read before touched, as a citizen does
        d.tap(d.screen.ids.pay_counter)
    yield d.at("phone")
    d.tap(d.screen.ids.skip)
    yield d.at("confirm")
    d.tap(d.screen.ids.confirm)
    yield d.at("ticket")
    yield Sleep(0.3)
    data["ticket"] = _ticket_data(app)
    data["issue_calls"] = app.issue_calls


def no_documents_idle(d):
    """"I don't have these", then the citizen walks away: the kiosk returns to welcome by itself."""
    app = d.app
    data = d.result["data"]
    sid = os.environ["KIOSK_SERVICE"]
    yield d.at("welcome")
    yield _ready(app)
    yield Wait(lambda: app.model.catalogue is not None, "the catalogue")
    yield from _to_service(d, sid, "start_sw")
    yield d.at("needs")
    d.tap(d.screen.ids.dont_have)
    yield d.at("no_documents")
    data["service_on_screen"] = app.model.service_id
    yield d.at("welcome", timeout=app.kconfig.kiosk.idle_timeout_s + 10)
    data.update(language_after=app.model.language, service_after=app.model.service_id,
                issue_calls=app.issue_calls)


# -- access for every citizen (issue 23) ------------------------------------------------------------
A11Y_MODES = {"normal": (), "large": ("large_text",), "contrast": ("high_contrast",), "low": ("low_layout",),
              "all": ("large_text", "high_contrast", "low_layout")}


def _overflows(screen) -> list[dict]:
    """Every label on show whose text is bigger than its place (cut off, or spilling over)."""
    from kivy.core.text.markup import MarkupLabel as CoreMarkupLabel
    from kivy.uix.label import Label

    from kiosk.screens import _shown

    bad = []
    for w in screen.walk(restrict=True):
        if not isinstance(w, Label) or not w.text or not _shown(w):
            continue
        w.texture_update()
        tw, th = w.texture_size
        cut = False
        if w.text_size[0] is not None and w.text_size[1] is not None:  # lines past the box are dropped silently
            free = CoreMarkupLabel(text=w.text, font_size=w.font_size, font_name=w.font_name, bold=w.bold,
                                   text_size=(w.text_size[0], None), padding=w.padding, halign=w.halign)
            free.refresh()
            cut = free.texture.size[1] > w.text_size[1] + 2
        if cut or tw > w.width + 2 or th > w.height + 2:
            bad.append({"text": w.text[:80], "texture": [tw, th], "size": [w.width, w.height], "cut": cut,
                        "widget": type(w).__name__, "font": w.font_size, "text_size": list(w.text_size)})
    return bad


def _controls_above(d, share: float) -> list[str]:
    """Buttons on show whose top is above the lower ``share`` of the window (the low layout's promise)."""
    from kivy.uix.button import Button

    from kiosk.screens import _shown

    limit = d.app.root.height * share + 1
    return [w.text[:40] for w in d.screen.walk(restrict=True)
            if isinstance(w, Button) and _shown(w) and w.to_window(w.x, w.top)[1] > limit]


def _all_fitted(screen) -> bool:
    """Every fitting label on show fitted at its current size (a page rebuilt by a service update fits its
    new buttons on the next frame; on a loaded machine that frame can come after a fixed sleep)."""
    from kiosk.screens import FitsText, _shown

    return all(w._fit_event is None and w.fitted_size == (w.width, w.height)
               for w in screen.walk(restrict=True) if isinstance(w, FitsText) and w.text and _shown(w))


def _drawn_box(w) -> tuple[float, float, float, float]:
    """Where a label's words are drawn, in window coordinates: the lines' own extent (a label with a fixed
    text box has a texture as big as the box, mostly empty), placed by halign/valign inside the texture,
    which Kivy centres on the label; clipped by the scroll views it lies in."""
    from kivy.uix.scrollview import ScrollView

    cx, cy = w.to_window(*w.center)
    tw, th = w.texture_size
    cw, ch = w._label._internal_size  # the lines as laid out (Kivy keeps no public name for it)
    cw, ch = min(cw, tw), min(ch, th)
    left, bottom = cx - tw / 2, cy - th / 2
    x0 = {"left": left, "right": left + tw - cw}.get(w.halign, cx - cw / 2)
    y0 = {"top": bottom + th - ch, "bottom": bottom}.get(w.valign, cy - ch / 2)
    box = [x0, y0, x0 + cw, y0 + ch]
    node = w.parent
    while node is not None and node is not node.parent:
        if isinstance(node, ScrollView):
            sx, sy = node.to_window(node.x, node.y)
            box = [max(box[0], sx), max(box[1], sy), min(box[2], sx + node.width), min(box[3], sy + node.height)]
        node = node.parent
    return box[0], box[1], box[2], box[3]


def _overlaps(screen) -> list[dict]:
    """Text on show drawn over a button, or over other text ("spills over the title" is overlap, not just
    overflow): each label's drawn text against every button's rectangle and every other label's text.
    The "More below" band lies over the cut-off row on purpose and is left out."""
    from kivy.uix.button import Button
    from kivy.uix.label import Label

    from kiosk.screens import _shown

    def inside_button(w) -> bool:
        node = w.parent
        while node is not None and node is not node.parent:
            if isinstance(node, Button):
                return True
            node = node.parent
        return False

    shown = [w for w in screen.walk(restrict=True) if isinstance(w, Label) and _shown(w)]
    hint = screen.ids.get("more_hint")
    band = hint.proxy_ref if hint is not None else None  # ids hold weak proxies
    texts = [w for w in shown if w.text.strip() and not isinstance(w, Button) and w.proxy_ref is not band
             and not inside_button(w)]
    for w in texts:
        w.texture_update()
    buttons = [w for w in shown if isinstance(w, Button)]

    def meet(a, b) -> bool:  # an empty (clipped away) box meets nothing
        return (a[0] < a[2] and a[1] < a[3]
                and a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1)

    bad = []
    for i, w in enumerate(texts):
        box = _drawn_box(w)
        for b in buttons:
            x, y = b.to_window(b.x, b.y)
            if meet(box, (x, y, x + b.width, y + b.height)):
                bad.append({"text": w.text[:60], "over": b.text[:40]})
        for o in texts[i + 1:]:
            if meet(box, _drawn_box(o)):
                bad.append({"text": w.text[:60], "over": o.text[:40]})
    return bad


def _look(d, data: dict, name: str, low: bool):
    yield Sleep(0.4)
    yield Wait(lambda: _all_fitted(d.screen), "labels fitted", 10)
    d.shot(name)
    data["overflows"][name] = _overflows(d.screen)
    if low:
        from kiosk.access import low_share

        data["above"][name] = _controls_above(d, low_share(d.app.portrait))


def a11y_modes(d):
    """Each mode (and all at once), in both languages: welcome, categories, services, needs, "Anything else
    today?", priority, phone, confirm, the ticket and the fee's screens screenshotted and measured; the modes
    stay through the journey and go at the reset for the next one."""
    app = d.app
    data = d.result["data"]
    data.update(overflows={}, above={}, modes_after_reset={}, more_hints={}, overlaps={}, more_room={}, summaries={})

    def hint(name: str) -> None:  # a list longer than its view says "More below" while something is below
        screen = app.sm.current_screen
        screen.check_more()
        data["more_hints"][name] = [screen.overflowing, screen.ids.more_hint.text]
    sid = os.environ.get("KIOSK_SERVICE", "id-card-new")
    tag = os.environ.get("KIOSK_TAG", "landscape")
    yield d.at("welcome")
    yield _ready(app)
    yield Wait(lambda: app.model.catalogue is not None, "the catalogue")
    for mode, toggles in A11Y_MODES.items():
        low = "low_layout" in toggles
        for lang, start in (("en", "start_en"), ("sw", "start_sw")):
            yield d.at("welcome")
            for t in toggles:
                d.tap(d.screen.ids[{"large_text": "mode_large", "high_contrast": "mode_contrast",
                                    "low_layout": "mode_low"}[t]])
                yield Sleep(0.1)
            yield from _look(d, data, f"a11y-{tag}-{mode}-welcome", low)
            if mode == "all" and lang == "en":
                # the day closes, or the kiosk fails, while a citizen's modes are still on (they stay until the
                # idle reset): both screens fit, nothing drawn over anything
                for page in ("closed", "out_of_service"):
                    app.sm.current = page
                    yield d.at(page)
                    yield from _look(d, data, f"a11y-{tag}-{mode}-{page}", low)
                    data["overlaps"][f"a11y-{tag}-{mode}-{page}"] = _overlaps(d.screen)
                app.sm.current = "welcome"
                yield d.at("welcome")
            d.tap(d.screen.ids[start])
            yield d.at("categories")
            yield from _look(d, data, f"a11y-{tag}-{mode}-{lang}-categories", low)
            hint(f"{mode}-{lang}-categories")
            d.tap(d.find(d.screen.ids.grid, value=app.model.services[sid].category))
            yield d.at("services")
            yield from _look(d, data, f"a11y-{tag}-{mode}-{lang}-services", low)
            hint(f"{mode}-{lang}-services")
            d.tap(_service(d, sid))
            # all three modes: a second service on the ticket, so the confirmation has its longest summary
            yield from _journey_on(d, data, f"a11y-{tag}-{mode}-{lang}", f"{mode}-{lang}", low, add=mode == "all")
            yield from _pay_screens(d, data, f"a11y-{tag}-{mode}-{lang}", low)
            data["modes_after_reset"][f"{mode}-{lang}-journey"] = [getattr(app, t) for t in toggles]
            app.reset()  # as the idle reset does: the next citizen
            yield d.at("welcome")
            data["modes_after_reset"][f"{mode}-{lang}"] = [app.large_text, app.high_contrast, app.low_layout]


def _journey_on(d, data: dict, shot: str, key: str, low: bool, add: bool = False):
    """After the service: "What you need", "Anything else today?" (``add``: the first service offered added
    to the ticket), priority, phone, confirm and the ticket, each looked at (as ``_look``) and checked for
    text drawn over buttons or other text (yield from)."""
    app = d.app
    seen: set[str] = set()

    def look(page: str):
        yield from _look(d, data, f"{shot}-{page}", low)
        data["overlaps"][f"{shot}-{page}"] = _overlaps(d.screen)
        seen.add(page)

    while True:  # needs and more in the order the app brings them (needs twice after a visit's "more")
        yield Wait(lambda: app.sm.current in ("needs", "more", "priority"), "needs, more or priority")
        page = app.sm.current
        yield d.at(page)
        if page == "priority":
            break
        if page not in seen:
            yield from look(page)
        if page == "more":
            app.sm.current_screen.check_more()
            data["more_hints"][f"{key}-more"] = [d.screen.overflowing, d.screen.ids.more_hint.text]
            # the choices get at least one whole row of room, not a strip under the "More below" band
            data["more_room"][key] = [d.screen.ids.scroll.height, d.screen.ids.grid.row_default_height]
            if add:
                first = list(reversed(d.screen.ids.grid.children))[0]
                d.tap(first)
                yield Wait(lambda: app.model.visit_next == [first.value], "a second service on the ticket")
                if app.sm.current == "more":
                    yield Sleep(0.3)
                    d.tap(d.screen.ids.done)
            else:
                d.tap(d.screen.ids.done)
        else:
            d.tap(d.screen.ids.have)
        yield Wait(lambda: app.sm.current != page, f"past {page}")
    yield from look("priority")
    d.tap(d.screen.ids.priority_none)
    yield d.at("phone")
    yield from look("phone")
    d.tap(d.screen.ids.skip)
    yield d.at("confirm")
    yield from look("confirm")
    data["summaries"][key] = d.screen.ids.summary.text
    d.tap(d.screen.ids.confirm)
    yield d.at("ticket")
    yield from look("ticket")


def _pay_screens(d, data: dict, shot: str, low: bool):
    """The fee's screens as a citizen with these modes meets them (the ticket just issued): the choice, the
    phone for the prompt with a wrong number's error, the wait (a countdown), and its longest words (M-Pesa's
    silence); each looked at and checked for text drawn over buttons or other text (yield from)."""
    from centre_server.contract.payments import failure_reason

    app = d.app
    pay = app.payment
    pay.amount_ksh, pay.choice = 1000, "mpesa"
    pay.reason_en, pay.reason_sw = failure_reason("expired")
    steps = {"pay_choice": ("pay_choice", {}),
             "pay_phone": ("pay_phone", {"phone": "07123", "invalid": True}),
             "paying": ("paying", {"phone": "0712345678", "invalid": False, "state": "pending", "left_s": 90}),
             "pay_failed": ("paying", {"state": "failed"})}
    for name, (page, fields) in steps.items():
        for field, value in fields.items():
            setattr(pay, field, value)
        app.sm.current = page
        yield d.at(page)
        yield from _look(d, data, f"{shot}-{name}", low)
        data["overlaps"][f"{shot}-{name}"] = _overlaps(d.screen)
    pay.reset()
    app.sm.current = "ticket"
    yield d.at("ticket")


def _key(name: str) -> None:
    """A physical key, as the keypad or a big help button sends it, through the window."""
    from kivy.core.window import Keyboard, Window

    code = Keyboard.keycodes[name]
    Window.dispatch("on_key_down", code, 0, name if len(name) == 1 else None, [])
    Window.dispatch("on_key_up", code, 0)


def _choose_by_number(d, widget) -> None:
    """The number the kiosk read out for ``widget``, pressed on the keypad (as a listening citizen would)."""
    from kiosk.screens import spoken_screen

    options = spoken_screen(d.screen, d.app, options_only=True)
    n = options.index(widget) + 1
    assert n <= 9, f"{widget.text!r} is choice {n}: beyond the keypad"
    _key(str(n))


def a11y_keys(d):
    """A whole ticket with the help key and number keys only: each screen read (a WAV each), large text
    chosen by its number on welcome, the ticket read back, then the next citizen gets no modes."""
    app = d.app
    data = d.result["data"]
    sid = os.environ.get("KIOSK_SERVICE", "id-card-new")
    help_key = app.kconfig.kiosk.help_key
    screens = []

    def heard(n: int):
        return Wait(lambda: len(app.speaker.spoken) >= n, f"{n} utterances spoken", timeout=60)

    yield d.at("welcome")
    yield _ready(app)
    yield Wait(lambda: app.model.catalogue is not None, "the catalogue")
    lang = os.environ.get("KIOSK_LANG", "en")
    modes = os.environ.get("KIOSK_MODES", "large_text").split(",")
    _key(help_key)  # welcome: Kiswahili then English
    screens.append("welcome")
    yield heard(2)
    for mode in modes:  # each mode chosen by its number, as read
        _choose_by_number(d, d.screen.ids[{"large_text": "mode_large", "high_contrast": "mode_contrast",
                                           "low_layout": "mode_low"}[mode]])
        yield Wait(lambda m=mode: getattr(app, m), f"{mode} by key")
        yield Sleep(0.3)
    d.shot(f"a11y-keys-{lang}-welcome")
    _choose_by_number(d, d.screen.ids[f"start_{lang}"])
    yield d.at("categories")
    d.shot(f"a11y-keys-{lang}-categories")
    yield Sleep(0.5)  # the new screen is read by itself after a number key
    screens.append("categories")
    yield heard(3)
    _choose_by_number(d, d.find(d.screen.ids.grid, value=app.model.services[sid].category))
    yield d.at("services")
    yield Sleep(0.5)
    screens.append("services")
    yield heard(4)
    _choose_by_number(d, _service(d, sid))
    yield d.at("needs")
    yield Sleep(0.5)
    screens.append("needs")
    yield heard(5)
    _key("0")  # back to the services, then forward again
    yield d.at("services")
    yield Sleep(0.5)
    _choose_by_number(d, _service(d, sid))
    yield d.at("needs")
    yield Sleep(0.5)
    _choose_by_number(d, d.screen.ids.have)
    yield d.at("priority")
    yield Sleep(0.5)
    screens.append("priority")
    n = len(app.speaker.spoken)
    _key(help_key)  # asked again: the same screen, read again
    yield heard(n + 1)
    _choose_by_number(d, d.screen.ids.priority_elderly)
    yield d.at("phone")
    yield Sleep(0.5)
    screens.append("phone")
    # the phone typed by touch on the keypad: each digit said back, then the help key reads the whole entry
    for digit in "0712345678":
        n = len(app.speaker.spoken)
        d.tap(d.find(d.screen.ids.keypad, key=digit))
        yield heard(n + 1)
    data["digits_said"] = [text for _l, text, _w in app.speaker.spoken[-10:]]
    n = len(app.speaker.spoken)
    _key(help_key)
    yield heard(n + 1)
    data["phone_read"] = app.speaker.spoken[-1][1]
    d.shot(f"a11y-keys-{lang}-phone")
    _choose_by_number(d, d.screen.ids.done)
    yield d.at("confirm")
    yield Sleep(0.5)
    screens.append("confirm")
    _choose_by_number(d, d.screen.ids.confirm)
    yield d.at("ticket", timeout=60)
    d.shot(f"a11y-keys-{lang}-ticket-at-once")
    number = app.model.ticket.number
    yield Wait(lambda: any(", ".join(number) in text for _l, text, _w in app.speaker.spoken),
               "the ticket number read back", timeout=60)
    yield Sleep(0.3)
    d.shot(f"a11y-keys-{lang}-ticket")
    screens.append("ticket")
    data.update(screens=screens, spoken=app.speaker.spoken, number=number, priority=app.model.ticket.priority,
                modes_on_ticket=[getattr(app, m) for m in modes])
    yield d.at("welcome", timeout=app.kconfig.kiosk.ticket_screen_s + 10)
    data["modes_after"] = [app.large_text, app.high_contrast, app.low_layout, app.audio_used]


def a11y_idle(d):
    """A citizen in high contrast stops touching: "Are you still there?" with a countdown; "Yes" keeps
    the screen; then nobody answers: welcome, modes off."""
    app = d.app
    data = d.result["data"]
    yield d.at("welcome")
    yield _ready(app)
    d.tap(d.screen.ids.mode_contrast)
    d.tap(d.screen.ids.start_sw)
    yield d.at("categories")
    yield Wait(lambda: app.idle_warning, "the idle warning", timeout=app.kconfig.kiosk.idle_timeout_s + 5)
    # said aloud in the chosen language though this citizen never asked for the voice
    yield Wait(lambda: any("Bado upo" in text for _l, text, _w in app.speaker.spoken), "the warning said", 30)
    data["warning_said"] = [(lang, text) for lang, text, _w in app.speaker.spoken]
    yield Sleep(0.6)
    d.shot("a11y-idle-warning-sw")
    data["countdown"] = app.idle_overlay.ids.idle_countdown.text
    data["title"] = app.idle_overlay.ids.idle_title.text
    d.tap(app.idle_overlay.ids.idle_yes)
    yield Sleep(0.3)
    data["after_yes"] = [app.idle_warning, app.sm.current, app.high_contrast]
    # the help key on the warning: the citizen is there, and hears the screen they were on
    yield Wait(lambda: app.idle_warning, "the idle warning (help key)", timeout=app.kconfig.kiosk.idle_timeout_s + 5)
    n = len(app.speaker.spoken)
    _key(app.kconfig.kiosk.help_key)
    yield Wait(lambda: len(app.speaker.spoken) > n, "the screen read after the help key", 30)
    data["after_help"] = [app.idle_warning, app.sm.current, app.speaker.spoken[-1][0], app.speaker.spoken[-1][1]]
    yield Wait(lambda: app.idle_warning, "the idle warning again", timeout=app.kconfig.kiosk.idle_timeout_s + 5)
    yield d.at("welcome", timeout=app.kconfig.kiosk.idle_timeout_s + 5)
    data["after_reset"] = [app.idle_warning, app.high_contrast, app.model.language]


def _visit_journey(d, start: str, tag: str):
    """Welcome -> a new ID, then a KRA PIN added on "Anything else today?" -> the ticket (yield from)."""
    app = d.app
    yield d.at("welcome")
    yield _ready(app)
    d.tap(d.screen.ids[start])
    yield d.at("categories")
    d.tap(d.find(d.screen.ids.grid, value=app.model.services["id-card-new"].category))
    yield d.at("services")
    yield Sleep(0.3)
    d.tap(_service(d, "id-card-new"))
    yield Wait(lambda: app.sm.current in ("needs", "more"), "needs or more")
    if app.sm.current == "needs":
        yield d.at("needs")
        d.tap(d.screen.ids.have)
    yield d.at("more")
    yield Sleep(0.3)
    d.shot(f"visit-more-{tag}")
    d.result["data"][f"offered_{tag}"] = [w.value for w in reversed(d.screen.ids.grid.children)]
    d.result["data"][f"done_one_{tag}"] = d.screen.ids.done.text
    d.tap(d.find(d.screen.ids.grid, value="kra-pin"))
    yield Wait(lambda: app.model.visit_next == ["kra-pin"], "KRA PIN added")
    yield Sleep(0.3)
    d.shot(f"visit-more-added-{tag}")
    d.result["data"][f"offered_after_{tag}"] = [w.value for w in reversed(d.screen.ids.grid.children)]
    d.result["data"][f"done_two_{tag}"] = d.screen.ids.done.text
    d.tap(d.screen.ids.done)
    # "What you need" for every service on the ticket, each under its name; scrolled to its end when long
    yield d.at("needs")
    yield Sleep(0.5)
    screen = d.screen
    d.shot(f"visit-needs-{tag}")
    d.result["data"][f"needs_{tag}"] = {"service": screen.ids.service.text, "documents": screen.ids.documents.text,
                                        "facts": screen.ids.facts.text, "overflow": screen.overflow,
                                        "font": screen.font, "have": screen.ids.have.text,
                                        "orientation": screen.ids.content.orientation}
    if screen.overflow:
        screen.ids.scroll.scroll_y = 0
        yield Sleep(0.4)
        d.shot(f"visit-needs-{tag}-end")
    d.tap(screen.ids.have)
    yield d.at("priority")
    d.tap(d.screen.ids.priority_none)
    yield d.at("phone")
    d.tap(d.screen.ids.skip)
    yield d.at("confirm")
    yield Sleep(0.3)
    d.shot(f"visit-confirm-{tag}")
    d.result["data"][f"confirm_{tag}"] = d.screen.ids.summary.text
    d.tap(d.screen.ids.confirm)
    yield d.at("ticket")
    yield Sleep(0.5)
    d.shot(f"visit-ticket-{tag}")
    d.result["data"][f"ticket_{tag}"] = _ticket_data(app)
    d.tap(d.screen.ids.done)
    yield d.at("welcome")


def visit_two_services(d):
    """One ticket for a new ID and a KRA PIN: in English, then in Kiswahili with large text."""
    yield from _visit_journey(d, "start_en", "en")
    d.app.toggle_mode("large_text")
    yield Sleep(0.3)
    yield from _visit_journey(d, "start_sw", "sw-large")


def pay_mpesa(d):
    """A service with a fee (issue 20): "Pay now with M-Pesa", a wrong then a right phone on the keypad,
    the prompt's screen, then the ticket printed with what M-Pesa answered (or "Print now, pay later").
    KIOSK_PAY_PHONE picks the simulated citizen's answer by its last digit; KIOSK_START the language;
    KIOSK_MODE the modes switched on at welcome (large_text, high_contrast, low_layout; comma-separated)."""
    app = d.app
    service_id = os.environ.get("KIOSK_SERVICE", "good-conduct")
    phone = os.environ["KIOSK_PAY_PHONE"]
    tag = os.environ.get("KIOSK_TAG", "en")
    data = d.result["data"]
    yield d.at("welcome")
    yield _ready(app)
    yield Wait(lambda: app.model.needs_of(service_id) is not None, "the catalogue (the fee) known")
    yield Wait(lambda: app.pay.mpesa is True, "the centre's word: M-Pesa can be offered")
    for mode in filter(None, os.environ.get("KIOSK_MODE", "").split(",")):
        app.toggle_mode(mode)
    d.tap(d.screen.ids[os.environ.get("KIOSK_START", "start_en")])
    yield d.at("categories")
    d.tap(d.find(d.screen.ids.grid, value=app.model.services[service_id].category))
    yield d.at("services")
    yield Sleep(0.3)
    d.tap(_service(d, service_id))
    yield from _past_needs(d)
    d.tap(d.screen.ids.priority_none)
    yield d.at("pay_choice")
    yield Sleep(0.3)
    d.shot(f"pay-choice-{tag}")
    data["fee_text"] = d.screen.ids.fee.text
    data["modes"] = {"text_scale": app.text_scale, "high_contrast": app.high_contrast, "portrait": app.portrait}
    data["choice_texts"] = [d.screen.ids.pay_now.text, d.screen.ids.pay_counter.text]
    data["fits"] = [_fits(d.screen.ids[w]) for w in ("fee", "sub", "pay_now", "pay_counter")]
    d.tap(d.screen.ids.pay_now)
    yield d.at("pay_phone")
    keypad = d.screen.ids.keypad
    yield from d.keypad_type(keypad, "0812")
    d.tap(d.screen.ids.done)
    yield Wait(lambda: app.payment.invalid, "a short number refused")
    yield Sleep(0.2)
    d.shot(f"pay-phone-invalid-{tag}")
    data["invalid_refused"] = app.sm.current == "pay_phone"
    yield from d.keypad_type(keypad, "<<<<" + phone)
    d.tap(d.screen.ids.done)
    yield d.at("phone")  # the SMS number: offered the same one
    data["sms_phone_offered"] = app.model.phone
    d.tap(d.screen.ids.done)
    yield d.at("confirm")
    yield Sleep(0.3)
    yield Wait(lambda: _all_fitted(d.screen), "labels fitted", 10)
    d.shot(f"pay-confirm-{tag}")
    data["confirm_text"] = d.screen.ids.summary.text
    # the fee line too fits its box, under neither the title nor "Print my ticket"
    data["confirm_bad"] = _overflows(d.screen) + _overlaps(d.screen)
    d.tap(d.screen.ids.confirm)
    # a refusal (payments off) may print at once: the prompt's screen, or already the ticket
    yield Wait(lambda: app.sm.current in ("paying", "ticket"), "the prompt's screen or the ticket", 20)
    yield Wait(lambda: app.payment.state in ("pending", "paid", "failed") or app.sm.current == "ticket",
               "the prompt sent")
    if app.sm.current == "paying":
        yield Sleep(0.2)
        d.shot(f"paying-{tag}")
        data["paying_text"] = d.screen.ids.message.text
        data["paying_fits"] = [_fits(d.screen.ids[w]) for w in ("message", "progress", "print_now")]
        if os.environ.get("KIOSK_PRINT_NOW"):  # (this citizen never answers the prompt: it stays)
            yield d.at("paying")  # a finger that reads first: a tap within the double-tap guard is ignored
            d.tap(d.screen.ids.print_now)
    yield d.at("ticket", timeout=70)
    yield Wait(lambda: not app.printing_ticket, "printed", timeout=30)
    yield Sleep(0.3)
    d.shot(f"pay-ticket-{tag}")
    data["ticket"] = _ticket_data(app)
    data["payment"] = {"state": app.payment.state, "receipt": app.payment.receipt, "choice": app.payment.choice}
    data["ticket_text"] = d.screen.ids.details.text
    data["printed"] = app.model.printed


def _lines(label) -> list[str]:
    """The lines a wrapped label shows, as Kivy laid them out."""
    label.texture_update()
    return ["".join(word.text for word in line.words) for line in label._label._cached_lines]


def _fits(label) -> bool:
    """A label's text inside its widget (wrapped text may not be taller than its place)."""
    tw, th = label.texture_size
    return tw <= label.width + 1 and th <= label.height + 1


def _after_priority(d, service_id: str, shot: str):
    """Welcome -> the screen after priority for a service with a fee (use with yield from); its name."""
    app = d.app
    yield from _to_service(d, service_id, "start_en")
    yield from _past_needs(d)
    d.tap(d.screen.ids.priority_none)
    yield Wait(lambda: app.sm.current in ("phone", "confirm", "pay_choice"), "after priority")
    yield Sleep(0.3)
    d.shot(shot)
    return app.sm.current


def pay_unavailable(d):
    """A centre that cannot take M-Pesa now ([payments] off, or M-Pesa out of reach): the kiosk knows it from
    the start and never offers "Pay now". With KIOSK_AGAIN, it then marks "first" and the test brings M-Pesa
    back; the link reconnecting makes the kiosk ask again, and the next citizen is offered M-Pesa."""
    app = d.app
    service_id = "good-conduct"
    tag = os.environ.get("KIOSK_TAG", "off")
    data = d.result["data"]
    yield d.at("welcome")
    yield _ready(app)
    yield Wait(lambda: app.model.needs_of(service_id) is not None, "the catalogue (the fee) known")
    yield Wait(lambda: app.pay.mpesa is False, "the centre's word: no M-Pesa now", 40)
    data["first_after_priority"] = yield from _after_priority(d, service_id, f"pay-unavailable-{tag}")
    app.start_again()
    if not os.environ.get("KIOSK_AGAIN"):
        return
    d.mark("first")  # the test brings M-Pesa back

    def reconnected() -> bool:  # what the MQTT link reports on coming back, until M-Pesa is in reach again
        if app.pay.mpesa is not True:
            app._mqtt_connection(True)
        return app.pay.mpesa is True

    yield Wait(reconnected, "M-Pesa offered again", 90)
    data["second_after_priority"] = yield from _after_priority(d, service_id, f"pay-available-again-{tag}")


def _centre_of(widget) -> tuple[float, float]:
    return widget.to_window(*widget.center)


def double_tap(d):
    """Two taps 80 ms apart, as an impatient finger: on a category, then on "I have these" (where the next
    screen has "Back"). The second touch must press nothing on the screen the first one opened."""
    app = d.app
    data = d.result["data"]
    sid = os.environ.get("KIOSK_SERVICE", "id-card-new")
    yield d.at("welcome")
    yield _ready(app)
    yield Wait(lambda: app.model.catalogue is not None, "the catalogue")
    d.tap(d.screen.ids.start_en)
    yield d.at("categories")
    yield Sleep(0.3)
    x, y = _centre_of(d.find(d.screen.ids.grid, value=app.model.services[sid].category))
    d.tap_at(x, y)
    yield Sleep(0.08)
    d.tap_at(x, y)  # the second tap of the double tap: the service list is under it now
    yield Sleep(0.6)
    data["after_category"] = app.sm.current
    data["service_after_category"] = app.model.service_id
    data["ignored"] = app.ignored_touches
    d.shot("double-tap-services")
    yield d.at("services")
    # once through "What you need" and priority: the kiosk has laid priority out, as on any later citizen
    d.tap(_service(d, sid))
    yield d.at("needs")
    d.tap(d.screen.ids.have)
    yield d.at("priority")
    back = d.screen.ids.back
    data["back_box"] = [*back.to_window(back.x, back.y), back.width, back.height]
    d.tap(back)
    for gap, name in ((0.08, "have"), (0.25, "have_slow")):  # 80 ms, then a slower double tap
        yield d.at("services")
        d.tap(_service(d, sid))
        yield d.at("needs")
        yield Sleep(0.3)
        have = _centre_of(d.screen.ids.have)
        data["have_at"] = list(have)
        d.tap_at(*have)
        yield Sleep(gap)
        d.tap_at(*have)  # where priority's "Back" is
        yield Sleep(0.6)
        data[f"after_{name}"] = app.sm.current
        data[f"ignored_{name}"] = app.ignored_touches
        d.shot(f"double-tap-{name}")
        if app.sm.current == "priority":
            yield d.at("priority")
            d.tap(d.screen.ids.back)
    # the deliberate tap on "Back" a moment later worked as always: the guard is only for the double tap
    yield d.at("services")
    data["after_back"] = app.sm.current
    data["ignored_total"] = app.ignored_touches


def _title_sizes(screen) -> list[dict]:
    """Each choice button's title size (its font, in px) beside its subtitle's ([size=..sp] markup)."""
    import re

    from kivy.metrics import sp

    from kiosk.screens import FitButton

    rows = []
    for b in screen.ids.grid.children:
        if not isinstance(b, FitButton):
            continue
        m = re.search(r"\[size=(\d+)sp\]", b.text)
        sub = sp(int(m.group(1))) if m else 0.0
        rows.append({"value": b.value, "title_px": float(b.font_size), "subtitle_px": float(sub),
                     "fits": b.fits, "size": [b.width, b.height]})
    return rows


def _rows_visible(screen) -> dict:
    """How many rows of choices the view shows whole, and whether any is cut by its edge."""
    scroll, grid = screen.ids.scroll, screen.ids.grid
    sy = scroll.to_window(scroll.x, scroll.y)[1]
    top = sy + scroll.height
    whole, cut = set(), set()
    for b in grid.children:
        y = b.to_window(b.x, b.y)[1]
        if y >= sy - 1 and y + b.height <= top + 1:
            whole.add(round(y))
        elif y < top and y + b.height > sy:
            cut.add(round(y))
    return {"whole_rows": len(whole), "cut_rows": len(cut), "view": scroll.height,
            "row": grid.row_default_height, "more_below": screen.more_below,
            "hint": screen.ids.more_hint.text, "count": len(grid.children)}


def large_low_sw(d):
    """Large text + high contrast + controls low in Kiswahili: the categories and "More below"; then all
    three off again (as a citizen did) and a category's services: titles at their size, above subtitles."""
    app = d.app
    data = d.result["data"]
    from kivy.metrics import sp

    data["sp28"] = sp(28)
    yield d.at("welcome")
    yield _ready(app)
    modes = ("mode_large", "mode_contrast", "mode_low")
    for mode in modes:
        d.tap(d.screen.ids[mode])
        yield Sleep(0.1)
    d.tap(d.screen.ids.start_sw)
    yield d.at("categories")
    yield Sleep(0.6)
    data["large_low_categories"] = _rows_visible(d.screen)
    data["large_low_category_titles"] = _title_sizes(d.screen)
    d.shot("large-low-sw-categories")
    d.screen.ids.scroll.scroll_y = 0  # slid to the end: the last row whole, the hint gone
    yield Sleep(0.4)
    d.screen.check_more()
    data["large_low_categories_end"] = _rows_visible(d.screen)
    d.shot("large-low-sw-categories-end")
    d.tap(d.screen.ids.back)  # "Start again": the same citizen, modes kept
    yield d.at("welcome")
    data["large_after_back"] = app.large_text
    for mode in modes:  # all off again
        d.tap(d.screen.ids[mode])
        yield Sleep(0.1)
    data["large_after_off"] = app.large_text
    d.tap(d.screen.ids.start_sw)
    yield d.at("categories")
    yield Sleep(0.6)
    data["low_category_titles"] = _title_sizes(d.screen)
    data["low_services"] = []
    from kiosk.screens import _shown

    shown = [b.value for b in reversed(d.screen.ids.grid.children) if _shown(b)]  # the categories in view
    data["categories_tapped"] = shown
    for i, cat in enumerate(shown):
        d.tap(d.find(d.screen.ids.grid, value=cat))
        yield d.at("services")
        yield Sleep(0.4)
        data["low_services"] += _title_sizes(d.screen)
        if i == 0:
            d.shot("sw-services-after-large-off")
        d.tap(d.screen.ids.back)
        yield d.at("categories")
    d.tap(d.screen.ids.back)
    yield d.at("welcome")
    d.tap(d.screen.ids.mode_large)  # and large text alone, for the comparison
    d.tap(d.screen.ids.start_sw)
    yield d.at("categories")
    data["top_after_start_again"] = d.screen.ids.scroll.scroll_y  # the list starts at its top again
    d.tap(d.find(d.screen.ids.grid, value=app.model.categories()[0]))
    yield d.at("services")
    yield Sleep(0.4)
    data["large_services"] = _title_sizes(d.screen)
    d.shot("large-sw-services")


def not_registered(d):
    """A kiosk whose token the centre refuses: out of service at once, both languages, nothing to walk through.
    ``KIOSK_REVOKE``: it starts registered; the test revokes it while it waits on welcome."""
    app = d.app
    data = d.result["data"]
    if os.environ.get("KIOSK_REVOKE"):
        yield d.at("welcome")
        yield _ready(app)
        d.mark("ready")
        yield d.go_signal("revoked")
        revoked_at = time.monotonic()
    else:
        revoked_at = time.monotonic()
    yield Wait(lambda: app.sm.current == "out_of_service", "out of service", 15)
    data["seconds"] = round(time.monotonic() - revoked_at, 2)
    yield Sleep(0.5)
    data["fault"] = app.model.device_fault
    data["texts"] = [w.text for w in d.screen.walk(restrict=True) if getattr(w, "text", "")]
    data["overflows"] = _overflows(d.screen)
    d.shot("not-registered" + ("-revoked" if os.environ.get("KIOSK_REVOKE") else ""))
    # a citizen touching the screen goes nowhere, and nothing is asked of the server
    d.tap_at(app.root.width / 2, app.root.height / 2)
    yield Sleep(1.5)
    data["after_touch"] = app.sm.current
    data["issue_calls"] = app.issue_calls


def _confirm_while_frozen(d, seen: list[str]):
    """Welcome to "Print my ticket" touched once the test has frozen the server; every screen shown from then
    on goes into ``seen`` (use with yield from)."""
    app = d.app
    yield d.at("welcome")
    yield _ready(app)
    yield from _to_confirm(d, os.environ.get("KIOSK_SERVICE", "id-card-new"))
    d.mark("at_confirm")
    yield d.go_signal("frozen")
    app.sm.bind(current=lambda _sm, name: seen.append(name))
    d.tap(d.screen.ids.confirm)


def frozen_while_issuing(d):
    """Finding 7: the citizen confirms while the centre server is frozen (the test stops it). While the kiosk
    retries their ticket it says it is printing it, never "ask staff for a ticket"; the server answers
    (the test resumes it) and the ticket prints for the citizen still there."""
    app = d.app
    data = d.result["data"]
    seen: list[str] = []
    yield from _confirm_while_frozen(d, seen)
    yield Wait(lambda: not app.model.server_ok, "the server seen away", 30)
    yield Wait(lambda: app.sm.current != "confirm", "a screen for the citizen", 10)
    yield Sleep(0.3)
    data["while_away"] = app.sm.current
    data["texts_while_away"] = [w.text for w in d.screen.walk() if isinstance(getattr(w, "text", None), str)]
    d.shot("frozen-while-issuing")
    d.mark("away")
    yield d.go_signal("thawed")
    yield Wait(lambda: app.sm.current == "ticket", "the ticket", 30)
    yield Sleep(0.3)
    d.shot("frozen-then-ticket")
    data.update(seen=seen, ticket=_ticket_data(app), issue_calls=app.issue_calls)


def frozen_until_given_up(d):
    """Finding 7, the other end: the server stays frozen past the kiosk's last attempt. Only then out of
    service ("ask staff"); when the server answers again, the ticket it issued late is withdrawn."""
    app = d.app
    data = d.result["data"]
    seen: list[str] = []
    yield from _confirm_while_frozen(d, seen)
    yield Wait(lambda: app.sm.current == "out_of_service" and not app.model.issuing, "given up", 60)
    yield Sleep(0.3)
    d.shot("frozen-given-up")
    d.mark("gave_up")
    yield d.go_signal("thawed")
    yield Wait(lambda: app.withdrawn >= 1, "the given-up ticket withdrawn", 60)
    yield Wait(lambda: app.sm.current == "welcome", "welcome again", 30)
    data.update(seen=seen, issue_calls=app.issue_calls, ticket=_ticket_data(app))
