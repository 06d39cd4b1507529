"""What the portal says, in English and Norwegian Bokmål: its pages, its mails, the names of types and states.

Mail bodies are ``str.format`` templates; their values are filled in by
:mod:`.mail` (plain text: nothing to escape). Page texts are escaped by
:mod:`.pages`.
"""

from __future__ import annotations

from datetime import datetime, timezone

TYPES: dict[str, dict[str, tuple[str, str]]] = {  # type -> language -> (name, what it asks for)
    "access": {
        "en": ("Access", "A copy of the personal data we hold about you (Art. 15)."),
        "nb": ("Innsyn", "En kopi av personopplysningene vi har om deg (art. 15)."),
    },
    "portability": {
        "en": ("Portability", "Your data in a machine-readable format, to take elsewhere (Art. 20)."),
        "nb": ("Dataportabilitet", "Opplysningene dine i et maskinlesbart format, til å ta med deg (art. 20)."),
    },
    "rectification": {
        "en": ("Rectification", "Correct personal data that is wrong or incomplete (Art. 16)."),
        "nb": ("Retting", "Rette personopplysninger som er feil eller ufullstendige (art. 16)."),
    },
    "erasure": {
        "en": ("Erasure", "Delete the personal data we hold about you (Art. 17)."),
        "nb": ("Sletting", "Slette personopplysningene vi har om deg (art. 17)."),
    },
    "objection": {
        "en": ("Objection or restriction", "Stop or limit how we use your data (Art. 18 and 21)."),
        "nb": ("Protest eller begrensning", "Stanse eller begrense hvordan vi bruker opplysningene dine "
               "(art. 18 og 21)."),
    },
    "withdraw_consent": {
        "en": ("Withdraw consent", "Withdraw a consent you gave us (Art. 7(3))."),
        "nb": ("Trekke tilbake samtykke", "Trekke tilbake et samtykke du har gitt oss (art. 7 nr. 3)."),
    },
}

STATES: dict[str, dict[str, str]] = {
    "received": {"en": "Received", "nb": "Mottatt"},
    "in_progress": {"en": "In progress", "nb": "Under behandling"},
    "extended": {"en": "In progress, deadline extended", "nb": "Under behandling, fristen er forlenget"},
    "fulfilled": {"en": "Fulfilled", "nb": "Fullført"},
    "refused": {"en": "Refused", "nb": "Avslått"},
}

PAGE: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your privacy rights",
        "intro": "Ask us for a copy of your data, to correct or delete it, or to stop using it. We confirm your "
                 "e-mail address first, and answer within one month.",
        "type": "What would you like to ask?",
        "email": "Your e-mail address",
        "email_hint": "The address you use with us. We send a link to confirm it is yours.",
        "reference": "Case number (optional)",
        "text": "Anything we should know (optional)",
        "send": "Send request",
        "languages": "Language",
        "error_title": "Please check the form",
        "error_type": "Choose what you would like to ask.",
        "error_email": "Enter a valid e-mail address.",
        "error_reference": "A case number is at most 100 characters, on one line.",
        "error_text": "Please keep the text under 4,000 characters.",
        "sent_title": "Check your mailbox",
        "sent": "If the address can receive e-mail, a message with a confirmation link is on its way. Open "
                "the link within {hours} to send your request. Nothing happens until you do.",
        "confirm_title": "Confirm your request",
        "confirm": "Press the button to confirm your request. We then send you a receipt.",
        "confirm_button": "Confirm my request",
        "receipt_title": "Your request is received",
        "receipt": "We have received your request and sent you a receipt by e-mail. Keep the link to this "
                   "request's status page:",
        "status_title": "Your request",
        "request_id": "Request",
        "request_type": "Type",
        "received": "Received",
        "due": "We answer by",
        "state": "Status",
        "reason": "Reason",
        "status_link": "Status page of your request",
        "download_title": "Your data",
        "download": "Your export is ready: one ZIP file with your data as JSON, CSV tables and a readable "
                    "summary. It can be downloaded once; it is then deleted from our systems.",
        "download_button": "Download (ZIP)",
        "downloaded": "Your export was downloaded and has been deleted from our systems.",
        "export_gone_title": "This download is no longer available",
        "export_gone": "The export was already downloaded, or its link has expired, and it has been deleted. "
                       "Send a new request if you need it again.",
        "forged_title": "This link is not valid",
        "forged": "The link is damaged or was not made by us. Open it again from the e-mail, or send a new "
                  "request.",
        "expired_title": "This link has expired",
        "expired": "Confirmation links work for a limited time. Please send your request again.",
        "used_title": "This link was already used",
        "used": "Your request was already confirmed with this link. The receipt we sent has the link to its "
                "status page.",
        "limited_title": "Too many requests",
        "limited_client": "Too many requests were sent from your network. Please try again in {minutes} minutes.",
        "limited_email": "Too many requests were sent for this e-mail address. Please try again in {minutes} "
                         "minutes, or contact us directly.",
        "csrf_title": "This form has expired",
        "csrf": "Please load the form again and resend it. (Your browser must accept cookies from this site "
                "for the form to work.)",
        "unavailable_title": "Please try again shortly",
        "unavailable": "Your request could not be handled just now; nothing was sent. Please try again in a "
                       "few minutes.",
        "back": "Back to the form",
    },
    "nb": {
        "title": "Personvernrettighetene dine",
        "intro": "Be oss om en kopi av opplysningene dine, om å rette eller slette dem, eller om å slutte å "
                 "bruke dem. Vi bekrefter e-postadressen din først, og svarer innen én måned.",
        "type": "Hva vil du be om?",
        "email": "E-postadressen din",
        "email_hint": "Adressen du bruker hos oss. Vi sender en lenke for å bekrefte at den er din.",
        "reference": "Saksnummer (valgfritt)",
        "text": "Noe vi bør vite (valgfritt)",
        "send": "Send forespørsel",
        "languages": "Språk",
        "error_title": "Sjekk skjemaet",
        "error_type": "Velg hva du vil be om.",
        "error_email": "Skriv inn en gyldig e-postadresse.",
        "error_reference": "Et saksnummer er høyst 100 tegn, på én linje.",
        "error_text": "Teksten kan være høyst 4000 tegn.",
        "sent_title": "Sjekk e-posten din",
        "sent": "Hvis adressen kan ta imot e-post, er en melding med en bekreftelseslenke på vei. Åpne lenken "
                "innen {hours} for å sende forespørselen. Ingenting skjer før du gjør det.",
        "confirm_title": "Bekreft forespørselen",
        "confirm": "Trykk på knappen for å bekrefte forespørselen. Vi sender deg så en kvittering.",
        "confirm_button": "Bekreft forespørselen",
        "receipt_title": "Vi har mottatt forespørselen",
        "receipt": "Vi har mottatt forespørselen din og sendt deg en kvittering på e-post. Ta vare på lenken "
                   "til statussiden for forespørselen:",
        "status_title": "Forespørselen din",
        "request_id": "Forespørsel",
        "request_type": "Type",
        "received": "Mottatt",
        "due": "Vi svarer innen",
        "state": "Status",
        "reason": "Begrunnelse",
        "status_link": "Statussiden for forespørselen",
        "download_title": "Opplysningene dine",
        "download": "Eksporten er klar: én ZIP-fil med opplysningene dine som JSON, CSV-tabeller og en lesbar "
                    "oversikt. Den kan lastes ned én gang, og slettes deretter hos oss.",
        "download_button": "Last ned (ZIP)",
        "downloaded": "Eksporten er lastet ned og slettet hos oss.",
        "export_gone_title": "Denne nedlastingen finnes ikke lenger",
        "export_gone": "Eksporten er allerede lastet ned, eller lenken er utløpt, og den er slettet. Send en ny "
                       "forespørsel hvis du trenger den igjen.",
        "forged_title": "Lenken er ikke gyldig",
        "forged": "Lenken er skadet eller ikke laget av oss. Åpne den på nytt fra e-posten, eller send en ny "
                  "forespørsel.",
        "expired_title": "Lenken er utløpt",
        "expired": "Bekreftelseslenker virker en begrenset tid. Send forespørselen på nytt.",
        "used_title": "Lenken er allerede brukt",
        "used": "Forespørselen er allerede bekreftet med denne lenken. Kvitteringen vi sendte har lenken til "
                "statussiden.",
        "limited_title": "For mange forespørsler",
        "limited_client": "Det er sendt for mange forespørsler fra nettverket ditt. Prøv igjen om {minutes} "
                          "minutter.",
        "limited_email": "Det er sendt for mange forespørsler for denne e-postadressen. Prøv igjen om {minutes} "
                         "minutter, eller kontakt oss direkte.",
        "csrf_title": "Skjemaet er utløpt",
        "csrf": "Last inn skjemaet på nytt og send det igjen. (Nettleseren må godta informasjonskapsler fra "
                "dette nettstedet for at skjemaet skal virke.)",
        "unavailable_title": "Prøv igjen om litt",
        "unavailable": "Forespørselen kunne ikke behandles akkurat nå; ingenting ble sendt. Prøv igjen om noen "
                       "minutter.",
        "back": "Tilbake til skjemaet",
    },
}

SUBJECTS: dict[str, dict[str, str]] = {
    "verify": {"en": "Confirm your privacy request", "nb": "Bekreft personvernforespørselen din"},
    "receipt": {"en": "We received your privacy request {request_id}",
                "nb": "Vi har mottatt personvernforespørselen din {request_id}"},
    "extended": {"en": "More time for your privacy request {request_id}",
                 "nb": "Mer tid til personvernforespørselen din {request_id}"},
    "refused": {"en": "Your privacy request {request_id}", "nb": "Personvernforespørselen din {request_id}"},
    "fulfilled": {"en": "Your privacy request {request_id} is done",
                  "nb": "Personvernforespørselen din {request_id} er fullført"},
    "export": {"en": "Your data is ready ({request_id})", "nb": "Opplysningene dine er klare ({request_id})"},
}

MAIL: dict[str, dict[str, str]] = {
    "en": {
        "verify": "Hello,\n\nsomeone, probably you, asked {organisation} about your personal data with this "
                  "address: {type}.\n\nConfirm the request here (the link works for {hours}):\n{link}\n\n"
                  "If it was not you, ignore this message: nothing happens without the confirmation.\n",
        "receipt": "Hello,\n\nwe have received your request.\n\nRequest: {request_id}\nType: {type}\n"
                   "Received: {received}\nWe answer by: {due}\n\nSee its status at any time:\n{link}\n",
        "extended": "Hello,\n\nwe need more time to answer your request {request_id}, as the law allows "
                    "(GDPR Art. 12(3)).\n\nReason: {reason}\nWe now answer by: {due}\n\nStatus: {link}\n",
        "refused": "Hello,\n\nwe cannot carry out your request {request_id}.\n\nReason: {reason}\n\nYou may "
                   "complain to a data protection authority or seek a judicial remedy (GDPR Art. 12(4)).\n\n"
                   "Status: {link}\n",
        "fulfilled": "Hello,\n\nyour request {request_id} ({type}) has been carried out.\n\nStatus: {link}\n",
        "export": "Hello,\n\nthe copy of your data you asked for ({request_id}) is ready. Download it here; the "
                  "link works for {days} and only once, then the file is deleted from our systems:\n{link}\n",
        "footer": "\n-- \n{organisation}{dpo}\n",
        "dpo": "\nData protection officer: {dpo}",
    },
    "nb": {
        "verify": "Hei,\n\nnoen, trolig du, har bedt {organisation} om noe som gjelder personopplysningene dine, "
                  "med denne adressen: {type}.\n\nBekreft forespørselen her (lenken virker i {hours}):\n{link}\n\n"
                  "Var det ikke deg, kan du se bort fra meldingen: ingenting skjer uten bekreftelsen.\n",
        "receipt": "Hei,\n\nvi har mottatt forespørselen din.\n\nForespørsel: {request_id}\nType: {type}\n"
                   "Mottatt: {received}\nVi svarer innen: {due}\n\nSe status når som helst:\n{link}\n",
        "extended": "Hei,\n\nvi trenger mer tid til å svare på forespørselen din {request_id}, slik loven "
                    "tillater (personvernforordningen art. 12 nr. 3).\n\nBegrunnelse: {reason}\nVi svarer nå "
                    "innen: {due}\n\nStatus: {link}\n",
        "refused": "Hei,\n\nvi kan ikke gjennomføre forespørselen din {request_id}.\n\nBegrunnelse: {reason}\n\n"
                   "Du kan klage til Datatilsynet eller gå til domstolene (personvernforordningen art. 12 nr. 4)."
                   "\n\nStatus: {link}\n",
        "fulfilled": "Hei,\n\nforespørselen din {request_id} ({type}) er gjennomført.\n\nStatus: {link}\n",
        "export": "Hei,\n\nkopien av opplysningene dine ({request_id}) er klar. Last den ned her; lenken virker "
                  "i {days} og bare én gang, så slettes filen hos oss:\n{link}\n",
        "footer": "\n-- \n{organisation}{dpo}\n",
        "dpo": "\nPersonvernombud: {dpo}",
    },
}


def hours(seconds: float, language: str) -> str:
    count = max(1, round(seconds / 3600))
    if language == "nb":
        return f"{count} time" if count == 1 else f"{count} timer"
    return f"{count} hour" if count == 1 else f"{count} hours"


def days(seconds: float, language: str) -> str:
    count = max(1, round(seconds / 86400))
    if language == "nb":
        return f"{count} dag" if count == 1 else f"{count} dager"
    return f"{count} day" if count == 1 else f"{count} days"


def type_name(kind: str, language: str) -> str:
    return TYPES[kind][language][0]


def state_name(state: str, language: str) -> str:
    return STATES[state][language]


def iso_date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d")


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
