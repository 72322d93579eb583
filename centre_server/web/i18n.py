"""Every string of the web pages, in English and Kiswahili.

Pages render with ``t(key)`` on the server; scripts read the same table from a
JSON block, so a page never shows a string that exists in one language only.
"""

from __future__ import annotations

import logging

from fastapi import Request

from centre_server.contract import satisfaction_range, satisfaction_scale

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "sw")
LANG_COOKIE = "huduma_lang"

# key: (English, Kiswahili)
STRINGS: dict[str, tuple[str, str]] = {
    # common
    "app_name": ("Huduma Centre queue", "Foleni ya Huduma Centre"),
    "language": ("Language", "Lugha"),
    "lang_en": ("English", "Kiingereza"),
    "lang_sw": ("Kiswahili", "Kiswahili"),
    "logout": ("Log out", "Toka"),
    "logged_in_as": ("Logged in as", "Umeingia kama"),
    "counter_n": ("Counter {n}", "Kaunta {n}"),
    "minutes_short": ("min", "dak"),
    "none": ("none", "hakuna"),
    "live": ("Live", "Moja kwa moja"),
    "reconnecting": ("Reconnecting…", "Inaunganisha upya…"),
    "session_expired": ("Your session has ended: log in again.", "Muda wako umeisha: ingia tena."),
    "forbidden_title": ("Not allowed", "Hairuhusiwi"),
    "forbidden_body": ("Your role ({role}) may not open this page.", "Jukumu lako ({role}) haliruhusiwi kufungua ukurasa huu."),
    "back_home": ("Back to my page", "Rudi kwenye ukurasa wangu"),
    "not_found_title": ("Not found", "Haipatikani"),
    "error_generic": ("Something went wrong: {message}", "Hitilafu imetokea: {message}"),
    "err_counter_paused": ("The counter is paused: resume it first.", "Kaunta imesitishwa: iendeleze kwanza."),
    "err_counter_closed": ("The counter is closed: open it first.", "Kaunta imefungwa: ifungue kwanza."),
    "err_already_serving": ("The citizen is already being served.", "Mwananchi tayari anahudumiwa."),
    "err_recall_first": ("Recall the ticket first.", "Mwite tena kwanza."),
    "err_same_service": ("The ticket is already in that service.", "Tiketi tayari iko kwenye huduma hiyo."),
    "err_no_ticket_at_counter": ("Nobody is at the counter.", "Hakuna mtu kaunta."),
    "err_service_disabled": ("That service is not offered now.", "Huduma hiyo haitolewi sasa."),
    "err_forbidden": ("Your role may not do this.", "Jukumu lako haliruhusiwi kufanya hivi."),
    "err_csrf": ("The page is out of date: reload it.", "Ukurasa umepitwa na wakati: upakie upya."),
    "err_not_your_counter": ("This counter is held by {clerk}. Only they or a manager can use it.",
                             "Kaunta hii inashikiliwa na {clerk}. Ni yeye au meneja tu anayeweza kuitumia."),
    "network_error": ("The server cannot be reached: check the network.", "Seva haipatikani: kagua mtandao."),
    "save": ("Save", "Hifadhi"),
    "cancel": ("Cancel", "Ghairi"),
    "saved": ("Saved", "Imehifadhiwa"),
    "nav_clerk": ("Clerk terminal", "Kituo cha karani"),
    "nav_board": ("Wait-time board", "Ubao wa muda wa kusubiri"),
    "nav_reports": ("Reports", "Ripoti"),
    # login
    "login_title": ("Staff login", "Kuingia kwa wafanyakazi"),
    "username": ("Username", "Jina la mtumiaji"),
    "password": ("Password", "Nenosiri"),
    "login_button": ("Log in", "Ingia"),
    "login_bad_credentials": ("Wrong username or password.", "Jina la mtumiaji au nenosiri si sahihi."),
    "login_locked_out": ("Too many failed logins: try again later.", "Majaribio mengi yameshindwa: jaribu tena baadaye."),
    "login_locked_out_min": ("Too many failed logins: try again in {m} min.", "Majaribio mengi yameshindwa: jaribu tena baada ya dak {m}."),
    "login_disabled": ("This account is disabled: ask the centre manager.", "Akaunti hii imezimwa: muulize meneja wa kituo."),
    "login_not_staff": ("Only staff log in here.", "Wafanyakazi pekee huingia hapa."),
    "logged_out": ("You have logged out.", "Umetoka."),
    # clerk
    "clerk_title": ("Clerk terminal", "Kituo cha karani"),
    "choose_counter": ("Choose your counter", "Chagua kaunta yako"),
    "counter": ("Counter", "Kaunta"),
    "services_served": ("Services at this counter (in order of skill)", "Huduma za kaunta hii (kwa mpangilio wa ujuzi)"),
    "open_counter": ("Open counter", "Fungua kaunta"),
    "change_counter": ("Change counter", "Badilisha kaunta"),
    "counter_in_use": ("open by {clerk}", "imefunguliwa na {clerk}"),
    "pick_a_service": ("Tick at least one service.", "Chagua angalau huduma moja."),
    "now_serving": ("Now at the counter", "Aliye kaunta sasa"),
    "no_ticket": ("Nobody at the counter", "Hakuna mtu kaunta"),
    "press_call_next": ("Press Call next to call the next citizen.", "Bonyeza Mwite anayefuata."),
    "waited": ("Waited", "Alisubiri"),
    "service_time": ("Service time", "Muda wa huduma"),
    "called_at": ("Called", "Aliitwa"),
    "recalls": ("Recalls", "Miito upya"),
    "state_called": ("Called: waiting for the citizen", "Ameitwa: anasubiriwa"),
    "state_serving": ("Being served", "Anahudumiwa"),
    "call_next": ("Call next", "Mwite anayefuata"),
    "recall": ("Recall", "Mwite tena"),
    "no_show": ("No-show", "Hakufika"),
    "start": ("Start service", "Anza huduma"),
    "transfer": ("Transfer", "Hamisha"),
    "transfer_to": ("Transfer to service", "Hamisha kwenda huduma"),
    "complete": ("Complete", "Maliza"),
    "outcome": ("Outcome", "Matokeo"),
    "outcome_served": ("Served", "Amehudumiwa"),
    "outcome_documents_missing": ("Documents missing", "Hati hazijakamilika"),
    "outcome_referred": ("Referred elsewhere", "Amepelekwa kwingine"),
    "outcome_not_eligible": ("Could not be served", "Hakuweza kuhudumiwa"),
    "pause": ("Pause", "Pumzika"),
    "resume": ("Resume", "Endelea"),
    "close_counter": ("Close counter", "Funga kaunta"),
    "confirm_leave": ("You are leaving {counter}: it will be closed. Continue?", "Unaondoka {counter}: itafungwa. Endelea?"),
    "confirm_close": ("Close this counter? The ticket at the counter is completed.", "Funga kaunta hii? Tiketi iliyopo itamalizwa."),
    "counter_state_open": ("Open", "Wazi"),
    "counter_state_paused": ("Paused", "Imesitishwa"),
    "counter_state_closed": ("Closed", "Imefungwa"),
    "my_queues": ("Waiting for this counter", "Wanaosubiri kaunta hii"),
    "service": ("Service", "Huduma"),
    "waiting": ("Waiting", "Wanaosubiri"),
    "longest_wait": ("Longest wait", "Msubiri mrefu zaidi"),
    "estimated_wait": ("Estimated wait", "Muda unaokadiriwa"),
    "shortcuts": ("Keyboard shortcuts", "Njia za mkato za kibodi"),
    "nothing_waiting": ("Nobody is waiting for this counter.", "Hakuna anayesubiri kaunta hii."),
    "called_ticket": ("Called {number}", "Umemwita {number}"),
    "transferred_ticket": ("{number} sent to {service}", "{number} amehamishiwa {service}"),
    "completed_ticket": ("{number} completed", "{number} amemaliza"),
    "no_show_ticket": ("{number} marked as no-show", "{number} hakufika"),
    "recalled_ticket": ("{number} called again", "{number} ameitwa tena"),
    "started_ticket": ("Serving {number}", "Unamhudumia {number}"),
    "counter_paused_msg": ("Counter paused", "Kaunta imesitishwa"),
    "counter_resumed_msg": ("Counter open again", "Kaunta iko wazi tena"),
    "counter_closed_msg": ("Counter closed", "Kaunta imefungwa"),
    "counter_opened_msg": ("Counter open", "Kaunta iko wazi"),
    # clerk: what the citizen was told at issue (issue 15)
    "priority": ("Priority", "Kipaumbele"),
    "priority_elderly": ("Aged 60 or over", "Umri wa miaka 60 au zaidi"),
    "priority_disability": ("Living with a disability", "Mtu anayeishi na ulemavu"),
    "priority_expectant": ("Expectant or nursing mother", "Mama mjamzito au anayenyonyesha"),
    "priority_appointment": ("Appointment", "Miadi"),
    "priority_confirm": ("ask to confirm", "omba athibitishe"),
    "appointment_at": ("Appointment {time}", "Miadi saa {time}"),
    "channel": ("Ticket from", "Tiketi kutoka"),
    "channel_kiosk": ("Kiosk", "Kioski"),
    "channel_web": ("Web", "Mtandao"),
    "channel_sms": ("SMS", "SMS"),
    "channel_ussd": ("USSD", "USSD"),
    "channel_staff": ("Staff", "Wafanyakazi"),
    "speaks": ("Language", "Lugha"),
    # clerk: call by number, re-activate a no-show
    "call_number": ("Call by number", "Mwite kwa namba"),
    "call_number_title": ("Call a waiting ticket by its number", "Mwite mwenye tiketi inayosubiri kwa namba yake"),
    "ticket_number": ("Ticket number", "Namba ya tiketi"),
    "ticket_number_hint": ("e.g. AR012", "mf. AR012"),
    "call_this": ("Call", "Mwite"),
    "reactivate": ("Re-activate no-show", "Rudisha aliyekosa"),
    "reactivate_title": ("Re-activate a no-show", "Rudisha aliyekosa mwito"),
    "reactivate_one": ("Re-activate", "Rudisha"),
    "reactivate_note": ("A no-show goes back to its old place in the queue, within {m} min of missing the call.",
                        "Aliyekosa mwito anarudi mahali pake pa zamani kwenye foleni, ndani ya dak {m} tangu akose mwito."),
    "no_recent_no_shows": ("No recent no-shows for this counter's services.", "Hakuna waliokosa mwito hivi karibuni kwa huduma za kaunta hii."),
    "missed_ago": ("missed {m} min ago", "alikosa dak {m} zilizopita"),
    "missed_just_now": ("missed under a minute ago", "alikosa chini ya dakika moja iliyopita"),
    "reactivated_ticket": ("{number} is back in the queue", "{number} amerudi kwenye foleni"),
    "num_bad": ("Type a ticket number such as AR012.", "Andika namba ya tiketi kama AR012."),
    "num_unknown": ("There is no ticket {number} today.", "Hakuna tiketi {number} leo."),
    "num_not_this_counter": ("{number} is not for a service of this counter.", "{number} si ya huduma ya kaunta hii."),
    "num_at_counter": ("{number} is already called to a counter.", "{number} tayari ameitwa kaunta."),
    "num_no_show": ("{number} missed its call: re-activate it first (A).", "{number} alikosa mwito: mrudishe kwanza (A)."),
    "num_finished": ("{number} is finished or cancelled: it can no longer be called.", "{number} imekwisha au imeghairiwa: haiwezi kuitwa tena."),
    "num_not_no_show": ("{number} is not a no-show.", "{number} si aliyekosa mwito."),
    "num_window_passed": ("{number} missed its call over {m} min ago: too late to re-activate.", "{number} alikosa mwito zaidi ya dak {m} zilizopita: ni kuchelewa mno kumrudisha."),
    # board
    "board_title": ("Wait-time board", "Ubao wa muda wa kusubiri"),
    "kpi_waiting": ("Waiting now", "Wanaosubiri sasa"),
    "kpi_longest": ("Longest wait", "Msubiri mrefu zaidi"),
    "kpi_issued": ("Tickets today", "Tiketi leo"),
    "kpi_served": ("Served today", "Waliohudumiwa leo"),
    "kpi_no_shows": ("No-shows", "Hawakufika"),
    "kpi_counters_open": ("Counters open", "Kaunta zilizo wazi"),
    "kpi_satisfaction": ("Satisfaction", "Kuridhika"),
    "kpi_satisfaction_scale": (satisfaction_range("en"), satisfaction_range("sw")),
    "alerts": ("Alerts", "Tahadhari"),
    "no_alerts": ("No alerts: every service is within its target.", "Hakuna tahadhari: huduma zote ziko ndani ya lengo."),
    "alert_breach": ("{service}: longest wait {wait} min, target {target} min", "{service}: msubiri mrefu {wait} dak, lengo {target} dak"),
    "alert_device_offline": ("Device {device} is offline", "Kifaa {device} hakipo mtandaoni"),
    "alert_printer": ("Printer of {device}: {status}", "Printa ya {device}: {status}"),
    "printer_ok": ("OK", "Sawa"),
    "printer_paper_low": ("paper low", "karatasi inakaribia kuisha"),
    "printer_paper_out": ("out of paper", "karatasi imeisha"),
    "printer_cover_open": ("cover open", "kifuniko kiko wazi"),
    "printer_offline": ("offline", "haipo mtandaoni"),
    "printer_error": ("error", "hitilafu"),
    "services": ("Services", "Huduma"),
    "served_today": ("Served", "Wamehudumiwa"),
    "avg_wait": ("Avg wait", "Wastani wa kusubiri"),
    "avg_service": ("Avg service", "Wastani wa huduma"),
    "service_level": ("Within target", "Ndani ya lengo"),
    "target": ("Target", "Lengo"),
    "counters": ("Counters", "Kaunta"),
    "clerk": ("Clerk", "Karani"),
    "ticket": ("Ticket", "Tiketi"),
    "idle": ("Idle {m} min", "Bila kazi dak {m}"),
    "move_counter": ("Services", "Huduma"),
    "move_counter_title": ("Services of counter {n}", "Huduma za kaunta {n}"),
    "today_by_hour": ("Today by hour", "Leo kwa saa"),
    "arrivals": ("Arrivals", "Waliofika"),
    "served": ("Served", "Waliohudumiwa"),
    "avg_wait_min": ("Average wait (min)", "Wastani wa kusubiri (dak)"),
    "people": ("People", "Watu"),
    "hall_notice": ("Notice line on the hall displays", "Tangazo kwenye skrini za ukumbi"),
    "notice_en": ("Notice in English", "Tangazo kwa Kiingereza"),
    "notice_sw": ("Notice in Kiswahili", "Tangazo kwa Kiswahili"),
    "show_idle_services": ("Show services with nobody today", "Onyesha huduma zisizo na mtu leo"),
    "devices": ("Devices", "Vifaa"),
    "online": ("online", "mtandaoni"),
    "offline": ("offline", "nje ya mtandao"),
    "end_of_day": ("End of the day", "Mwisho wa siku"),
    "close_day": ("Close the day", "Funga siku"),
    "reopen_day": ("Reopen today", "Fungua leo tena"),
    "confirm_reopen_day": ("Take tickets again today? Tickets the close cancelled stay cancelled; close the day again when you are done.",
                           "Kutoa tiketi tena leo? Tiketi zilizoghairiwa wakati wa kufunga zinabaki zimeghairiwa; funga siku tena mkimaliza."),
    "day_reopened_msg": ("The centre takes tickets again today.", "Kituo kinatoa tiketi tena leo."),
    "confirm_close_day": ("Close today? Everyone still waiting is cancelled, every counter is closed and the day's figures are sent to headquarters.",
                          "Funga leo? Wote wanaosubiri wataghairiwa, kaunta zote zitafungwa na takwimu za siku zitatumwa makao makuu."),
    "wait_no_counter": ("No counter open", "Hakuna kaunta wazi"),
    "wait_closed": ("Closed for today", "Imefungwa kwa leo"),
    "last_ticket_issued": ("Last ticket issued", "Tiketi ya mwisho imetolewa"),
    "day_closed_banner": ("The centre is closed for today: no tickets are issued.", "Kituo kimefungwa kwa leo: hakuna tiketi zinazotolewa."),
    "opens_again": ("It opens again on {date} at {time}.", "Kitafunguliwa tena tarehe {date} saa {time}."),
    "day_closed_msg": ("Day {date} closed: {cancelled} ticket(s) not served were cancelled.", "Siku {date} imefungwa: tiketi {cancelled} ambazo hazikuhudumiwa zimeghairiwa."),
    # reports
    "reports_title": ("Reports", "Ripoti"),
    "from": ("From", "Kuanzia"),
    "to": ("To", "Hadi"),
    "show": ("Show", "Onyesha"),
    "download_csv": ("Download CSV", "Pakua CSV"),
    "total": ("Whole centre", "Kituo kizima"),
    "per_service": ("Per service", "Kwa huduma"),
    "per_hour": ("Per hour", "Kwa saa"),
    "per_day": ("Per day", "Kwa siku"),
    "day_closed_mark": ("closed", "imefungwa"),
    "hour": ("Hour", "Saa"),
    "day": ("Day", "Siku"),
    "arrived": ("Arrived", "Waliofika"),
    "served_pct": ("% served", "% waliohudumiwa"),
    "no_shows": ("No-shows", "Hawakufika"),
    "no_show_pct": ("% no-show", "% hawakufika"),
    "max_wait": ("Max wait", "Kusubiri zaidi"),
    "max_service": ("Max service", "Huduma ndefu zaidi"),
    "within_target_pct": ("% within target", "% ndani ya lengo"),
    "transfers": ("Transfers", "Uhamisho"),
    "satisfaction": ("Satisfaction", "Kuridhika"),
    "no_data": ("No tickets in this period.", "Hakuna tiketi katika kipindi hiki."),
    "bad_range": ("Choose dates as YYYY-MM-DD, 'from' not after 'to', at most {days} days.", "Chagua tarehe kama YYYY-MM-DD, 'kuanzia' isiwe baada ya 'hadi', siku {days} zaidi."),
    "range_note": ("Means over several days are weighted by each day's counts.", "Wastani wa siku kadhaa umepimwa kwa idadi ya kila siku."),
    "times_in_minutes": ("Times are in minutes.", "Muda uko kwa dakika."),
    "satisfaction_note": (f"Satisfaction: the mean rating, {satisfaction_scale('en')} (number of ratings).",
                          f"Kuridhika: wastani wa tathmini, {satisfaction_scale('sw')} (idadi ya tathmini)."),
    # citizen ticket page
    "your_ticket": ("Your ticket", "Tiketi yako"),
    "people_ahead": ("People ahead of you", "Watu walio mbele yako"),
    "est_wait_value": ("about {m} min", "takriban dak {m}"),
    "est_wait_soon": ("very soon", "hivi karibuni"),
    "t_waiting": ("Please wait: we will call your number.", "Tafadhali subiri: tutaita namba yako."),
    "t_called": ("It is your turn! Go to {counter}.", "Ni zamu yako! Nenda {counter}."),
    "t_serving": ("You are being served at {counter}.", "Unahudumiwa kwenye {counter}."),
    "t_done": ("Thank you for visiting the Huduma Centre.", "Asante kwa kutembelea Huduma Centre."),
    "t_rate": ("How did we serve you? Rate us", "Tulikuhudumiaje? Tupe alama"),
    "t_no_show": ("You missed your call. Please see the help desk.", "Umekosa mwito wako. Tafadhali nenda dawati la msaada."),
    "t_cancelled": ("This ticket was cancelled.", "Tiketi hii imeghairiwa."),
    "t_transferred": ("You were sent to another service: please wait.", "Umehamishiwa huduma nyingine: tafadhali subiri."),
    "t_updated": ("Updated {time}", "Imesasishwa {time}"),
    "t_not_found": ("This ticket does not exist or is no longer kept.", "Tiketi hii haipo au haihifadhiwi tena."),
    "t_offline": ("No connection: showing the last known state.", "Hakuna mtandao: hali ya mwisho inaonyeshwa."),
    "issued_at": ("Issued", "Ilitolewa"),
    "t_wait_no_counter": ("No counter is serving this service right now", "Hakuna kaunta inayohudumia huduma hii sasa"),
    "t_wait_closed": ("The centre has closed for today", "Kituo kimefungwa kwa leo"),
}


def lang_of(request: Request) -> str:
    """``?lang=`` first (and remembered in a cookie), then the cookie, else English."""
    q = request.query_params.get("lang")
    if q in LANGUAGES:
        return q
    c = request.cookies.get(LANG_COOKIE)
    return c if c in LANGUAGES else "en"


def table(lang: str) -> dict[str, str]:
    """All strings in one language, for a page's scripts."""
    i = 1 if lang == "sw" else 0
    return {k: v[i] for k, v in STRINGS.items()}


class Translator:
    """``t("key", n=7)`` in one language; an unknown key shows itself so it is noticed."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"
        self.index = 1 if self.lang == "sw" else 0

    def __call__(self, key: str, **kw: object) -> str:
        pair = STRINGS.get(key)
        if pair is None:
            logger.warning("missing web string %r", key)
            return key
        text = pair[self.index]
        return text.format(**kw) if kw else text
