"""Every string of the channels (pages, SMS, USSD) in English and Kiswahili."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from centre_server.contract import SATISFACTION_LABELS, Satisfaction, day_words, satisfaction_scale

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "sw")

# key: (English, Kiswahili)
STRINGS: dict[str, tuple[str, str]] = {
    # pages
    "join_title": ("Join the queue", "Jiunge na foleni"),
    "join_intro": ("Take a ticket before you leave home. Check in at the kiosk with your code when you arrive.",
                   "Chukua tiketi kabla ya kuondoka nyumbani. Ukifika, jisajili kwenye kioski kwa nambari yako."),
    "service": ("Service", "Huduma"),
    "choose_service": ("Choose a service", "Chagua huduma"),
    "phone": ("Mobile number", "Nambari ya simu"),
    "phone_hint": ("For example 0712 345 678. We send your ticket by SMS.",
                   "Kwa mfano 0712 345 678. Tutakutumia tiketi kwa SMS."),
    "take_ticket": ("Take a ticket", "Chukua tiketi"),
    "waiting_now": ("{n} waiting, about {m} min", "{n} wanasubiri, takriban dak {m}"),
    "your_ticket": ("Your ticket", "Tiketi yako"),
    "check_in_code": ("Check-in code", "Nambari ya kujisajili"),
    "check_in_how": ("On arrival, type this code (or your phone number) at the kiosk. A ticket not checked in "
                     "when its turn comes is skipped.",
                     "Ukifika, andika nambari hii (au nambari yako ya simu) kwenye kioski. Tiketi isiyosajiliwa "
                     "ikifikiwa zamu yake inarukwa."),
    "people_ahead": ("People ahead of you", "Watu mbele yako"),
    "follow_ticket": ("Follow your ticket live", "Fuatilia tiketi yako moja kwa moja"),
    "book_title": ("Book an appointment", "Weka miadi"),
    "book_intro": ("Choose a service and a time. Come to the centre and check in at the kiosk with your code from "
                   "{early} minutes before your time.",
                   "Chagua huduma na muda. Fika kituoni ujisajili kwenye kioski kwa nambari yako kuanzia dakika "
                   "{early} kabla ya muda wako."),
    "next": ("Next", "Endelea"),
    "choose_time": ("Choose a time", "Chagua muda"),
    "choose_day": ("Day", "Siku"),
    "estimated_wait": ("Estimated wait", "Muda wa kusubiri"),
    "places_left": ("{n} left", "nafasi {n}"),
    "full": ("full", "imejaa"),
    "no_slots": ("No times are free in the next days for this service.",
                 "Hakuna nafasi katika siku zijazo kwa huduma hii."),
    "book_button": ("Book", "Weka miadi"),
    "booked_title": ("Appointment booked", "Miadi imewekwa"),
    "booking_code": ("Booking code", "Nambari ya miadi"),
    "when": ("When", "Lini"),
    "check_in_window": ("Check in at the kiosk between {start} and {end}.",
                        "Jisajili kwenye kioski kati ya saa {start} na {end}."),
    "cancel_appointment": ("Cancel this appointment", "Ghairi miadi hii"),
    "appointment_state_booked": ("Booked", "Imewekwa"),
    "appointment_state_checked_in": ("Checked in", "Umejisajili"),
    "appointment_state_released": ("Missed: the time has passed", "Imepitwa: muda umepita"),
    "appointment_state_cancelled": ("Cancelled", "Imeghairiwa"),
    "change_service": ("Change service", "Badilisha huduma"),
    # bookings confirmed by SMS (issue 16): a booking made on the web holds its time only once confirmed
    "pending_title": ("Confirm your booking", "Thibitisha miadi yako"),
    "pending_sent": ("We sent a code by SMS to {phone}. Type it here by {until} to keep this time.",
                     "Tumetuma nambari kwa SMS kwa {phone}. Iandike hapa kabla ya saa {until} ili kushika muda huu."),
    "pending_reply": ("Or reply to that SMS with the code.", "Au jibu SMS hiyo kwa nambari hiyo."),
    "pending_not_held": ("Until you confirm, this time is not kept for you.",
                         "Hadi uthibitishe, muda huu haujashikwa kwa ajili yako."),
    "confirm_code": ("Confirmation code", "Nambari ya uthibitisho"),
    "confirm_button": ("Confirm", "Thibitisha"),
    "appointment_state_pending": ("Waiting for confirmation", "Inasubiri uthibitisho"),
    "appointment_state_expired": ("Not confirmed: this booking has lapsed", "Haikuthibitishwa: miadi hii imekwisha"),
    "book_again": ("Book again", "Weka miadi tena"),
    "err_confirm_code": ("That is not the code we sent: check the SMS. {left} tries left.",
                         "Hiyo si nambari tuliyotuma: angalia SMS. Umebakiwa na majaribio {left}."),
    "err_confirm_tries": ("Too many wrong codes: this booking is dropped. Book again if you need it.",
                          "Nambari zisizo sahihi zimezidi: miadi hii imeondolewa. Weka miadi tena ukiihitaji."),
    "err_confirm_expired": ("This booking was not confirmed in time and has lapsed: please book again.",
                            "Miadi hii haikuthibitishwa kwa wakati na imekwisha: tafadhali weka miadi tena."),
    "err_confirm_gone": ("This booking can no longer be confirmed.", "Miadi hii haiwezi kuthibitishwa tena."),
    "err_confirm_full": ("That time filled up before you confirmed: please choose another.",
                         "Muda huo ulijaa kabla hujathibitisha: tafadhali chagua mwingine."),
    "err_already_booked": ("This number already has this time booked: check the SMS we sent it.",
                           "Nambari hii tayari ina miadi ya muda huu: angalia SMS tuliyoituma."),
    "err_book_phone_limit": ("This number already has {n} bookings: cancel one or come at that time first.",
                             "Nambari hii tayari ina miadi {n}: ghairi mmoja au hudhuria kwanza."),
    "err_book_phone_hourly": ("Too many bookings for this number this hour: please try again later.",
                              "Miadi mingi mno kwa nambari hii saa hii: tafadhali jaribu tena baadaye."),
    "err_book_address": ("Too many bookings from this connection: please try again in {m} min.",
                         "Miadi mingi mno kutoka muunganisho huu: tafadhali jaribu tena baada ya dak {m}."),
    "remote_full": ("no more remote tickets this hour", "tiketi za mbali zimekwisha kwa saa hii"),
    "after_visit": ("After your visit:", "Baada ya kuhudumiwa:"),
    "feedback_title": ("Rate our service", "Tathmini huduma yetu"),
    "feedback_intro": ("How was the service for ticket {number}?", "Huduma ya tiketi {number} ilikuwaje?"),
    **{f"rating_{s.value}": SATISFACTION_LABELS[s] for s in Satisfaction},  # the one scale (contract)
    "rated_once": ("Thank you. A ticket is rated once: the first rating stands.",
                   "Asante. Tiketi hutathminiwa mara moja: tathmini ya kwanza ndiyo inayobaki."),
    "already_rated": ("Ticket {number} was already rated ({label_en}). A ticket is rated once: the first rating stands.",
                      "Tiketi {number} tayari imetathminiwa ({label_sw}). Tiketi hutathminiwa mara moja: "
                      "tathmini ya kwanza ndiyo inayobaki."),
    "comment": ("Comment (optional)", "Maoni (si lazima)"),
    "send": ("Send", "Tuma"),
    "feedback_thanks": ("Thank you. Your rating helps us serve you better.",
                        "Asante. Tathmini yako inatusaidia kukuhudumia vizuri zaidi."),
    "feedback_not_yet": ("You can rate the service once your ticket has been served.",
                         "Utaweza kutathmini huduma baada ya kuhudumiwa."),
    "you_rated": ("You rated: {label}", "Ulitathmini: {label}"),
    "not_found": ("Not found", "Haipatikani"),
    "not_found_body": ("This page does not exist or has expired.", "Ukurasa huu haupo au muda wake umeisha."),
    "or": ("or", "au"),
    "book_instead": ("Book an appointment instead", "Weka miadi badala yake"),
    "join_instead": ("Join the queue now instead", "Jiunge na foleni sasa badala yake"),
    # errors (pages, API, USSD)
    "err_phone": ("Enter a Kenyan mobile number such as 0712 345 678.",
                  "Andika nambari ya simu ya Kenya kama 0712 345 678."),
    "err_service": ("Choose a service from the list.", "Chagua huduma kutoka kwenye orodha."),
    "err_service_closed": ("This service is not offered now.", "Huduma hii haitolewi sasa."),
    "err_remote_off": ("Remote tickets are not available now: please come to the centre.",
                       "Tiketi za mbali hazipatikani sasa: tafadhali fika kituoni."),
    "err_cap": ("All remote tickets for this service this hour are taken: try later or come to the centre.",
                "Tiketi zote za mbali za huduma hii kwa saa hii zimechukuliwa: jaribu baadaye au fika kituoni."),
    "err_phone_limit": ("This phone already holds {n} tickets today.", "Simu hii tayari ina tiketi {n} leo."),
    "err_slot": ("Choose a free time from the list.", "Chagua muda ulio wazi kutoka kwenye orodha."),
    "err_slot_full": ("That time has just filled up: choose another.", "Muda huo umejaa sasa hivi: chagua mwingine."),
    "err_numbers": ("No more tickets can be issued today for this service.",
                    "Hakuna tiketi zaidi zinazoweza kutolewa leo kwa huduma hii."),
    "err_rating": (f"Choose a rating: {satisfaction_scale('en')}.", f"Chagua tathmini: {satisfaction_scale('sw')}."),
    "err_generic": ("Something went wrong: {message}", "Hitilafu imetokea: {message}"),
    # check-in (kiosk endpoint)
    "ci_done": ("Checked in: ticket {number}. Please wait for your call.",
                "Umesajiliwa: tiketi {number}. Tafadhali subiri kuitwa."),
    "ci_unknown": ("No ticket or appointment matches: check the code.",
                   "Hakuna tiketi wala miadi inayolingana: kagua nambari."),
    "ci_too_early": ("Your appointment is at {time}: check in from {start}.",
                     "Miadi yako ni saa {time}: jisajili kuanzia saa {start}."),
    "ci_too_late": ("Your appointment time has passed: please take a new ticket.",
                    "Muda wa miadi yako umepita: tafadhali chukua tiketi mpya."),
    "ci_already": ("Ticket {number} is already checked in.", "Tiketi {number} imeshasajiliwa."),
    "ci_missed": ("Ticket {number} missed its turn too long ago: please take a new ticket.",
                  "Tiketi {number} ilipitwa na zamu zamani mno: tafadhali chukua tiketi mpya."),
    # SMS (short: one SMS is 160 characters)
    "sms_issued": ("Huduma: ticket {number}, {service}. {ahead} ahead, {wait}. Check-in code {code}. {url}",
                   "Huduma: tiketi {number}, {service}. {ahead} mbele, {wait}. Nambari {code}. {url}"),
    "sms_issued_walkin": ("Huduma: ticket {number}, {service}. {ahead} ahead, {wait}. {url}",
                          "Huduma: tiketi {number}, {service}. {ahead} mbele, {wait}. {url}"),
    "sms_ahead": ("Huduma: {number}, only {ahead} ahead of you now. Please be near the counters.",
                  "Huduma: {number}, wamebaki {ahead} mbele yako. Tafadhali kaa karibu na kaunta."),
    "sms_ahead_remote": ("Huduma: {number}, only {ahead} ahead of you. Check in at the kiosk with code {code} now.",
                         "Huduma: {number}, wamebaki {ahead} mbele yako. Jisajili kwenye kioski kwa nambari {code} sasa."),
    "sms_called": ("Huduma: {number}, please go to Counter {counter} now.",
                   "Huduma: {number}, tafadhali nenda Kaunta {counter} sasa."),
    "sms_feedback": (f"Huduma: thank you. Rate {{number}}: reply {satisfaction_scale('en')}. {{url}}",
                     f"Huduma: asante. Tathmini {{number}}: jibu {satisfaction_scale('sw')}. {{url}}"),
    "sms_feedback_thanks": ("Huduma: thank you for rating {number}.", "Huduma: asante kwa kutathmini {number}."),
    "sms_feedback_none": ("Huduma: no served ticket to rate for this number.",
                          "Huduma: hakuna tiketi iliyohudumiwa ya kutathmini kwa nambari hii."),
    "sms_booked": ("Huduma: {service}, {when}. Code {code}. Check in at the kiosk from {start}. {url}",
                   "Huduma: {service}, {when}. Nambari {code}. Jisajili kioskini kuanzia {start}. {url}"),
    "sms_book_confirm": ("Huduma: code {code} confirms your booking {service}, {when}. Type it on the page or "
                         "reply {code} within {min} min.",
                         "Huduma: nambari {code} inathibitisha miadi {service}, {when}. Iandike ukurasani au "
                         "jibu {code} ndani ya dak {min}."),
    "sms_confirm_unknown": ("Huduma: no booking waits for that code. It may have lapsed: please book again.",
                            "Huduma: hakuna miadi inayosubiri nambari hiyo. Huenda imekwisha: weka miadi tena."),
    "sms_cancelled": ("Huduma: ticket {number} is cancelled.", "Huduma: tiketi {number} imeghairiwa."),
    # USSD (each screen within 182 characters)
    "u_main": ("1. Take a ticket\n2. My ticket\n3. Cancel my ticket", "1. Chukua tiketi\n2. Tiketi yangu\n3. Ghairi tiketi"),
    "u_categories": ("Choose a category:", "Chagua kundi:"),
    "u_services": ("Choose a service:", "Chagua huduma:"),
    "u_more": ("98. More", "98. Zaidi"),
    "u_back": ("0. Back", "0. Rudi"),
    "u_confirm": ("{service}\n{n} waiting, {wait}\n1. Take ticket", "{service}\n{n} wanasubiri, {wait}\n1. Chukua tiketi"),
    "u_issued": ("Ticket {number}. {ahead} ahead, {wait}. Check in at the kiosk with code {code}. SMS sent.",
                 "Tiketi {number}. {ahead} mbele, {wait}. Jisajili kwenye kioski kwa nambari {code}. SMS imetumwa."),
    "u_status_waiting": ("{number} {service}: {ahead} ahead, {wait}. Code {code}.",
                         "{number} {service}: {ahead} mbele, {wait}. Nambari {code}."),
    "u_status_called": ("{number}: go to Counter {counter} now.", "{number}: nenda Kaunta {counter} sasa."),
    "u_no_ticket": ("You have no ticket waiting today.", "Huna tiketi inayosubiri leo."),
    "u_cancel_ask": ("Cancel {number} ({service})?\n1. Yes, cancel\n2. No", "Ghairi {number} ({service})?\n1. Ndiyo, ghairi\n2. Hapana"),
    "u_cancel_pick": ("Which ticket to cancel?", "Ghairi tiketi ipi?"),
    "u_cancelled": ("Ticket {number} is cancelled.", "Tiketi {number} imeghairiwa."),
    "u_kept": ("Ticket {number} is kept.", "Tiketi {number} imebaki."),
    "u_invalid": ("Invalid choice.", "Chaguo si sahihi."),
    "u_bad_request": ("Sorry, this request cannot be served.", "Samahani, ombi hili haliwezi kuhudumiwa."),
    "u_bad_phone": ("Sorry, this service needs a Kenyan mobile number.", "Samahani, huduma hii inahitaji nambari ya simu ya Kenya."),
    "u_none": ("No services are open for remote tickets now.", "Hakuna huduma zilizo wazi kwa tiketi za mbali sasa."),
    # when nobody can serve a newcomer, or the centre is closed: never a number (issue 15)
    "wait_approx": ("~{m} min", "~dak {m}"),
    "wait_no_counter": ("no counter open now", "hakuna kaunta wazi sasa"),
    "wait_closed": ("closed for today", "imefungwa kwa leo"),
    "wait_no_counter_long": ("No counter is serving this service right now.",
                             "Hakuna kaunta inayohudumia huduma hii sasa."),
    "wait_closed_long": ("The centre has closed for today.", "Kituo kimefungwa kwa leo."),
    "waiting_no_counter": ("{n} waiting, no counter open now", "{n} wanasubiri, hakuna kaunta wazi sasa"),
    "waiting_book_only": ("no more tickets today: book", "tiketi zimekwisha leo: weka miadi"),
    "closed_title": ("The centre is closed", "Kituo kimefungwa"),
    "err_day_closed": ("The centre is closed. It opens again on {when}.", "Kituo kimefungwa. Kitafunguliwa {when}."),
    "err_after_last_call": ("No more tickets today for this service: it could not be served before closing. "
                            "Book a visit for {day} instead.",
                            "Tiketi za huduma hii zimekwisha leo: isingeweza kuhudumiwa kabla ya kufunga. "
                            "Weka miadi ya {day} badala yake."),
    "err_after_last_call_come": ("No more tickets today for this service: it could not be served before closing. "
                                 "Please come on {day}.",
                                 "Tiketi za huduma hii zimekwisha leo: isingeweza kuhudumiwa kabla ya kufunga. "
                                 "Tafadhali njoo {day}."),
    "err_after_last_call_none": ("No more tickets today for this service: it could not be served before closing.",
                                 "Tiketi za huduma hii zimekwisha leo: isingeweza kuhudumiwa kabla ya kufunga."),
    "waiting_none_today": ("no more tickets today", "tiketi zimekwisha leo"),
    "ticket_state_called": ("Your turn: go to the counter", "Zamu yako: nenda kaunta"),
    "ticket_state_serving": ("Being served", "Unahudumiwa"),
    "ticket_state_done": ("Served", "Umehudumiwa"),
    "ticket_state_no_show": ("Missed its turn", "Ilipitwa na zamu"),
    "ticket_state_cancelled": ("Cancelled", "Imeghairiwa"),
    "ticket_state_transferred": ("Sent to another service", "Imehamishiwa huduma nyingine"),
    "book_next_title": ("No more tickets today for these services: book a visit instead",
                        "Tiketi za huduma hizi zimekwisha leo: weka miadi badala yake"),
    "book_for": ("Book {service} for {day}", "Weka miadi ya {service}, {day}"),
    "book_another_day": ("Book a visit for another day", "Weka miadi kwa siku nyingine"),
    "sms_book_instead": ("Huduma: no more tickets today for {service}. Book a visit for {day}: {url}",
                         "Huduma: tiketi za {service} zimekwisha leo. Weka miadi ya {day}: {url}"),
    "u_confirm_book": ("{service}\nNo more tickets today.\n1. Book a visit for {day}",
                       "{service}\nTiketi zimekwisha leo.\n1. Weka miadi ya {day}"),
    "u_book_slots": ("{day}, choose a time:", "{day}, chagua muda:"),
    "u_no_slots": ("No free times on {day}. Please try another day at the centre or on the web.",
                   "Hakuna nafasi {day}. Tafadhali jaribu siku nyingine kituoni au mtandaoni."),
    "u_booked": ("Booked: {service}, {when}. Code {code}. Check in at the kiosk from {start}. SMS sent.",
                 "Miadi: {service}, {when}. Nambari {code}. Jisajili kioskini kuanzia {start}. SMS imetumwa."),
}


def tr(lang: str, key: str, **kw: Any) -> str:
    """The string ``key`` in ``lang`` (English when unknown), filled with ``kw``."""
    en, sw = STRINGS[key]
    text = sw if lang == "sw" else en
    return text.format(**kw) if kw else text


class Translator:
    """``t(key, **kw)`` for templates."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"

    def __call__(self, key: str, **kw: Any) -> str:
        return tr(self.lang, key, **kw)


# Dates and times in the citizen's language. Times are 24-hour ("08:00", "saa 08:00"), as on every
# other channel screen, so a time never reads differently on the ticket, the page and the SMS.
def format_day(lang: str, d: date) -> str:
    """"Monday 7 December" / "Jumatatu 7 Desemba"."""
    return day_words(d, lang)


def format_when(lang: str, at: datetime) -> str:
    """"Monday 7 December at 08:00" / "Jumatatu 7 Desemba saa 08:00" (``at`` already in local time)."""
    joiner = "saa" if lang == "sw" else "at"
    return f"{format_day(lang, at.date())} {joiner} {at:%H:%M}"


def localise(lang: str, value: Any) -> Any:
    """A message argument in ``lang``: dates and times spelt out, anything else as it is."""
    if isinstance(value, datetime):
        return format_when(lang, value)
    if isinstance(value, date):
        return format_day(lang, value)
    return value


def wait_phrase(lang: str, wait_s: int | None, unknown: str | None, long: bool = False) -> str:
    """The estimated wait as a citizen reads it: "~12 min", or why there is none (never a made-up number).

    ``unknown`` is the contract's ``WaitUnknown`` ("no_counter", "closed"); a missing estimate without a
    reason is told as no counter serving it, the only other case the server knows.
    """
    if wait_s is not None:
        return tr(lang, "wait_approx", m=max(1, round(wait_s / 60)))
    reason = "closed" if str(unknown or "") == "closed" else "no_counter"
    return tr(lang, f"wait_{reason}_long" if long else f"wait_{reason}")
