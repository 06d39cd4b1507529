"""The checklist's items: what a data protection officer asks of a deployed policy, answered from it (pure).

Each item is ``ok``; ``warn`` when its safeguard is there but weakened
(shadow mode, a network or a lifetime too wide, a gap a rule leaves); or
``missing`` when the safeguard is not there at all. It names the policy key
to change and says why in one line. Only what the policy shows is checked;
what it cannot know (how many replicas run) is an argument. An item that
finds several problems of its worst status names every key and every why.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

import netaddr

from ..helpdesks.base import HelpdeskAdapter
from ..helpdesks.registry import ADAPTERS
from ..http.addresses import AddressBook
from ..lib.keyring import decode_secret
from ..policy.consent import NECESSARY
from ..policy.notifications import NotificationRule, Notifications
from ..policy.schema import FirewallRule, Policy
from ..policy.units import is_address_literal
from ..runtime import needs_store

Status = Literal["ok", "warn", "missing"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "missing")

MAX_LINK_TTL = 30 * 86400.0
# Wider than these is more than a load balancer's network: every host in it could claim any client address.
_WIDEST_PREFIX = {4: 16, 6: 48}
_EVERY_V4 = netaddr.IPSet(["0.0.0.0/0"])
_EVERY_V6 = netaddr.IPSet(["::/0"])
# SHA-256 of the key material in policies/demo-secrets/: published with the project, so they protect nothing.
PUBLIC_DEMO_KEYS = {
    "b67474cb3615e318c4af1b18efead768c853a7f4c98fcd42d7f39d2843f985a1": "policies/demo-secrets/links.key",
    "f8ac7900155741d488cd7f53d16a750d7fab6cccee48ca1c5d2ed8ec0ea461d3": "policies/demo-secrets/consent.key",
    "2e595639ea43a03d027c3e87da0b53ce00a8538ee380877edaaab520e3e0fc7b": "policies/demo-secrets/legal-basis.key",
    "9cf0850298c0605a01f44bcce5247f502f29c5602ed97bcf0f8f86ab7b890685": "policies/demo-secrets/requests.key",
    "ed47aff597599b48bed99d15fc44e77cf066c01f8c8b130d83e814b110b249c9": "policies/demo-secrets/requests-webhook.key",
    "be09523da3952a00d44b40379a39eec53d48335aa596f3d265e048ab631591d9": "policies/demo-secrets/requests-api.key",
    "41cb396a1132e8e33fb1ae927c92cbac7a02aca3e0f5a1c0dc75c1b44c7906cb": "policies/demo-secrets/anonymisation.key",
    "6e172ceeff8fc5bba4973d6d67a185859f79a6f8b80f0c6f608bc58cc662850d": "policies/demo-secrets/helpdesk-api.key",
}


@dataclass(frozen=True, slots=True)
class Item:
    id: str  # stable across releases, for --skip and for CI
    status: Status
    key: str  # the policy key(s) to change, comma-separated
    title: str
    why: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "status": self.status, "key": self.key, "title": self.title, "why": self.why}


class Finding(NamedTuple):
    status: Status
    key: str
    why: str


def _ok(key: str, why: str) -> Finding:
    return Finding("ok", key, why)


def _warn(key: str, why: str) -> Finding:
    return Finding("warn", key, why)


def _missing(key: str, why: str) -> Finding:
    return Finding("missing", key, why)


def duration(seconds: float) -> str:
    """``7 days``, ``12 hours``, ``90 seconds``: a lifetime as people say it."""
    for unit, size in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size:
            count = round(seconds / size, 1)
            return f"{count:g} {unit}{'' if count == 1 else 's'}"
    return f"{seconds:g} second{'' if seconds == 1 else 's'}"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _names(names: Iterable[str]) -> str:
    return ", ".join(names)


def _rules(names: list[str]) -> str:
    """``rule a``, ``rules a, b``."""
    return f"{'rule' if len(names) == 1 else 'rules'} {_names(names)}"


def _and(names: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    listed = list(names)
    return " and ".join(filter(None, (", ".join(listed[:-1]), listed[-1]))) if listed else ""


# --- the staff area and who the client is -------------------------------------------------


def _everyone(ipset: netaddr.IPSet) -> bool:
    return bool(ipset.issuperset(_EVERY_V4) or ipset.issuperset(_EVERY_V6))


def _where(rule: FirewallRule) -> str:
    return rule.path or rule.path_exact or "every path"


def _firewall(policy: Policy, replicas: int) -> list[Finding]:
    firewall = policy.firewall
    if not firewall.enabled:
        return [_missing("firewall.enabled", "the firewall is off: the agents' area answers every address")]
    book = AddressBook(policy.ip_lists)
    limiting = [
        (i, r) for i, r in enumerate(firewall.rules) if r.allow is not None and not _everyone(book.ipset(r.allow))
    ]
    found = [
        _warn(f"firewall.rules[{i}].shadow",
              f"rule {r.name} only reports (shadow mode): {_where(r)} answers every address")
        for i, r in limiting if r.shadow
    ]
    enforced = [r for _, r in limiting if not r.shadow]
    deny = "a path no rule names is refused (default: deny)"
    if enforced:
        paths = _names(dict.fromkeys(_where(r) for r in enforced))
        why = f"{_rules([r.name for r in enforced])} limit{'s' * (len(enforced) == 1)} {paths} to listed networks"
        found.append(_ok("firewall.rules", why + (f"; {deny}" if firewall.default == "deny" else "")))
    elif firewall.default == "deny":
        found.append(_ok("firewall.default", deny))
    elif not found:
        found.append(_missing("firewall.rules", "no rule limits a path to listed networks (allow) and the default is "
                              "allow: the agents' area answers every address"))
    return found


def _wide(ipset: netaddr.IPSet) -> str | None:
    """The widest network of ``ipset`` when the set holds more addresses of a version than _WIDEST_PREFIX allows."""
    sizes = {4: 0, 6: 0}
    widest: dict[int, netaddr.IPNetwork] = {}
    for cidr in ipset.iter_cidrs():
        sizes[cidr.version] += cidr.size
        if cidr.version not in widest or cidr.prefixlen < widest[cidr.version].prefixlen:
            widest[cidr.version] = cidr
    for version, prefix in _WIDEST_PREFIX.items():
        if sizes[version] > 2 ** ((32 if version == 4 else 128) - prefix):
            return str(widest[version])
    return None


def _trusted_proxies(policy: Policy, replicas: int) -> list[Finding]:
    refs = policy.client_ip.trusted_proxies
    if not refs:
        return [_ok("client_ip.trusted_proxies", "none: the socket peer is the client (right when nothing stands "
                    "in front of the gateway)")]
    book = AddressBook(policy.ip_lists)
    found = []
    for i, ref in enumerate(refs):
        ipset = book.ipset([ref])
        shown = ref if is_address_literal(ref) else f"list {ref}"
        key = f"client_ip.trusted_proxies[{i}]"
        if _everyone(ipset):
            found.append(_warn(key, f"{shown} trusts every address: any client can claim any address in "
                               "X-Forwarded-For and pass the firewall"))
        elif (network := _wide(ipset)) is not None:
            held = "" if network == shown else f" holds {network}, which"
            found.append(_warn(key, f"{shown}{held} is wider than a /16 (IPv4) or /48 (IPv6): every host there can "
                               "claim any client address; list the load balancers only"))
    found.append(_ok("client_ip.trusted_proxies", f"{_plural(len(refs), 'entry', 'entries')}, none wider than a /16 "
                     "(IPv4) or /48 (IPv6)"))
    return found


# --- cookies ---------------------------------------------------------------------------


def _consent(policy: Policy, replicas: int) -> list[Finding]:
    consent = policy.consent
    if not consent.enabled:
        return [_missing("consent.enabled", "consent is off: the helpdesk's cookies are set and read without "
                         "consent (ePrivacy Art. 5(3))")]
    found = []
    if consent.shadow:
        found.append(_warn("consent.shadow", "shadow mode: cookies without consent are counted, not removed"))
    necessary = consent.categories.get(NECESSARY)
    if necessary is None or not necessary.cookies:
        effect = "removed, so signing in breaks" if consent.unclassified == "block" else "let through unasked"
        found.append(_warn("consent.categories.necessary.cookies", "no cookie is listed as necessary: the helpdesk's "
                           f"session cookie is unclassified and {effect}"))
    for name, category in consent.categories.items():
        if category.default:
            found.append(_warn(f"consent.categories.{name}.default", f"{name} is ticked before the visitor decides: "
                               "not valid consent in the EU (GDPR Art. 4(11), CJEU C-673/17 Planet49)"))
    if consent.cmp is None and not consent.banner.enabled:
        found.append(_warn("consent.banner.enabled", "no banner and no consent manager: visitors can give or "
                           "withdraw consent only through the API"))
    elif consent.cmp is None and not consent.banner.settings_link:
        found.append(_warn("consent.banner.settings_link", "no \u201cCookie settings\u201d link after a decision: "
                           "withdrawing is not as easy as giving (GDPR Art. 7(3))"))
    rules = len(necessary.cookies) if necessary is not None else 0
    found.append(_ok("consent.enabled", f"enforced on the wire; {_plural(rules, 'necessary cookie rule')}, "
                     "nothing ticked in advance"))
    return found


def _unclassified(policy: Policy, replicas: int) -> list[Finding]:
    consent = policy.consent
    if not consent.enabled:
        return [_missing("consent.enabled", "consent is off: cookies no category claims pass as well")]
    if consent.unclassified == "allow":
        return [_missing("consent.unclassified", "cookies no category claims are let through: a tracker the policy "
                         "does not list yet is set without consent")]
    if consent.shadow:
        return [_warn("consent.shadow", "consent is in shadow mode: cookies no category claims are counted, "
                      "not removed")]
    return [_ok("consent.unclassified", "cookies no category claims are removed both ways")]


# --- links and notifications ----------------------------------------------------------------


def _links(policy: Policy, replicas: int) -> list[Finding]:
    links = policy.links
    if not links.enabled:
        return [_missing("links.enabled", "external links pass untouched: they never expire and keep their "
                         "tracking parameters")]
    found = []
    if links.default_action == "keep":
        found.append(_warn("links.default_action", "links to hosts no rule names stay as they are: unsigned, "
                           "never expiring"))
    limit = f"at most {duration(MAX_LINK_TTL)} limits what a forwarded or leaked link gives away"
    lifetimes = [links.ttl]
    if links.ttl > MAX_LINK_TTL:
        found.append(_warn("links.ttl", f"links work for {duration(links.ttl)}; {limit}"))
    for i, rule in enumerate(links.rules):
        if rule.action == "sign" and rule.ttl is not None:
            lifetimes.append(rule.ttl)
            if rule.ttl > MAX_LINK_TTL:
                found.append(_warn(f"links.rules[{i}].ttl",
                                   f"links to {_names(rule.hosts)} work for {duration(rule.ttl)}; {limit}"))
    case_link = policy.notifications.link if policy.notifications.enabled else None
    if case_link is not None and case_link.ttl is not None:
        lifetimes.append(case_link.ttl)
        if case_link.ttl > MAX_LINK_TTL:
            found.append(_warn("notifications.link.ttl",
                               f"case links in notifications work for {duration(case_link.ttl)}; {limit}"))
    if not links.strip_tracking:
        found.append(_warn("links.strip_tracking", "tracking parameters (utm_*, fbclid, gclid...) stay in the "
                           "signed links"))
    longest = max(lifetimes)
    extra = f" (the longest: {duration(longest)})" if longest != links.ttl else ""
    found.append(_ok("links.ttl", f"external links are signed and expire after {duration(links.ttl)}{extra}"))
    return found


def _for_everyone(rule: NotificationRule, config: Notifications) -> bool:
    """Whether every condition the rule gives matches every message (``*`` stands for any address)."""
    if rule.sender is not None or rule.subject is not None:
        return False
    if rule.recipients is not None and "*" not in (r.rstrip(".") for r in rule.recipients):
        return False
    if rule.audience is not None:
        audience = config.audiences.get(rule.audience)
        if audience is None or "*" not in (a.rstrip(".") for a in audience.addresses):
            return False
    return True


def _notifications(policy: Policy, replicas: int) -> list[Finding]:
    config = policy.notifications
    if not config.enabled:
        return [_missing("notifications.enabled", "notification e-mails go out as the helpdesk writes them: the "
                         "whole case, to every recipient")]
    acting: list[tuple[int, NotificationRule]] = []  # the rules that can decide, up to the first catch-all
    catch_all: tuple[int, NotificationRule] | None = None
    for i, rule in enumerate(config.rules):
        if rule.shadow:
            continue
        acting.append((i, rule))
        if _for_everyone(rule, config):
            catch_all = (i, rule)
            break
    if catch_all is not None:
        index, rule = catch_all
        key, rest, action = f"notifications.rules[{index}].action", f"rule {rule.name}", rule.action
    else:
        key, rest, action = "notifications.default_action", "default_action", config.default_action
    specific = [r for _, r in (acting[:-1] if catch_all is not None else acting)]
    hiding = [r.name for r in specific if r.action in ("hide", "block")]
    found = [
        _warn(f"notifications.rules[{i}].subject_line", f"rule {r.name} keeps the original subject, which may carry "
              "the case's content")
        for i, r in acting if r.action == "hide" and r.subject_line == "keep"
    ]
    if action == "pass":
        if hiding:
            found.append(_warn(key, f"content is hidden only for the recipients of {_rules(hiding)}; everyone else "
                               f"gets it in full ({rest}: pass)"))
        else:
            found.append(_missing(key, f"no rule hides anything and {rest} passes every message unchanged: "
                                  "customers get the whole case by e-mail"))
        return found
    passing = [r.name for r in specific if r.action == "pass"]
    who = f"everyone but the recipients of {_rules(passing)}" if passing else "everyone"
    what = "a neutral message instead" if action == "hide" else "nothing: messages are refused"
    found.append(_ok(key, f"{who} gets {what} ({rest}: {action})"))
    return found


# --- request bodies --------------------------------------------------------------------


def _sensitive(policy: Policy, replicas: int) -> list[Finding]:
    config = policy.sensitive
    if not config.enabled:
        return [_missing("sensitive.enabled", "request bodies are not read: ID and card numbers typed into the "
                         "public forms reach the helpdesk as typed")]
    if not config.rules and not config.sensitive_fields:
        return [_missing("sensitive.rules", "no rule and no sensitive field reads the forms' bodies")]
    rules = [r for r in config.rules if not r.shadow]
    fields = [f for f in config.sensitive_fields if not f.shadow]
    if not rules and not fields:
        return [_warn("sensitive.rules", "every rule and sensitive field is in shadow mode: findings are counted, "
                      "nothing is flagged, masked or refused")]
    if not fields and all(r.action == "flag" for r in rules):
        return [_warn("sensitive.rules", "the rules only flag: the helpdesk still stores the values as typed; mask "
                      "or reject them on the public forms")]
    counted = _and(_plural(n, what) for n, what in ((len(rules), "rule"), (len(fields), "sensitive field")) if n)
    shown = _names([r.name for r in rules] + [f.field for f in fields])
    acts = "acts" if len(rules) + len(fields) == 1 else "act"
    return [_ok("sensitive.rules", f"{counted} {acts} on request bodies: {shown}")]


# --- information, rights and records ----------------------------------------------------


def _portal(policy: Policy, replicas: int) -> list[Finding]:
    config = policy.requests
    if not config.enabled:
        return [_missing("requests", "the data-subject portal is off: access, erasure and the other rights "
                         "(Art. 15-22) reach you through the DPO contact only")]
    helpdesk = config.helpdesk
    adapter = helpdesk.adapter if helpdesk is not None else "none"
    if helpdesk is not None and helpdesk.adapter == "webhook":
        return [_warn("requests.helpdesk.adapter", "the helpdesk is reached by webhook: cases are opened, but an "
                      "export cannot read them; an operator adds the helpdesk's part to access requests by hand")]
    return [_ok("requests", f"{config.prefix} takes {_plural(len(config.types), 'request type')}, verified by e-mail, "
                f"answered within {config.due_days} days; cases opened and exported through {adapter}")]


def _dpo(policy: Policy, replicas: int) -> list[Finding]:
    organisation = policy.organisation
    if organisation is None:
        return [_missing("organisation", "no organisation: the gateway's pages name neither the controller nor its "
                         "data protection officer (Art. 13(1)(a)(b))")]
    dpo = organisation.dpo
    if dpo is None:
        return [_missing("organisation.dpo", "the controller is named, but no DPO contact is given (Art. 13(1)(b))")]
    places = [page for page, shown in (("the consent settings page", policy.consent.enabled),
                                       ("the link interstitial", policy.links.enabled)) if shown]
    if not places:
        return [_warn("consent.enabled, links.enabled", "no page shows the contact: the consent settings page and "
                      "the link interstitial are both off")]
    given = ["e-mail"] + ["phone"] * bool(dpo.phone) + ["address"] * bool(dpo.address)
    return [_ok("organisation.dpo", f"the DPO's {_and(given)} {'is' if len(given) == 1 else 'are'} shown on "
                f"{_and(places)}")]


def _privacy_notice(policy: Policy, replicas: int) -> list[Finding]:
    organisation = policy.organisation
    if organisation is not None and organisation.privacy_notice_url:
        return [_ok("organisation.privacy_notice_url", "linked next to the controller and DPO contact")]
    if policy.consent.enabled and policy.consent.banner.privacy_url:
        return [_ok("consent.banner.privacy_url", "linked from the consent banner")]
    return [_warn("organisation.privacy_notice_url", "the gateway's pages link no privacy notice (Art. 12(1), 13: "
                  "easily accessible)")]


def _legal_basis(policy: Policy, replicas: int) -> list[Finding]:
    config = policy.legal_basis
    if not config.enabled:
        return [_missing("legal_basis.enabled", "no legal basis is recorded for the routes that create users or "
                         "cases (Art. 6(1), 7(1), 30)")]
    found = []
    for i, route in enumerate(config.routes):
        if route.basis == "consent" and route.shadow:
            found.append(_warn(f"legal_basis.routes[{i}].shadow", f"route {route.name}: submissions without consent "
                               "pass (shadow mode)"))
        if route.email_field is None:
            found.append(_warn(f"legal_basis.routes[{i}].email_field", f"route {route.name}: records carry no e-mail "
                               "hash, so a person's records cannot be found for an access request (Art. 15)"))
    routes = _names(f"{r.name} ({r.basis})" for r in config.routes)
    records = "records its" if len(config.routes) == 1 else "record their"
    found.append(_ok("legal_basis.routes", f"{_plural(len(config.routes), 'route')} {records} basis: {routes}"))
    return found


def _retention(policy: Policy, replicas: int) -> list[Finding]:
    config = policy.anonymisation
    if not config.enabled:
        return [_missing("anonymisation.enabled", "no retention schedule anonymises or deletes the helpdesk's old "
                         "cases: they are kept for ever (Art. 5(1)(e))")]
    helpdesk = policy.anonymisation_helpdesk
    if helpdesk is not None and not ADAPTERS[helpdesk.adapter].can_search:
        where = "anonymisation.helpdesk" if config.helpdesk is not None else "requests.helpdesk"
        return [_warn(where, f"the {helpdesk.adapter} adapter cannot find or read cases, so none is anonymised "
                      "(Art. 5(1)(e), 17)")]
    if not config.schedules:
        return [_warn("anonymisation.schedules", "cases are anonymised on request or by command only, never when "
                      "their retention runs out (Art. 5(1)(e))")]
    if helpdesk is not None and ADAPTERS[helpdesk.adapter].list_cases is HelpdeskAdapter.list_cases:
        return [_warn("anonymisation.schedules", f"the {helpdesk.adapter} adapter cannot list cases by state and "
                      "age, so every retention run fails (Art. 5(1)(e))")]
    rules = _names(f"{s.name} ({s.action} after {duration(s.older_than)})" for s in config.schedules)
    return [_ok("anonymisation.schedules", f"{_plural(len(config.schedules), 'schedule')}, run every "
                f"{duration(config.every).removeprefix('1 ')}: {rules}")]


def _consent_receipts(policy: Policy, replicas: int) -> list[Finding]:
    if not policy.consent.enabled:
        return [_ok("store.receipt_retention", "consent is off: no receipts are written")]
    keep, life = policy.store.receipt_retention, policy.consent.cookie.max_age
    if keep < life:
        return [_warn("store.receipt_retention", f"receipts are deleted after {duration(keep)}, but a consent cookie "
                      f"lives {duration(life)}: consent still in use would have no proof (Art. 7(1))")]
    return [_ok("store.receipt_retention", f"receipts (proof of consent, Art. 7(1)) are kept {duration(keep)}, at "
                f"least as long as a consent cookie lives ({duration(life)})")]


# --- operations --------------------------------------------------------------------------


def _store(policy: Policy, replicas: int) -> list[Finding]:
    if policy.store.url.startswith(("postgresql://", "postgres://")):
        return [_ok("store.url", "PostgreSQL: every replica shares the revocations, receipts and records")]
    if not needs_store(policy):
        return [_ok("store.url", "no enabled filter keeps state: there is nothing for replicas to share")]
    if replicas > 1:
        return [_missing("store.url", f"{replicas} replicas with an SQLite file each: a link revoked or a consent "
                         "recorded on one is unknown to the others; use postgresql://")]
    return [_ok("store.url", "SQLite suits one replica (its --workers share the file); the policy cannot know how "
                "many replicas run: pass --replicas N for more")]


def _key_material(policy: Policy) -> list[tuple[str, str]]:
    """Every key of the policy as (its key, its secret text)."""
    rings = (("links", policy.links.keys), ("consent", policy.consent.keys), ("sensitive", policy.sensitive.keys),
             ("legal_basis", policy.legal_basis.keys), ("requests", policy.requests.keys),
             ("anonymisation", policy.anonymisation.keys))
    keys = [(f"{section}.keys[{i}].secret", key.secret) for section, ring in rings for i, key in enumerate(ring)]
    keys += [(f"requests.api_tokens[{i}].secret", token.secret) for i, token in enumerate(policy.requests.api_tokens)]
    for section, desk in (("requests", policy.requests.helpdesk), ("anonymisation", policy.anonymisation.helpdesk)):
        for field in ("secret", "token", "password", "api_token"):
            value = getattr(desk, field, None) if desk is not None else None
            if isinstance(value, str) and value:
                keys.append((f"{section}.helpdesk.{field}", value))
    link = policy.notifications.link
    if link is not None and link.recipient_salt is not None:
        keys.append(("notifications.link.recipient_salt", link.recipient_salt))
    return keys


def _digest(secret: str) -> str:
    try:
        material = decode_secret(secret)
    except ValueError:
        material = secret.encode("utf-8")
    return hashlib.sha256(material).hexdigest()


def _secrets(policy: Policy, replicas: int) -> list[Finding]:
    found = []
    first: dict[str, str] = {}
    public: list[tuple[str, str]] = []
    material = _key_material(policy)
    for key, secret in material:
        digest = _digest(secret)
        if digest in PUBLIC_DEMO_KEYS:
            public.append((key, PUBLIC_DEMO_KEYS[digest]))
        elif digest in first and first[digest].split(".")[0] != key.split(".")[0]:
            found.append(_warn(key, f"the same secret as {first[digest]}: one leak breaks both; give each its own key"))
        first.setdefault(digest, key)
    if public:
        files = _and(dict.fromkeys(file for _, file in public))
        one = len(public) == 1
        found.append(_warn(_names(key for key, _ in public), f"the demo's public {'key' if one else 'keys'} ({files}): "
                           f"what {'it protects' if one else 'they protect'} is protected by nothing"))
    rings = _names(dict.fromkeys(key.rpartition("[")[0] or key for key, _ in material)) or "-"
    checked = "; no key is the demo's or shared" if material else ""
    found.append(_ok(rings, "the loader refuses keys and passwords written inline, so each one in a policy that "
                     f"loads is a ${{ENV}} or ${{file:...}} reference{checked}"))
    return found


def _log_addresses(policy: Policy, replicas: int) -> list[Finding]:
    mode = policy.logging.client_ip
    if mode == "full":
        return [_missing("logging.client_ip", "logs keep whole client addresses (personal data); truncated or hashed "
                         "is enough to run the service")]
    if mode == "hashed":
        return [_ok("logging.client_ip", "client addresses appear in logs as keyed hashes (a new key per process)")]
    return [_ok("logging.client_ip", "client addresses appear in logs cut to /24 (IPv4) and /48 (IPv6)")]


def _on_this_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _transport(policy: Policy, replicas: int) -> list[Finding]:
    upstream = urlsplit(policy.upstream.url)
    hops = [("upstream.url", "the helpdesk", upstream.scheme == "https", upstream.hostname or "")]
    notifications = policy.notifications
    if notifications.enabled and notifications.smtp is not None:
        smarthost = notifications.smtp.upstream
        hops.append(("notifications.smtp.upstream.tls", "the smarthost", smarthost.tls != "none", smarthost.host))
    if notifications.enabled and notifications.egress is not None:
        for i, route in enumerate(notifications.egress.routes):
            api = urlsplit(route.upstream)
            hops.append((f"notifications.egress.routes[{i}].upstream", f"the {route.provider} API",
                         api.scheme == "https", api.hostname or ""))
    found = [
        _warn(key, f"{what} is reached without TLS at {host}: personal data crosses the network unencrypted (Art. 32)")
        for key, what, encrypted, host in hops if not encrypted and not _on_this_host(host)
    ]
    reached = _and(what for _, what, _, _ in hops)
    verb = "is" if len(hops) == 1 else "are"
    found.append(_ok("upstream.url", f"{reached} {verb} reached over TLS or on this host only"))
    return found


Check = Callable[[Policy, int], list[Finding]]

CHECKS: tuple[tuple[str, str, Check], ...] = (
    ("firewall", "Staff area behind the firewall", _firewall),
    ("trusted_proxies", "Trusted proxies set narrowly", _trusted_proxies),
    ("consent", "Cookie consent enforced", _consent),
    ("unclassified_cookies", "Unclassified cookies blocked", _unclassified),
    ("links", "External links signed, TTL at most 30 days", _links),
    ("notifications", "Notification content hidden for customers", _notifications),
    ("sensitive", "Sensitive data on the public forms", _sensitive),
    ("portal", "Data-subject portal", _portal),
    ("dpo", "DPO contact shown", _dpo),
    ("privacy_notice", "Privacy notice linked", _privacy_notice),
    ("legal_basis", "Legal basis recorded at sign-up", _legal_basis),
    ("retention", "Retention schedules", _retention),
    ("consent_receipts", "Consent receipts kept as proof", _consent_receipts),
    ("store", "State shared by every replica", _store),
    ("secrets", "Secrets by reference", _secrets),
    ("log_addresses", "Logs truncate client addresses", _log_addresses),
    ("transport", "Personal data encrypted in transit", _transport),
)
ITEM_IDS = tuple(item_id for item_id, _, _ in CHECKS)


def _item(item_id: str, title: str, findings: list[Finding]) -> Item:
    worst = max(STATUSES.index(f.status) for f in findings)
    chosen = [f for f in findings if STATUSES.index(f.status) == worst]
    keys = _names(dict.fromkeys(f.key for f in chosen))
    return Item(item_id, STATUSES[worst], keys, title, "; ".join(f.why for f in chosen))


def checklist(policy: Policy, *, replicas: int = 1, skip: Iterable[str] = ()) -> list[Item]:
    """Every item for ``policy`` in a fixed order; ``replicas``: how many gateways share the work (>= 1)."""
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    left_out = set(skip)
    return [
        _item(item_id, title, check(policy, replicas)) for item_id, title, check in CHECKS if item_id not in left_out
    ]
