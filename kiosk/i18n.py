"""Every string the kiosk shows or prints, in English and Kiswahili.

One table so that a missing translation is a test failure, not a surprise on
the hall floor. Keys are short names of what the string is for.
"""

from __future__ import annotations

import logging

from centre_server.contract import Language, Priority, day_words

logger = logging.getLogger(__name__)

LANGUAGES = (Language.en, Language.sw)

STRINGS: dict[str, dict[str, str]] = {
    # welcome
    "welcome_title": {"en": "Welcome", "sw": "Karibu"},
    "welcome_sub": {
        "en": "Touch to get your queue ticket",
        "sw": "Gusa kupata tiketi yako ya foleni",
    },
    "choose_language": {"en": "Choose your language", "sw": "Chagua lugha yako"},
    "start_en": {"en": "English", "sw": "English"},
    "start_sw": {"en": "Kiswahili", "sw": "Kiswahili"},
    "switch_language": {"en": "Kiswahili", "sw": "English"},
    # navigation
    "back": {"en": "Back", "sw": "Rudi"},
    "cancel": {"en": "Start again", "sw": "Anza upya"},
    "next": {"en": "Next", "sw": "Endelea"},
    "skip": {"en": "Skip", "sw": "Ruka"},
    # categories and services
    "categories_title": {"en": "What do you need today?", "sw": "Unahitaji huduma gani leo?"},
    "services_title": {"en": "Choose a service", "sw": "Chagua huduma"},
    "all_services": {"en": "All services", "sw": "Huduma zote"},
    "n_services": {"en": "{n} services", "sw": "huduma {n}"},
    "one_service": {"en": "1 service", "sw": "huduma 1"},
    "waiting_none": {"en": "No one waiting", "sw": "Hakuna anayesubiri"},
    "waiting_one": {"en": "1 person waiting", "sw": "Mtu 1 anasubiri"},
    "waiting_many": {"en": "{n} people waiting", "sw": "Watu {n} wanasubiri"},
    "wait_about": {"en": "about {m} min", "sw": "takriban dakika {m}"},
    "wait_short": {"en": "short wait", "sw": "muda mfupi"},
    "services_loading": {
        "en": "Loading services, please wait...",
        "sw": "Huduma zinapakiwa, tafadhali subiri...",
    },
    "service_closed": {"en": "No counter open now", "sw": "Hakuna kaunta iliyo wazi sasa"},
    # why there is no estimated wait (the server's wait_unknown): never a number then
    "wait_no_counter_short": {
        "en": "No counter is serving this service right now",
        "sw": "Hakuna kaunta inayohudumia huduma hii sasa",
    },
    "wait_no_counter": {
        "en": "No counter is serving this service right now. Staff will call you when one opens.",
        "sw": "Hakuna kaunta inayohudumia huduma hii sasa. Wafanyakazi watakuita kaunta ikifunguliwa.",
    },
    "wait_closed": {"en": "The centre has closed for today", "sw": "Kituo kimefungwa kwa leo"},
    "wait_unknown": {"en": "No estimate of the wait yet", "sw": "Muda wa kusubiri haujulikani bado"},
    "people_ahead_zero": {"en": "No one is ahead of you", "sw": "Hakuna mtu mbele yako"},
    # a service that takes no more tickets today: book the next open day instead
    "last_ticket_issued": {
        "en": "Today's last ticket for this service has been issued",
        "sw": "Tiketi ya mwisho ya leo ya huduma hii imeshatolewa",
    },
    "book_instead": {"en": "Touch to book a time on another day", "sw": "Gusa kuweka miadi siku nyingine"},
    "book_title": {"en": "Book a time instead", "sw": "Weka miadi badala yake"},
    "book_why_last": {
        "en": "Today's last ticket for {service} has been issued: a ticket taken now would not be called before today's last call.",
        "sw": "Tiketi ya mwisho ya leo ya {service} imeshatolewa: tiketi itakayochukuliwa sasa haitaitwa kabla ya mwito wa mwisho wa leo.",
    },
    "book_when": {"en": "Book a time for {day}", "sw": "Weka miadi ya {day}"},
    "book_when_any": {"en": "Book a time on the next open day", "sw": "Weka miadi siku ijayo ya kazi"},
    "book_scan": {
        "en": "Scan with your phone, or open {url}",
        "sw": "Changanua kwa simu yako, au fungua {url}",
    },
    "book_sms": {
        "en": "Or, when the centre is open, send {keyword} by SMS to {number} for a ticket",
        "sw": "Au, kituo kikiwa wazi, tuma {keyword} kwa SMS kwenda {number} upate tiketi",
    },
    "book_sms_any": {
        "en": "Or, when the centre is open, send {keyword} by SMS to the centre's number for a ticket",
        "sw": "Au, kituo kikiwa wazi, tuma {keyword} kwa SMS kwa nambari ya kituo upate tiketi",
    },
    # the day is closed (state/day, or the server refused the ticket)
    "closed_title": {"en": "The centre is closed for today", "sw": "Kituo kimefungwa kwa leo"},
    "closed_opens": {"en": "It opens again on {day} at {time}", "sw": "Kitafunguliwa tena {day} {time}"},
    "closed_opens_unknown": {"en": "It opens again on the next working day", "sw": "Kitafunguliwa tena siku ijayo ya kazi"},
    "closed_no_tickets": {"en": "No tickets are issued now.", "sw": "Hakuna tiketi zinazotolewa sasa."},
    "closed_book": {"en": "Scan to book a time for another day", "sw": "Changanua kuweka miadi ya siku nyingine"},
    # priority
    "priority_title": {
        "en": "Do you need priority service?",
        "sw": "Je, unahitaji huduma ya kipaumbele?",
    },
    "priority_sub": {
        "en": "Priority is for the people below. Staff may ask you to confirm.",
        "sw": "Kipaumbele ni kwa watu walio hapa chini. Wafanyakazi wanaweza kukuuliza kuthibitisha.",
    },
    "priority_none": {"en": "No, thank you", "sw": "Hapana, asante"},
    "priority_elderly": {"en": "Aged 60 or over", "sw": "Umri wa miaka 60 au zaidi"},
    "priority_disability": {"en": "Living with a disability", "sw": "Mtu anayeishi na ulemavu"},
    "priority_expectant": {
        "en": "Expectant or nursing mother",
        "sw": "Mama mjamzito au anayenyonyesha",
    },
    "priority_appointment": {"en": "Appointment", "sw": "Miadi"},
    "priority_mark": {"en": "PRIORITY", "sw": "KIPAUMBELE"},
    # phone
    "phone_title": {
        "en": "Phone number (optional)",
        "sw": "Nambari ya simu (si lazima)",
    },
    "phone_sub": {
        "en": "We send you an SMS when your turn is near.",
        "sw": "Tutakutumia SMS zamu yako ikikaribia.",
    },
    "phone_invalid": {
        "en": "Enter a Kenyan mobile number, e.g. 0712 345 678",
        "sw": "Weka nambari ya simu ya Kenya, mfano 0712 345 678",
    },
    "phone_clear": {"en": "Clear", "sw": "Futa"},
    "phone_delete": {"en": "Delete", "sw": "Futa moja"},
    "phone_ok": {"en": "Done", "sw": "Tayari"},
    # confirm
    "confirm_title": {"en": "Please check", "sw": "Tafadhali hakikisha"},
    "confirm_service": {"en": "Service", "sw": "Huduma"},
    "confirm_priority": {"en": "Priority", "sw": "Kipaumbele"},
    "confirm_phone": {"en": "Phone", "sw": "Simu"},
    "confirm_no_phone": {"en": "none", "sw": "hakuna"},
    "confirm_button": {"en": "Print my ticket", "sw": "Chapisha tiketi yangu"},
    "issue_failed": {
        "en": "Could not get a ticket. Please try again.",
        "sw": "Tiketi haikupatikana. Tafadhali jaribu tena.",
    },
    # printing and ticket
    "printing_title": {"en": "Printing your ticket...", "sw": "Tiketi yako inachapishwa..."},
    "printing_sub": {"en": "Please wait a moment", "sw": "Tafadhali subiri kidogo"},
    "ticket_title": {"en": "Take your ticket", "sw": "Chukua tiketi yako"},
    "ticket_title_noprint": {
        "en": "Please remember your number",
        "sw": "Tafadhali kumbuka nambari yako",
    },
    "your_number": {"en": "Your number", "sw": "Nambari yako"},
    "people_ahead_none": {"en": "You are next", "sw": "Wewe ni wa kwanza"},
    "people_ahead_one": {"en": "1 person ahead of you", "sw": "Mtu 1 yuko mbele yako"},
    "people_ahead_many": {"en": "{n} people ahead of you", "sw": "Watu {n} wako mbele yako"},
    "estimated_wait": {"en": "Estimated wait: {w}", "sw": "Muda wa kusubiri: {w}"},
    "scan_qr": {
        "en": "Scan to follow your ticket on your phone",
        "sw": "Changanua kufuatilia tiketi yako kwenye simu",
    },
    "watch_screens": {
        "en": "Watch the screens for your number",
        "sw": "Angalia skrini kuona nambari yako",
    },
    "done_button": {"en": "Done", "sw": "Tayari"},
    "printer_problem": {
        "en": "The printer is not working. Your ticket is valid: note the number or scan the code.",
        "sw": "Printa haifanyi kazi. Tiketi yako ni halali: andika nambari au changanua msimbo.",
    },
    # printed ticket
    "print_number": {"en": "YOUR NUMBER", "sw": "NAMBARI YAKO"},
    "print_issued": {"en": "Issued", "sw": "Imetolewa"},
    "print_footer": {
        "en": "Please wait until your number is called.",
        "sw": "Tafadhali subiri nambari yako iitwe.",
    },
    "print_thanks": {"en": "Thank you. Huduma ni haki yako.", "sw": "Asante. Huduma ni haki yako."},
    "printer_banner": {
        "en": "No paper tickets right now: your number will be shown on the screen.",
        "sw": "Tiketi za karatasi hazipatikani sasa: nambari yako itaonyeshwa kwenye skrini.",
    },
    # check-in of remote tickets (web, SMS, USSD) and appointments
    "checkin_button": {
        "en": "I already have a ticket or booking",
        "sw": "Nina tiketi au miadi tayari",
    },
    "checkin_title": {"en": "Check in", "sw": "Jisajili umefika"},
    "checkin_sub_code": {
        "en": "Enter the code from your SMS or booking page",
        "sw": "Weka msimbo wa SMS au wa ukurasa wa miadi yako",
    },
    "checkin_sub_phone": {
        "en": "Enter the phone number you used",
        "sw": "Weka nambari ya simu uliyotumia",
    },
    "checkin_by_code": {"en": "Code", "sw": "Msimbo"},
    "checkin_by_phone": {"en": "Phone number", "sw": "Nambari ya simu"},
    "checkin_confirm": {"en": "Check in", "sw": "Jisajili"},
    "checkin_code_invalid": {
        "en": "A code has 4 to 8 digits",
        "sw": "Msimbo una tarakimu 4 hadi 8",
    },
    "checkin_failed": {
        "en": "Could not check you in now. Please try again.",
        "sw": "Hatukuweza kukusajili sasa. Tafadhali jaribu tena.",
    },
    "checkin_done_title": {"en": "You are checked in", "sw": "Umesajiliwa"},
    "checkin_numbers": {"en": "Your numbers", "sw": "Nambari zako"},
    # out of service
    "oos_title": {"en": "Temporarily out of service", "sw": "Haifanyi kazi kwa muda"},
    "oos_title_fault": {"en": "Out of service", "sw": "Haifanyi kazi"},
    "oos_no_printer": {
        "en": "No printer is configured on this kiosk. Technician: add a 'printer' section to its configuration.",
        "sw": "Kioski hiki hakina printa iliyowekwa. Fundi: ongeza sehemu ya 'printer' kwenye usanidi wake.",
    },
    "oos_dummy_printer": {
        "en": "This kiosk's printer is the test printer that prints nothing ('dummy', for --demo only).",
        "sw": "Printa ya kioski hiki ni ya majaribio isiyochapisha chochote ('dummy', kwa --demo pekee).",
    },
    "oos_sub": {
        "en": "Please ask a member of staff for a ticket. This screen comes back by itself.",
        "sw": "Tafadhali muulize mfanyakazi tiketi. Skrini hii itarudi yenyewe.",
    },
    # staff
    "staff_title": {"en": "Staff: enter PIN", "sw": "Wafanyakazi: weka PIN"},
    "staff_reprint": {"en": "Reprint last ticket", "sw": "Chapisha tena tiketi ya mwisho"},
    "staff_no_pin": {
        "en": "No staff PIN is set for this kiosk (kiosk.staff_pin)",
        "sw": "Kioski hiki hakina PIN ya wafanyakazi (kiosk.staff_pin)",
    },
    "staff_wrong_pin": {"en": "Wrong PIN", "sw": "PIN si sahihi"},
    "staff_no_ticket": {"en": "No ticket to reprint yet", "sw": "Hakuna tiketi ya kuchapisha tena"},
    "staff_reprinted": {"en": "Reprinted {number}", "sw": "Imechapishwa tena {number}"},
    "staff_printer": {"en": "Printer: {status}", "sw": "Printa: {status}"},
    # printer states
    "printer_ok": {"en": "ready", "sw": "tayari"},
    "printer_paper_low": {"en": "paper low", "sw": "karatasi inaisha"},
    "printer_paper_out": {"en": "out of paper", "sw": "karatasi imeisha"},
    "printer_cover_open": {"en": "cover open", "sw": "kifuniko kiko wazi"},
    "printer_offline": {"en": "offline", "sw": "haipatikani"},
    "printer_error": {"en": "error", "sw": "hitilafu"},
    # minutes
    "minutes": {"en": "{m} min", "sw": "dakika {m}"},
    "hours_minutes": {"en": "{h} h {m} min", "sw": "saa {h} dakika {m}"},
}

# Service categories as the demo centre and most centres name them; an unknown
# category is shown as written (it came from the centre's own configuration).
CATEGORIES: dict[str, dict[str, str]] = {
    # the standard Huduma menu (centre_server/data/menu.csv)
    "identity and civil registration": {"en": "Identity and civil registration", "sw": "Utambulisho na usajili wa kiraia"},
    "police, immigration and justice": {"en": "Police, immigration and justice", "sw": "Polisi, uhamiaji na haki"},
    "tax and business": {"en": "Tax and business", "sw": "Kodi na biashara"},
    "health and social security": {"en": "Health and social security", "sw": "Afya na hifadhi ya jamii"},
    "transport": {"en": "Transport", "sw": "Usafiri"},
    "education and youth": {"en": "Education and youth", "sw": "Elimu na vijana"},
    "county and utilities": {"en": "County and utilities", "sw": "Kaunti na huduma za umma"},
    "enquiries and help": {"en": "Enquiries and help", "sw": "Maswali na msaada"},
    "identity": {"en": "Identity & registration", "sw": "Utambulisho na usajili"},
    "registration": {"en": "Registration", "sw": "Usajili"},
    "civil-registration": {"en": "Births & deaths", "sw": "Vizazi na vifo"},
    "civil": {"en": "Births & deaths", "sw": "Vizazi na vifo"},
    "tax": {"en": "Tax (KRA)", "sw": "Kodi (KRA)"},
    "revenue": {"en": "Tax & revenue", "sw": "Kodi na mapato"},
    "health": {"en": "Health insurance", "sw": "Bima ya afya"},
    "social": {"en": "Social security", "sw": "Hifadhi ya jamii"},
    "social-security": {"en": "Social security", "sw": "Hifadhi ya jamii"},
    "business": {"en": "Business", "sw": "Biashara"},
    "education": {"en": "Education & loans", "sw": "Elimu na mikopo"},
    "police": {"en": "Police & good conduct", "sw": "Polisi na tabia njema"},
    "security": {"en": "Police & good conduct", "sw": "Polisi na tabia njema"},
    "county": {"en": "County services", "sw": "Huduma za kaunti"},
    "lands": {"en": "Lands", "sw": "Ardhi"},
    "immigration": {"en": "Immigration & passports", "sw": "Uhamiaji na pasipoti"},
    "employment": {"en": "Jobs & labour", "sw": "Ajira na kazi"},
    "finance": {"en": "Finance & payments", "sw": "Fedha na malipo"},
    "general": {"en": "General services", "sw": "Huduma za jumla"},
    "other": {"en": "Other services", "sw": "Huduma nyingine"},
    "": {"en": "Other services", "sw": "Huduma nyingine"},
}


def tr(key: str, language: str = "en", **fmt: object) -> str:
    """The string ``key`` in ``language``, formatted; an unknown key shows itself (and logs)."""
    entry = STRINGS.get(key)
    if entry is None:
        logger.warning("no kiosk string %r", key)
        return key
    text = entry.get(str(language)) or entry["en"]
    return text.format(**fmt) if fmt else text


def strings_for(language: str) -> dict[str, str]:
    """All strings of one language: what the screens bind to."""
    return {key: (entry.get(str(language)) or entry["en"]) for key, entry in STRINGS.items()}


def category_name(category: str, language: str = "en", category_sw: str = "") -> str:
    """A category's display name: the server's Kiswahili name, our table, or the name as given."""
    if str(language) == "sw" and category_sw:
        return category_sw
    entry = CATEGORIES.get(category.strip().lower())
    if entry:
        return entry.get(str(language)) or entry["en"]
    if not category.strip():
        return tr("all_services", language)
    if category == category.lower():  # a slug: make it read like words
        return category.replace("-", " ").replace("_", " ").strip().capitalize()
    return category.strip()


def priority_name(priority: str, language: str = "en") -> str:
    """What a citizen reads for a priority class."""
    return tr(f"priority_{Priority(priority).value}", language)


def wait_text(seconds: int, language: str = "en") -> str:
    """An estimated wait as a person says it: minutes, rounded up; hours past 90 min."""
    minutes = max(0, (int(seconds) + 59) // 60)
    if minutes <= 1:
        return tr("wait_short", language)
    if minutes >= 90:
        return tr("hours_minutes", language, h=minutes // 60, m=minutes % 60)
    return tr("minutes", language, m=minutes)


def wait_about_text(seconds: int, language: str = "en") -> str:
    """'about 12 min' for a service list; 'short wait' under two minutes."""
    minutes = max(0, (int(seconds) + 59) // 60)
    if minutes <= 1:
        return tr("wait_short", language)
    if minutes >= 90:
        return "~" + tr("hours_minutes", language, h=minutes // 60, m=minutes % 60)
    return tr("wait_about", language, m=minutes)


def wait_reason_text(reason: str | None, language: str = "en", short: bool = False) -> str:
    """Why there is no estimate (the server's ``wait_unknown``), said instead of a number."""
    reason = str(reason or "")
    if reason == "no_counter":
        return tr("wait_no_counter_short" if short else "wait_no_counter", language)
    if reason == "closed":
        return tr("wait_closed", language)
    return tr("wait_unknown", language)


def estimate_text(seconds: int | None, reason: str | None, language: str = "en") -> str:
    """'Estimated wait: 25 min', or, when the server has no estimate, why not (never a number)."""
    if seconds is None:
        return wait_reason_text(reason, language)
    return tr("estimated_wait", language, w=wait_text(seconds, language))




def day_text(day, language: str = "en") -> str:
    """'Monday 7 December' / 'Jumatatu 7 Desemba' for a date."""
    return day_words(day, language)


def clock_text(hour: int, minute: int, language: str = "en") -> str:
    """'08:00' in English; in Kiswahili the hours are counted from 6 o'clock: 'saa 2:00 asubuhi (08:00)'."""
    if str(language) != "sw":
        return f"{hour:02d}:{minute:02d}"
    sw_hour = (hour - 6) % 12 or 12
    part = ("asubuhi" if 6 <= hour < 12 else "mchana" if 12 <= hour < 16 else "jioni" if 16 <= hour < 19
            else "usiku" if hour >= 19 or hour < 4 else "alfajiri")
    return f"saa {sw_hour}:{minute:02d} {part} ({hour:02d}:{minute:02d})"


def waiting_text(n: int, language: str = "en") -> str:
    if n <= 0:
        return tr("waiting_none", language)
    if n == 1:
        return tr("waiting_one", language)
    return tr("waiting_many", language, n=n)


def ahead_text(n: int, language: str = "en", estimate_known: bool = True) -> str:
    """People ahead; with nobody ahead but no counter serving, not "you are next" (nobody calls yet)."""
    if n <= 0:
        return tr("people_ahead_none" if estimate_known else "people_ahead_zero", language)
    if n == 1:
        return tr("people_ahead_one", language)
    return tr("people_ahead_many", language, n=n)


def printer_status_text(status: str, language: str = "en") -> str:
    return tr(f"printer_{status}", language) if f"printer_{status}" in STRINGS else status
