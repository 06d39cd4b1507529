"""The filters the gateway knows, in the order their request hooks run.

Response hooks run in the reverse order, so the filter that saw a request
first sees its response last (like nested middleware).
"""

from __future__ import annotations

from .base import Filter
from .cookie_consent import CookieConsent
from .data_subject_requests import DataSubjectRequests
from .firewall import Firewall
from .legal_basis import LegalBasisFilter
from .link_signing import LinkSigning
from .sensitive_data import SensitiveData

FILTER_CLASSES: tuple[type[Filter], ...] = (
    Firewall, CookieConsent, LinkSigning, LegalBasisFilter, DataSubjectRequests, SensitiveData,
)
