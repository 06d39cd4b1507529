"""The checklist's items: every status of every item, reached by a policy that should reach it."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import pytest

from gateway.checklist.items import CHECKS, ITEM_IDS, MAX_LINK_TTL, PUBLIC_DEMO_KEYS, Item, checklist, duration
from gateway.helpdesks.base import HelpdeskAdapter
from gateway.helpdesks.django_helpdesk import DjangoHelpdesk
from gateway.helpdesks.registry import ADAPTERS
from gateway.lib.keyring import decode_secret
from tests.support.policy import make_policy

ROOT = Path(__file__).resolve().parents[2]
KEY_A = "raw:" + "a" * 40
KEY_B = "raw:" + "b" * 40
DEMO_LINK_KEY = (ROOT / "policies" / "demo-secrets" / "links.key").read_text().strip()

CONSENT: dict[str, Any] = {
    "enabled": True,
    "keys": [{"id": "k1", "secret": KEY_A}],
    "categories": {"necessary": {"cookies": [{"name": "sessionid"}]}, "analytics": {"cookies": [{"glob": "_ga*"}]}},
}
LINKS: dict[str, Any] = {"enabled": True, "keys": [{"id": "k1", "secret": KEY_B}]}
NOTIFICATIONS: dict[str, Any] = {
    "enabled": True,
    "audiences": {"agents": {"addresses": ["helpdesk.example"]}, "everyone": {"addresses": ["*"]}},
    "templates": {"default": {"subject": "New reply on {case_id}", "text": "There is a reply on {case_id}."}},
    "smtp": {"listen": {"port": 0}, "upstream": {"host": "127.0.0.1", "tls": "none"}, "allow": ["127.0.0.1"]},
}
SENSITIVE_RULE: dict[str, Any] = {"name": "contact", "path": "/contact", "action": "mask"}
ROUTE: dict[str, Any] = {
    "name": "signup", "path": "/signup", "basis": "consent", "purpose": "Answer your questions.",
    "notice": {"en": "I agree that my question is stored."}, "email_field": "email",
}
ORGANISATION: dict[str, Any] = {"name": "Example AS", "dpo": {"email": "dpo@example.com"}}
REQUESTS: dict[str, Any] = {
    "enabled": True, "public_url": "https://help.example.com", "keys": [{"id": "r1", "secret": KEY_A}],
    "mail": {"from": "privacy@example.com"},
    "helpdesk": {"adapter": "zendesk", "url": "https://example.zendesk.com", "queue": "7",
                 "email": "agent@example.com", "api_token": "a-zendesk-token"},
}

DJANGO_HELPDESK: dict[str, Any] = {"adapter": "django-helpdesk", "url": "https://help.example.com", "queue": "3",
                                   "token": "a-django-token"}
WEBHOOK: dict[str, Any] = {"adapter": "webhook", "url": "https://hooks.example.com/privacy", "secret": KEY_B}
ANONYMISATION: dict[str, Any] = {"enabled": True, "keys": [{"id": "p1", "secret": KEY_B}]}
SCHEDULE: dict[str, Any] = {"name": "closed-cases", "older_than": "365d"}


def with_(section: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(section)
    out.update(changes)
    return out


def item(item_id: str, doc: dict[str, Any] | None = None, *, replicas: int = 1) -> Item:
    (found,) = [i for i in checklist(make_policy(doc), replicas=replicas) if i.id == item_id]
    return found


# (item, policy, replicas, status, key, a part of the why)
CASES: list[tuple[str, dict[str, Any], int, str, str, str]] = [
    # the staff area
    ("firewall", {}, 1, "missing", "firewall.rules", "answers every address"),
    ("firewall", {"firewall": {"enabled": False}}, 1, "missing", "firewall.enabled", "the firewall is off"),
    ("firewall", {"firewall": {"rules": [{"name": "open", "path": "/agent/", "allow": ["0.0.0.0/0", "::/0"]}]}}, 1,
     "missing", "firewall.rules", "no rule limits"),
    ("firewall", {"firewall": {"rules": [{"name": "v4-everyone", "path": "/agent/", "allow": ["0.0.0.0/0"]}]}}, 1,
     "missing", "firewall.rules", "no rule limits"),
    ("firewall", {"firewall": {"rules": [
        {"name": "try", "path": "/agent/", "allow": ["192.0.2.0/24"], "shadow": True},
    ]}}, 1, "warn", "firewall.rules[0].shadow", "rule try only reports (shadow mode): /agent/ answers every address"),
    ("firewall", {"firewall": {"rules": [
        {"name": "staff", "path": "/agent/", "allow": ["192.0.2.0/24"]},
        {"name": "api", "path": "/api/", "allow": ["192.0.2.0/24"], "shadow": True},
    ]}}, 1, "warn", "firewall.rules[1].shadow", "rule api only reports"),
    ("firewall", {"ip_lists": {"office": ["192.0.2.0/24"]},
                  "firewall": {"rules": [{"name": "staff", "path": "/agent/", "allow": ["office"]}]}}, 1,
     "ok", "firewall.rules", "rule staff limits /agent/ to listed networks"),
    ("firewall", {"firewall": {"default": "deny", "rules": [{"name": "public", "path": "/"}]}}, 1,
     "ok", "firewall.default", "a path no rule names is refused"),
    # trusted proxies
    ("trusted_proxies", {}, 1, "ok", "client_ip.trusted_proxies", "none: the socket peer is the client"),
    ("trusted_proxies", {"client_ip": {"trusted_proxies": ["10.0.0.5", "10.1.0.0/16", "2001:db8::/48"]}}, 1,
     "ok", "client_ip.trusted_proxies", "3 entries, none wider"),
    ("trusted_proxies", {"client_ip": {"trusted_proxies": ["10.0.0.5", "0.0.0.0/0"]}}, 1,
     "warn", "client_ip.trusted_proxies[1]", "0.0.0.0/0 trusts every address"),
    ("trusted_proxies", {"client_ip": {"trusted_proxies": ["::/0"]}}, 1,
     "warn", "client_ip.trusted_proxies[0]", "::/0 trusts every address"),
    ("trusted_proxies", {"client_ip": {"trusted_proxies": ["10.0.0.0/8"]}}, 1,
     "warn", "client_ip.trusted_proxies[0]", "10.0.0.0/8 is wider than a /16 (IPv4) or /48 (IPv6)"),
    ("trusted_proxies", {"client_ip": {"trusted_proxies": ["2001:db8::/32"]}}, 1,
     "warn", "client_ip.trusted_proxies[0]", "2001:db8::/32 is wider than"),
    ("trusted_proxies", {"ip_lists": {"lb": ["10.0.0.0/8"]}, "client_ip": {"trusted_proxies": ["lb"]}}, 1,
     "warn", "client_ip.trusted_proxies[0]", "list lb holds 10.0.0.0/8, which is wider than"),
    ("trusted_proxies", {"client_ip": {"trusted_proxies": ["10.0.0.0-10.1.0.0"]}}, 1,
     "warn", "client_ip.trusted_proxies[0]", "holds 10.0.0.0/16"),
    # consent
    ("consent", {}, 1, "missing", "consent.enabled", "consent is off"),
    ("consent", {"consent": with_(CONSENT, shadow=True)}, 1, "warn", "consent.shadow", "counted, not removed"),
    ("consent", {"consent": with_(CONSENT, categories={"analytics": {"cookies": [{"glob": "_ga*"}]}})}, 1,
     "warn", "consent.categories.necessary.cookies", "unclassified and removed, so signing in breaks"),
    ("consent", {"consent": with_(CONSENT, unclassified="allow", categories={"necessary": {}})}, 1,
     "warn", "consent.categories.necessary.cookies", "unclassified and let through unasked"),
    ("consent", {"consent": with_(CONSENT, categories={
        "necessary": {"cookies": [{"name": "sessionid"}]},
        "analytics": {"default": True, "allow_preticked": True, "cookies": [{"glob": "_ga*"}]},
    })}, 1, "warn", "consent.categories.analytics.default", "Planet49"),
    ("consent", {"consent": with_(CONSENT, banner={"enabled": False})}, 1,
     "warn", "consent.banner.enabled", "only through the API"),
    ("consent", {"consent": with_(CONSENT, banner={"settings_link": False})}, 1,
     "warn", "consent.banner.settings_link", "Art. 7(3)"),
    ("consent", {"consent": with_(CONSENT, shadow=True, banner={"settings_link": False})}, 1,
     "warn", "consent.shadow, consent.banner.settings_link", "counted, not removed; no \u201cCookie settings\u201d"),
    ("consent", {"consent": CONSENT}, 1, "ok", "consent.enabled", "1 necessary cookie rule, nothing ticked in advance"),
    ("unclassified_cookies", {}, 1, "missing", "consent.enabled", "consent is off"),
    ("unclassified_cookies", {"consent": with_(CONSENT, unclassified="allow")}, 1,
     "missing", "consent.unclassified", "let through"),
    ("unclassified_cookies", {"consent": with_(CONSENT, shadow=True)}, 1, "warn", "consent.shadow", "not removed"),
    ("unclassified_cookies", {"consent": CONSENT}, 1, "ok", "consent.unclassified", "removed both ways"),
    # links
    ("links", {}, 1, "missing", "links.enabled", "never expire"),
    ("links", {"links": with_(LINKS, default_action="keep")}, 1, "warn", "links.default_action", "unsigned"),
    ("links", {"links": with_(LINKS, ttl="31d")}, 1, "warn", "links.ttl", "links work for 31 days; at most 30 days"),
    ("links", {"links": with_(LINKS, rules=[{"hosts": ["docs.example.org"], "action": "sign", "ttl": "90d"}])}, 1,
     "warn", "links.rules[0].ttl", "links to docs.example.org work for 90 days"),
    ("links", {"links": LINKS, "notifications": with_(NOTIFICATIONS, link={
        "url": "https://help.example/c/{case_id}", "base": "https://help.example", "ttl": "60d"})}, 1,
     "warn", "notifications.link.ttl", "case links in notifications work for 60 days"),
    ("links", {"links": with_(LINKS, strip_tracking=False)}, 1, "warn", "links.strip_tracking", "utm_*"),
    ("links", {"links": LINKS}, 1, "ok", "links.ttl", "signed and expire after 7 days"),
    ("links", {"links": with_(LINKS, ttl="1d", rules=[{"hosts": ["x.example"], "action": "sign", "ttl": "30d"}])}, 1,
     "ok", "links.ttl", "expire after 1 day (the longest: 30 days)"),
    # notifications
    ("notifications", {}, 1, "missing", "notifications.enabled", "the whole case"),
    ("notifications", {"notifications": with_(NOTIFICATIONS, default_action="pass")}, 1,
     "missing", "notifications.default_action", "no rule hides anything and default_action passes"),
    ("notifications", {"notifications": with_(NOTIFICATIONS, rules=[{"name": "all", "action": "pass"}])}, 1,
     "missing", "notifications.rules[0].action", "rule all passes every message unchanged"),
    ("notifications", {"notifications": with_(NOTIFICATIONS, rules=[
        {"name": "all", "audience": "everyone", "action": "pass"},
        {"name": "never", "action": "hide"},
    ])}, 1, "missing", "notifications.rules[0].action", "rule all passes"),
    ("notifications", {"notifications": with_(NOTIFICATIONS, default_action="pass", rules=[
        {"name": "customers", "recipients": ["customer.example"], "action": "hide"},
    ])}, 1, "warn", "notifications.default_action", "hidden only for the recipients of rule customers"),
    ("notifications", {"notifications": with_(NOTIFICATIONS, rules=[
        {"name": "subjects", "recipients": ["customer.example"], "action": "hide", "subject_line": "keep"},
    ])}, 1, "warn", "notifications.rules[0].subject_line", "keeps the original subject"),
    ("notifications", {"notifications": with_(NOTIFICATIONS, rules=[
        {"name": "agents", "audience": "agents", "action": "pass"},
        {"name": "trial", "action": "pass", "shadow": True},
    ])}, 1, "ok", "notifications.default_action", "everyone but the recipients of rule agents gets a neutral message"),
    ("notifications", {"notifications": with_(NOTIFICATIONS, default_action="pass", rules=[
        {"name": "rest", "recipients": ["*"], "action": "hide"},
    ])}, 1, "ok", "notifications.rules[0].action", "everyone gets a neutral message instead (rule rest: hide)"),
    ("notifications", {"notifications": with_(NOTIFICATIONS, default_action="block")}, 1,
     "ok", "notifications.default_action", "messages are refused"),
    # sensitive data
    ("sensitive", {}, 1, "missing", "sensitive.enabled", "reach the helpdesk as typed"),
    ("sensitive", {"sensitive": {"enabled": True}}, 1, "missing", "sensitive.rules", "no rule and no sensitive field"),
    ("sensitive", {"sensitive": {"enabled": True, "rules": [with_(SENSITIVE_RULE, shadow=True)],
                                 "sensitive_fields": [{"field": "pnr", "action": "mask", "shadow": True}]}}, 1,
     "warn", "sensitive.rules", "every rule and sensitive field is in shadow mode"),
    ("sensitive", {"sensitive": {"enabled": True, "rules": [with_(SENSITIVE_RULE, action="flag")]}}, 1,
     "warn", "sensitive.rules", "the rules only flag"),
    ("sensitive", {"sensitive": {"enabled": True,
                                 "rules": [SENSITIVE_RULE, with_(SENSITIVE_RULE, name="t", shadow=True)]}}, 1,
     "ok", "sensitive.rules", "1 rule acts on request bodies: contact"),
    ("sensitive", {"sensitive": {"enabled": True, "sensitive_fields": [{"field": "password*", "action": "mask"}]}}, 1,
     "ok", "sensitive.rules", "1 sensitive field acts on request bodies: password*"),
    # rights and information
    ("portal", {}, 1, "missing", "requests", "the data-subject portal is off"),
    ("portal", {"requests": REQUESTS}, 1, "ok", "requests",
     "/_privacy/requests takes 6 request types, verified by e-mail, answered within 30 days; cases opened and "
     "exported through zendesk"),
    ("portal", {"requests": with_(REQUESTS, helpdesk={"adapter": "webhook", "url": "https://hooks.example.com/x",
                                                     "secret": "w" * 32})}, 1,
     "warn", "requests.helpdesk.adapter", "an export cannot read them"),
    ("dpo", {}, 1, "missing", "organisation", "name neither the controller nor its data protection officer"),
    ("dpo", {"organisation": {"name": "Example AS"}}, 1, "missing", "organisation.dpo", "no DPO contact"),
    ("dpo", {"organisation": ORGANISATION}, 1, "warn", "consent.enabled, links.enabled", "no page shows the contact"),
    ("dpo", {"organisation": ORGANISATION, "links": LINKS}, 1,
     "ok", "organisation.dpo", "the DPO's e-mail is shown on the link interstitial"),
    ("dpo", {"organisation": with_(ORGANISATION, dpo={"email": "dpo@example.com", "phone": "+47 00 00 00 00",
                                                      "address": "Gate 1\n0000 By"}),
             "consent": CONSENT, "links": LINKS}, 1,
     "ok", "organisation.dpo",
     "e-mail, phone and address are shown on the consent settings page and the link interstitial"),
    ("privacy_notice", {}, 1, "warn", "organisation.privacy_notice_url", "link no privacy notice"),
    ("privacy_notice", {"organisation": with_(ORGANISATION, privacy_notice_url="/privacy")}, 1,
     "ok", "organisation.privacy_notice_url", "linked"),
    ("privacy_notice", {"consent": with_(CONSENT, banner={"privacy_url": "/privacy"})}, 1,
     "ok", "consent.banner.privacy_url", "linked from the consent banner"),
    ("legal_basis", {}, 1, "missing", "legal_basis.enabled", "no legal basis is recorded"),
    ("legal_basis", {"legal_basis": {"enabled": True, "keys": [{"id": "k1", "secret": KEY_A}],
                                     "routes": [with_(ROUTE, shadow=True)]}}, 1,
     "warn", "legal_basis.routes[0].shadow", "route signup: submissions without consent pass"),
    ("legal_basis", {"legal_basis": {"enabled": True, "keys": [{"id": "k1", "secret": KEY_A}],
                                     "routes": [with_(ROUTE, email_field=None, basis="contract")]}}, 1,
     "warn", "legal_basis.routes[0].email_field", "records carry no e-mail hash"),
    ("legal_basis", {"legal_basis": {"enabled": True, "keys": [{"id": "k1", "secret": KEY_A}],
                                     "routes": [ROUTE, with_(ROUTE, name="ticket", basis="contract", shadow=True)]}}, 1,
     "ok", "legal_basis.routes", "2 routes record their basis: signup (consent), ticket (contract)"),
    ("retention", {}, 1, "missing", "anonymisation.enabled", "no retention schedule anonymises or deletes"),
    ("retention", {"requests": REQUESTS, "anonymisation": ANONYMISATION}, 1,
     "warn", "anonymisation.schedules", "on request or by command only"),
    ("retention", {"requests": with_(REQUESTS, helpdesk=WEBHOOK), "anonymisation": with_(ANONYMISATION, schedules=[
        SCHEDULE])}, 1, "warn", "requests.helpdesk", "the webhook adapter cannot find or read cases"),
    ("retention", {"anonymisation": with_(ANONYMISATION, helpdesk=WEBHOOK, schedules=[SCHEDULE])}, 1,
     "warn", "anonymisation.helpdesk", "the webhook adapter cannot find or read cases"),
    ("retention", {"requests": with_(REQUESTS, helpdesk=WEBHOOK), "anonymisation": with_(
        ANONYMISATION, helpdesk=DJANGO_HELPDESK, every="6h",
        schedules=[SCHEDULE, with_(SCHEDULE, name="spam", older_than="30d", action="delete")])}, 1,
     "ok", "anonymisation.schedules",
     "2 schedules, run every 6 hours: closed-cases (anonymise after 365 days), spam (delete after 30 days)"),
    ("retention", {"requests": with_(REQUESTS, helpdesk=DJANGO_HELPDESK),
                   "anonymisation": with_(ANONYMISATION, schedules=[SCHEDULE])}, 1,
     "ok", "anonymisation.schedules", "1 schedule, run every hour: closed-cases (anonymise after 365 days)"),
    ("consent_receipts", {}, 1, "ok", "store.receipt_retention", "no receipts are written"),
    ("consent_receipts", {"consent": CONSENT, "store": {"receipt_retention": "30d"}}, 1,
     "warn", "store.receipt_retention", "deleted after 30 days, but a consent cookie lives 180 days"),
    ("consent_receipts", {"consent": CONSENT}, 1,
     "ok", "store.receipt_retention", "kept 365 days, at least as long as a consent cookie lives (180 days)"),
    # operations
    ("store", {"consent": CONSENT, "store": {"url": "postgresql://gateway@db.example:5432/gateway"}}, 4,
     "ok", "store.url", "PostgreSQL"),
    ("store", {}, 4, "ok", "store.url", "no enabled filter keeps state"),
    ("store", {"consent": CONSENT}, 3, "missing", "store.url", "3 replicas with an SQLite file each"),
    ("store", {"links": LINKS}, 1, "ok", "store.url", "pass --replicas N"),
    ("secrets", {}, 1, "ok", "-", "the loader refuses keys and passwords written inline"),
    ("secrets", {"consent": CONSENT, "links": LINKS}, 1,
     "ok", "links.keys, consent.keys", "no key is the demo's or shared"),
    ("secrets", {"links": with_(LINKS, keys=[{"id": "demo", "secret": DEMO_LINK_KEY}])}, 1,
     "warn", "links.keys[0].secret", "the demo's public key (policies/demo-secrets/links.key)"),
    ("secrets", {"consent": CONSENT, "links": with_(LINKS, keys=[{"id": "k9", "secret": KEY_A}])}, 1,
     "warn", "consent.keys[0].secret", "the same secret as links.keys[0].secret"),
    ("log_addresses", {"logging": {"client_ip": "full"}}, 1, "missing", "logging.client_ip", "whole client addresses"),
    ("log_addresses", {"logging": {"client_ip": "hashed"}}, 1, "ok", "logging.client_ip", "keyed hashes"),
    ("log_addresses", {}, 1, "ok", "logging.client_ip", "cut to /24 (IPv4) and /48 (IPv6)"),
    ("transport", {}, 1, "ok", "upstream.url", "the helpdesk is reached over TLS or on this host only"),
    ("transport", {"upstream": {"url": "https://helpdesk.internal"}}, 1, "ok", "upstream.url", "over TLS"),
    ("transport", {"upstream": {"url": "http://helpdesk.internal:8000"}}, 1,
     "warn", "upstream.url", "the helpdesk is reached without TLS at helpdesk.internal"),
    ("transport", {"notifications": with_(NOTIFICATIONS, smtp={
        "listen": {"port": 0}, "upstream": {"host": "smtp.example", "tls": "none"}, "allow": ["127.0.0.1"]})}, 1,
     "warn", "notifications.smtp.upstream.tls", "the smarthost is reached without TLS at smtp.example"),
    ("transport", {"notifications": with_(NOTIFICATIONS, smtp=None, egress={
        "listen": {"port": 0}, "allow": ["127.0.0.1"],
        "routes": [{"provider": "sendgrid", "upstream": "http://[::1]:8081"},
                   {"provider": "mailgun", "upstream": "http://mail.example"}]})}, 1,
     "warn", "notifications.egress.routes[1].upstream", "the mailgun API is reached without TLS"),
]


@pytest.mark.parametrize(("item_id", "doc", "replicas", "status", "key", "why"), CASES)
def test_each_item(item_id: str, doc: dict[str, Any], replicas: int, status: str, key: str, why: str) -> None:
    found = item(item_id, doc, replicas=replicas)
    assert (found.status, found.key) == (status, key), found
    assert why in found.why, found


# What each item can answer; every pair is reached by a case above.
REACHABLE = {
    "firewall": {"ok", "warn", "missing"}, "trusted_proxies": {"ok", "warn"}, "consent": {"ok", "warn", "missing"},
    "unclassified_cookies": {"ok", "warn", "missing"}, "links": {"ok", "warn", "missing"},
    "notifications": {"ok", "warn", "missing"}, "sensitive": {"ok", "warn", "missing"}, "portal": {"ok", "warn", "missing"},
    "dpo": {"ok", "warn", "missing"}, "privacy_notice": {"ok", "warn"}, "legal_basis": {"ok", "warn", "missing"},
    "retention": {"ok", "warn", "missing"}, "consent_receipts": {"ok", "warn"}, "store": {"ok", "missing"},
    "secrets": {"ok", "warn"}, "log_addresses": {"ok", "missing"}, "transport": {"ok", "warn"},
}


class NotListing(DjangoHelpdesk):
    list_cases = HelpdeskAdapter.list_cases


def test_retention_warns_when_the_helpdesk_cannot_list_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {"anonymisation": with_(ANONYMISATION, helpdesk=DJANGO_HELPDESK, schedules=[SCHEDULE])}
    assert item("retention", doc).status == "ok"
    monkeypatch.setitem(ADAPTERS, "django-helpdesk", NotListing)
    found = item("retention", doc)
    assert (found.status, found.key) == ("warn", "anonymisation.schedules"), found
    assert "the django-helpdesk adapter cannot list cases by state and age" in found.why


def test_the_cases_reach_every_status_of_every_item() -> None:
    assert set(REACHABLE) == set(ITEM_IDS)
    reached: dict[str, set[str]] = {}
    for item_id, _, _, status, _, _ in CASES:
        reached.setdefault(item_id, set()).add(status)
    assert reached == REACHABLE


def test_every_item_once_in_a_fixed_order() -> None:
    items = checklist(make_policy({}))
    assert [i.id for i in items] == list(ITEM_IDS) == [c[0] for c in CHECKS]
    assert len(set(ITEM_IDS)) == len(ITEM_IDS)
    assert all(i.status in ("ok", "warn", "missing") and i.key and i.title and i.why for i in items)
    assert all("\n" not in i.why for i in items)


def test_skip_leaves_items_out() -> None:
    items = checklist(make_policy({}), skip=["portal", "retention"])
    assert [i.id for i in items] == [i for i in ITEM_IDS if i not in ("portal", "retention")]


def test_replicas_must_be_at_least_one() -> None:
    with pytest.raises(ValueError):
        checklist(make_policy({}), replicas=0)


def test_the_worst_findings_name_every_key_and_why() -> None:
    found = item("links", {"links": with_(LINKS, ttl="40d", strip_tracking=False)})
    assert found.status == "warn"
    assert found.key == "links.ttl, links.strip_tracking"
    assert found.why == ("links work for 40 days; at most 30 days limits what a forwarded or leaked link gives away; "
                         "tracking parameters (utm_*, fbclid, gclid...) stay in the signed links")


def test_as_dict() -> None:
    found = item("portal")
    assert found.as_dict() == {"id": "portal", "status": "missing", "key": "requests",
                               "title": "Data-subject portal", "why": found.why}


def test_the_public_demo_keys_are_those_shipped() -> None:
    shipped = {
        hashlib.sha256(decode_secret(path.read_text().strip())).hexdigest(): f"policies/demo-secrets/{path.name}"
        for path in sorted((ROOT / "policies" / "demo-secrets").glob("*.key"))
    }
    assert shipped == PUBLIC_DEMO_KEYS


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(7 * 86400, "7 days"), (86400, "1 day"), (1.5 * 86400, "1.5 days"), (MAX_LINK_TTL, "30 days"), (7200, "2 hours"),
     (90, "1.5 minutes"), (1, "1 second"), (0.5, "0.5 seconds")],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text
