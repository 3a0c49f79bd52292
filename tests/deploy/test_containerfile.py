"""deploy/container/Containerfile, read instruction by instruction (no container engine runs
here): its stages, user, health check, ports, settings, and what it copies in which order."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings

from .sources import CONTAINERFILE, ROOT, Stage, containerfile_stages

SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|(^|_)KEY$|CREDENTIAL", re.I)
# Top-level directories with Python packages that the provider does not run from.
NOT_SHIPPED = {"tests", "benchmarks"}


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return containerfile_stages()


@pytest.fixture(scope="module")
def builder(stages: list[Stage]) -> Stage:
    return stages[0]


@pytest.fixture(scope="module")
def runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


def _runs(stage: Stage) -> str:
    return "\n".join(item.arguments for item in stage.all("RUN"))


def test_builds_in_a_builder_stage_and_runs_on_python_311_slim(stages: list[Stage]) -> None:
    """Two stages on python:3.11-slim: a named builder, and the runtime image built from a
    fresh base (the compilers and gettext of the builder stay behind)."""
    assert len(stages) == 2
    assert stages[0].name == "builder"
    assert all(stage.base.startswith("python:3.11-slim") for stage in stages)
    assert "build-essential" in _runs(stages[0])
    assert "build-essential" not in _runs(stages[1])
    assert "gettext" not in _runs(stages[1])


def test_runs_as_the_unprivileged_user_10001(runtime: Stage) -> None:
    """The image's user is uid 10001, created in the runtime stage, numeric so that
    Kubernetes' runAsNonRoot can verify it without reading /etc/passwd."""
    users = runtime.all("USER")
    assert users, "no USER: the image would run as root"
    uid = users[-1].arguments.split(":")[0]
    assert uid == "10001"
    assert re.search(r"useradd\b[^\n]*--uid 10001\b", _runs(runtime))


def test_health_check_asks_healthz_with_python(runtime: Stage) -> None:
    """HEALTHCHECK probes /healthz on the WSGI port with Python's own urllib: the slim image
    has no curl or wget."""
    (healthcheck,) = runtime.all("HEALTHCHECK")
    command = healthcheck.exec_form
    assert command is not None
    assert command[0] == "python"
    script = " ".join(command)
    assert "/healthz" in script
    assert "GRANIAN_PORT" in script
    assert not re.search(r"\b(curl|wget)\b", healthcheck.arguments)
    assert {"interval", "timeout", "start-period", "retries"} <= set(healthcheck.flags)


def test_exposes_the_ports_of_deploy_serve_and_listens_beyond_loopback(runtime: Stage) -> None:
    """8000 (deploy/serve) and 8001 (deploy/serve --asgi) are exposed, and granian listens on
    every interface of the container instead of deploy/serve's default loopback."""
    exposed = {port for item in runtime.all("EXPOSE") for port in item.words}
    assert {"8000", "8001"} <= exposed
    env = runtime.env()
    assert env["GRANIAN_HOST"] == "0.0.0.0"  # noqa: S104
    assert env["GRANIAN_PORT"] == "8000"
    assert env["GRANIAN_ASGI_PORT"] == "8001"
    serve = (ROOT / "deploy" / "serve").read_text()
    assert 'GRANIAN_PORT="${GRANIAN_ASGI_PORT:-8001}"' in serve


def test_no_secret_is_baked_into_the_image(stages: list[Stage]) -> None:
    """No ENV or ARG of any stage names a secret: keys, passwords and tokens come from the
    environment the container is started with."""
    for stage in stages:
        assert not [key for key in stage.env() if SECRET_NAME.search(key)], stage.base
        for arg in stage.all("ARG"):
            assert not SECRET_NAME.search(arg.arguments.split("=")[0]), arg


def test_dependencies_are_installed_before_the_code_is_copied(builder: Stage) -> None:
    """pyproject.toml and requirements.lock are copied alone and installed (the lock as
    constraints) before any code: a code change reuses the cached dependency layer."""
    keywords = [(item.keyword, item.arguments) for item in builder.instructions]
    copies = [index for index, (keyword, _) in enumerate(keywords) if keyword == "COPY"]
    first = builder.instructions[copies[0]]
    assert sorted(first.words[:-1]) == ["pyproject.toml", "requirements.lock"]
    install = next(
        index
        for index, (keyword, arguments) in enumerate(keywords)
        if keyword == "RUN" and "pip install -c requirements.lock ." in arguments
    )
    assert copies[0] < install < copies[1]


def test_copies_every_package_and_never_the_whole_context(builder: Stage) -> None:
    """Each top-level package, the templates, static files, translations, manage.py and
    deploy/serve are copied one by one, and nothing copies the whole build context (which
    holds .env, .venv and var/ with a local secret key and database)."""
    sources = {word for item in builder.all("COPY") for word in item.words[:-1]}
    assert not sources & {".", "./", "*"}
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
    copied = {source.rstrip("/") for source in sources}
    packages = {
        path.name
        for path in ROOT.iterdir()
        if (path / "__init__.py").exists() and path.name not in NOT_SHIPPED
    }
    apps = {
        app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()
    }
    needed = packages | apps | {"templates", "static", "locale", "manage.py", "deploy/serve"}
    assert needed <= copied, f"not copied: {sorted(needed - copied)}"


def test_translations_and_static_files_are_built_into_the_image(
    builder: Stage, runtime: Stage
) -> None:
    """The builder compiles the translations and collects the static files; the runtime
    stage puts them at STATIC_ROOT for its CIAM_VAR_DIR, and declares no volume there that
    would keep an earlier release's files."""
    runs = _runs(builder)
    assert "manage.py compilemessages" in runs
    assert "manage.py collectstatic --noinput" in runs
    var_dir = runtime.env()["CIAM_VAR_DIR"]
    assert var_dir == "/var/lib/ciam"
    static_root = Path(var_dir) / Path(settings.STATIC_ROOT).relative_to(settings.VAR_DIR)
    from_builder = [item for item in runtime.all("COPY") if item.flags.get("from") == "builder"]
    assert any(item.words[-1] == str(static_root) for item in from_builder)
    volumes = " ".join(item.arguments for item in runtime.all("VOLUME"))
    assert var_dir not in volumes


def test_the_virtual_environment_is_where_deploy_serve_runs_it(runtime: Stage) -> None:
    """deploy/serve starts $ROOT/.venv/bin/granian: the runtime's code lives in /opt/ciam with
    its venv at /opt/ciam/.venv, first on PATH for `python manage.py`."""
    assert runtime.all("WORKDIR")[-1].arguments == "/opt/ciam"
    destinations = {item.words[-1] for item in runtime.all("COPY")}
    assert {"/opt/ciam/.venv", "/opt/ciam/"} <= destinations
    assert runtime.env()["PATH"].startswith("/opt/ciam/.venv/bin:")
    serve = ROOT / "deploy" / "serve"
    assert '"$ROOT/.venv/bin/granian"' in serve.read_text()
    assert os.access(serve, os.X_OK)


def test_every_process_runs_under_tini_with_deploy_serve_by_default(runtime: Stage) -> None:
    """ENTRYPOINT is tini (PID 1 passing SIGTERM to commands without a handler of their own)
    and CMD is deploy/serve, so any command given to the container replaces CMD alone. The
    runtime installs tini, and libgomp1, which implicit's compiled models need."""
    (entrypoint,) = runtime.all("ENTRYPOINT")
    assert entrypoint.exec_form == ["tini", "--"]
    (command,) = runtime.all("CMD")
    assert command.exec_form == ["/opt/ciam/deploy/serve"]
    runs = _runs(runtime)
    assert re.search(r"apt-get install[^\n]*\btini\b", runs)
    assert re.search(r"apt-get install[^\n]*\blibgomp1\b", runs)


def test_the_reader_keeps_continuations_and_drops_comments(tmp_path: Path) -> None:
    """The Containerfile reader joins continued lines, skips comment lines inside them, and
    tells stages apart (a mistake here would make every other test vacuous)."""
    path = tmp_path / "Containerfile"
    path.write_text(
        "# syntax=docker/dockerfile:1\n"
        "FROM python:3.11-slim AS build\n"
        "RUN one \\\n"
        "    # a comment inside\n"
        " && two\n"
        "FROM python:3.11-slim\n"
        'ENV A=1 B="two words"\n'
        'CMD ["x", "y"]\n'
    )
    first, second = containerfile_stages(path)
    assert (first.name, second.name) == ("build", None)
    assert first.all("RUN")[0].arguments == "one && two"
    assert second.env() == {"A": "1", "B": "two words"}
    assert second.all("CMD")[0].exec_form == ["x", "y"]
    assert CONTAINERFILE.exists()
