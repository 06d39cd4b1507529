"""The adapter for a policy's helpdesk settings."""

from __future__ import annotations

import aiohttp

from ..policy.helpdesks import HelpdeskSettings
from .base import HelpdeskAdapter
from .django_helpdesk import DjangoHelpdesk
from .webhook import Webhook
from .zammad import Zammad
from .zendesk import Zendesk

ADAPTERS: dict[str, type[DjangoHelpdesk | Zammad | Zendesk | Webhook]] = {
    cls.name: cls for cls in (DjangoHelpdesk, Zammad, Zendesk, Webhook)
}


def adapter_for(settings: HelpdeskSettings, session: aiohttp.ClientSession | None = None) -> HelpdeskAdapter:
    """The adapter ``settings.adapter`` names, configured by ``settings``.

    With ``session`` it sends through that session (one without cookies: a
    ``DummyCookieJar``) and leaves it open; without, it makes its own, closed
    by ``close()`` or ``async with``.
    """
    return ADAPTERS[settings.adapter](settings, session)
