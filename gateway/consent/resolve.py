"""Which categories a request has consent for, and whether the visitor has decided.

Sources, first match wins:

1. the gateway's own consent cookie, when authentic and made for the current
   consent version (a GPC-derived state only while the browser still sends
   ``Sec-GPC: 1``);
2. the consent manager's cookie, when the policy names one (``cmp``);
3. nothing: every category has its default, and with ``Sec-GPC: 1`` the
   categories marked ``gpc`` are refused.

A choice the visitor made (banner, API, consent manager) beats Global
Privacy Control; a category the visitor was never asked about gets its
default, which GPC can still refuse. ``necessary`` is always granted,
``unclassified`` only when the policy allows unclassified cookies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..lib.bounded import remember
from ..policy.consent import NECESSARY, UNCLASSIFIED
from .cmp import CMPReader
from .state import ConsentState, StateCodec, cookie_values

_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Resolution:
    """The consent that applies to one request."""

    choices: Mapping[str, bool]  # every category but necessary -> granted
    granted: frozenset[str]  # categories whose cookies pass (necessary always)
    decided: bool  # the visitor decided for the current version: no banner
    method: str | None  # banner, api, gpc or cmp; None while undecided
    state: ConsentState | None  # the authentic consent cookie, whatever its version
    gpc: bool  # the request carried Sec-GPC: 1
    invalid: bool = False  # a consent cookie was sent but is unusable (tampered, expired, old key or version)


class Resolver:
    """Compiled once per policy; ``resolve`` runs on every request."""

    def __init__(
        self,
        *,
        categories: Sequence[str],
        defaults: Mapping[str, bool],
        gpc_denies: frozenset[str],
        version: str,
        codec: StateCodec,
        cookie_name: str,
        cmp: CMPReader | None = None,
        unclassified_allowed: bool = False,
    ) -> None:
        self.categories = tuple(c for c in categories if c != NECESSARY)
        self.defaults = {c: bool(defaults.get(c, False)) for c in self.categories}
        self.gpc_denies = gpc_denies
        self.version = version
        self.codec = codec
        self.cookie_name = cookie_name
        self.cmp = cmp
        self._always = frozenset({NECESSARY, UNCLASSIFIED}) if unclassified_allowed else frozenset({NECESSARY})
        self._undecided = {gpc: self._resolution({}, gpc, False, None, None) for gpc in (False, True)}
        self._cache: dict[tuple[str, bool], Resolution] = {}

    def effective(self, explicit: Mapping[str, bool], gpc: bool) -> dict[str, bool]:
        """Every category's state: the explicit choice, else the default (refused by GPC if marked)."""
        out: dict[str, bool] = {}
        for category in self.categories:
            choice = explicit.get(category)
            if choice is None:
                choice = self.defaults[category] and not (gpc and category in self.gpc_denies)
            out[category] = choice
        return out

    def granted_of(self, choices: Mapping[str, bool]) -> frozenset[str]:
        return self._always | {category for category, given in choices.items() if given}

    def _resolution(
        self, explicit: Mapping[str, bool], gpc: bool, decided: bool, method: str | None, state: ConsentState | None
    ) -> Resolution:
        choices = self.effective(explicit, gpc)
        return Resolution(choices, self.granted_of(choices), decided, method, state, gpc)

    def from_state(self, state: ConsentState, gpc: bool) -> Resolution:
        """The resolution an authentic state gives (undecided when it is for another version)."""
        current = state.version == self.version and (state.method != "gpc" or gpc)
        if not current:
            resolution = self._undecided[gpc]
            return Resolution(resolution.choices, resolution.granted, False, None, state, gpc, invalid=True)
        return self._resolution(state.choices, gpc, True, state.method, state)

    def resolve(self, cookie_headers: Sequence[str], gpc: bool, *, now: float | None = None) -> Resolution:
        state: ConsentState | None = None
        tokens = cookie_values(cookie_headers, self.cookie_name) if cookie_headers else []
        for token in tokens:
            found = self.codec.decode(token, now=now)
            if found is None:
                continue
            cached = self._cache.get((token, gpc))
            if cached is not None:
                return cached
            resolution = self.from_state(found, gpc)
            if resolution.decided:
                return remember(self._cache, (token, gpc), resolution, _CACHE_SIZE)
            state = state or found
        if self.cmp is not None and cookie_headers:
            choices = self.cmp.first(cookie_values(cookie_headers, self.cmp.cookie_name))
            if choices is not None:
                return self._resolution(choices, gpc, True, "cmp", state)
        if not tokens:
            return self._undecided[gpc]
        resolution = self._undecided[gpc]
        return Resolution(resolution.choices, resolution.granted, False, None, state, gpc, invalid=True)
