"""Every string of the channels (pages, SMS, USSD) in English and Kiswahili."""

from __future__ import annotations

import logging
from typing import Any

from centre_server.contract import SATISFACTION_LABELS, Satisfaction, satisfaction_scale

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
    "sms_issued": ("Huduma: ticket {number}, {service}. {ahead} ahead, ~{wait} min. Check-in code {code}. {url}",
                   "Huduma: tiketi {number}, {service}. {ahead} mbele, ~dak {wait}. Nambari {code}. {url}"),
    "sms_issued_walkin": ("Huduma: ticket {number}, {service}. {ahead} ahead, ~{wait} min. {url}",
                          "Huduma: tiketi {number}, {service}. {ahead} mbele, ~dak {wait}. {url}"),
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
    "sms_cancelled": ("Huduma: ticket {number} is cancelled.", "Huduma: tiketi {number} imeghairiwa."),
    # USSD (each screen within 182 characters)
    "u_main": ("1. Take a ticket\n2. My ticket\n3. Cancel my ticket", "1. Chukua tiketi\n2. Tiketi yangu\n3. Ghairi tiketi"),
    "u_categories": ("Choose a category:", "Chagua kundi:"),
    "u_services": ("Choose a service:", "Chagua huduma:"),
    "u_more": ("98. More", "98. Zaidi"),
    "u_back": ("0. Back", "0. Rudi"),
    "u_confirm": ("{service}\n{n} waiting, ~{wait} min\n1. Take ticket", "{service}\n{n} wanasubiri, ~dak {wait}\n1. Chukua tiketi"),
    "u_issued": ("Ticket {number}. {ahead} ahead, ~{wait} min. Check in at the kiosk with code {code}. SMS sent.",
                 "Tiketi {number}. {ahead} mbele, ~dak {wait}. Jisajili kwenye kioski kwa nambari {code}. SMS imetumwa."),
    "u_status_waiting": ("{number} {service}: {ahead} ahead, ~{wait} min. Code {code}.",
                         "{number} {service}: {ahead} mbele, ~dak {wait}. Nambari {code}."),
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
