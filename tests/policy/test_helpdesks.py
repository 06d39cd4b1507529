"""HelpdeskSettings: each adapter's settings, every error with its text, and credentials by reference only.

The model is embedded by the ``requests`` section; here it is validated on its
own, with the messages the loader would print, and the loader's secret check
is shown on a helpdesk mapping wherever it sits in a policy file.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.policy import PolicyError, load_policy_text
from gateway.policy.errors import describe, show
from gateway.policy.helpdesks import HelpdeskSettings

SECRET = "s" * 32
VALID: dict[str, dict[str, Any]] = {
    "django-helpdesk": {"adapter": "django-helpdesk", "url": "http://helpdesk:8000/helpdesk", "queue": 3,
                        "username": "gateway", "password": "pw"},
    "zammad": {"adapter": "zammad", "url": "https://zammad.example.com", "queue": "Privacy requests", "token": "t"},
    "zendesk": {"adapter": "zendesk", "url": "https://acme.zendesk.com", "queue": "360001234567",
                "email": "agent@acme.example", "api_token": "t"},
    "webhook": {"adapter": "webhook", "url": "https://hooks.example.com/privacy?source=gw", "secret": SECRET},
}


def errors_of(values: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as info:
        HelpdeskSettings.model_validate(values)
    return [f"{'.'.join(map(str, e['loc'])) or '-'}: {describe(e, show(e['input']))}" for e in info.value.errors()]


@pytest.mark.parametrize("adapter", list(VALID))
def test_each_adapter_loads_with_documented_defaults(adapter: str) -> None:
    settings = HelpdeskSettings.model_validate(VALID[adapter])
    assert settings.adapter == adapter
    assert (settings.timeout, settings.connect_timeout, settings.retries) == (30.0, 10.0, 3)
    assert (settings.backoff, settings.max_wait, settings.tls_ca) == (1.0, 60.0, None)


def test_values_as_an_operator_writes_them() -> None:
    settings = HelpdeskSettings.model_validate({**VALID["django-helpdesk"], "timeout": "5s", "connect_timeout": "500ms",
                                                "retries": 0, "backoff": "250ms", "max_wait": "2m"})
    assert settings.queue == "3"  # a YAML number, kept as text
    assert (settings.timeout, settings.connect_timeout, settings.retries) == (5.0, 0.5, 0)
    assert (settings.backoff, settings.max_wait) == (0.25, 120.0)
    token = HelpdeskSettings.model_validate({**VALID["django-helpdesk"], "username": None, "password": None,
                                             "token": "drf-token"})
    assert token.token == "drf-token"
    basic = HelpdeskSettings.model_validate({**VALID["zammad"], "token": None, "username": "u", "password": "p"})
    assert basic.username == "u"
    assert HelpdeskSettings.model_validate({**VALID["webhook"], "queue": "dsar"}).queue == "dsar"


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        HelpdeskSettings.model_validate({**VALID["zammad"], "queue_id": 3})
    assert [(e["loc"], e["type"]) for e in info.value.errors()] == [(("queue_id",), "extra_forbidden")]


def test_credentials_never_show_in_repr() -> None:
    for values in VALID.values():
        text = repr(HelpdeskSettings.model_validate({**values, **{
            k: "CREDENTIAL-" + "x" * 32 for k in ("password", "token", "api_token", "secret") if k in values}}))
        assert "CREDENTIAL" not in text


@pytest.mark.parametrize(("changes", "expected"), [
    ({"adapter": "freshdesk"},
     "adapter: must be 'django-helpdesk', 'zammad', 'zendesk' or 'webhook', got 'freshdesk'"),
    ({"url": "helpdesk:8000"}, "url: 'helpdesk:8000' is not an http:// or https:// URL with a host"),
    ({"url": "ftp://helpdesk/"}, "url: 'ftp://helpdesk/' is not an http:// or https:// URL with a host"),
    ({"url": "http://gateway:pw@helpdesk:8000/helpdesk"},
     "url: the URL must not hold credentials: give them as the adapter's own keys, by reference"),
    ({"url": "http://helpdesk/#top"}, "url: 'http://helpdesk/#top' must not have a fragment"),
    ({"url": "http://helpdesk/helpdesk?x=1"}, "-: the django-helpdesk url is a base URL: no query"),
    ({"password": None}, "-: the django-helpdesk adapter takes username and password or token (found username)"),
    ({"token": "t"},
     "-: the django-helpdesk adapter takes username and password or token (found username, password, token)"),
    ({"api_token": "t"},
     "-: the django-helpdesk adapter takes username and password or token (found username, password, api_token)"),
    ({"queue": None}, "-: the django-helpdesk adapter needs queue: where data-subject requests are opened"),
    ({"queue": "support"}, "-: django-helpdesk names the queue by its numeric id, not 'support'"),
    ({"queue": True}, "queue: True is not a queue id or name"),
    ({"timeout": 0}, "timeout: must be > 0, got 0"),
    ({"timeout": "soon"}, "timeout: 'soon' is not a duration (use e.g. 30s, 250ms, 5m, 7d)"),
    ({"retries": 11}, "retries: must be <= 10, got 11"),
    ({"retries": -1}, "retries: must be >= 0, got -1"),
    ({"backoff": "2m", "max_wait": "1m"}, "-: max_wait must be at least backoff"),
    ({"tls_ca": "not a certificate"}, "tls_ca: tls_ca holds no usable PEM certificate"),
])
def test_bad_django_helpdesk_settings(changes: dict[str, Any], expected: str) -> None:
    assert errors_of({**VALID["django-helpdesk"], **changes}) == [expected]


@pytest.mark.parametrize(("adapter", "changes", "expected"), [
    ("zammad", {"token": None}, "-: the zammad adapter takes token or username and password"),
    ("zammad", {"queue": ""}, "-: the zammad adapter needs queue: where data-subject requests are opened"),
    ("zendesk", {"email": None}, "-: the zendesk adapter takes email and api_token (found api_token)"),
    ("zendesk", {"token": "oauth"}, "-: the zendesk adapter takes email and api_token (found token, email, api_token)"),
    ("zendesk", {"queue": "Privacy"}, "-: zendesk names the group by its numeric id, not 'Privacy'"),
    ("webhook", {"secret": None}, "-: the webhook adapter takes secret"),
    ("webhook", {"secret": "short"}, "-: the webhook secret must be at least 32 bytes"),
    ("webhook", {"token": "t"}, "-: the webhook adapter takes secret (found token, secret)"),
])
def test_bad_settings_of_the_other_adapters(adapter: str, changes: dict[str, Any], expected: str) -> None:
    errors = errors_of({**VALID[adapter], **changes})
    assert errors == [expected]
    assert "short" not in " ".join(errors[1:])  # a secret is never echoed


def test_inline_credentials_are_policy_errors_at_their_line(tmp_path: Path) -> None:
    """The loader's secret keys apply wherever a helpdesk mapping sits (here a stand-in section)."""
    text = textwrap.dedent("""\
        version: 1
        upstream: {url: "http://helpdesk.test:8000"}
        x-helpdesk:
          adapter: zendesk
          url: https://acme.zendesk.com
          email: agent@acme.example
          api_token: abc123-inline
          token: inline-too
          password: "${HELPDESK_PASSWORD}"
          secret: "${file:webhook.secret}"
        """)
    (tmp_path / "webhook.secret").write_text(SECRET)
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, "site.yaml", env={"HELPDESK_PASSWORD": "pw"}, base_dir=tmp_path)
    issues = [str(issue) for issue in info.value.issues]
    inline = "key material must be a reference, not inline: write ${ENV_VAR} or ${file:path}"
    assert f"site.yaml:7: x-helpdesk.api_token: {inline}" in issues
    assert f"site.yaml:8: x-helpdesk.token: {inline}" in issues
    assert not any("password" in issue or "secret:" in issue for issue in issues)  # references are fine
    assert not any("abc123" in issue or "inline-too" in issue for issue in issues)
