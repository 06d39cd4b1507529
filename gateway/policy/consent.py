"""The ``consent`` policy section: cookie consent enforced on the wire.

Categories own cookies (names or globs, optionally a domain and path);
``necessary`` is always allowed, cookies no category claims are
``unclassified``. Choices live in the gateway's own signed and encrypted
cookie (``keys``, the first encrypts), or in a consent manager's (``cmp``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from .keys import KeyRef
from .schema_base import Model
from .units import Duration

NECESSARY = "necessary"
UNCLASSIFIED = "unclassified"
BUILTIN_LANGUAGES = ("en", "nb")

_CATEGORY = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})?$")
# A cookie name as browsers accept it in Set-Cookie: no separators, controls or spaces.
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z\[\]]{1,256}$")
_CMP_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_DOMAIN = re.compile(r"^\.?[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*$")


def _check_domain(value: str) -> str:
    if not _DOMAIN.fullmatch(value):
        raise ValueError(f"{value!r} is not a domain name")
    return value


def _check_languages(texts: dict[str, str]) -> dict[str, str]:
    for language, text in texts.items():
        if not _LANGUAGE.fullmatch(language):
            raise ValueError(f"{language!r} is not a language code (en, nb, de-CH ...)")
        if not text.strip():
            raise ValueError(f"{language}: the text is empty")
    return texts


Texts = Annotated[dict[str, str], AfterValidator(_check_languages)]
Domain = Annotated[str, AfterValidator(_check_domain)]


class ConsentKey(KeyRef):
    """A consent cookie key (the first in the list encrypts, all decrypt)."""

class CookieRule(Model):
    """Cookies a category owns: one exact ``name`` or one ``glob`` (``*`` any run, ``?`` one character)."""

    name: str | None = Field(None, description="Exact, case-sensitive cookie name. Absent: glob is required.")
    glob: str | None = Field(None, description="Name glob such as _ga*. Absent: name is required.")
    domain: str | None = Field(
        None, description="Only cookies of this domain or its subdomains (Set-Cookie Domain, else the "
        "request host). Absent: any domain. A request's Cookie header has no domain: such a rule never "
        "matches there.",
    )
    path: str | None = Field(
        None, description="Only cookies at this path or below it. Absent: any path. Like domain, "
        "never matches a request's Cookie header.",
    )

    @model_validator(mode="after")
    def _check(self) -> CookieRule:
        if (self.name is None) == (self.glob is None):
            raise ValueError("give exactly one of name and glob")
        text = self.name if self.name is not None else self.glob
        if text is None or not _COOKIE_NAME.fullmatch(text.replace("?", "x").replace("*", "x")):
            raise ValueError(f"{text!r} is not a cookie name (no spaces, ';', '=', ',' or quotes)")
        if self.path is not None and not self.path.startswith("/"):
            raise ValueError(f"path {self.path!r} must start with '/'")
        if self.domain is not None:
            _check_domain(self.domain)
        return self


class Category(Model):
    """A consent category: its cookies, its state before the visitor decides, its banner texts."""

    label: Texts = Field(
        default_factory=dict, description="Name shown in the banner, by language code. Absent: the built-in "
        "label of necessary, preferences, analytics, marketing, else the category's key.",
    )
    description: Texts = Field(
        default_factory=dict, description="What the cookies do, by language code. Absent: the built-in "
        "text of the four well-known categories, else none.",
    )
    cookies: tuple[CookieRule, ...] = Field(
        (), description="The cookies of this category. An exact name beats a glob; otherwise the category "
        "listed first wins. Absent or empty: none.",
    )
    default: bool | None = Field(
        None, description="State until the visitor decides. Absent: false (opt-in). true (pre-ticked) is not "
        "valid consent in the EU and needs allow_preticked. Not allowed for necessary.",
    )
    allow_preticked: bool = Field(
        False, description="Accept default: true for this category. Pre-ticked consent is unlawful in the EU "
        "(GDPR Art. 4(11), CJEU C-673/17 Planet49): only for sites outside EU law. Absent: false.",
    )
    gpc: bool | None = Field(
        None, description="A Sec-GPC: 1 request header (Global Privacy Control) denies this category unless "
        "the visitor opted in explicitly. Absent: true. Not allowed for necessary.",
    )


class ConsentCookie(Model):
    """The gateway's own consent cookie: signed and encrypted, never sent to the helpdesk."""

    name: str = Field("pgw_consent", description="Cookie name. Absent: pgw_consent.")
    max_age: Duration = Field(
        180 * 86400.0, gt=0, le=400 * 86400.0,
        description="Lifetime; an older cookie counts as no decision. Absent: 180d. At most 400d.",
    )
    path: str = Field("/", description="Cookie path. Absent: / (the whole site).")
    domain: Domain | None = Field(None, description="Cookie domain. Absent: host-only (this host only).")
    secure: Literal["auto", "always", "never"] = Field(
        "auto", description="Secure flag: auto sets it when the request came over https (directly or from a "
        "trusted proxy's X-Forwarded-Proto). Absent: auto.",
    )
    same_site: Literal["lax", "strict"] = Field("lax", description="SameSite attribute. Absent: lax.")

    @model_validator(mode="after")
    def _check(self) -> ConsentCookie:
        if not _COOKIE_NAME.fullmatch(self.name) or "[" in self.name or "]" in self.name:
            raise ValueError(f"name: {self.name!r} is not a cookie name")
        if not self.path.startswith("/") or any(c in self.path for c in "; \t\r\n"):
            raise ValueError(f"path: {self.path!r} is not a cookie path")
        # Browsers refuse these prefixes without the attributes they promise.
        folded = self.name.lower()
        if folded.startswith(("__host-", "__secure-")) and self.secure != "always":
            raise ValueError("name: a __Host- or __Secure- cookie needs secure: always")
        if folded.startswith("__host-") and (self.path != "/" or self.domain is not None):
            raise ValueError("name: a __Host- cookie needs path / and no domain")
        return self


class ConsentManager(Model):
    """An existing consent manager (CMP) whose cookie the gateway reads and enforces."""

    type: Literal["klaro", "cookiebot"] = Field(description="klaro (JSON map of services) or cookiebot. Required.")
    cookie: str | None = Field(None, description="Its cookie name. Absent: klaro, or CookieConsent for cookiebot.")
    map: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="Category -> the CMP's services (klaro) or purposes (cookiebot: "
        "preferences, statistics, marketing); granted when all are accepted. Absent: each category maps to "
        "the entry of its own name; cookiebot's statistics maps to analytics.",
    )

    @field_validator("map")
    @classmethod
    def _check_map(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for category, names in value.items():
            if not names:
                raise ValueError(f"{category}: list at least one service or purpose")
            for name in names:
                if not _CMP_NAME.fullmatch(name):
                    raise ValueError(f"{category}: {name!r} is not a service or purpose name")
        return value


class Banner(Model):
    """The banner injected into HTML pages until the visitor decides."""

    enabled: bool = Field(True, description="Absent: true. false: no banner (consent via the API or a CMP).")
    languages: tuple[str, ...] = Field(
        BUILTIN_LANGUAGES, min_length=1, description="Languages offered, chosen by Accept-Language; the first "
        "is the fallback. Absent: en, nb. Only en and nb have built-in texts; others need title and text here.",
    )
    title: Texts = Field(default_factory=dict, description="Heading by language. Absent: built-in.")
    text: Texts = Field(default_factory=dict, description="Explanation by language. Absent: built-in.")
    privacy_url: str | None = Field(None, description="Link to the privacy notice. Absent: no link.")
    settings_link: bool = Field(
        True, description="After a decision, inject a small 'Cookie settings' link so withdrawing is as easy "
        "as giving. Absent: true.",
    )
    exclude_paths: tuple[str, ...] = Field(
        (), description="Path prefixes where nothing is injected (e.g. the privacy notice). Absent: none.",
    )

    @field_validator("languages")
    @classmethod
    def _check_language_list(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for language in value:
            if not _LANGUAGE.fullmatch(language):
                raise ValueError(f"{language!r} is not a language code (en, nb, de-CH ...)")
        if len(set(value)) != len(value):
            raise ValueError("languages must not repeat")
        return value

    @model_validator(mode="after")
    def _check_coverage(self) -> Banner:
        for language in self.languages:
            if language not in BUILTIN_LANGUAGES and not (language in self.title and language in self.text):
                raise ValueError(f"languages: {language!r} has no built-in texts; give title.{language} and text.{language}")
        if self.privacy_url is not None and not self.privacy_url.startswith(("/", "https://", "http://")):
            raise ValueError("privacy_url must be a path or an http(s) URL")
        for path in self.exclude_paths:
            if not path.startswith("/"):
                raise ValueError(f"exclude_paths: {path!r} must start with '/'")
        return self


class Consent(Model):
    enabled: bool = Field(False, description="Absent: false (no cookie is touched).")
    shadow: bool = Field(
        False, description="Report-only: count and log what would be removed, remove nothing. Absent: false.",
    )
    version: str = Field(
        "1", min_length=1, max_length=64, description="Consent version; changing it asks every visitor again. Absent: 1.",
    )
    prefix: str = Field(
        "/_privacy/consent", description="Path of the gateway's consent endpoints (never forwarded). "
        "Absent: /_privacy/consent.",
    )
    keys: tuple[ConsentKey, ...] = Field(
        (), description="Key ring of the consent cookie; the first key encrypts, every key decrypts (rotate by "
        "adding a new key first). Required (non-empty) when enabled.",
    )
    cookie: ConsentCookie = Field(default_factory=ConsentCookie)
    categories: dict[str, Category] = Field(
        default_factory=dict, description="Categories in precedence order. necessary is always allowed and "
        "always exists. Absent or empty: only necessary, without cookies (every cookie is unclassified).",
    )
    unclassified: Literal["block", "allow"] = Field(
        "block", description="Cookies no category claims: block or allow (always counted). Absent: block.",
    )
    cmp: ConsentManager | None = Field(
        None, description="Also read consent from this consent manager's cookie. Absent: only the gateway's own cookie.",
    )
    expire_domains: tuple[Domain, ...] = Field(
        (), description="On withdrawal, also expire cookies with Domain= each of these (e.g. your registrable "
        "domain, where analytics scripts set _ga). Absent: host-only and the domains seen in Set-Cookie.",
    )
    banner: Banner = Field(default_factory=Banner)

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not _PREFIX.fullmatch(value):
            raise ValueError(f"{value!r} must be a path like /_privacy/consent (no trailing '/')")
        return value

    @field_validator("version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if not value.isprintable() or value != value.strip():
            raise ValueError(f"{value!r} is not a printable version text")
        return value

    @field_validator("categories")
    @classmethod
    def _check_categories(cls, value: dict[str, Category]) -> dict[str, Category]:
        for name, category in value.items():
            if name == UNCLASSIFIED:
                raise ValueError(f"{UNCLASSIFIED!r} is the category of cookies no category claims; it lists no cookies")
            if not _CATEGORY.match(name):
                raise ValueError(f"{name!r} is not a category name (a-z, 0-9, '_', '-'; starts with a letter)")
            if name == NECESSARY and (
                category.default is not None or category.gpc is not None or category.allow_preticked
            ):
                raise ValueError("necessary: always allowed; default, gpc and allow_preticked cannot be set")
            if category.default and not category.allow_preticked:
                # A box ticked in advance is no "unambiguous indication" of wishes (Art. 4(11)).
                raise ValueError(
                    f"{name}: default: true pre-ticks consent, which is unlawful in the EU (GDPR Art. 4(11), "
                    "CJEU C-673/17 Planet49); remove it, or set allow_preticked: true on the category "
                    "for a site outside EU law"
                )
        return value

    @model_validator(mode="after")
    def _check_references(self) -> Consent:
        ids = [key.id for key in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError("keys: key ids must be unique")
        if self.enabled and not self.keys:
            raise ValueError("keys: at least one key is required when consent is enabled")
        if self.cmp is not None:
            for category in self.cmp.map:
                if category not in self.categories or category == NECESSARY:
                    raise ValueError(f"cmp.map: {category!r} is not a consent category of this policy")
        return self
