"""The production deployment files (docker/) stay consistent with the code they deploy.

Docker does not run here, so the compose file and the Dockerfile are read as YAML and
text and checked against what they deploy: the variables settings.py reads, the task
queues, the URLs, pyproject.toml's pins. No database is used.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.urls import reverse

from memoryweb.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent
DOCKER_DIR = ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"

WORKER_QUEUES = {
    "worker-embedding": "embedding",
    "worker-consolidation": "consolidation",
    "worker-projection": "projection",
}
APP_SERVICES = {"web", "mcp", *WORKER_QUEUES, "beat"}
SERVICES = {"db", "redis", "migrate", *APP_SERVICES}
ONE_SHOT = {"migrate"}
DATA_VOLUMES = {"db": "/var/lib/postgresql", "redis": "/data"}
# Variables of a third-party image, read by that image and not by MemoryWeb.
IMAGE_VARIABLES = {"db": ("POSTGRES_",)}
# What a deployment sets: values the compose file requires (${NAME:?...}).
REQUIRED_VALUES = {
    "SECRET_KEY": "test-deployment-" + "k3y" * 20,
    "POSTGRES_PASSWORD": "test-deployment-password",
}
CDN = re.compile(r"\bcdn\b|cdn\.|cdnjs|jsdelivr|unpkg|googleapis|cloudflare", re.IGNORECASE)
# settings.py and embedded.py read the environment only through these.
READS = re.compile(
    r"""(?:\b_?env_\w+|os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)


# ------------------------------------------------------------------ helpers


@functools.cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = {item.partition("=")[0]: item.partition("=")[2] for item in env}
    return {str(name): "" if value is None else str(value) for name, value in env.items()}


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, for the values used here."""

    def one(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3) or ""
        if variables.get(name):
            return variables[name]
        assert operator != ":?", f"{name} is required by the compose file: {argument}"
        return argument if operator == ":-" else ""

    return re.sub(r"\$\{([A-Z][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}", one, value)


def command(service: dict[str, Any]) -> list[str]:
    raw = service.get("command") or []
    return shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]


def option(argv: list[str], *names: str) -> str | None:
    for index, part in enumerate(argv):
        for name in names:
            if part == name and index + 1 < len(argv):
                return argv[index + 1]
            if name.startswith("--") and part.startswith(f"{name}="):
                return part.split("=", 1)[1]
    return None


def queues_of(service: dict[str, Any]) -> set[str]:
    raw = option(command(service), "-Q", "--queues") or ""
    return {queue.strip() for queue in raw.split(",") if queue.strip()}


def healthcheck_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test[1:])


@functools.cache
def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments): continuation lines joined,
    comments dropped, a heredoc's body kept with the instruction that opens it."""
    instructions: list[tuple[str, str]] = []
    lines = iter(DOCKERFILE.read_text().splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1] + " " + next(lines).strip()
        keyword, _, arguments = line.strip().partition(" ")
        heredoc = re.search(r"<<-?['\"]?([A-Z]+)['\"]?", arguments)
        if heredoc:
            body = []
            for body_line in lines:
                if body_line.strip() == heredoc.group(1):
                    break
                body.append(body_line)
            arguments += "\n" + "\n".join(body)
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for keyword, arguments in dockerfile():
        if keyword == "FROM":
            found.append([])
        if found:
            found[-1].append((keyword, arguments))
    return found


def final_stage(keyword: str) -> list[str]:
    return [arguments for word, arguments in stages()[-1] if word == keyword]


def base_images() -> list[str]:
    defaults = {}
    for keyword, arguments in dockerfile():
        if keyword == "ARG" and "=" in arguments:
            name, _, default = arguments.partition("=")
            defaults[name.strip()] = default.strip()
    return [
        interpolate(arguments.split()[0], defaults)
        for keyword, arguments in dockerfile()
        if keyword == "FROM"
    ]


def dockerfile_cmd() -> str:
    (cmd,) = final_stage("CMD")
    return " ".join(json.loads(cmd)) if cmd.startswith("[") else cmd


@functools.cache
def variables_read() -> frozenset[str]:
    names = set()
    sources = ("settings.py", "embedded.py", "gunicorn_conf.py")
    for path in (ROOT / "memoryweb" / name for name in sources):
        for match in READS.finditer(path.read_text()):
            names.add(match.group(1) or match.group(2))
    # The image's own command reads a few (gunicorn's timeout).
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", dockerfile_cmd()))
    return frozenset(names)


def image_tag(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    return name.partition(":")[2]


# ------------------------------------------------------------------ compose.yaml


def test_it_defines_every_service() -> None:
    missing = SERVICES - set(services())
    assert not missing, f"compose.yaml lacks {sorted(missing)}"


def test_it_checks_the_health_of_every_long_running_service() -> None:
    for name, service in services().items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", name
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        test = check["test"]
        assert isinstance(test, str) or test[0] in ("CMD", "CMD-SHELL"), name
        assert healthcheck_command(service).strip(), name


def test_it_keeps_database_and_broker_data_in_named_volumes() -> None:
    declared = set(compose().get("volumes") or {})
    for name, target in DATA_VOLUMES.items():
        sources = {}
        for volume in services()[name].get("volumes", []):
            source, _, rest = str(volume).partition(":")
            sources[rest.split(":")[0]] = source
        assert sources.get(target) in declared, f"{name} keeps no named volume at {target}"


def test_it_starts_the_application_once_db_and_redis_are_healthy() -> None:
    for name in APP_SERVICES:
        depends = services()[name].get("depends_on") or {}
        for dependency in ("db", "redis"):
            assert depends.get(dependency, {}).get("condition") == "service_healthy", (
                f"{name} must wait for {dependency} to be healthy"
            )
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
    migrate = services()["migrate"]
    assert command(migrate)[:3] == ["python", "manage.py", "migrate"]
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"


def test_it_pins_every_image_and_uses_no_cdn() -> None:
    images = [interpolate(s["image"], {}) for s in services().values() if "image" in s]
    for image in [*images, *base_images()]:
        assert image_tag(image) not in ("", "latest"), f"{image} has no pinned tag"
    for path in (COMPOSE_FILE, DOCKERFILE):
        assert not CDN.search(path.read_text()), f"{path.name} refers to a CDN"


def test_it_builds_every_app_container_from_the_repository_root() -> None:
    images = set()
    for name in APP_SERVICES | ONE_SHOT:
        service = services()[name]
        build = service["build"]
        assert (COMPOSE_FILE.parent / build["context"]).resolve() == ROOT, name
        assert (ROOT / build["dockerfile"]).resolve() == DOCKERFILE, name
        images.add(service["image"])
    assert len(images) == 1, f"one image for every role, got {images}"
    ignored = {
        line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
    }
    assert {".git", ".venv", "var", "**/.env"} <= ignored


def test_it_runs_one_worker_per_queue_each_with_its_own_node_name() -> None:
    for name, queue in WORKER_QUEUES.items():
        service = services()[name]
        argv = command(service)
        assert argv[:4] == ["celery", "-A", "memoryweb", "worker"], name
        assert queue in queues_of(service), f"{name} does not consume {queue}"
        node = option(argv, "--hostname", "-n")
        assert node == f"{queue}@%h", f"{name}: --hostname={queue}@%h (scaled, each is unique)"
        assert f"{queue}@$$HOSTNAME" in healthcheck_command(service), f"{name} pings its node"
    beat = command(services()["beat"])
    assert beat[:4] == ["celery", "-A", "memoryweb", "beat"]


def test_it_consumes_every_queue_a_task_can_be_routed_to() -> None:
    consumed = set().union(*(queues_of(services()[name]) for name in WORKER_QUEUES))
    celery_app.loader.import_default_modules()
    tasks = {name for name in celery_app.tasks if not name.startswith("celery.")}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled <= tasks, f"beat schedules unknown tasks: {scheduled - tasks}"
    for task in sorted(tasks):
        queue = celery_app.amqp.router.route({}, task, (), {})["queue"].name
        assert queue in consumed, f"{task} goes to queue {queue!r}, which no worker consumes"


# ------------------------------------------------------------------ Dockerfile


def test_it_builds_in_stages_and_runs_as_a_non_root_user() -> None:
    assert len(stages()) >= 2
    images = base_images()
    assert images[-1] == images[0], "the venv is copied: builder and runtime share a base"
    user = final_stage("USER")[-1]
    assert user.split(":")[0] not in ("root", "0"), f"final stage runs as {user}"


def test_it_installs_the_cpu_torch_that_pyproject_pins_before_the_project() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (pin,) = [d for d in pyproject["project"]["dependencies"] if d.startswith("torch")]
    runs = [arguments for keyword, arguments in stages()[0] if keyword == "RUN"]
    torch = [i for i, run in enumerate(runs) if pin.replace(" ", "") in run]
    assert torch, f"the builder does not install {pin}"
    assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch[0]]
    project = [i for i, run in enumerate(runs) if re.search(r"pip install \.(\s|$)", run)]
    assert project and torch[0] < project[0], "CPU torch first, then the project"


def test_it_checks_its_health_on_the_health_endpoint() -> None:
    (check,) = final_stage("HEALTHCHECK")
    probe = check.split("CMD", 1)[1].strip()
    probe_command = " ".join(json.loads(probe)) if probe.startswith("[") else probe
    scripts = [arguments for arguments in final_stage("COPY") if probe_command in arguments]
    assert scripts, "the HEALTHCHECK's probe is written in the image"
    assert f"127.0.0.1:8000{reverse('health')}" in scripts[0]
    assert healthcheck_command(services()["web"]) == probe_command


def test_it_serves_the_wsgi_application_with_gunicorn_on_port_8000() -> None:
    cmd = dockerfile_cmd()
    assert re.search(r"\bgunicorn\s+memoryweb\.wsgi(:application)?\s", cmd)
    assert settings.WSGI_APPLICATION == "memoryweb.wsgi.application"
    assert "--bind 0.0.0.0:8000" in cmd
    # The shipped settings (tests/test_production.py starts gunicorn with them).
    assert "--config python:memoryweb.gunicorn_conf" in cmd
    assert "8000" in final_stage("EXPOSE")[0].split()
    assert any(str(port).endswith(":8000") for port in services()["web"]["ports"])


def test_it_collects_static_files_at_build_time_with_settings_that_load() -> None:
    (run,) = [arguments for arguments in final_stage("RUN") if "collectstatic" in arguments]
    build_env = dict(re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=(\S+)", run.split("python")[0]))
    # Production storage writes the manifest that WhiteNoise serves hashed names from.
    assert build_env.get("MEMORYWEB_PRODUCTION") == "1"
    django_setup(build_env)


# ------------------------------------------------------------------ environment


def test_it_gives_the_database_buffers_that_outlive_a_restart() -> None:
    argv = [interpolate(part, {}) for part in command(services()["db"])]
    settings = dict(argv[i + 1].split("=", 1) for i, part in enumerate(argv) if part == "-c")
    assert argv[0] == "postgres"
    assert settings == {"shared_buffers": "1GB", "shared_preload_libraries": "pg_prewarm"}
    sized = interpolate(command(services()["db"])[2], {"POSTGRES_SHARED_BUFFERS": "6GB"})
    assert sized == "shared_buffers=6GB"


def test_it_sets_only_variables_that_the_code_reads() -> None:
    unknown = set()
    for name, service in services().items():
        for variable in environment(service):
            if variable.startswith(IMAGE_VARIABLES.get(name, ())):
                continue
            if variable not in variables_read():
                unknown.add(f"{name}: {variable}")
    assert not unknown, (
        f"not read by settings.py, embedded.py or gunicorn_conf.py: {sorted(unknown)}"
    )


def test_it_configures_production_mode_completely() -> None:
    required = set(re.findall(r'env_required\("([A-Z0-9_]+)"', settings_source()))
    for name in APP_SERVICES | ONE_SHOT:
        env = environment(services()[name])
        assert env["MEMORYWEB_PRODUCTION"] == "1", name
        assert required <= set(env), f"{name} lacks {required - set(env)}"
    # The web container's environment, with the compose defaults, loads the settings.
    web = environment(services()["web"])
    django_setup({name: interpolate(value, REQUIRED_VALUES) for name, value in web.items()})


def settings_source() -> str:
    return (ROOT / "memoryweb" / "settings.py").read_text()


def django_setup(env: dict[str, str]) -> None:
    """Start Django with exactly this environment (a fresh process: settings are global)."""
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "DJANGO_SETTINGS_MODULE": "memoryweb.settings"}
        | env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
