"""The servers of the long tests, each a real process on a free loopback port: app nodes
(granian through deploy/serve, WSGI or ``--asgi``), a PostgreSQL cluster of the test's own
(initdb in a temporary directory, so that it can be stopped and started), a Redis that can
be killed and started again on the same port, and the webhook delivery worker.

Every process is started in a session of its own and ended by its process group id, at the
test's end whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "deploy" / "serve"
MANAGE = ROOT / "manage.py"
# Every token's iss; nodes are reached by their own ports (ALLOWED_HOSTS has 127.0.0.1).
ISSUER = "http://ciam.long.test"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], Any], *, timeout: float, interval: float = 0.1) -> Any:
    """``check()``'s first true answer within ``timeout`` seconds (exceptions count as
    false); AssertionError with the last answer or error otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
            if last:
                return last
        except Exception as error:
            last = error
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout} s: {last!r}")
        time.sleep(interval)


def _end_group(process: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    """SIGTERM to the process group the test started, SIGKILL after ``grace`` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- app processes ---------------------------------------------------------------------------


def node_environment(
    *,
    database_url: str,
    secret_key: str,
    var_dir: Path,
    redis_url: str = "",
    **settings: str,
) -> dict[str, str]:
    """The environment of a node or a command: production settings (DEBUG off, the shared
    issuer and secret), nothing of the test process's own provider settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CIAM_", "GRANIAN_", "DJANGO_LIVE_", "PROMETHEUS_", "PYTEST_"))
        and key
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "CACHE_URL",
            "SECRET_KEY",
            "DEBUG",
            "ALLOWED_HOSTS",
            "CSRF_TRUSTED_ORIGINS",
        }
    }
    var_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=secret_key,
        DEBUG="0",
        CIAM_ISSUER=ISSUER,
        CIAM_VAR_DIR=str(var_dir),
        CIAM_STATIC_MANIFEST="0",
        CIAM_OUTBOUND_ALLOW_PRIVATE_ADDRESSES="1",
        LOG_LEVEL="WARNING",
        LOG_FORMAT="text",
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(settings)
    return env


class Node:
    """One ``deploy/serve`` (WSGI, every page and token path) or ``deploy/serve --asgi``
    (the monitor's WebSocket) process: one granian worker on a free port."""

    def __init__(self, name: str, env: dict[str, str], *, asgi: bool = False) -> None:
        self.name = name
        self.asgi = asgi
        self.port = free_port()
        self.log = Path(env["CIAM_VAR_DIR"]) / f"{name}.log"
        self.env = {
            **env,
            "GRANIAN_WORKERS": "1",
            "GRANIAN_ASGI_WORKERS": "1",
            "GRANIAN_BLOCKING_THREADS": "2",
            "GRANIAN_WORKERS_KILL_TIMEOUT": "3",
            "GRANIAN_ASGI_KILL_TIMEOUT": "3",
            "GRANIAN_LOG_LEVEL": "warning",
            "GRANIAN_RESPAWN_FAILED_WORKERS": "false",
            ("GRANIAN_ASGI_PORT" if asgi else "GRANIAN_PORT"): str(self.port),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def launch(self) -> Node:
        """Start the process (``ready`` waits for it to answer)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(SERVE), *(["--asgi"] if self.asgi else [])],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def ready(self, *, timeout: float = 60.0) -> Node:
        """Wait until ``/healthz`` answers 200."""

        def answers() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{log_tail(self.log)}")
            return requests.get(self.url + "/healthz", timeout=2).status_code == 200

        try:
            wait_until(answers, timeout=timeout, interval=0.2)
        except AssertionError as error:
            raise AssertionError(
                f"{self.name} did not start: {error}\n{log_tail(self.log)}"
            ) from None
        return self

    def start(self, *, timeout: float = 60.0) -> Node:
        return self.launch().ready(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None:
            _end_group(self.process)


def manage(env: dict[str, str], *args: str, timeout: float = 120.0) -> str:
    """``manage.py args`` with ``env``; its standard output (AssertionError on failure)."""
    result = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stderr[-3000:]}"
    return result.stdout


class Worker:
    """``manage.py events_worker``, as ciam-events-worker.service runs it."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.env = env
        self.args = args
        self.log = Path(env["CIAM_VAR_DIR"]) / "events_worker.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(MANAGE), "events_worker", *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no request in flight is finished or recorded."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            _end_group(self.process)


# --- PostgreSQL ------------------------------------------------------------------------------


def database_url(server_url: str, name: str) -> str:
    """``server_url`` (postgres://user@host:port/db) naming the database ``name``."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def libpq_url(url: str) -> str:
    """The URL as libpq and psycopg take it (``postgresql://``)."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))


def postgres_bin() -> Path | None:
    """The directory of PostgreSQL's server programs (initdb, pg_ctl, pg_dump...): Debian's
    newest /usr/lib/postgresql/<version>/bin, else where pg_ctl really is."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parts[-3])
    )
    if versions:
        return versions[-1].parent
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


class PostgresCluster:
    """A PostgreSQL server of the test's own, in a temporary directory: initdb, start,
    stop (fast or immediate) and start again on the same port. As root, its tools run as the
    ``postgres`` user."""

    def __init__(self, directory: Path) -> None:
        found = postgres_bin()
        if found is None:
            raise RuntimeError("PostgreSQL's server binaries (pg_ctl, initdb) are not installed")
        self.bin = found
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def _run(self, tool: str, *args: str, timeout: float = 60.0) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"{tool}: {result.stdout}{result.stderr}"

    def url(self, name: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def init(self) -> PostgresCluster:
        self.data.mkdir(parents=True)
        if self.as_postgres:
            shutil.chown(self.directory, "postgres")
            shutil.chown(self.data, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=40"
        )
        log = str(self.data / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.running():
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


# --- Redis -----------------------------------------------------------------------------------


REDIS_OPTIONS = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no")


class RedisServer:
    """``redis-server`` without persistence on a free port, killed and started again on the
    same port as a test needs."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary, *REDIS_OPTIONS, "--port", str(self.port), "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(lambda: self.client().ping(), timeout=10, interval=0.05)
        return self

    def kill(self) -> None:
        """SIGKILL: every connection drops at once, nothing is kept."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            _end_group(self.process, grace=5)


@contextlib.contextmanager
def stopping(*servers: Any) -> Iterator[None]:
    """Stop every server at the end of the block, whatever happened."""
    try:
        yield
    finally:
        for server in reversed(servers):
            with contextlib.suppress(Exception):
                server.stop()
