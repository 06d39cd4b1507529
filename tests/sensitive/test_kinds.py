"""What kinds are called in refusals and in a page's notice."""

from __future__ import annotations

from gateway.sensitive.kinds import counted, describe


def test_a_refusal_describes_built_in_kinds_and_calls_others_personal_data() -> None:
    assert describe("dk_cpr") == "a Danish CPR number"
    assert describe("order_ref") == "personal data"


def test_a_notice_groups_national_ids_and_uses_plurals() -> None:
    assert counted({"card": 2, "no_fnr": 1}) == "1 national ID number, 2 card numbers"
    assert counted({"se_pnr": 1, "dk_cpr": 2, "email": 1, "phone": 0}) == "3 national ID numbers, 1 e-mail address"
    assert counted({"order_ref": 3, "iban": 1}) == "1 bank account number, 3 order_ref values"
    assert counted({}) == ""
