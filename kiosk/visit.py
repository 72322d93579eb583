"""One-stop visits at the kiosk: after the first service, the services the menu says often follow it.

A citizen who needs a new ID and a KRA PIN takes one ticket for both (docs/design.md §3): after the
first service, the "Anything else today?" page offers the services the menu lists after the last one
chosen (``then``), taking tickets now, up to four on one ticket; "No, that is all" goes on to "What you
need" for every service chosen (kiosk/needs.py), then the priority page. The ticket, on screen and on
paper, lists the steps and each one's checklist.
"""

from __future__ import annotations

import logging

from kivy.metrics import dp, sp

from kiosk.i18n import tr
from kiosk.model import KioskModel, ServiceInfo
from kiosk.screens import ChoicesScreen, FitButton, ServicesScreen, fill_rows

logger = logging.getLogger(__name__)

MAX_VISIT_SERVICES = 4  # centre_server.queue.visits.MAX_VISIT_SERVICES (the kiosk imports only the contract)


def chosen(model: KioskModel) -> list[str]:
    """The visit so far: the first service, then those added, in order."""
    return [str(model.service_id), *model.visit_next] if model.service_id else []


def offers(model: KioskModel) -> list[ServiceInfo]:
    """What may follow the last service chosen: the menu's ``then`` list, issuing now, not chosen yet."""
    plan = chosen(model)
    if not plan or len(plan) >= MAX_VISIT_SERVICES:
        return []
    last = model.services.get(plan[-1])
    out = []
    for sid in (last.then if last is not None else []):
        s = model.services.get(sid)
        if s is not None and s.enabled and s.accepting and sid not in plan and not model.suspension(sid)[0]:
            out.append(s)
    return out


def after_services(model: KioskModel) -> str:
    """The screen once the visit is chosen: "What you need" for all of it when the catalogue knows any of
    its services, else the priority page."""
    return "needs" if any(model.needs_of(sid) is not None for sid in chosen(model)) else "priority"


def after_first_service(model: KioskModel, offer_visits: bool = True) -> str:
    """The screen after the first service: "Anything else today?" when the menu offers something
    (and the kiosk's ``offer_visits`` setting is on), so "What you need" then covers every service."""
    return "more" if offer_visits and offers(model) else after_services(model)


def steps_text(names: list[str], lang: str) -> str:
    """ "1. New national ID card  2. KRA PIN registration" as the kiosk shows and prints it."""
    return "\n".join(f"{i}. {name}" for i, name in enumerate(names, 1))


class MoreServicesScreen(ChoicesScreen):
    """ "Anything else today?": the services that often follow, one touch each; "No, that is all"."""

    def chosen_text(self, lang: str, *_deps) -> str:
        names = [self.model.services[s].name(lang) for s in chosen(self.model) if s in self.model.services]
        return f"{tr('visit_so_far', lang)}\n[b]{steps_text(names, lang)}[/b]" if names else ""

    def done_text(self, lang: str, *_deps) -> str:
        """ "No, that is all": in Kiswahili "ni hiyo tu" for the one service chosen, "ni hizo tu" for several."""
        return tr("visit_more_done" if len(chosen(self.model)) > 1 else "visit_more_done_one", lang)

    def choices(self) -> list[FitButton]:
        lang = self.model.language
        small = "24sp" if self.app.portrait else "19sp"
        buttons = []
        for s in offers(self.model):
            b = FitButton(value=s.id, halign="left", max_font=sp(28) * self.app.text_scale,
                          text=f"[b]{s.name(lang)}[/b]\n[size={small}]{ServicesScreen.status_line(s, lang)}[/size]")
            b.bind(on_release=lambda btn: self.add(btn.value))
            buttons.append(b)
        return buttons

    def fit_rows(self, *_a) -> None:
        fill_rows(self.ids.grid, self.ids.scroll.height, len(self.ids.grid.children), dp(104), dp(170))

    def add(self, service_id: str) -> None:
        """One more service on the ticket; more still on offer: this page again, else the priority page."""
        if service_id in chosen(self.model) or len(chosen(self.model)) >= MAX_VISIT_SERVICES:
            return
        self.model.visit_next = [*self.model.visit_next, service_id]
        logger.info("visit: %s", " -> ".join(chosen(self.model)))
        if offers(self.model):
            self.rebuild()
            self.model.visit_version += 1
        else:
            self.app.go(after_services(self.model))

    def finish(self) -> None:
        self.app.go(after_services(self.model))

    def back(self) -> None:
        """Back: the last service added comes off; with none added, back to the services."""
        if self.model.visit_next:
            self.model.visit_next = self.model.visit_next[:-1]
            self.rebuild()
            self.model.visit_version += 1
        else:
            self.app.go("services")


VISIT_SCREENS = {"more": MoreServicesScreen}
