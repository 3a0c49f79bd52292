"""deploy/container/compose.yaml, parsed (no container engine runs here): every process of
deploy/'s systemd units has its service, commands that exist, the start order, health
checks, and no secret written into the file."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.management import get_commands

from .sources import (
    COMPOSE,
    ROOT,
    containerfile_stages,
    env_file,
    manage_commands,
    nginx_upstreams,
    systemd_units,
)

yaml = pytest.importorskip("yaml")

SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|(^|_)KEY$|CREDENTIAL", re.I)
# ${NAME:?message}: compose stops with the message when NAME is unset or empty.
REQUIRED_VARIABLE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*:\?[^}]+\}$")
SERVE = "/opt/ciam/deploy/serve"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


@pytest.fixture(scope="module")
def provider(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services running the provider's image (all but PostgreSQL and Redis)."""
    return {name: service for name, service in services.items() if "build" in service}


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else command.split()


def test_every_service_has_an_image_and_the_provider_builds_from_the_containerfile(
    services: dict[str, dict[str, Any]], provider: dict[str, dict[str, Any]]
) -> None:
    """Each service names an image; the provider's all name the same one, built from the
    repository root with deploy/container/Containerfile."""
    assert all(service.get("image") for service in services.values())
    assert set(services) - set(provider) == {"postgres", "redis"}
    assert len({service["image"] for service in provider.values()}) == 1
    for service in provider.values():
        context = (COMPOSE.parent / service["build"]["context"]).resolve()
        assert context == ROOT
        assert (context / service["build"]["dockerfile"]).is_file()


def test_every_command_exists(provider: dict[str, dict[str, Any]]) -> None:
    """Every manage.py command a service runs is one of the project's, and the servers run
    deploy/serve (the monitor with --asgi)."""
    known = get_commands()
    for name, service in provider.items():
        command = _command(service)
        for manage_command in manage_commands(command):
            assert manage_command in known, f"{name}: manage.py {manage_command}"
        assert manage_commands(command) or command[0] == SERVE, name
    assert _command(provider["web"]) == [SERVE]
    assert _command(provider["monitor"]) == [SERVE, "--asgi"]
    assert _command(provider["migrate"]) == ["python", "manage.py", "migrate", "--noinput"]


def test_every_systemd_unit_has_its_service(provider: dict[str, dict[str, Any]]) -> None:
    """Each deploy/ciam*.service runs here too, its commands in the same order; a timer's
    commands loop with a sleep of the timer's period."""
    by_commands = {
        tuple(manage_commands(_command(service))): service for service in provider.values()
    }
    for unit in systemd_units().values():
        if not unit.commands:  # ciam.service and ciam-monitor.service: deploy/serve
            continue
        service = by_commands.get(tuple(unit.commands))
        assert service is not None, f"{unit.name}: no service runs {unit.commands}"
        script = " ".join(_command(service))
        if unit.timer_seconds is None:
            assert "sleep" not in script, unit.name
        else:
            assert re.search(rf"\bsleep {unit.timer_seconds};", script), unit.name
            assert script.startswith("sh -c while true; do"), unit.name
            # systemd stops at the first failing ExecStart: so does the && chain.
            assert " && ".join(f"python manage.py {c}" for c in unit.commands) in script


def test_migrations_run_once_before_the_provider_starts(
    provider: dict[str, dict[str, Any]],
) -> None:
    """migrate waits for a healthy PostgreSQL and is not restarted; every other process waits
    for it to have completed successfully and for PostgreSQL and Redis to be healthy, and is
    restarted unless stopped."""
    migrate = provider["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name, service in provider.items():
        if name == "migrate":
            continue
        assert service["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }, name
        assert service["restart"] == "unless-stopped", name


def test_health_checks(services: dict[str, dict[str, Any]]) -> None:
    """A service others wait on as healthy has a health check: PostgreSQL over TCP, Redis by
    PING; web asks /readyz. The image's own check (HTTP on 8000) is replaced or turned off
    in every other service of the image, which serves no HTTP there."""
    awaited = {
        dependency
        for service in services.values()
        for dependency, condition in service.get("depends_on", {}).items()
        if condition["condition"] == "service_healthy"
    }
    for name in awaited:
        assert "test" in services[name].get("healthcheck", {}), name
    assert "--host" in services["postgres"]["healthcheck"]["test"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "8001" in " ".join(services["monitor"]["healthcheck"]["test"])
    for name, service in services.items():
        if "build" in service and name not in ("web", "monitor"):
            assert service["healthcheck"] == {"disable": True}, name


def _environment(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def test_no_secret_value_is_written_into_the_file(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    """Secrets are ${NAME:?...} references, required when compose starts: every variable
    named like a secret, and the password inside DATABASE_URL."""
    required: set[str] = set()
    for name, service in services.items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
                assert REQUIRED_VARIABLE.match(value), f"{name}: {key} is written out"
                required.add(key)
            for password in re.findall(r"://[^:/@\s]+:(\$\{[^}]*\}|[^@\s]+)@", value):
                assert REQUIRED_VARIABLE.match(password), f"{name}: {key} holds a password"
    assert {"SECRET_KEY", "CIAM_CLIENT_SECRET_KEY", "POSTGRES_PASSWORD"} <= required
    assert "replace-with" not in COMPOSE.read_text()


def test_container_networking_wins_over_the_host_settings_of_ciam_env(
    provider: dict[str, dict[str, Any]],
) -> None:
    """deploy/ciam.env (the env_file's model) points at loopback for the database, Redis and
    granian: each of those is set in the services' environment, which wins over the file."""
    host_settings = env_file(ROOT / "deploy" / "ciam.env")
    assert host_settings["GRANIAN_HOST"] == "127.0.0.1"
    runtime_env = containerfile_stages()[-1].env()
    for name, service in provider.items():
        assert service["env_file"] == "${CIAM_ENV_FILE:-ciam.env}", name
        environment = _environment(service)
        assert environment["GRANIAN_HOST"] == "0.0.0.0", name  # noqa: S104
        assert "@postgres:5432/" in environment["DATABASE_URL"], name
        assert environment["REDIS_URL"].startswith("redis://redis:6379/"), name
        assert environment["CIAM_VAR_DIR"] == runtime_env["CIAM_VAR_DIR"], name
        assert environment["GRANIAN_PORT"] == runtime_env["GRANIAN_PORT"], name


def test_published_ports_are_the_upstreams_of_deploy_nginx_conf(
    services: dict[str, dict[str, Any]],
) -> None:
    """web and monitor are published on loopback at the addresses deploy/nginx.conf sends
    to, so the host's TLS proxy works unchanged; nothing else is published."""
    upstreams = nginx_upstreams()
    published = {}
    for name, service in services.items():
        for port in service.get("ports", []):
            default = re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", port)
            host, _, container = default.rpartition(":")
            published[name] = (host, container)
    assert published == {
        "web": (upstreams["ciam"], "8000"),
        "monitor": (upstreams["ciam_monitor"], "8001"),
    }


def test_provider_containers_have_a_read_only_root(provider: dict[str, dict[str, Any]]) -> None:
    """As ProtectSystem=strict under systemd: a read-only root, with /tmp and granian's
    metrics directory in memory."""
    for name, service in provider.items():
        assert service["read_only"] is True, name
        assert {"/tmp", "/var/lib/ciam/metrics"} <= set(service["tmpfs"]), name  # noqa: S108


def test_volumes_are_declared_and_keep_the_database(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    """Every named volume a service mounts is declared; PostgreSQL's data lives on one."""
    declared = set(compose.get("volumes", {}))
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/", "$")):
                assert source in declared, f"{name}: volume {source} is not declared"
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]


def test_only_the_redis_stream_is_optional(provider: dict[str, dict[str, Any]]) -> None:
    """events_stream, which needs CIAM_EVENTS_STREAM_URL, starts only with --profile stream;
    every other process starts with a plain `docker compose up`."""
    assert provider["stream"]["profiles"] == ["stream"]
    assert [name for name, service in provider.items() if "profiles" in service] == ["stream"]
