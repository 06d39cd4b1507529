"""What the sensitive-data detectors remove from a case when it is anonymised.

Every built-in detector and the policy's own (``sensitive.detectors``,
``sensitive.presidio``), whatever the live filter's rules select, at
``anonymisation.min_confidence``: lower than the page rules' floor by
default, because on erasure a missed identifier costs more than an invoice
number replaced (a checksum-valid national id next to ``invoice`` scores
0.4, and is still removed at the default 0.3).
"""

from __future__ import annotations

from ..policy.schema import Policy
from ..sensitive.custom import from_spec
from ..sensitive.scanner import Scanner, builtin_detectors


def scanner_for(policy: Policy) -> Scanner:
    custom = [from_spec(spec) for spec in policy.sensitive.custom_detectors()]
    return Scanner([*builtin_detectors(), *custom], floor=policy.anonymisation.min_confidence)
