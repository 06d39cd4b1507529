"""The provider modules by policy name."""

from __future__ import annotations

from .base import Provider
from .sendgrid import SendGrid

PROVIDERS: dict[str, type[Provider]] = {
    cls.name: cls for cls in (SendGrid,)
}
