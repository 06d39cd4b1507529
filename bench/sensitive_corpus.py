"""A labelled corpus of helpdesk messages for the sensitive-data detectors (seeded, reproducible).

Each sample is a short Norwegian, Swedish, Danish, Finnish or English
message with values embedded: valid numbers of each kind (gold spans),
the same numbers with a broken check digit, and lookalikes that are not
personal data of any detected kind (Norwegian bank accounts ``NNNN.NN.NNNNN``,
IMEIs, order and invoice numbers, dates, times). Valid national IDs are
computed here (check digits by hand), not taken from the detectors.

    python bench/sensitive_corpus.py --samples 3 --seed 1   # print a few samples with their gold spans
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn


@dataclass
class Sample:
    text: str
    gold: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, kind)


# --- valid values -----------------------------------------------------------------------------

def _digits(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice("0123456789") for _ in range(n))


def _luhn_complete(body: str) -> str:
    return body + luhn.calc_check_digit(body)


def _break_last(value: str, rnd: random.Random) -> str:
    """The value with its last digit changed (a broken check digit)."""
    i = max(i for i, c in enumerate(value) if c.isdigit())
    wrong = rnd.choice([d for d in "0123456789" if d != value[i]])
    return value[:i] + wrong + value[i + 1:]


_CARD_PREFIXES = (("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15), ("37", 15),
                  ("6011", 16), ("65", 16), ("3530", 16), ("36", 14), ("62", 16), ("4571", 16), ("5019", 16))
_GROUPS = {16: (4, 4, 4, 4), 15: (4, 6, 5), 14: (4, 6, 4)}


def card_number(rnd: random.Random) -> str:
    prefix, length = rnd.choice(_CARD_PREFIXES)
    number = _luhn_complete(prefix + _digits(rnd, length - len(prefix) - 1))
    style = rnd.random()
    if style < 0.4:
        return number
    sep = " " if style < 0.8 else "-"
    out, i = [], 0
    for g in _GROUPS[length]:
        out.append(number[i:i + g])
        i += g
    return sep.join(out)


def _no_account(rnd: random.Random) -> str:
    weights = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    while True:
        body = rnd.choice(("1503", "1607", "3000", "9710", "6011")) + _digits(rnd, 6)
        check = (11 - sum(int(d) * w for d, w in zip(body, weights)) % 11) % 11
        if check != 10:
            return body + str(check)


def iban_number(rnd: random.Random) -> str:
    while True:
        country = rnd.choice(("NO", "SE", "DK", "FI", "DE", "GB"))
        bban = {
            "NO": lambda: _no_account(rnd),
            "SE": lambda: _digits(rnd, 20),
            "DK": lambda: _digits(rnd, 14),
            "FI": lambda: _digits(rnd, 14),
            "DE": lambda: _digits(rnd, 18),
            "GB": lambda: rnd.choice(("NWBK", "WEST", "BARC")) + _digits(rnd, 14),
        }[country]()
        number = country + stdnum_iban.calc_check_digits(country + "00" + bban) + bban
        if stdnum_iban.is_valid(number):
            return stdnum_iban.format(number) if rnd.random() < 0.6 else number


def email_address(rnd: random.Random) -> str:
    first = rnd.choice(("ola", "kari", "anna", "erik", "mette", "jukka", "liisa", "john", "sarah", "bjørn"))
    last = rnd.choice(("nordmann", "svensson", "hansen", "virtanen", "smith", "berg", "nielsen"))
    sep = rnd.choice((".", "_", "", "-"))
    domain = rnd.choice(("example.no", "firma.se", "posti.fi", "mail.dk", "example.co.uk", "gmail.com"))
    return f"{first}{sep}{last}{rnd.randint(1, 99) if rnd.random() < 0.3 else ''}@{domain}"


_PHONE_FORMATS = {
    "NO": ("+47 {0}{1} {2}{3} {4}{5} {6}{7}", "{0}{1} {2}{3} {4}{5} {6}{7}", "+47{0}{1}{2}{3}{4}{5}{6}{7}",
           "{0}{1}{2} {3}{4} {5}{6}{7}"),
    "SE": ("070-{0}{1}{2} {3}{4} {5}{6}", "+46 70 {0}{1}{2} {3}{4} {5}{6}", "08-{0}{1}{2} {3}{4}{5} {6}{7}"),
    "DK": ("+45 {0}{1} {2}{3} {4}{5} {6}{7}", "{0}{1} {2}{3} {4}{5} {6}{7}"),
    "FI": ("040 {0}{1}{2} {3}{4}{5}{6}", "+358 40 {0}{1}{2} {3}{4}{5}{6}", "09 {0}{1}{2} {3}{4}{5}{6}"),
    "GB": ("+44 20 7{0}{1}{2} {3}{4}{5}{6}", "020 7{0}{1}{2} {3}{4}{5}{6}", "+44 7700 9{0}{1}{2}{3}{4}"),
}
_NATIONAL_FIRST = {"NO": "2349", "DK": "2345"}


def phone_number(rnd: random.Random) -> str:
    while True:
        region = rnd.choice(tuple(_PHONE_FORMATS))
        fmt = rnd.choice(_PHONE_FORMATS[region])
        digits = list(_digits(rnd, 8))
        if region in _NATIONAL_FIRST:
            digits[0] = rnd.choice(_NATIONAL_FIRST[region])
        value = fmt.format(*digits)
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return value


def _date(rnd: random.Random, first: int = 1930, last: int = 2015) -> tuple[int, int, int]:
    return rnd.randint(1, 28), rnd.randint(1, 12), rnd.randint(first, last)


def _no_id(rnd: random.Random, day_offset: int = 0, month_offset: int = 0) -> str:
    while True:
        d, m, y = _date(rnd, 1940, 2015)
        individual = rnd.randint(0, 499) if y < 2000 else rnd.randint(500, 999)
        body = f"{d + day_offset:02d}{m + month_offset:02d}{y % 100:02d}{individual:03d}"
        k1 = (11 - sum(int(c) * w for c, w in zip(body, (3, 7, 6, 1, 8, 9, 4, 5, 2))) % 11) % 11
        if k1 == 10:
            continue
        body += str(k1)
        k2 = (11 - sum(int(c) * w for c, w in zip(body, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2))) % 11) % 11
        if k2 != 10:
            return body + str(k2)


def no_fnr(rnd: random.Random) -> str:
    return _no_id(rnd)


def no_dnr(rnd: random.Random) -> str:
    """A D-number: the day plus 40."""
    return _no_id(rnd, day_offset=40)


def no_hnr(rnd: random.Random) -> str:
    """An H-number: the month plus 40."""
    return _no_id(rnd, month_offset=40)


def se_pnr(rnd: random.Random, day_offset: int = 0) -> str:
    d, m, y = _date(rnd, 1940, 2015)
    body = f"{y % 100:02d}{m:02d}{d + day_offset:02d}{_digits(rnd, 3)}"
    number = _luhn_complete(body)
    return f"{number[:6]}-{number[6:]}" if rnd.random() < 0.8 else f"{y // 100}{number[:6]}-{number[6:]}"


def se_samordning(rnd: random.Random) -> str:
    """A coordination number: the day plus 60."""
    return se_pnr(rnd, day_offset=60)


def fi_hetu(rnd: random.Random) -> str:
    d, m, y = _date(rnd, 1940, 2015)
    individual = rnd.randint(2, 899)
    sign = rnd.choice("-YXWVU") if y < 2000 else rnd.choice("ABCDEF")  # the 2023 signs too
    check = "0123456789ABCDEFHJKLMNPRSTUVWXY"[int(f"{d:02d}{m:02d}{y % 100:02d}{individual:03d}") % 31]
    return f"{d:02d}{m:02d}{y % 100:02d}{sign}{individual:03d}{check}"


def dk_cpr(rnd: random.Random) -> str:
    d, m, y = _date(rnd, 1940, 1999)
    return f"{d:02d}{m:02d}{y % 100:02d}-{_digits(rnd, 4)}"


def imei(rnd: random.Random) -> str:
    return _luhn_complete(rnd.choice(("35", "86", "01", "99")) + _digits(rnd, 12))


# --- message templates ------------------------------------------------------------------------

_LABELS: dict[str, dict[str, str]] = {
    "card": {"nb": "kortnummeret mitt er", "sv": "mitt kortnummer är", "da": "mit kortnummer er",
             "fi": "korttinumeroni on", "en": "my card number is"},
    "iban": {"nb": "IBAN:", "sv": "IBAN:", "da": "IBAN:", "fi": "IBAN:", "en": "IBAN:"},
    "email": {"nb": "svar til", "sv": "svara till", "da": "svar til", "fi": "vastaa osoitteeseen",
              "en": "reply to"},
    "phone": {"nb": "ring meg på", "sv": "ring mig på", "da": "ring på", "fi": "soita numeroon",
              "en": "call me on"},
    "no_fnr": {"nb": "fødselsnummer", "sv": "norskt personnummer", "da": "norsk personnummer",
               "fi": "norjalainen henkilötunnus", "en": "Norwegian national ID"},
    "se_pnr": {"nb": "svensk personnummer", "sv": "personnummer", "da": "svensk personnummer",
               "fi": "ruotsalainen henkilötunnus", "en": "Swedish personal number"},
    "fi_hetu": {"nb": "finsk personnummer", "sv": "finsk personbeteckning", "da": "finsk personnummer",
                "fi": "henkilötunnus", "en": "Finnish HETU"},
    "dk_cpr": {"nb": "CPR-nummer", "sv": "CPR-nummer", "da": "CPR-nr.", "fi": "CPR-numero", "en": "CPR number"},
    "no_dnr": {"nb": "D-nummer", "sv": "norskt D-nummer", "da": "norsk D-nummer", "fi": "norjalainen D-numero",
               "en": "Norwegian D number"},
    "no_hnr": {"nb": "H-nummer", "sv": "norskt H-nummer", "da": "norsk H-nummer", "fi": "norjalainen H-numero",
               "en": "Norwegian H number"},
    "se_samordning": {"nb": "svensk samordningsnummer", "sv": "samordningsnummer", "da": "svensk samordningsnummer",
                      "fi": "ruotsalainen samordningsnumero", "en": "Swedish coordination number"},
}
_MAKERS: dict[str, Callable[[random.Random], str]] = {
    "card": card_number, "iban": iban_number, "email": email_address, "phone": phone_number,
    "no_fnr": no_fnr, "se_pnr": se_pnr, "fi_hetu": fi_hetu, "dk_cpr": dk_cpr,
    "no_dnr": no_dnr, "no_hnr": no_hnr, "se_samordning": se_samordning,
}
# Kinds whose broken check digit must not be found (e-mail and CPR have no checksum).
_CHECKED = ("card", "iban", "no_fnr", "no_dnr", "no_hnr", "se_pnr", "se_samordning", "fi_hetu")

_LOOKALIKES: dict[str, Callable[[random.Random], str]] = {
    "bank account": lambda r: (lambda a: f"kontonummer {a[:4]}.{a[4:6]}.{a[6:]}")(_no_account(r)),
    "imei": lambda r: f"IMEI {imei(r)}",
    "order": lambda r: f"ordre #{r.randint(100000, 9999999)}",
    "invoice": lambda r: f"faktura INV-{r.randint(2019, 2025)}-{r.randint(1000, 99999)}",
    "date": lambda r: (lambda d: rnd_date_text(r, d))(_date(r, 2019, 2025)),
    "time": lambda r: f"kl. {r.randint(7, 22):02d}:{r.randint(0, 59):02d}",
    "version": lambda r: f"versjon {r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}",
}


def rnd_date_text(rnd: random.Random, date: tuple[int, int, int]) -> str:
    d, m, y = date
    return rnd.choice((f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y}", f"{d}/{m}/{y}", f"{d:02d}-{m:02d}-{y}"))


_OPENINGS = {
    "nb": ("Hei,", "Hei support,", "God dag,"), "sv": ("Hej,", "Hej support,"), "da": ("Hej,", "Kære support,"),
    "fi": ("Hei,", "Moi,"), "en": ("Hi,", "Hello team,", "Dear support,"),
}
_FILLER = {
    "nb": ("jeg får ikke logget inn etter oppdateringen.", "pakken har ikke kommet frem ennå.",
           "kan dere se på saken min?", "det står feil beløp på regningen.", "appen krasjer når jeg åpner den."),
    "sv": ("jag kan inte logga in sedan i går.", "paketet har inte kommit fram.", "kan ni titta på mitt ärende?",
           "fakturan har fel belopp."),
    "da": ("jeg kan ikke logge ind.", "pakken er ikke kommet.", "kan I se på min sag?", "regningen er forkert."),
    "fi": ("en pääse kirjautumaan sisään.", "paketti ei ole saapunut.", "voitteko katsoa asiaani?",
           "laskussa on väärä summa."),
    "en": ("I cannot log in since the update.", "my parcel has not arrived yet.", "could you look at my case?",
           "the invoice shows the wrong amount.", "the app crashes on start."),
}
_CLOSINGS = {"nb": "Mvh", "sv": "Mvh", "da": "Venlig hilsen", "fi": "Terveisin", "en": "Best regards,"}
_NAMES = ("Kari", "Ola", "Anna", "Erik", "Mette", "Jukka", "Liisa", "John", "Sarah")
LANGUAGES = tuple(_OPENINGS)
KINDS = tuple(_MAKERS)


def message(rnd: random.Random, *, values: int = 2, lookalikes: int = 2) -> Sample:
    """One message: filler sentences with ``values`` numbers of the kinds (valid or broken) and ``lookalikes``."""
    lang = rnd.choice(LANGUAGES)
    parts: list[tuple[str, str | None]] = [(rnd.choice(_OPENINGS[lang]) + " " + rnd.choice(_FILLER[lang]), None)]
    items: list[list[tuple[str, str | None]]] = []
    for _ in range(values):
        kind = rnd.choice(KINDS)
        value = _MAKERS[kind](rnd)
        gold: str | None = kind
        if kind in _CHECKED and rnd.random() < 0.3:
            value, gold = _break_last(value, rnd), None
        items.append([(" " + _LABELS[kind][lang] + " ", None), (value, gold), (".", None)])
    for _ in range(lookalikes):
        items.append([(" " + rnd.choice(tuple(_LOOKALIKES.values()))(rnd) + ".", None)])
    rnd.shuffle(items)
    for item in items:
        parts.extend(item)
        if rnd.random() < 0.5:
            parts.append((" " + rnd.choice(_FILLER[lang]), None))
    parts.append((f"\n{_CLOSINGS[lang]} {rnd.choice(_NAMES)}\n", None))
    sample = Sample("")
    text: list[str] = []
    pos = 0
    for chunk, kind in parts:
        if kind is not None:
            sample.gold.append((pos, pos + len(chunk), kind))
        text.append(chunk)
        pos += len(chunk)
    sample.text = "".join(text)
    return sample


def corpus(samples: int, seed: int = 0, *, values: int = 2, lookalikes: int = 2) -> list[Sample]:
    rnd = random.Random(seed)
    return [message(rnd, values=values, lookalikes=lookalikes) for _ in range(samples)]


def helpdesk_text(size: int, seed: int = 0, *, dense: bool = False) -> str:
    """About ``size`` characters of messages: mostly plain (one value in ten messages) or dense (several each)."""
    rnd = random.Random(seed)
    out: list[str] = []
    total = 0
    while total < size:
        if dense:
            sample = message(rnd, values=4, lookalikes=3)
        else:
            sample = message(rnd, values=1 if rnd.random() < 0.1 else 0, lookalikes=1 if rnd.random() < 0.3 else 0)
        out.append(sample.text)
        total += len(sample.text)
    return "".join(out)


# --- whole tickets -------------------------------------------------------------------------------
# Longer messages as a helpdesk stores them: a greeting, a few sentences, sometimes a value with its
# label, a signature (a phone number and an e-mail address now and then), and often the quoted
# previous reply with the support team's own signature (the same number and address every time).

_TICKET_SENTENCES = {
    "nb": ("Jeg bestilte en ny telefon for to uker siden, men pakken har fortsatt ikke kommet frem.",
           "Sporingen har stått på samme sted siden forrige fredag, og ingen svarer på chatten.",
           "Kan dere sjekke hva som har skjedd og gi meg beskjed om når jeg kan vente den?",
           "Jeg har også blitt trukket to ganger for samme ordre, så jeg vil gjerne ha pengene tilbake.",
           "Dette er tredje gang jeg tar kontakt om saken, og jeg begynner å bli ganske lei.",
           "På forhånd takk for hjelpen, og beklager at meldingen ble så lang."),
    "sv": ("Jag beställde ett abonnemang förra månaden men har fortfarande inte fått något sim-kort.",
           "Fakturan som kom i går stämmer inte med det pris jag fick i butiken.",
           "Kan ni titta på mitt ärende och återkomma så snart som möjligt?",
           "Jag har försökt ringa kundtjänst flera gånger men kommer aldrig fram.",
           "Tack på förhand för att ni hjälper mig med det här."),
    "da": ("Jeg har bestilt en vaskemaskine, som skulle være leveret i sidste uge, men den er ikke kommet.",
           "Da jeg ringede, fik jeg at vide, at den var sendt, men der er ingen sporing.",
           "Kan I undersøge, hvad der er sket, og vende tilbage til mig?",
           "Regningen, jeg har modtaget, er også højere end aftalt."),
    "fi": ("Tilasin uuden puhelimen kaksi viikkoa sitten, mutta paketti ei ole vieläkään saapunut.",
           "Seurannan mukaan lähetys on ollut samassa paikassa jo viikon ajan.",
           "Voisitteko selvittää asian ja ilmoittaa minulle, milloin voin odottaa toimitusta?",
           "Laskussa on lisäksi veloitettu kahdesti sama summa."),
    "en": ("I ordered a new laptop two weeks ago and it still has not arrived.",
           "The tracking page has shown the same status since last Friday and nobody answers the chat.",
           "Could you please look into this and let me know when I can expect the delivery?",
           "I was also charged twice for the same order, so I would like a refund for one of them.",
           "This is the third time I am writing about this, and I would appreciate a quick reply.",
           "Thanks in advance for your help, and sorry for the long message."),
}
_REPLY_SENTENCES = {
    "nb": ("Takk for at du tok kontakt med oss.", "Vi har sjekket ordren din og sendt saken videre til lageret.",
           "Du hører fra oss så snart vi vet mer."),
    "sv": ("Tack för att du kontaktade oss.", "Vi har skickat ärendet vidare till vår leverantör.",
           "Vi återkommer så snart vi vet mer."),
    "da": ("Tak fordi du skrev til os.", "Vi har sendt sagen videre til vores lager.", "Vi vender tilbage hurtigst muligt."),
    "fi": ("Kiitos yhteydenotostasi.", "Olemme välittäneet asian varastollemme.", "Palaamme asiaan mahdollisimman pian."),
    "en": ("Thank you for contacting us.", "We have forwarded your case to our warehouse team.",
           "We will get back to you as soon as we know more."),
}
_WROTE = {"nb": "skrev", "sv": "skrev", "da": "skrev", "fi": "kirjoitti", "en": "wrote"}
_TEAM = {"nb": ("Kundeservice", "Firma AS", "+47 22 33 44 55", "kundeservice@firma.no"),
         "sv": ("Kundtjänst", "Företaget AB", "+46 8 123 456 78", "kundtjanst@foretaget.se"),
         "da": ("Kundeservice", "Firmaet A/S", "+45 33 12 34 56", "kundeservice@firmaet.dk"),
         "fi": ("Asiakaspalvelu", "Yritys Oy", "+358 9 123 4567", "asiakaspalvelu@yritys.fi"),
         "en": ("Customer Service", "Example Ltd", "+44 20 7946 0958", "support@example.co.uk")}


def ticket(rnd: random.Random) -> str:
    """One ticket as a helpdesk stores it (see the section comment above)."""
    lang = rnd.choice(LANGUAGES)
    name = rnd.choice(_NAMES)
    sentences = list(_TICKET_SENTENCES[lang])
    rnd.shuffle(sentences)
    body = sentences[:rnd.randint(2, 5)]
    if rnd.random() < 0.3:
        body.insert(rnd.randrange(len(body) + 1), rnd.choice(tuple(_LOOKALIKES.values()))(rnd).capitalize() + ".")
    if rnd.random() < 0.2:
        kind = rnd.choice(KINDS)
        body.insert(rnd.randrange(len(body) + 1), f"{_LABELS[kind][lang].capitalize()} {_MAKERS[kind](rnd)}.")
    lines = [f"{rnd.choice(_OPENINGS[lang])}", "", " ".join(body), "", f"{_CLOSINGS[lang]}", name]
    if rnd.random() < 0.4:
        lines.append(phone_number(rnd))
    if rnd.random() < 0.3:
        lines.append(email_address(rnd))
    if rnd.random() < 0.5:
        team, company, phone, address = _TEAM[lang]
        d, m, y = _date(rnd, 2023, 2025)
        quoted = [" ".join(_REPLY_SENTENCES[lang]), "", team, f"{company} | {phone} | {address}"]
        lines += ["", (f"{d:02d}.{m:02d}.{y} {rnd.randint(8, 17):02d}:{rnd.randint(0, 59):02d}, {team} <{address}> "
                       f"{_WROTE[lang]}:")]
        lines += [f"> {line}".rstrip() for line in quoted]
    return "\n".join(lines) + "\n\n"


def ticket_text(size: int, seed: int = 0) -> str:
    """About ``size`` characters of :func:`ticket` s."""
    rnd = random.Random(seed)
    out: list[str] = []
    total = 0
    while total < size:
        out.append(ticket(rnd))
        total += len(out[-1])
    return "".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for sample in corpus(args.samples, args.seed):
        print(sample.text.rstrip())
        for start, end, kind in sample.gold:
            print(f"  {kind}: {sample.text[start:end]!r} [{start}:{end}]")
        print()


if __name__ == "__main__":
    main()
