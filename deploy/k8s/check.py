"""Checks the Kustomize tree without a cluster or the kustomize binary: `make k8s-check`.

Roots: base, every overlay (app roots) and infra (the operators' resources). Each is rendered
naively: resources (directories recursively) and components are loaded, then patches (strategic
merge, `$patch: delete`, JSON 6902), replicas and images are applied the simple way. Then:

- schemas: every built-in object validates strictly (unknown fields fail) against the
  Kubernetes OpenAPI schemas that the `kubernetes-validate` package ships (KUBERNETES_VERSION);
  every custom resource (Strimzi, CloudNativePG, MongoDB Community, KEDA, Prometheus operator,
  External Secrets) has apiVersion, kind, a valid metadata.name and the fields CRD_RULES lists
  (those the operators require, and those this suite relies on); any other kind fails;
- workloads: every container (and init container) has liveness and readiness probes, CPU and
  memory requests and limits, runs as non-root with a read-only root filesystem, no privilege
  escalation and all capabilities dropped, and mounts /tmp from an emptyDir;
- companions: every Deployment of an app root has an HPA or a KEDA ScaledObject, a
  PodDisruptionBudget and a NetworkPolicy (ingress only on its HTTP port; egress to DNS, Kafka
  on the port of its bootstrap address, its store and the OTLP collector); in prod roots a
  ServiceMonitor too;
- secrets: no Secret object with data; secretGenerator literals only in overlays/dev (its
  well-known development credentials); no env `value` or ConfigMap entry that looks like a
  password, token or key (by name, a URL's user:password, a PEM block);
- prod roots (name starting with `prod`): every image pinned by digest (all-zero placeholder
  digests are reported, not failed: the platform team fills them in); every Deployment's
  containers reach Kafka with SASL/SCRAM over TLS: for each `<PREFIX>KAFKA_BOOTSTRAP_SERVERS`,
  `<PREFIX>KAFKA_SASL_USERNAME` is set, `<PREFIX>KAFKA_SASL_PASSWORD` comes from a secretKeyRef
  and `<PREFIX>KAFKA_SSL_CAFILE` names a file of a read-only Secret or ConfigMap mount; every
  KEDA Kafka trigger has `sasl: scram_sha512` and `tls: enable` and a TriggerAuthentication with
  username, password and ca;
- infra: a KafkaTopic for every topic of crm_events.topics and its `<topic>.dlq`; every
  KafkaUser's ACLs name existing topics, and a user that reads a topic may write its `.dlq`;
  each service's KafkaUser grants exactly what its AsyncAPI document (services/<name>/
  asyncapi.json) says it does: Describe and Read on each topic it receives, Read on each
  consumer group, Describe and Write on each topic it sends to (dead-letter topics included);
  no HPA or ScaledObject allows more replicas than its service's topics have partitions; the
  prod bootstrap address is the Strimzi cluster's SCRAM-over-TLS listener; each prod Deployment
  signs in as its own KafkaUser;
- references: patch targets, replicas and image overrides, ConfigMaps, ServiceAccounts, Service
  selectors exist; Secrets that no generator or ExternalSecret makes are listed as expected from
  outside; every service under services/ has a Deployment in base.

Then a self-test: each directory under testdata/ is a deliberately broken root whose
kustomization.yaml names, in `# expect:` lines, problems that must be reported. When
`kustomize` (or `kubectl`) is on PATH, a real `kustomize build` of each root must succeed too.
Exits 1 and lists the problems when anything is wrong.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from crm_events import topics as crm_topics

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
# The oldest Kubernetes release the manifests must apply to.
KUBERNETES_VERSION = "1.32"
Obj = dict[str, Any]

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
PLACEHOLDER_DIGEST = "@sha256:" + "0" * 64
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|_KEYS?)$", re.IGNORECASE
)
URL_WITH_PASSWORD = re.compile(r"://[^/@:\s]+:[^/@\s]+@")
PEM_BLOCK = "-----BEGIN"
STORE_PORTS = {"DATABASE_URL": 5432, "MONGODB_URL": 27017}
DNS_PORT, KAFKA_PORT, OTLP_PORT = 53, 9092, 4318

# Custom resources: what each must have. A path's `[]` means every item of a list; `|` separates
# alternatives (one must be present). Sources: the operators' CRDs (required fields) and
# what the suite relies on (e.g. partitions and retention of every topic).
CRD_RULES: dict[tuple[str, str], list[str]] = {
    ("kafka.strimzi.io/v1beta2", "Kafka"): [
        "spec.kafka.listeners[].name",
        "spec.kafka.listeners[].port",
        "spec.kafka.listeners[].type",
        "spec.kafka.listeners[].tls",
        "spec.kafka.listeners[].authentication.type",
        "spec.kafka.authorization.type",
        "spec.entityOperator.topicOperator",
        "spec.entityOperator.userOperator",
    ],
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): [
        "metadata.labels.strimzi.io/cluster",
        "spec.replicas",
        "spec.roles",
        "spec.storage.type",
    ],
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): [
        "metadata.labels.strimzi.io/cluster",
        "spec.topicName",
        "spec.partitions",
        "spec.replicas",
        "spec.config.retention.ms",
    ],
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): [
        "metadata.labels.strimzi.io/cluster",
        "spec.authentication.type",
        "spec.authorization.type",
        "spec.authorization.acls[].resource.type",
        "spec.authorization.acls[].resource.name",
        "spec.authorization.acls[].resource.patternType",
        "spec.authorization.acls[].operations",
    ],
    ("postgresql.cnpg.io/v1", "Cluster"): [
        "spec.instances",
        "spec.storage.size",
        "spec.bootstrap.initdb.database",
        "spec.bootstrap.initdb.owner",
        "spec.bootstrap.initdb.secret.name",
    ],
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"): [
        "spec.members",
        "spec.type",
        "spec.version",
        "spec.security.authentication.modes",
        "spec.users[].name",
        "spec.users[].db",
        "spec.users[].passwordSecretRef.name",
        "spec.users[].roles[].name",
        "spec.users[].roles[].db",
        "spec.users[].scramCredentialsSecretName",
    ],
    ("keda.sh/v1alpha1", "ScaledObject"): [
        "spec.scaleTargetRef.name",
        "spec.minReplicaCount",
        "spec.maxReplicaCount",
        "spec.triggers[].type",
        "spec.triggers[].metadata",
    ],
    ("keda.sh/v1alpha1", "TriggerAuthentication"): [
        "spec.secretTargetRef[].parameter",
        "spec.secretTargetRef[].name",
        "spec.secretTargetRef[].key",
    ],
    ("monitoring.coreos.com/v1", "ServiceMonitor"): [
        "spec.selector.matchLabels",
        "spec.endpoints[].port|spec.endpoints[].targetPort",
        "spec.endpoints[].path",
    ],
    ("external-secrets.io/v1", "ClusterSecretStore"): ["spec.provider"],
    ("external-secrets.io/v1", "ExternalSecret"): [
        "spec.secretStoreRef.name",
        "spec.secretStoreRef.kind",
        "spec.target.name",
        "spec.data[].secretKey|spec.dataFrom",
        "spec.data[].remoteRef.key|spec.dataFrom",
    ],
}
# Fields with a closed set of values (a list value must be a subset).
CRD_ENUMS: dict[tuple[str, str], dict[str, set[Any]]] = {
    ("kafka.strimzi.io/v1beta2", "Kafka"): {
        "spec.kafka.listeners[].type": {
            "internal",
            "route",
            "loadbalancer",
            "nodeport",
            "ingress",
            "cluster-ip",
        },
        # The services' users are SCRAM users: every listener authenticates.
        "spec.kafka.listeners[].authentication.type": {"scram-sha-512", "tls"},
        "spec.kafka.authorization.type": {"simple"},
    },
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): {"spec.roles": {"controller", "broker"}},
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): {
        "spec.authentication.type": {"scram-sha-512"},
        "spec.authorization.type": {"simple"},
        "spec.authorization.acls[].resource.type": {"topic", "group", "cluster", "transactionalId"},
        "spec.authorization.acls[].resource.patternType": {"literal", "prefix"},
        "spec.authorization.acls[].operations": {
            "Read",
            "Write",
            "Create",
            "Delete",
            "Alter",
            "Describe",
            "ClusterAction",
            "AlterConfigs",
            "DescribeConfigs",
            "IdempotentWrite",
            "All",
        },
    },
    ("mongodbcommunity.mongodb.com/v1", "MongoDBCommunity"): {
        "spec.type": {"ReplicaSet"},
        "spec.security.authentication.modes": {"SCRAM", "SCRAM-SHA-1", "SCRAM-SHA-256", "X509"},
    },
    ("keda.sh/v1alpha1", "ScaledObject"): {"spec.triggers[].type": {"kafka", "cpu", "memory"}},
}
INT_FIELDS = {
    "spec.replicas",
    "spec.partitions",
    "spec.instances",
    "spec.members",
    "spec.minReplicaCount",
    "spec.maxReplicaCount",
    "spec.kafka.listeners[].port",
}
# What KEDA's Kafka scaler needs (its metadata values are strings).
KAFKA_TRIGGER_FIELDS = ("bootstrapServers", "consumerGroup", "topic", "lagThreshold")
# prod: how KEDA's Kafka scaler signs in (trigger metadata), what its TriggerAuthentication gives.
KAFKA_TRIGGER_SECURITY = {"sasl": "scram_sha512", "tls": "enable"}
KAFKA_TRIGGER_PARAMETERS = ("username", "password", "ca")
# A service's Kafka settings, after its env prefix (crm_common.settings).
BOOTSTRAP = "KAFKA_BOOTSTRAP_SERVERS"
SASL_USERNAME = "KAFKA_SASL_USERNAME"
SASL_PASSWORD = "KAFKA_SASL_PASSWORD"
SSL_CAFILE = "KAFKA_SSL_CAFILE"


@dataclass
class Rendered:
    """The objects a kustomization produces, plus the names its generators make."""

    objects: list[Obj] = field(default_factory=list)
    generated: set[tuple[str, str]] = field(default_factory=set)  # (kind, name)
    secret_literals: list[Path] = field(default_factory=list)  # kustomizations with literals


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.notes: list[str] = []

    def add(self, where: Path | str, message: str) -> None:
        self.items.append(f"{label(where)}: {message}")


def label(where: Path | str) -> str:
    if isinstance(where, Path):
        return str(where.relative_to(REPO)) if where.is_relative_to(REPO) else str(where)
    return where


def load_docs(path: Path) -> list[Obj]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def key(obj: Obj) -> tuple[str, str]:
    return obj.get("kind", "?"), obj.get("metadata", {}).get("name", "?")


def merge(target: Obj, patch: Obj) -> None:
    """Strategic merge, naively: maps merge, lists of named items merge by name, others replace."""
    for name, value in patch.items():
        current = target.get(name)
        if isinstance(value, dict) and isinstance(current, dict):
            merge(current, value)
        elif (
            isinstance(value, list)
            and isinstance(current, list)
            and all(isinstance(item, dict) and "name" in item for item in value + current)
        ):
            by_name = {item["name"]: item for item in current}
            for item in value:
                if item["name"] in by_name:
                    merge(by_name[item["name"]], item)
                else:
                    current.append(copy.deepcopy(item))
        else:
            target[name] = copy.deepcopy(value)


def json_patch(target: Obj, ops: list[Obj]) -> str | None:
    """Applies add/replace/remove operations; returns an error for a path that does not resolve."""
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        node: Any = target
        for part in parts[:-1]:
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError):
                return f"{op['op']} {op['path']}: no such path"
        last = parts[-1]
        if isinstance(node, list):
            index = len(node) if last == "-" else int(last)
            if op["op"] == "add":
                node.insert(index, copy.deepcopy(op["value"]))
            elif index >= len(node):
                return f"{op['op']} {op['path']}: no such path"
            elif op["op"] == "replace":
                node[index] = copy.deepcopy(op["value"])
            elif op["op"] == "remove":
                del node[index]
        else:
            if op["op"] in {"replace", "remove"} and last not in node:
                return f"{op['op']} {op['path']}: no such path"
            if op["op"] == "remove":
                del node[last]
            elif op["op"] in {"add", "replace"}:
                node[last] = copy.deepcopy(op["value"])
    return None


def matches(obj: Obj, target: Obj) -> bool:
    kind, name = key(obj)
    return bool(target.get("kind", kind) == kind and target.get("name", name) == name)


def apply_patches(root: Path, kust: Obj, out: Rendered, problems: Problems) -> None:
    for patch in kust.get("patches", []) + kust.get("patchesStrategicMerge", []):
        if isinstance(patch, str):
            patch = {"path": patch}
        where = root / patch["path"] if "path" in patch else root / "kustomization.yaml"
        if "path" in patch and not where.is_file():
            problems.add(where, "patch file not found")
            continue
        body: Any = load_docs(where) if "path" in patch else [yaml.safe_load(patch["patch"])]
        target = patch.get("target")
        if isinstance(body[0], list):  # JSON 6902: operations on the target(s)
            if not target:
                problems.add(where, "a JSON patch needs a target")
                continue
            hits = [obj for obj in out.objects if matches(obj, target)]
            if not hits:
                problems.add(where, f"target {target} matches no resource")
            for obj in hits:
                error = json_patch(obj, body[0])
                if error:
                    problems.add(where, f"{key(obj)}: {error}")
            continue
        for doc in body:
            selector = target or {"kind": doc.get("kind"), "name": doc["metadata"]["name"]}
            hits = [obj for obj in out.objects if matches(obj, selector)]
            if not hits:
                problems.add(where, f"patch for {selector} matches no resource")
            if doc.get("$patch") == "delete":
                out.objects = [obj for obj in out.objects if not any(obj is h for h in hits)]
                continue
            for obj in hits:
                merge(obj, {k: v for k, v in doc.items() if k not in {"apiVersion", "kind"}})


def apply_replicas_and_images(root: Path, kust: Obj, out: Rendered, problems: Problems) -> None:
    where = root / "kustomization.yaml"
    workloads = {key(o)[1]: o for o in out.objects if o.get("kind") in WORKLOAD_KINDS}
    for item in kust.get("replicas", []):
        if item["name"] not in workloads:
            problems.add(where, f"replicas: no workload named {item['name']}")
        else:
            workloads[item["name"]]["spec"]["replicas"] = item["count"]
    for image in kust.get("images", []):
        found = False
        for workload in workloads.values():
            for container in containers(workload):
                if re.split(r"[:@]", container["image"])[0] == image["name"]:
                    found = True
                    new = image.get("newName", image["name"])
                    if "digest" in image:
                        new += f"@{image['digest']}"
                    elif "newTag" in image:
                        new += f":{image['newTag']}"
                    container["image"] = new
        if not found:
            problems.add(where, f"images: no container uses {image['name']}")


def render(root: Path, problems: Problems) -> Rendered:
    """Loads a kustomization directory the naive way (see the module docstring)."""
    path = root / "kustomization.yaml"
    if not path.is_file():
        problems.add(root, "no kustomization.yaml")
        return Rendered()
    kust = load_docs(path)[0]
    out = Rendered()
    for entry in kust.get("resources", []):
        resource = (root / entry).resolve()
        if resource.is_dir():
            child = render(resource, problems)
            out.objects += child.objects
            out.generated |= child.generated
            out.secret_literals += child.secret_literals
        elif resource.is_file():
            out.objects += load_docs(resource)
        else:
            problems.add(path, f"resource {entry} not found")
    for kind, section in (("Secret", "secretGenerator"), ("ConfigMap", "configMapGenerator")):
        for generator in kust.get(section, []):
            out.generated.add((kind, generator["name"]))
            if kind == "Secret" and {"literals", "envs", "files"} & generator.keys():
                out.secret_literals.append(path)
    seen: set[tuple[str, str]] = set()
    for obj in out.objects:
        if key(obj) in seen:
            problems.add(path, f"duplicate resource {key(obj)}")
        seen.add(key(obj))
    # Components: their resources join, then their patches apply to everything so far.
    for entry in kust.get("components", []):
        component = (root / entry).resolve()
        comp_path = component / "kustomization.yaml"
        if not comp_path.is_file():
            problems.add(path, f"component {entry} not found")
            continue
        comp = load_docs(comp_path)[0]
        if comp.get("kind") != "Component":
            problems.add(comp_path, "a component's kind must be Component")
        for resource_entry in comp.get("resources", []):
            out.objects += load_docs(component / resource_entry)
        apply_patches(component, comp, out, problems)
    apply_patches(root, kust, out, problems)
    apply_replicas_and_images(root, kust, out, problems)
    return out


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload.get("spec", {}).get("template", {}).get("spec", {})
    return spec


def containers(workload: Obj) -> list[Obj]:
    spec = pod_spec(workload)
    found: list[Obj] = spec.get("initContainers", []) + spec.get("containers", [])
    return found


# --- schemas ---------------------------------------------------------------------------------


def walk(node: Any, parts: list[str], trail: str = "") -> Iterator[tuple[str, Any]]:
    """Yields (path, value) for a dotted path; value is MISSING where the path stops."""
    if not parts:
        yield trail.rstrip("."), node
        return
    part, rest = parts[0], parts[1:]
    if part.endswith("[]"):
        name = part[:-2]
        items = node.get(name) if isinstance(node, dict) else None
        if not isinstance(items, list) or not items:
            yield f"{trail}{name}[]", MISSING
            return
        for index, item in enumerate(items):
            yield from walk(item, rest, f"{trail}{name}[{index}].")
    elif isinstance(node, dict) and part in node:
        yield from walk(node[part], rest, f"{trail}{part}.")
    else:
        yield f"{trail}{part}", MISSING


MISSING = object()


def split_path(path: str) -> list[str]:
    """`metadata.labels.strimzi.io/cluster`: label keys keep their dots."""
    for prefix in ("metadata.labels.", "metadata.annotations.", "spec.config."):
        if path.startswith(prefix):
            return [*prefix.rstrip(".").split("."), path[len(prefix) :]]
    return path.split(".")


def check_custom_resource(where: str, obj: Obj, problems: Problems) -> None:
    kind_key = (obj["apiVersion"], obj["kind"])
    name = key(obj)[1]
    what = f"{obj['kind']} {name}"
    if not DNS_SUBDOMAIN.match(str(name)):
        problems.add(where, f"{what}: metadata.name is not a DNS subdomain")
    for value in obj.get("metadata", {}).get("labels", {}).values():
        if not isinstance(value, str) or len(value) > 63:
            problems.add(where, f"{what}: label value {value!r} is not a string of <= 63")
    for rule in CRD_RULES[kind_key]:
        alternatives = [list(walk(obj, split_path(alt))) for alt in rule.split("|")]
        if not any(all(v is not MISSING for _, v in found) for found in alternatives):
            missing = [p for p, v in alternatives[0] if v is MISSING]
            problems.add(where, f"{what}: {', '.join(missing)} is required")
    for path, allowed in CRD_ENUMS.get(kind_key, {}).items():
        for at, value in walk(obj, split_path(path)):
            values = value if isinstance(value, list) else [value]
            bad = [v for v in values if v is not MISSING and v not in allowed]
            if bad:
                problems.add(where, f"{what}: {at} {bad} not one of {sorted(allowed)}")
    for path in INT_FIELDS:
        for at, value in walk(obj, split_path(path)):
            if value is not MISSING and not isinstance(value, int):
                problems.add(where, f"{what}: {at} must be an integer")
    if obj["kind"] == "ScaledObject":
        for index, trigger in enumerate(obj["spec"].get("triggers", [])):
            metadata = trigger.get("metadata", {})
            if not all(isinstance(v, str) for v in metadata.values()):
                problems.add(where, f"{what}: triggers[{index}].metadata values must be strings")
            if trigger.get("type") == "kafka":
                for needed in KAFKA_TRIGGER_FIELDS:
                    if not metadata.get(needed):
                        problems.add(where, f"{what}: kafka trigger {index} has no {needed}")


def check_schemas(where: str, objects: list[Obj], problems: Problems) -> None:
    for obj in objects:
        if not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
            problems.add(where, f"{key(obj)}: no apiVersion or kind")
            continue
        if (obj["apiVersion"], obj["kind"]) in CRD_RULES:
            check_custom_resource(where, obj, problems)
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            at = ".".join(str(p) for p in error.path)
            problems.add(where, f"{obj['kind']} {key(obj)[1]}: schema: {at}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.add(
                where,
                f"{obj['kind']} {key(obj)[1]}: no schema for {obj['apiVersion']} "
                f"{obj['kind']} (Kubernetes {KUBERNETES_VERSION}) and no CRD_RULES entry",
            )


# --- policies --------------------------------------------------------------------------------


def check_workload(where: str, dep: Obj, out: Rendered, problems: Problems) -> set[str]:
    """Returns the names of the Secrets the workload needs."""
    name = key(dep)[1]
    spec = pod_spec(dep)
    have = {key(o) for o in out.objects} | out.generated
    secrets: set[str] = set()
    pod_security = spec.get("securityContext", {})
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    account = spec.get("serviceAccountName")
    if account and ("ServiceAccount", account) not in have:
        problems.add(where, f"{name}: ServiceAccount {account} not found")
    for volume in volumes.values():
        if "secret" in volume:
            secrets.add(volume["secret"]["secretName"])
    init_names = {c["name"] for c in spec.get("initContainers", [])}
    for c in containers(dep):
        label_ = f"{dep['kind']} {name}, container {c['name']}"
        security = c.get("securityContext", {})
        if c["name"] not in init_names:  # init containers run to completion: no probes
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in c:
                    problems.add(where, f"{label_}: no {probe}")
        resources = c.get("resources", {})
        for part in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in resources.get(part, {}):
                    problems.add(where, f"{label_}: no {part}.{res}")
        if not security.get("runAsNonRoot", pod_security.get("runAsNonRoot")):
            problems.add(where, f"{label_}: runAsNonRoot is not true")
        if security.get("runAsUser", pod_security.get("runAsUser")) == 0:
            problems.add(where, f"{label_}: runAsUser is 0")
        if security.get("readOnlyRootFilesystem") is not True:
            problems.add(where, f"{label_}: readOnlyRootFilesystem is not true")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.add(where, f"{label_}: allowPrivilegeEscalation is not false")
        if security.get("privileged"):
            problems.add(where, f"{label_}: privileged")
        capabilities = security.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []) or capabilities.get("add"):
            problems.add(where, f"{label_}: capabilities: not drop ALL and add none")
        tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
            problems.add(where, f"{label_}: /tmp is not an emptyDir mount")
        for source in c.get("envFrom", []):
            ref = source.get("configMapRef") or {}
            if ref and ("ConfigMap", ref["name"]) not in have:
                problems.add(where, f"{label_}: ConfigMap {ref['name']} not found")
            if "secretRef" in source:
                secrets.add(source["secretRef"]["name"])
        for env in c.get("env", []):
            value_from = env.get("valueFrom", {})
            if "secretKeyRef" in value_from:
                secrets.add(value_from["secretKeyRef"]["name"])
            ref = value_from.get("configMapKeyRef")
            if ref and ("ConfigMap", ref["name"]) not in have:
                problems.add(where, f"{label_}: ConfigMap {ref['name']} not found")
            if "value" in env and looks_secret(env["name"], str(env["value"])):
                problems.add(where, f"{label_}: env {env['name']} holds a secret in plain text")
    return secrets


def looks_secret(name: str, value: str) -> bool:
    """A setting whose name says secret (and that is not a file path), or whose value is one."""
    if URL_WITH_PASSWORD.search(value) or PEM_BLOCK in value:
        return True
    return bool(SECRET_NAME.search(name)) and bool(value) and not value.startswith("/")


def check_secrets(root: Path, out: Rendered, problems: Problems) -> None:
    where = label(root)
    for obj in out.objects:
        if obj.get("kind") == "Secret" and (obj.get("data") or obj.get("stringData")):
            problems.add(where, f"Secret {key(obj)[1]}: values committed in plain text")
        if obj.get("kind") == "ConfigMap":
            for name, value in (obj.get("data") or {}).items():
                if looks_secret(name, str(value)):
                    problems.add(where, f"ConfigMap {key(obj)[1]}: {name} looks like a secret")
    for path in out.secret_literals:
        if path.parent != HERE / "overlays" / "dev":
            problems.add(path, "secretGenerator with values: only overlays/dev may have them")


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    wanted: dict[str, str] = selector.get("matchLabels", {})
    return bool(wanted) and wanted.items() <= labels.items()


def check_companions(where: str, out: Rendered, problems: Problems, *, prod: bool) -> None:
    """HPA or ScaledObject, PDB, NetworkPolicy (and in prod a ServiceMonitor) per Deployment."""
    by_kind: dict[str, list[Obj]] = {}
    for obj in out.objects:
        by_kind.setdefault(obj.get("kind", "?"), []).append(obj)
    for dep in by_kind.get("Deployment", []):
        name = key(dep)[1]
        labels = pod_spec_labels(dep)
        scalers = [
            o
            for o in by_kind.get("HorizontalPodAutoscaler", []) + by_kind.get("ScaledObject", [])
            if o["spec"].get("scaleTargetRef", {}).get("name") == name
        ]
        if len(scalers) != 1:
            problems.add(where, f"Deployment {name}: {len(scalers)} HPAs/ScaledObjects, not 1")
        if not any(
            selects(p["spec"]["selector"], labels) for p in by_kind.get("PodDisruptionBudget", [])
        ):
            problems.add(where, f"Deployment {name}: no PodDisruptionBudget")
        policies = [
            p for p in by_kind.get("NetworkPolicy", []) if selects(p["spec"]["podSelector"], labels)
        ]
        if not policies:
            problems.add(where, f"Deployment {name}: no NetworkPolicy")
        for policy in policies:
            check_network_policy(where, dep, policy, kafka_ports(dep, out), problems)
        if prod:
            services = [
                s
                for s in by_kind.get("Service", [])
                if s["spec"].get("selector", {}).items() <= labels.items()
            ]
            monitors = [
                m
                for m in by_kind.get("ServiceMonitor", [])
                for s in services
                if selects(m["spec"]["selector"], s["metadata"].get("labels", {}))
                and {e.get("port") for e in m["spec"]["endpoints"]}
                <= {p.get("name") for p in s["spec"]["ports"]}
            ]
            if not monitors:
                problems.add(where, f"Deployment {name}: no ServiceMonitor for its Service")


def check_network_policy(
    where: str, dep: Obj, policy: Obj, kafka: set[int], problems: Problems
) -> None:
    what = f"NetworkPolicy {key(policy)[1]}"
    spec = policy["spec"]
    if set(spec.get("policyTypes", [])) != {"Ingress", "Egress"}:
        problems.add(where, f"{what}: policyTypes must be Ingress and Egress")
    http = {
        p["containerPort"] for c in pod_spec(dep).get("containers", []) for p in c.get("ports", [])
    }
    for index, rule in enumerate(spec.get("ingress", [])):
        ports = {p.get("port") for p in rule.get("ports", [])}
        if not rule.get("from") or not ports or not ports <= http:
            problems.add(where, f"{what}: ingress {index} must name peers and only {sorted(http)}")
    env = [e["name"] for c in containers(dep) for e in c.get("env", [])]
    stores = {port for setting, port in STORE_PORTS.items() for e in env if e.endswith(setting)}
    needed = {DNS_PORT, OTLP_PORT} | kafka | stores
    allowed: set[int] = set()
    for index, rule in enumerate(spec.get("egress", [])):
        if not rule.get("to") or not rule.get("ports"):
            problems.add(where, f"{what}: egress {index} must name peers and ports")
        allowed |= {p.get("port") for p in rule.get("ports", [])}
    if allowed != needed:
        problems.add(where, f"{what}: egress ports {sorted(allowed)}, expected {sorted(needed)}")


def container_settings(container: Obj, out: Rendered) -> dict[str, Obj]:
    """A container's environment by name, as env entries: `{"value": ...}` for what its envFrom
    ConfigMaps give, then its own env (which wins, as in Kubernetes)."""
    configmaps = {key(o)[1]: o for o in out.objects if o.get("kind") == "ConfigMap"}
    settings: dict[str, Obj] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef") or {}
        for name, value in (configmaps.get(str(ref.get("name")), {}).get("data") or {}).items():
            settings[source.get("prefix", "") + name] = {"name": name, "value": str(value)}
    for env in container.get("env", []):
        settings[env["name"]] = env
    return settings


def kafka_ports(dep: Obj, out: Rendered) -> set[int]:
    """The ports of the Deployment's Kafka bootstrap addresses (KAFKA_PORT when it names none)."""
    ports: set[int] = set()
    for c in containers(dep):
        for name, env in container_settings(c, out).items():
            if name.endswith(BOOTSTRAP) and "value" in env:
                for address in str(env["value"]).split(","):
                    port = address.strip().rpartition(":")[2]
                    if port.isdigit():
                        ports.add(int(port))
    return ports or {KAFKA_PORT}


def mounted_file(container: Obj, volumes: dict[str, Obj], path: str) -> bool:
    """Whether `path` is a file of a read-only mount of a Secret or ConfigMap volume."""
    for mount in container.get("volumeMounts", []):
        base = mount["mountPath"].rstrip("/")
        if not mount.get("readOnly"):
            continue
        if mount.get("subPath"):
            if path != base:
                continue
            relative = mount["subPath"]
        elif path.startswith(base + "/"):
            relative = path[len(base) + 1 :]
        else:
            continue
        volume = volumes.get(mount["name"], {})
        source = volume.get("secret") or volume.get("configMap")
        if source is None:
            continue
        items = source.get("items")
        if items is None or relative in {item["path"] for item in items}:
            return True
    return False


def check_kafka_clients(where: str, out: Rendered, problems: Problems) -> None:
    """prod: every Deployment reaches Kafka as a SASL/SCRAM user over TLS, trusting a CA file it
    mounts; every KEDA Kafka trigger does too."""
    for dep in (o for o in out.objects if o.get("kind") == "Deployment"):
        volumes = {v["name"]: v for v in pod_spec(dep).get("volumes", [])}
        for c in pod_spec(dep).get("containers", []):
            what = f"Deployment {key(dep)[1]}, container {c['name']}"
            settings = container_settings(c, out)
            prefixes = sorted(n[: -len(BOOTSTRAP)] for n in settings if n.endswith(BOOTSTRAP))
            if not prefixes:
                problems.add(where, f"{what}: no {BOOTSTRAP}")
            for prefix in prefixes:
                user = settings.get(prefix + SASL_USERNAME, {})
                if not user.get("value") and not user.get("valueFrom"):
                    problems.add(where, f"{what}: {prefix}{SASL_USERNAME} is not set")
                password = settings.get(prefix + SASL_PASSWORD, {})
                if "secretKeyRef" not in password.get("valueFrom", {}):
                    problems.add(
                        where, f"{what}: {prefix}{SASL_PASSWORD} does not come from a secretKeyRef"
                    )
                cafile = str(settings.get(prefix + SSL_CAFILE, {}).get("value", ""))
                if not cafile:
                    problems.add(where, f"{what}: {prefix}{SSL_CAFILE} is not set")
                elif not mounted_file(c, volumes, cafile):
                    problems.add(
                        where,
                        f"{what}: {prefix}{SSL_CAFILE} {cafile} is not a file of a read-only "
                        "Secret or ConfigMap mount",
                    )
    auths = {key(o)[1]: o for o in out.objects if o.get("kind") == "TriggerAuthentication"}
    for scaled in (o for o in out.objects if o.get("kind") == "ScaledObject"):
        for index, trigger in enumerate(scaled["spec"].get("triggers", [])):
            if trigger.get("type") != "kafka":
                continue
            what = f"ScaledObject {key(scaled)[1]}: kafka trigger {index}"
            metadata = trigger.get("metadata", {})
            for setting, wanted in KAFKA_TRIGGER_SECURITY.items():
                if metadata.get(setting) != wanted:
                    problems.add(where, f"{what}: {setting} is not {wanted}")
            ref = trigger.get("authenticationRef", {}).get("name")
            auth = auths.get(ref)
            if auth is None:
                problems.add(where, f"{what}: no TriggerAuthentication {ref}")
                continue
            given = {p.get("parameter") for p in auth["spec"].get("secretTargetRef", [])}
            missing = [p for p in KAFKA_TRIGGER_PARAMETERS if p not in given]
            if missing:
                problems.add(where, f"{what}: TriggerAuthentication {ref} gives no {missing}")


def check_images_pinned(where: str, out: Rendered, problems: Problems) -> None:
    placeholders = 0
    for workload in (o for o in out.objects if o.get("kind") in WORKLOAD_KINDS):
        for c in containers(workload):
            if not DIGEST.search(c["image"]):
                problems.add(where, f"{key(workload)[1]}: image {c['image']} not pinned by digest")
            elif c["image"].endswith(PLACEHOLDER_DIGEST):
                placeholders += 1
    if placeholders:
        problems.notes.append(f"{where}: {placeholders} image digests are placeholders")


def check_rendered(root: Path, out: Rendered, problems: Problems) -> list[str]:
    """The checks of an app root; returns the Secrets expected from outside."""
    where = label(root)
    prod = root.name.startswith("prod")
    check_schemas(where, out.objects, problems)
    check_secrets(root, out, problems)
    deployments = [o for o in out.objects if o.get("kind") == "Deployment"]
    if not deployments:
        problems.add(where, "renders no Deployment")
    needed: set[str] = set()
    for workload in (o for o in out.objects if o.get("kind") in WORKLOAD_KINDS):
        needed |= check_workload(where, workload, out, problems)
    for auth in (o for o in out.objects if o.get("kind") == "TriggerAuthentication"):
        needed |= {ref["name"] for ref in auth["spec"].get("secretTargetRef", [])}
    check_companions(where, out, problems, prod=prod)
    if prod:
        check_images_pinned(where, out, problems)
        check_kafka_clients(where, out, problems)
    pod_labels = [pod_spec_labels(d) for d in deployments]
    for svc in (o for o in out.objects if o.get("kind") == "Service"):
        selector = svc.get("spec", {}).get("selector", {})
        if not any(selector.items() <= labels.items() for labels in pod_labels):
            problems.add(where, f"Service {key(svc)[1]}: selector {selector} matches no Deployment")
    everything = {key(o) for o in out.objects} | out.generated
    present = {name for kind, name in everything if kind == "Secret"}
    present |= {
        o["spec"]["target"].get("name", key(o)[1])
        for o in out.objects
        if o.get("kind") == "ExternalSecret"
    }
    return sorted(needed - present)


def pod_spec_labels(dep: Obj) -> dict[str, str]:
    labels: dict[str, str] = (
        dep.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
    )
    return labels


def check_services_covered(base: Rendered, problems: Problems) -> None:
    names = {key(o)[1] for o in base.objects if o.get("kind") == "Deployment"}
    for dockerfile in sorted((REPO / "services").glob("*/Dockerfile")):
        wanted = dockerfile.parent.name.replace("_", "-")
        if wanted not in names:
            problems.add(HERE / "base", f"no Deployment for services/{dockerfile.parent.name}")


# --- infrastructure --------------------------------------------------------------------------


def check_infra(root: Path, out: Rendered, problems: Problems) -> None:
    where = label(root)
    check_schemas(where, out.objects, problems)
    check_secrets(root, out, problems)
    kafka_topics = {
        o["spec"].get("topicName", key(o)[1]): o for o in out.objects if o["kind"] == "KafkaTopic"
    }
    for topic in crm_topics.ALL_TOPICS:
        for name in (topic, crm_topics.dlq(topic)):
            if name not in kafka_topics:
                problems.add(where, f"no KafkaTopic {name} (crm_events.topics)")
    check_acls_match_asyncapi(where, out.objects, problems)
    for user in (o for o in out.objects if o["kind"] == "KafkaUser"):
        acls = user["spec"]["authorization"]["acls"]
        topic_ops: dict[str, set[str]] = {}
        for acl in acls:
            resource = acl["resource"]
            if resource["type"] == "topic":
                if resource["patternType"] != "literal" or resource["name"] not in kafka_topics:
                    problems.add(
                        where, f"KafkaUser {key(user)[1]}: ACL on unknown topic {resource['name']}"
                    )
                topic_ops.setdefault(resource["name"], set()).update(acl["operations"])
            if {"All", "Create", "Delete", "Alter"} & set(acl["operations"]):
                problems.add(
                    where,
                    f"KafkaUser {key(user)[1]}: {acl['operations']} on "
                    f"{resource['name']}: more than a service needs",
                )
        for topic, ops in topic_ops.items():
            if "Read" in ops and "Write" not in topic_ops.get(crm_topics.dlq(topic), set()):
                problems.add(
                    where,
                    f"KafkaUser {key(user)[1]}: reads {topic} but may not write "
                    f"{crm_topics.dlq(topic)}",
                )


def check_acls_match_asyncapi(where: str, objects: list[Obj], problems: Problems) -> None:
    """Least privilege, checked against what each service documents it does on Kafka."""
    users = {key(o)[1]: o for o in objects if o["kind"] == "KafkaUser"}
    for document in sorted((REPO / "services").glob("*/asyncapi.json")):
        service = document.parent.name.replace("_", "-")
        user = users.get(service)
        if user is None:
            problems.add(where, f"no KafkaUser {service} for services/{document.parent.name}")
            continue
        granted: dict[tuple[str, str], set[str]] = {}
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            granted.setdefault((resource["type"], resource["name"]), set()).update(
                acl["operations"]
            )
        needed = asyncapi_permissions(json.loads(document.read_text()))
        for resource in sorted(needed.keys() | granted.keys()):
            want, have = needed.get(resource, set()), granted.get(resource, set())
            kind, name = resource
            if want - have:
                problems.add(
                    where,
                    f"KafkaUser {service}: needs {sorted(want - have)} on {kind} {name} "
                    f"(its asyncapi.json)",
                )
            if have - want:
                problems.add(
                    where,
                    f"KafkaUser {service}: grants {sorted(have - want)} on {kind} {name}, "
                    f"which its asyncapi.json does not use",
                )


def asyncapi_permissions(document: Obj) -> dict[tuple[str, str], set[str]]:
    """The ACL operations a service needs, by (resource type, name), from its AsyncAPI."""
    addresses = {name: channel["address"] for name, channel in document["channels"].items()}
    needed: dict[tuple[str, str], set[str]] = {}
    for operation in document["operations"].values():
        topic = addresses[operation["channel"]["$ref"].rsplit("/", 1)[-1]]
        if operation["action"] == "receive":
            needed.setdefault(("topic", topic), set()).update({"Describe", "Read"})
            for group in operation["bindings"]["kafka"]["groupId"]["enum"]:
                needed.setdefault(("group", group), set()).add("Read")
        else:
            needed.setdefault(("topic", topic), set()).update({"Describe", "Write"})
    return needed


def kafka_facts(infra: Rendered) -> tuple[str | None, dict[str, set[str]], dict[str, int]]:
    """The bootstrap address of the internal SCRAM-SHA-512 listener over TLS, each user's read
    topics, each topic's partitions."""
    bootstrap = None
    for kafka in (o for o in infra.objects if o["kind"] == "Kafka"):
        namespace = kafka["metadata"].get("namespace", "default")
        for listener in kafka["spec"]["kafka"]["listeners"]:
            if (
                listener["type"] == "internal"
                and listener["tls"]
                and listener.get("authentication", {}).get("type") == "scram-sha-512"
            ):
                bootstrap = f"{key(kafka)[1]}-kafka-bootstrap.{namespace}.svc:{listener['port']}"
    reads = {
        key(u)[1]: {
            a["resource"]["name"]
            for a in u["spec"]["authorization"]["acls"]
            if a["resource"]["type"] == "topic" and "Read" in a["operations"]
        }
        for u in infra.objects
        if u["kind"] == "KafkaUser"
    }
    partitions = {
        o["spec"].get("topicName", key(o)[1]): o["spec"]["partitions"]
        for o in infra.objects
        if o["kind"] == "KafkaTopic"
    }
    return bootstrap, reads, partitions


def check_against_infra(root: Path, out: Rendered, infra: Rendered, problems: Problems) -> None:
    """A prod root's scalers, bootstrap addresses, Kafka users and consumer groups agree with
    infra/."""
    where = label(root)
    bootstrap, reads, partitions = kafka_facts(infra)
    for dep in (o for o in out.objects if o.get("kind") == "Deployment"):
        name = key(dep)[1]
        for c in pod_spec(dep).get("containers", []):
            for setting, env in container_settings(c, out).items():
                if not setting.endswith(SASL_USERNAME) or "value" not in env:
                    continue
                if env["value"] not in reads:
                    problems.add(where, f"Deployment {name}: no KafkaUser {env['value']} in infra")
                elif env["value"] != name:
                    problems.add(
                        where,
                        f"Deployment {name}: signs in as KafkaUser {env['value']}, not {name}",
                    )
    for obj in out.objects:
        kind, name = key(obj)
        if kind == "ConfigMap":
            for setting, value in obj.get("data", {}).items():
                if setting.endswith("_KAFKA_BOOTSTRAP_SERVERS") and value != bootstrap:
                    problems.add(where, f"ConfigMap {name}: {setting} is not {bootstrap}")
        if kind not in {"HorizontalPodAutoscaler", "ScaledObject"}:
            continue
        target = obj["spec"]["scaleTargetRef"]["name"]
        most = obj["spec"].get("maxReplicas", obj["spec"].get("maxReplicaCount"))
        limit = min((partitions.get(t, 0) for t in reads.get(target, set())), default=None)
        if target not in reads:
            problems.add(where, f"{kind} {name}: no KafkaUser {target} in infra")
        elif limit is not None and most > limit:
            problems.add(
                where, f"{kind} {name}: {most} replicas, its topics have {limit} partitions"
            )
        for trigger in obj["spec"].get("triggers", []):
            if trigger["type"] != "kafka":
                continue
            meta = trigger["metadata"]
            if meta["bootstrapServers"] != bootstrap:
                problems.add(where, f"{kind} {name}: bootstrapServers is not {bootstrap}")
            if meta["topic"] not in reads.get(target, set()):
                problems.add(
                    where, f"{kind} {name}: KafkaUser {target} does not read {meta['topic']}"
                )


# --- driver ----------------------------------------------------------------------------------


def kustomize_build(root: Path, problems: Problems) -> None:
    """The real thing, when a binary is at hand; the naive render above runs everywhere."""
    if shutil.which("kustomize"):
        command = ["kustomize", "build", str(root)]
    elif shutil.which("kubectl"):
        command = ["kubectl", "kustomize", str(root)]
    else:
        return
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        problems.add(root, f"{' '.join(command[:2])} failed: {result.stderr.strip()}")
        return
    # What kustomize really renders must pass the schemas too (labels, namespaces, generators).
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    check_schemas(f"{label(root)} (kustomize build)", built, problems)


def self_test(problems: Problems) -> int:
    """Every broken root under testdata/ must be reported as its `# expect:` lines say."""
    cases = sorted(p for p in (HERE / "testdata").iterdir() if p.is_dir())
    for case in cases:
        text = (case / "kustomization.yaml").read_text()
        expected = re.findall(r"^# expect: (.+)$", text, flags=re.MULTILINE)
        found = Problems()
        check: Callable[[Path, Rendered, Problems], object] = (
            check_infra if case.name.startswith("infra") else check_rendered
        )
        check(case, render(case, found), found)
        if not expected:
            problems.add(case, "no `# expect:` line")
        for wanted in expected:
            if not any(wanted in item for item in found.items):
                problems.add(
                    case,
                    f"not rejected: expected a problem with {wanted!r}, got "
                    f"{found.items or 'none'}",
                )
    return len(cases)


def main() -> int:
    problems = Problems()
    overlays = sorted(p for p in (HERE / "overlays").iterdir() if p.is_dir())
    roots = [HERE / "base", *overlays]
    report: list[str] = []
    infra = render(HERE / "infra", problems)
    check_infra(HERE / "infra", infra, problems)
    kustomize_build(HERE / "infra", problems)
    report.append(f"deploy/k8s/infra: {len(infra.objects)} objects")
    for root in roots:
        out = render(root, problems)
        external = check_rendered(root, out, problems)
        if root.name.startswith("prod"):
            check_against_infra(root, out, infra, problems)
        kustomize_build(root, problems)
        if root.name == "base":
            check_services_covered(out, problems)
        line = f"{label(root)}: {len(out.objects)} objects"
        if external:
            line += f"; Secrets expected from outside: {', '.join(external)}"
        report.append(line)
    cases = self_test(problems)
    report.append(f"deploy/k8s/testdata: {cases} broken roots, each rejected as expected")
    report += [f"note: {note}" for note in problems.notes]
    sys.stdout.write("\n".join(report) + "\n")
    if problems.items:
        sys.stderr.write("k8s-check FAILED:\n" + "".join(f"  {p}\n" for p in problems.items))
        return 1
    sys.stdout.write(
        f"k8s-check ok: {len(roots) + 1} kustomizations, schemas of Kubernetes "
        f"{KUBERNETES_VERSION} (kubernetes-validate {kubernetes_validate.version.__version__})\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
