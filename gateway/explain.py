"""What the gateway would do with a request, in words an admin can check.

``explain`` runs the same compiled ClientIPResolver, path normalisation and
Firewall as the request path (nothing is re-implemented here), without
counting metrics. The admin endpoint passes the live chain's compiled objects
to Explainer so the answer is about the policy actually being served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .filters.firewall import Firewall, Verdict
from .http.clientip import ClientIPError, ClientIPResolver, Hop
from .http.paths import BadPath, normalize_path
from .metrics import Metrics
from .policy.schema import Policy


@dataclass(frozen=True, slots=True)
class Explanation:
    peer: str
    xff: tuple[str, ...]
    method: str
    host: str
    path: str
    hops: tuple[Hop, ...]  # addresses looked at, peer first, then XFF from the right
    client_ip: str | None  # None when client_ip_error is set
    client_ip_error: str | None  # reason word: peer_invalid, xff_multiple, xff_invalid
    client_ip_detail: str | None  # the error's message
    normalized_path: str | None  # None when path_error is set
    path_error: str | None  # reason word from BadPath
    path_detail: str | None
    firewall_enabled: bool
    rule: str | None  # deciding rule name or "default"; None if the firewall did not run
    decision: str | None  # "allow" or "deny"; None if the request was refused before
    mode: str | None  # "enforce" (a shadow rule never decides)
    shadow: tuple[Verdict, ...]  # shadow rules that matched, with what they would have done
    status: int | None  # status the gateway answers itself; None: forwarded upstream
    reason: str | None  # reason word of that answer

    def to_dict(self) -> dict[str, Any]:
        return {
            "request": {"peer": self.peer, "xff": list(self.xff), "method": self.method,
                        "host": self.host, "path": self.path},
            "hops": [{"source": h.source, "address": h.address, "trusted": h.trusted} for h in self.hops],
            "client_ip": self.client_ip,
            "client_ip_error": self.client_ip_error,
            "client_ip_detail": self.client_ip_detail,
            "normalized_path": self.normalized_path,
            "path_error": self.path_error,
            "path_detail": self.path_detail,
            "firewall_enabled": self.firewall_enabled,
            "rule": self.rule,
            "decision": self.decision,
            "mode": self.mode,
            "shadow": [{"rule": v.rule, "decision": v.decision, "status": v.status} for v in self.shadow],
            "status": self.status,
            "reason": self.reason,
        }

    def to_text(self) -> str:
        lines = [f"request:      {self.method} {self.path}" + (f"  Host: {self.host}" if self.host else "")]
        lines.append(f"peer:         {self.peer}")
        lines += [f"X-Forwarded-For: {value}" for value in self.xff]
        lines.append("hops (socket peer, then X-Forwarded-For from the right):")
        for hop in self.hops:
            lines.append(f"  {hop.source:<20} {hop.address:<39} {'trusted proxy' if hop.trusted else 'not trusted'}")
        if self.hops and not self.hops[0].trusted and self.xff:
            lines.append("  X-Forwarded-For ignored: the peer is not a trusted proxy")
        elif self.client_ip is not None and self.hops and all(h.trusted for h in self.hops):
            lines.append("  every hop is trusted: the leftmost is the client")
        if self.client_ip_error is not None:
            lines.append(f"client IP:    none ({self.client_ip_error}: {self.client_ip_detail})")
        else:
            lines.append(f"client IP:    {self.client_ip}")
        if self.path_error is not None:
            lines.append(f"matched path: none ({self.path_error}: {self.path_detail})")
        else:
            lines.append(f"matched path: {self.normalized_path}")
        if not self.firewall_enabled:
            lines.append("firewall:     disabled")
        for v in self.shadow:
            lines.append(f"shadow rule:  {v.rule!r} would {v.decision}"
                         + (f" ({v.status})" if v.decision == "deny" else "") + ", not enforced")
        if self.rule == "default":
            lines.append("rule:         none matched, the default decides")
        elif self.rule is not None:
            lines.append(f"rule:         {self.rule!r}")
        if self.status is None:
            lines.append(f"decision:     {self.decision}, forwarded upstream")
        else:
            lines.append(f"decision:     {self.decision or 'refused'}, the gateway answers {self.status} ({self.reason})")
        return "\n".join(lines)


class Explainer:
    """Explains requests against one compiled policy."""

    def __init__(
        self,
        policy: Policy,
        *,
        resolver: ClientIPResolver | None = None,
        firewall: Firewall | None = None,
    ) -> None:
        self.resolver = resolver if resolver is not None else ClientIPResolver(policy)
        if firewall is None and Firewall.enabled_in(policy):
            firewall = Firewall(policy, Metrics())  # a private registry: explaining counts nothing
        self.firewall = firewall

    def explain(self, *, peer: str, xff: list[str], path: str, method: str = "GET", host: str = "") -> Explanation:
        method = method.upper()  # HTTP parsers only accept upper-case methods
        hops: list[Hop] = []
        client_ip = ip_error = ip_detail = normalized = path_error = path_detail = None
        try:
            client_ip = self.resolver.resolve(peer, xff, trace=hops)
        except ClientIPError as exc:
            ip_error, ip_detail = exc.reason, str(exc)
        try:
            normalized = normalize_path(path)
        except BadPath as exc:
            path_error, path_detail = exc.reason, str(exc)
        rule = decision = mode = reason = None
        shadow: tuple[Verdict, ...] = ()
        status: int | None = None
        if client_ip is None or normalized is None:
            status, reason = 400, ip_error or path_error
        elif self.firewall is None:
            decision = "allow"
        else:
            evaluation = self.firewall.evaluate(method, host, normalized, client_ip)
            verdict, shadow = evaluation.verdict, evaluation.shadow
            rule, decision, mode = verdict.rule, verdict.decision, verdict.mode
            if decision == "deny":
                status, reason = verdict.status, "firewall_denied"
        return Explanation(
            peer=peer, xff=tuple(xff), method=method, host=host, path=path, hops=tuple(hops),
            client_ip=client_ip, client_ip_error=ip_error, client_ip_detail=ip_detail,
            normalized_path=normalized, path_error=path_error, path_detail=path_detail,
            firewall_enabled=self.firewall is not None, rule=rule, decision=decision, mode=mode,
            shadow=shadow, status=status, reason=reason,
        )


def explain(policy: Policy, *, peer: str, xff: list[str], path: str, method: str = "GET", host: str = "") -> Explanation:
    """Explain one request against ``policy`` (compiles it; reuse an Explainer for many)."""
    return Explainer(policy).explain(peer=peer, xff=xff, path=path, method=method, host=host)
