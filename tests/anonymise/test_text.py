"""Pseudonyms, the requester's identifiers in their spellings, and anonymised texts."""

from __future__ import annotations

from gateway.anonymise.text import Identifiers, anonymise_text, is_pseudonym, pseudonym
from gateway.sensitive.scanner import Scanner, builtin_detectors

KEY = b"k" * 32
KARI = Identifiers.of(emails=["Kari.Nordmann@example.no"], phones=["+47 22 33 44 55"], names=["Kari Nordmann"])


def test_a_pseudonym_is_stable_per_person_and_says_nothing_of_the_address() -> None:
    assert pseudonym(KEY, "kari@example.no") == pseudonym(KEY, " KARI@example.no ")
    assert pseudonym(KEY, "kari@example.no") != pseudonym(KEY, "ola@example.no")
    assert pseudonym(KEY, "kari@example.no").startswith("Customer ") and "kari" not in pseudonym(KEY, "kari@example.no")
    assert pseudonym(b"x" * 32, "kari@example.no") != pseudonym(KEY, "kari@example.no")


def test_a_name_of_the_pseudonyms_form_is_told() -> None:
    assert is_pseudonym(pseudonym(KEY, "kari@example.no")) and is_pseudonym(" customer  7F3A ")
    for name in ("Kari Nordmann", "Customer", "Customer 7f3a9", "Customer Kari", "Client 7f3a", "Our Customer 7f3a"):
        assert not is_pseudonym(name), name


def test_identifiers_in_the_spellings_helpdesk_text_holds() -> None:
    text = ("Hi, this is kari nordmann (KARI.NORDMANN@EXAMPLE.NO). Call 22 33 44 55, +47 22334455 or 0047-22-33-44-55."
            " Regards, Kari. Cc: karianne@example.no, 122334455")
    new, counts = anonymise_text(text, KARI)
    assert new == ("Hi, this is [name] ([e-mail]). Call [phone], [phone] or [phone]."
                   " Regards, [name]. Cc: karianne@example.no, 122334455")
    assert counts == {"name": 2, "email": 1, "phone": 3}


def test_detected_values_go_too_and_are_counted_by_kind() -> None:
    scanner = Scanner(builtin_detectors())
    new, counts = anonymise_text("Mitt fødselsnummer er 01010012356 og kortet 4111 1111 1111 1111.", KARI, scanner)
    assert new == "Mitt fødselsnummer er [no_fnr] og kortet [card]."
    assert counts == {"no_fnr": 1, "card": 1}


def test_nothing_known_changes_nothing() -> None:
    assert anonymise_text("Printer on fire", Identifiers.of()) == ("Printer on fire", {})
