"""Every string headquarters shows, in English and Kiswahili."""

from __future__ import annotations

import logging

from centre_server.contract import satisfaction_range

logger = logging.getLogger(__name__)

STRINGS: dict[str, dict[str, str]] = {
    "title": {"en": "Huduma Centres: national board", "sw": "Vituo vya Huduma: ubao wa kitaifa"},
    "subtitle": {"en": "Daily figures sent by each centre after it closes the day",
                 "sw": "Takwimu za kila siku zinazotumwa na kila kituo kinapofunga siku"},
    "date": {"en": "Day", "sw": "Siku"},
    "period": {"en": "Trend over", "sw": "Mwenendo wa"},
    "days": {"en": "days", "sw": "siku"},
    "show": {"en": "Show", "sw": "Onyesha"},
    "export": {"en": "Export CSV", "sw": "Pakua CSV"},
    "export_services": {"en": "CSV per service", "sw": "CSV kwa kila huduma"},
    "export_hours": {"en": "CSV per hour", "sw": "CSV kwa kila saa"},
    "centres_side_by_side": {"en": "Centres side by side", "sw": "Vituo bega kwa bega"},
    "centre": {"en": "Centre", "sw": "Kituo"},
    "arrived": {"en": "Citizens", "sw": "Wananchi"},
    "served": {"en": "Served", "sw": "Waliohudumiwa"},
    "no_shows": {"en": "No-shows", "sw": "Hawakufika"},
    "cancelled": {"en": "Unserved", "sw": "Hawakuhudumiwa"},
    "transfers": {"en": "Transfers", "sw": "Uhamisho"},
    "wait_mean": {"en": "Mean wait", "sw": "Wastani wa kusubiri"},
    "wait_p90": {"en": "90% waited under", "sw": "90% walisubiri chini ya"},
    "within_target": {"en": "Within target", "sw": "Ndani ya lengo"},
    "satisfaction": {"en": f"Satisfaction ({satisfaction_range('en')})",
                     "sw": f"Kuridhika ({satisfaction_range('sw')})"},
    "staffed_hours": {"en": "Counter hours", "sw": "Saa za kaunta"},
    "counters_open": {"en": "Counters", "sw": "Kaunta"},
    "revision": {"en": "Rev.", "sw": "Toleo"},
    "trend": {"en": "Trend", "sw": "Mwenendo"},
    "no_report": {"en": "no report", "sw": "hakuna ripoti"},
    "national_trend": {"en": "National trend", "sw": "Mwenendo wa kitaifa"},
    "bars_citizens": {"en": "bars: citizens per day", "sw": "nguzo: wananchi kwa siku"},
    "line_within": {"en": "line: share served within target", "sw": "mstari: asilimia waliohudumiwa ndani ya lengo"},
    "worst": {"en": "Worst service levels", "sw": "Viwango duni zaidi vya huduma"},
    "worst_note": {"en": "Services with the lowest share called within their target wait, over the period",
                   "sw": "Huduma zenye asilimia ndogo zaidi walioitwa ndani ya muda lengwa, katika kipindi hiki"},
    "service": {"en": "Service", "sw": "Huduma"},
    "target": {"en": "Target", "sw": "Lengo"},
    "measured": {"en": "Citizens measured", "sw": "Wananchi waliopimwa"},
    "no_data": {"en": "No centre has reported yet. A centre reports when it closes its day.",
                "sw": "Hakuna kituo kilichoripoti bado. Kituo huripoti kinapofunga siku."},
    "simulated": {"en": "simulated", "sw": "mfano"},
    "min": {"en": "min", "sw": "dak"},
    "language": {"en": "Kiswahili", "sw": "English"},
    "updated": {"en": "Page refreshed", "sw": "Ukurasa umesasishwa"},
    "received": {"en": "received", "sw": "imepokelewa"},
    "local_times": {"en": "Times are each centre's local time.", "sw": "Saa ni za kila kituo, kwa saa za huko."},
    "demo_banner": {"en": "Demo headquarters: data in a local SQLite file",
                    "sw": "Makao makuu ya mfano: data katika faili la SQLite"},
    "centres_reporting": {"en": "centres reported", "sw": "vituo viliripoti"},
    "of": {"en": "of", "sw": "kati ya"},
    "missing_days": {"en": "Days not yet reported", "sw": "Siku ambazo hazijaripotiwa"},
    "skipped_title": {"en": "Reports left out: they do not hold a day summary's figures",
                      "sw": "Ripoti zilizoachwa: hazina takwimu za muhtasari wa siku"},
    "skipped_note": {"en": "Ask the centre to close the day again; its new revision replaces this one.",
                     "sw": "Omba kituo kifunge siku tena; toleo jipya litachukua nafasi ya hili."},
}

LANGS = ("en", "sw")


def translator(lang: str):
    lang = lang if lang in LANGS else "en"

    def t(key: str) -> str:
        entry = STRINGS.get(key)
        if entry is None:
            logger.warning("missing string %r", key)
            return key
        return entry[lang]

    return t
