"""Gunicorn settings for the provider: ``gunicorn -c deploy/gunicorn.conf.py ciam.wsgi``.

Every value can be changed from the environment (the same file the provider reads, e.g.
/etc/ciam/ciam.env with the systemd unit). The defaults fit a 2-core host behind a TLS proxy
on the same machine.

Why threads: most request time is spent waiting on PostgreSQL and Redis, and Argon2 password
hashing (argon2-cffi) releases the GIL, so threads overlap well. Each process keeps its own
database connection per thread (CONN_MAX_AGE), so workers x threads bounds the connections
one host opens: keep it below PostgreSQL's max_connections divided by the number of hosts.
"""

from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


# Where the TLS proxy sends requests. A Unix socket (unix:/run/ciam/gunicorn.sock) also works.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split()

# One process per core, four threads each: 2 x 4 = 8 requests in flight on 2 cores. More
# processes did not serve more requests on 2 cores (benchmarks/) and each costs ~60 MB.
workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count())
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)

# A request that takes longer than this is stuck (the slowest path, sign-in with Argon2id,
# takes well under a second); the worker is restarted.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Keep-alive to the proxy only; clients' connections end at the proxy.
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Recycle workers now and then so that memory growth in any dependency stays bounded.
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 500)

# Authorization requests carry long query strings (claims, id_token_hint, PKCE): allow the
# largest request line gunicorn accepts.
limit_request_line = 8190

# Only the local proxy may set X-Forwarded-* headers that gunicorn itself trusts.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Heartbeat files in memory, not on a disk that may stall.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# Logs to stdout/stderr (journald under systemd). Access logs are off by default: the proxy
# keeps them; set GUNICORN_ACCESS_LOG=- to have them here too.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "ciam"

# gunicornc's control socket (status, worker count, reload): only where a private runtime
# directory is given (the systemd unit sets /run/ciam/gunicorn.ctl); the default path under
# $HOME would be shared by every gunicorn of the user.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

# Load the application once in the master: workers share its memory pages (copy-on-write),
# and gc.freeze() keeps the garbage collector from touching (and so copying) them.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") != "0"


def pre_fork(server, worker):
    import gc

    gc.freeze()
