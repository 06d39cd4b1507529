"""adapter_for: the policy's adapter name picks the module; a session given is shared, not closed."""

from __future__ import annotations

from typing import get_args

import aiohttp
import pytest

from gateway.helpdesks.base import HelpdeskAdapter
from gateway.helpdesks.django_helpdesk import DjangoHelpdesk
from gateway.helpdesks.registry import ADAPTERS, adapter_for
from gateway.helpdesks.webhook import Webhook
from gateway.helpdesks.zammad import Zammad
from gateway.helpdesks.zendesk import Zendesk
from gateway.policy.helpdesks import HelpdeskSettings

SETTINGS = {
    "django-helpdesk": {"url": "http://helpdesk:8000/helpdesk", "username": "agent", "password": "pw", "queue": 1},
    "zammad": {"url": "https://zammad.example.com", "token": "t", "queue": "Users"},
    "zendesk": {"url": "https://acme.zendesk.com", "email": "agent@acme.example", "api_token": "t", "queue": 9},
    "webhook": {"url": "https://hooks.example.com/privacy", "secret": "s" * 32},
}


def test_every_policy_adapter_has_a_module() -> None:
    names = get_args(HelpdeskSettings.model_fields["adapter"].annotation)
    assert set(ADAPTERS) == set(SETTINGS) == set(names) and len(names) == 4


@pytest.mark.parametrize(("name", "cls"), [
    ("django-helpdesk", DjangoHelpdesk), ("zammad", Zammad), ("zendesk", Zendesk), ("webhook", Webhook),
])
async def test_adapter_for_makes_the_named_adapter(name: str, cls: type[HelpdeskAdapter]) -> None:
    settings = HelpdeskSettings.model_validate({"adapter": name, **SETTINGS[name]})
    async with aiohttp.ClientSession() as session:
        async with adapter_for(settings, session) as adapter:
            assert type(adapter) is cls and adapter.name == name
            assert adapter.can_search is (name != "webhook")
        assert not session.closed  # shared: the caller closes it
    async with adapter_for(settings) as own:  # its own session, made on first use and closed on exit
        assert type(own) is cls
