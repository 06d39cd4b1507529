"""The ``organisation`` policy section: the controller and its DPO's contact."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.policy.organisation import Organisation


def test_a_full_section_loads_trimmed() -> None:
    org = Organisation.model_validate({"name": " Example AS ", "privacy_notice_url": "https://example.org/privacy",
                                       "dpo": {"name": "DPO", "email": "dpo@example.org", "phone": "+47 22 00 00 00",
                                               "address": "Gate 1\n0150 Oslo"}})
    assert org.name == "Example AS" and org.dpo is not None and org.dpo.address == "Gate 1\n0150 Oslo"


@pytest.mark.parametrize(("doc", "message"), [
    ({"name": ""}, "name must be 1-200 printable characters"),
    ({"name": "X", "dpo": {"email": "not-an-address"}}, "is not an e-mail address"),
    ({"name": "X", "dpo": {"name": "A\x07B", "email": "a@b.example"}}, "printable"),
    ({"name": "X", "privacy_notice_url": "javascript:alert(1)"}, "privacy_notice_url must be a path"),
    ({"name": "X", "dpo": {}}, "Field required"),
])
def test_what_cannot_be_shown_is_refused(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Organisation.model_validate(doc)
