"""Server fixtures of the long tests (tests/long/servers.py has the servers themselves).

They need the PostgreSQL server DATABASE_URL names (the long pass of ``./dev test --long``
starts one): every test gets a database of its own, a copy of one migrated and seeded once
per run (``long_template``: ``CREATE DATABASE ... TEMPLATE``, a second each instead of a
migration's half minute). pytest-xdist workers share the template: the first one to need it
makes it, under a file lock, and it is kept for the next run while the migrations and the
seed are unchanged.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from .servers import (
    ROOT,
    Node,
    PostgresCluster,
    RedisServer,
    database_url,
    libpq_url,
    log_tail,
    manage,
    node_environment,
    postgres_bin,
)


@dataclass(frozen=True)
class Template:
    """The migrated, seeded database every test copies, and what the seed made."""

    server_url: str
    name: str
    secret_key: str
    seed: dict[str, Any]

    @property
    def url(self) -> str:
        return database_url(self.server_url, self.name)


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme not in ("postgres", "postgresql", "pgsql"):
        pytest.skip(
            "long tests need PostgreSQL: DATABASE_URL=postgres://... (./dev test --long "
            "starts a throwaway server)"
        )
    return url


def _admin(server_url: str) -> Any:
    import psycopg

    return psycopg.connect(libpq_url(database_url(server_url, "postgres")), autocommit=True)


def _template_name() -> str:
    digest = hashlib.sha256()
    files = sorted(ROOT.glob("*/migrations/*.py")) + sorted(ROOT.glob("*/*/migrations/*.py"))
    for path in [*files, Path(__file__).with_name("seed.py"), ROOT / "tests" / "factories.py"]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return f"ciam_long_tpl_{digest.hexdigest()[:12]}"


def _template_make(server_url: str, name: str, work: Path) -> dict[str, Any]:
    from psycopg import sql

    with _admin(server_url) as admin:
        for (stale,) in admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'ciam\\_long\\_tpl\\_%'"
        ).fetchall():
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(stale)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    secret_key = secrets.token_urlsafe(50)
    env = node_environment(
        database_url=database_url(server_url, name), secret_key=secret_key, var_dir=work
    )
    manage(env, "migrate", "--noinput", "-v0", timeout=300)
    result = subprocess.run(
        [sys.executable, "-m", "tests.long.seed"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"secret_key": secret_key, "seed": json.loads(result.stdout)}


@pytest.fixture(scope="session")
def long_template(tmp_path_factory) -> Template:
    """The template database: migrated once, with the seed of tests/long/seed.py."""
    server_url = _server_url()
    name = _template_name()
    key = hashlib.sha256(f"{server_url}/{name}".encode()).hexdigest()[:16]
    shared = Path(tempfile.gettempdir()) / f"ciam-long-{key}"
    with open(f"{shared}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            made = json.loads(Path(f"{shared}.json").read_text())
            with _admin(server_url) as admin:
                exists = admin.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [name]
                ).fetchone()
            if not exists:
                raise FileNotFoundError(name)
        except (OSError, ValueError):
            made = _template_make(server_url, name, tmp_path_factory.mktemp("template"))
            Path(f"{shared}.json").write_text(json.dumps(made))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return Template(server_url, name, made["secret_key"], made["seed"])


@pytest.fixture
def seed(long_template) -> dict[str, Any]:
    return long_template.seed


@contextlib.contextmanager
def copied_database(template: Template) -> Iterator[str]:
    """A fresh copy of the template on the DATABASE_URL server (its URL), dropped after."""
    from psycopg import errors, sql

    name = f"ciam_long_{uuid.uuid4().hex[:10]}"
    create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(template.name)
    )
    deadline = time.monotonic() + 20
    with _admin(template.server_url) as admin:
        while True:
            try:
                admin.execute(create)
                break
            except errors.ObjectInUse:  # another worker copying it this very moment
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    try:
        yield database_url(template.server_url, name)
    finally:
        with _admin(template.server_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def database(long_template) -> Iterator[str]:
    """The URL of a fresh copy of the template, for this test alone."""
    with copied_database(long_template) as url:
        yield url


@pytest.fixture
def environment(long_template, tmp_path) -> Callable[..., dict[str, str]]:
    """``environment(database_url=..., redis_url=..., **settings)``: a node's environment
    with the template's secret key and a directory of its own."""
    count = [0]

    def make(**kwargs: Any) -> dict[str, str]:
        count[0] += 1
        kwargs.setdefault("var_dir", tmp_path / f"var{count[0]}")
        return node_environment(secret_key=long_template.secret_key, **kwargs)

    return make


@pytest.fixture
def start_node() -> Iterator[Callable[..., Node]]:
    """``start_node(name, env, asgi=False)``: a running node; every one stopped at the end
    (their logs' ends printed, shown when the test failed)."""
    nodes: list[Node] = []

    def start(name: str, env: dict[str, str], *, asgi: bool = False) -> Node:
        node = Node(name, env, asgi=asgi)
        nodes.append(node)
        return node.start()

    yield start
    for node in reversed(nodes):
        node.stop()
    for node in nodes:
        print(f"--- {node.name} log ---\n{log_tail(node.log)}")


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    """A running Redis of the test's own (killed and restarted as the test likes)."""
    try:
        server = RedisServer(tmp_path / "redis")
    except RuntimeError as error:
        pytest.skip(str(error))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_cluster(tmp_path_factory, long_template) -> Iterator[PostgresCluster]:
    """A PostgreSQL server of the test's own, running, with the template restored as
    database ``ciam``; the test may stop and start it."""
    binaries = postgres_bin()
    if binaries is None:
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    directory = Path(tempfile.mkdtemp(prefix="ciam-long-pg-"))
    cluster = PostgresCluster(directory)
    try:
        cluster.init()
        cluster.start()
        dump = tmp_path_factory.mktemp("dump") / "template.dump"
        subprocess.run(
            [str(binaries / "pg_dump"), "-Fc", "--no-owner", "-f", str(dump), long_template.url],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [str(binaries / "createdb"), "--maintenance-db", cluster.url(), "ciam"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        subprocess.run(
            [str(binaries / "pg_restore"), "--no-owner", "-d", cluster.url("ciam"), str(dump)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield cluster
    finally:
        cluster.destroy()


def query(url: str, statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """The rows of one statement run straight on the database at ``url`` (autocommit)."""
    import psycopg

    with contextlib.closing(psycopg.connect(libpq_url(url), autocommit=True)) as connection:
        cursor = connection.execute(statement, params)  # type: ignore[call-overload]
        return cursor.fetchall() if cursor.description else []


def count_rows(url: str, tables: list[str]) -> dict[str, int]:
    """Rows of each table, read straight from the database at ``url``."""
    import psycopg
    from psycopg import sql

    with contextlib.closing(psycopg.connect(libpq_url(url), autocommit=True)) as connection:
        return {
            table: int(
                connection.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                ).fetchone()[0]  # type: ignore[index]
            )
            for table in tables
        }
