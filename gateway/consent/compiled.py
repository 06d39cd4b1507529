"""The ``consent`` policy section compiled once: classifier, key ring, texts, expiry hints.

Everything here is shared by all requests and never changes until the next
policy load; what one request needs lives on its Exchange.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..lib.keyring import decode_secret
from ..policy.consent import NECESSARY, UNCLASSIFIED, Consent
from .cmp import CMPReader
from .cookieclass import CookieClassifier, CookieMatcher
from .enforce import Enforcer
from .expiry import Place, SeenCookies
from .resolve import Resolver
from .state import StateCodec
from .texts import Copy, build_copies


@dataclass(slots=True)
class Compiled:
    config: Consent
    prefix: str
    categories: tuple[str, ...]  # every category but necessary, in policy order
    classifier: CookieClassifier
    enforcer: Enforcer
    codec: StateCodec
    resolver: Resolver
    copies: dict[str, Copy]
    exact_names: dict[str, tuple[str, ...]]  # category -> the exact cookie names its rules list
    hinted: dict[str, list[Place]]  # cookie name -> (path, domain) its rules give
    seen: SeenCookies

    def copy_for(self, language: str | None) -> Copy:
        """The copy in ``language`` if offered, else in the first offered language."""
        if language is not None and language in self.copies:
            return self.copies[language]
        return next(iter(self.copies.values()))


def compile_consent(config: Consent) -> Compiled:
    """Compile the policy section; ValueError for what the policy model cannot catch alone."""
    matchers: dict[str, list[CookieMatcher]] = {}
    exact: dict[str, list[str]] = {}
    hinted: dict[str, list[Place]] = {}
    for name, category in config.categories.items():
        matchers[name] = [CookieMatcher(rule.name, rule.glob, rule.domain, rule.path) for rule in category.cookies]
        for rule in category.cookies:
            if rule.name is not None:
                exact.setdefault(name, []).append(rule.name)
                if rule.domain is not None or rule.path is not None:
                    hinted.setdefault(rule.name, []).append((rule.path or "/", rule.domain))
    matchers.setdefault(NECESSARY, [])
    conditional = any(m.domain is not None or m.path is not None for ms in matchers.values() for m in ms)
    classifier = CookieClassifier(matchers, necessary=NECESSARY, unclassified=UNCLASSIFIED)
    categories = tuple(name for name in config.categories if name != NECESSARY)
    codec = StateCodec([decode_secret(key.secret) for key in config.keys], max_age=config.cookie.max_age)
    cmp = CMPReader(config.cmp, config.categories) if config.cmp is not None else None
    enforcer = Enforcer(
        classifier, own_cookie=config.cookie.name, passthrough=(cmp.cookie_name,) if cmp else (), conditional=conditional,
    )
    resolver = Resolver(
        categories=categories,
        defaults={name: bool(c.default) for name, c in config.categories.items() if name != NECESSARY},
        gpc_denies=frozenset(
            name for name, c in config.categories.items() if name != NECESSARY and c.gpc is not False
        ),
        version=config.version,
        codec=codec,
        cookie_name=config.cookie.name,
        cmp=cmp,
        unclassified_allowed=config.unclassified == "allow",
    )
    return Compiled(
        config=config,
        prefix=config.prefix,
        categories=categories,
        classifier=classifier,
        enforcer=enforcer,
        codec=codec,
        resolver=resolver,
        copies=build_copies(config),
        exact_names={name: tuple(names) for name, names in exact.items()},
        hinted=hinted,
        seen=SeenCookies(),
    )
