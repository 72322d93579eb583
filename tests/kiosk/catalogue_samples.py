"""Catalogue entries for tests: the longest texts the contract allows, a typical one, a suspension.

The shipped catalogue's texts are short stubs; a screen must hold the longest a headquarters
editor may type (``MAX_ITEM``, ``MAX_DESCRIPTION``, ``MAX_DOCUMENTS``), in both languages.
"""

from __future__ import annotations

from datetime import UTC, datetime

from centre_server.contract.catalogue import (
    MAX_DESCRIPTION,
    MAX_DOCUMENTS,
    MAX_ITEM,
    CatalogueService,
    CatalogueStatePayload,
    Fee,
    FeePaid,
    Offering,
    OfferingStatus,
    ServiceInfo,
    Text,
)

LONG_DOCUMENTS = [
    ("Original national ID card and a clear photocopy of both of its sides, or a birth certificate if under eighteen",
     "Kitambulisho halisi cha taifa na nakala safi ya pande zake zote "
     "mbili, au cheti cha kuzaliwa kama una chini ya miaka 18"),
    ("Two recent colour passport photographs with a white background, taken within the last six months, unsigned",
     "Picha mbili za rangi za pasipoti zenye mandhari nyeupe, zilizopigwa ndani ya miezi sita iliyopita, bila sahihi"),
    ("The old passport, even if it has expired or is damaged, together with a copy of its personal details page",
     "Pasipoti ya zamani, hata kama imeisha muda wake au imeharibika, pamoja na nakala ya ukurasa wa taarifa binafsi"),
    ("Printed application form from eCitizen with the payment receipt and the reference number clearly visible",
     "Fomu ya maombi iliyochapishwa kutoka eCitizen pamoja na risiti ya "
     "malipo na nambari ya kumbukumbu ikionekana wazi"),
    ("Copies of both parents' national ID cards, or their death certificates where a parent has passed away",
     "Nakala za vitambulisho vya taifa vya wazazi wote wawili, au vyeti "
     "vyao vya kifo pale ambapo mzazi amefariki dunia"),
    ("A recommender's letter and ID copy: a Kenyan citizen who has known you for at least two years, not a relative",
     "Barua ya mdhamini na nakala ya kitambulisho: raia wa Kenya aliyekujua "
     "kwa angalau miaka miwili, asiye jamaa yako"),
    ("For a change of name: the gazette notice and the deed poll registered with the Registrar of Documents",
     "Kwa kubadilisha jina: tangazo la gazeti rasmi na hati ya kubadilisha jina iliyosajiliwa na Msajili wa Nyaraka"),
    ("For a lost passport: a police abstract from the station where the loss was reported, and a sworn affidavit",
     "Kwa pasipoti iliyopotea: taarifa ya polisi kutoka kituo ambapo upotevu uliripotiwa, na kiapo kilichoapishwa"),
]


def _long(en: str, sw: str) -> Text:
    """A text padded to the longest a description may be, in both languages."""
    en = (en + " " + en)[:MAX_DESCRIPTION].rstrip()
    sw = (sw + " " + sw)[:MAX_DESCRIPTION].rstrip()
    return Text(en=en, sw=sw)


def longest(base: CatalogueService) -> CatalogueService:
    """``base`` with every text as long as the contract allows (eight documents of up to 120 characters)."""
    docs = [Text(en=en[:MAX_ITEM], sw=sw[:MAX_ITEM]) for en, sw in LONG_DOCUMENTS[:MAX_DOCUMENTS]]
    return base.model_copy(update={
        "documents": docs,
        "eligibility": _long("Kenyan citizens of any age; applicants under eighteen apply through a parent or a "
                             "legal guardian who signs the form.",
                             "Raia wa Kenya wa umri wowote; waombaji walio chini ya miaka kumi na "
                             "minane huomba kupitia "
                             "mzazi au mlezi halali anayesaini fomu."),
        "in_person": _long("The applicant must come in person to have fingerprints and a photograph taken; a child "
                           "comes with a parent.",
                           "Mwombaji lazima afike mwenyewe ili kuchukuliwa alama za vidole na picha; mtoto huja "
                           "pamoja na mzazi."),
        "where_to_get": _long("A birth certificate: the Civil Registration office of your county. A police abstract: "
                              "any police station. The form: ecitizen.go.ke.",
                              "Cheti cha kuzaliwa: ofisi ya Usajili wa Raia ya kaunti yako. Taarifa ya polisi: kituo "
                              "chochote cha polisi. Fomu: ecitizen.go.ke."),
        "fee": Fee(amount_ksh=12_050, paid=FeePaid.online,  # its payer says so: the longest fee line too
                   payer=_long("The applicant, by M-Pesa or card through eCitizen before coming to the centre.",
                               "Mwombaji, kwa M-Pesa au kadi kupitia eCitizen kabla ya kuja kituoni."),
                   waivers=_long("None for ordinary passports; the diplomatic passport is issued free to those "
                                 "entitled to it.",
                                 "Hakuna kwa pasipoti za kawaida; pasipoti ya kidiplomasia hutolewa bure kwa "
                                 "wanaostahili."),
                   note=_long("The fee is paid to the agency, never to a clerk at the counter; keep the receipt.",
                              "Ada hulipwa kwa taasisi, kamwe si kwa karani kaunta; tunza risiti.")),
    })


def typical(base: CatalogueService) -> CatalogueService:
    """A service as most are: three documents, a fee, one line on who may apply."""
    return base.model_copy(update={
        "documents": [Text(en="Original national ID card", sw="Kitambulisho halisi cha taifa"),
                      Text(en="eCitizen payment receipt", sw="Risiti ya malipo ya eCitizen"),
                      Text(en="Printed application form", sw="Fomu ya maombi iliyochapishwa")],
        "eligibility": Text(en="Kenyan citizens aged 18 and over", sw="Raia wa Kenya wenye miaka 18 na zaidi"),
        "in_person": Text(en="The applicant, for fingerprints", sw="Mwombaji mwenyewe, kwa alama za vidole"),
        "where_to_get": Text(en="Pay and print the form on ecitizen.go.ke (the cyber desk here can help).",
                             sw="Lipa na uchapishe fomu kwenye ecitizen.go.ke (dawati la mtandao hapa litakusaidia)."),
        "fee": Fee(amount_ksh=1_050, payer=Text(en="The applicant", sw="Mwombaji")),
    })


SUSPENSION = Text(en="The agency's system is down since this morning. Please come back tomorrow.",
                  sw="Mfumo wa taasisi haufanyi kazi tangu asubuhi. Tafadhali rudi kesho.")


def sample_catalogue(base: CatalogueStatePayload, longest_id: str, typical_id: str, suspended_id: str,
                   version: int = 7) -> CatalogueStatePayload:
    """The centre's own catalogue with one service at the longest texts, one typical, one suspended."""
    infos = []
    for info in base.services:
        service, offering = info.service, info.offering
        if service.id == longest_id:
            service = longest(service)
        elif service.id == typical_id:
            service = typical(service)
        if service.id == suspended_id:
            offering = Offering(service_id=service.id, status=OfferingStatus.suspended, reason=SUSPENSION,
                                since=datetime(2026, 12, 6, 6, 30, tzinfo=UTC))
        infos.append(ServiceInfo(service=service, offering=offering))
    return base.model_copy(update={"version": version, "services": infos})
