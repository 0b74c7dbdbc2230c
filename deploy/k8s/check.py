"""Checks the Kustomize tree without a cluster or the kustomize binary: `make k8s-check`.

Each kustomization (base and every overlay) is rendered naively: its resources are loaded
(directories recursively), its patches, replicas and images are applied the simple way, and then:

- every patch, replica count and image override names something that exists;
- every Deployment has liveness and readiness probes, CPU and memory requests and limits, runs as
  non-root with a read-only root filesystem and no privilege escalation, and mounts /tmp from an
  emptyDir;
- every ConfigMap, ServiceAccount and Service selector a Deployment relies on exists; Secrets that
  no generator makes are reported as expected from outside (never committed);
- every service under services/ has a Deployment in base.

When `kustomize` (or `kubectl`) is on PATH, a real `kustomize build` of each root must succeed too.
Exits 1 and lists the problems when anything is wrong.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
Obj = dict[str, Any]


@dataclass
class Rendered:
    """The objects a kustomization produces, plus the names its generators make."""

    objects: list[Obj] = field(default_factory=list)
    generated: set[tuple[str, str]] = field(default_factory=set)  # (kind, name)


class Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: Path | str, message: str) -> None:
        label = where.relative_to(REPO) if isinstance(where, Path) else where
        self.items.append(f"{label}: {message}")


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
            for obj in hits:
                merge(obj, {k: v for k, v in doc.items() if k not in {"apiVersion", "kind"}})


def apply_replicas_and_images(root: Path, kust: Obj, out: Rendered, problems: Problems) -> None:
    where = root / "kustomization.yaml"
    kinds = {"Deployment", "StatefulSet"}
    workloads = {key(o)[1]: o for o in out.objects if o.get("kind") in kinds}
    for item in kust.get("replicas", []):
        if item["name"] not in workloads:
            problems.add(where, f"replicas: no workload named {item['name']}")
        else:
            workloads[item["name"]]["spec"]["replicas"] = item["count"]
    for image in kust.get("images", []):
        found = False
        for workload in workloads.values():
            for container in pod_spec(workload).get("containers", []):
                if container["image"].split(":")[0] == image["name"]:
                    found = True
                    new = image.get("newName", image["name"])
                    container["image"] = f"{new}:{image['newTag']}" if "newTag" in image else new
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
        elif resource.is_file():
            out.objects += load_docs(resource)
        else:
            problems.add(path, f"resource {entry} not found")
    for kind, section in (("Secret", "secretGenerator"), ("ConfigMap", "configMapGenerator")):
        for generator in kust.get(section, []):
            out.generated.add((kind, generator["name"]))
    seen: set[tuple[str, str]] = set()
    for obj in out.objects:
        if key(obj) in seen:
            problems.add(path, f"duplicate resource {key(obj)}")
        seen.add(key(obj))
    apply_patches(root, kust, out, problems)
    apply_replicas_and_images(root, kust, out, problems)
    return out


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload.get("spec", {}).get("template", {}).get("spec", {})
    return spec


def check_deployment(where: str, dep: Obj, out: Rendered, problems: Problems) -> set[str]:
    """Returns the names of the Secrets the Deployment needs."""
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
    for c in spec.get("containers", []):
        label = f"Deployment {name}, container {c['name']}"
        security = c.get("securityContext", {})
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in c:
                problems.add(where, f"{label}: no {probe}")
        resources = c.get("resources", {})
        for part in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in resources.get(part, {}):
                    problems.add(where, f"{label}: no {part}.{res}")
        if not security.get("runAsNonRoot", pod_security.get("runAsNonRoot")):
            problems.add(where, f"{label}: runAsNonRoot is not true")
        if security.get("readOnlyRootFilesystem") is not True:
            problems.add(where, f"{label}: readOnlyRootFilesystem is not true")
        if security.get("allowPrivilegeEscalation") is not False:
            problems.add(where, f"{label}: allowPrivilegeEscalation is not false")
        tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
            problems.add(where, f"{label}: /tmp is not an emptyDir mount")
        for source in c.get("envFrom", []):
            ref = source.get("configMapRef") or {}
            if ref and ("ConfigMap", ref["name"]) not in have:
                problems.add(where, f"{label}: ConfigMap {ref['name']} not found")
            if "secretRef" in source:
                secrets.add(source["secretRef"]["name"])
        for env in c.get("env", []):
            value_from = env.get("valueFrom", {})
            if "secretKeyRef" in value_from:
                secrets.add(value_from["secretKeyRef"]["name"])
            ref = value_from.get("configMapKeyRef")
            if ref and ("ConfigMap", ref["name"]) not in have:
                problems.add(where, f"{label}: ConfigMap {ref['name']} not found")
    return secrets


def check_rendered(root: Path, out: Rendered, problems: Problems) -> list[str]:
    where = str(root.relative_to(REPO))
    deployments = [o for o in out.objects if o.get("kind") == "Deployment"]
    if not deployments:
        problems.add(where, "renders no Deployment")
    needed: set[str] = set()
    for dep in deployments:
        needed |= check_deployment(where, dep, out, problems)
    pod_labels = [pod_spec_labels(d) for d in deployments]
    for svc in (o for o in out.objects if o.get("kind") == "Service"):
        selector = svc.get("spec", {}).get("selector", {})
        if not any(selector.items() <= labels.items() for labels in pod_labels):
            problems.add(where, f"Service {key(svc)[1]}: selector {selector} matches no Deployment")
    everything = {key(o) for o in out.objects} | out.generated
    present = {name for kind, name in everything if kind == "Secret"}
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


def main() -> int:
    problems = Problems()
    roots = [HERE / "base", *sorted(p for p in (HERE / "overlays").iterdir() if p.is_dir())]
    report: list[str] = []
    for root in roots:
        out = render(root, problems)
        external = check_rendered(root, out, problems)
        kustomize_build(root, problems)
        if root.name == "base":
            check_services_covered(out, problems)
        line = f"{root.relative_to(REPO)}: {len(out.objects)} objects"
        if external:
            line += f"; Secrets expected from outside: {', '.join(external)}"
        report.append(line)
    sys.stdout.write("\n".join(report) + "\n")
    if problems.items:
        sys.stderr.write("k8s-check FAILED:\n" + "".join(f"  {p}\n" for p in problems.items))
        return 1
    sys.stdout.write(f"k8s-check ok: {len(roots)} kustomizations\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
