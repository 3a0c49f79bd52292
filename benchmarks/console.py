"""What the self-service portal and the operators' console cost a request.

In-process, one thread, on a throwaway test database (SQLite in memory with the default
settings); no server, no network. ``benchmarks/run --console`` runs it.

Seeded first (``--customers N``, default 2000): N customers with a verified email address and
a profile (given and family name, a mobile phone number, a CPF in a national-document field
added to the standard schema as an operator would), one or two consent-ledger records each,
a few OAuth clients with authorization codes (``AuthorizationContext``) and DOT tokens for
some of the customers, the console's daily counters over 90 days, sign-ups spread over the
same 90 days, and audit-log entries; then a superuser and a delegated operator who
administers one client.

Measured through Django's test client (whole requests: middleware, view, template), each after
a warm-up, as the median and p95 of ``--iterations``, with the queries of one request
(``CaptureQueriesContext``, counted apart from the timed ones):

- **admin index with the dashboard**: the superuser with the cache cleared before each
  iteration (cold: every chart computed) and with it kept (warm: the charts cached for a
  minute); the delegated operator cold (figures limited to their client);
- **customer search**: the customer list searched by email address, by a phone number as
  typed ("(11) 9xxxx-xxxx") and by a formatted CPF ("123.456.789-09");
- **customer page**: a customer's admin change view, for the superuser and for the delegated
  operator (one of their client's customers);
- **portal**: a signed-in customer's overview (``/``), security, connected apps and profile
  pages;
- **audit_record**: one entry appended, outside a request;
- **token endpoint after a rotation**: ``client_credentials`` with ``client_secret_basic``,
  the secret a rotation replaced (still in its grace period) against the new one,
  interleaved.

Run: ``benchmarks/run --console [--customers N] [--iterations N] [--warmup N]``.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciam.settings")
# The source static files (no collectstatic in a fresh clone), as the tests serve them.
os.environ.setdefault("CIAM_STATIC_MANIFEST", "0")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

CLIENTS = ("Shop", "Bank", "Travel")
# Every 4th customer signed in to Shop (the delegated operator's client), every 5th holds
# Bank's tokens, every 7th Travel's.
SIGNED_IN_EVERY = {"Shop": 4, "Bank": 5, "Travel": 7}
DAYS = 90
USERS = "/admin/accounts/user/"


def _ms(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered) / 1e6, p95 / 1e6


def _timed(
    run: Callable[[], object], iterations: int, warmup: int, prepare: Callable[[], object]
) -> list[int]:
    """Nanoseconds of ``run()`` for each iteration; ``prepare()`` before each is not timed."""
    samples = []
    for i in range(warmup + iterations):
        prepare()
        start = time.perf_counter_ns()
        run()
        elapsed = time.perf_counter_ns() - start
        if i >= warmup:
            samples.append(elapsed)
    return samples


def _nothing() -> None:
    return None


@dataclass
class Bench:
    iterations: int
    warmup: int
    rows: list[tuple[str, float, float, int, int]] = field(default_factory=list)

    def measure(
        self,
        name: str,
        run: Callable[[], Any],
        *,
        prepare: Callable[[], object] = _nothing,
        expect: int | None = 200,
    ) -> None:
        """Time ``run`` (a request: its status checked once), then count the queries of one
        more run."""
        prepare()
        result = run()
        status = getattr(result, "status_code", None)
        if expect is not None and status != expect:
            raise SystemExit(f"{name}: HTTP {status}, expected {expect}")
        samples = _timed(run, self.iterations, self.warmup, prepare)
        prepare()
        with CaptureQueriesContext(connection) as queries:
            run()
        median, p95 = _ms(samples)
        self.rows.append((name, median, p95, len(queries), len(samples)))

    def measure_pair(self, names: tuple[str, str], runs: tuple[Callable[[], Any], ...]) -> None:
        """Two operations interleaved iteration by iteration (machine noise hits both)."""
        for run in runs:
            response = run()
            if response.status_code != 200:
                raise SystemExit(
                    f"{names}: HTTP {response.status_code}: {response.content[:300]!r}"
                )
        samples: tuple[list[int], list[int]] = ([], [])
        for i in range(self.warmup + self.iterations):
            for index, run in enumerate(runs):
                start = time.perf_counter_ns()
                run()
                elapsed = time.perf_counter_ns() - start
                if i >= self.warmup:
                    samples[index].append(elapsed)
        for name, run, timed in zip(names, runs, samples, strict=True):
            with CaptureQueriesContext(connection) as queries:
                run()
            median, p95 = _ms(timed)
            self.rows.append((name, median, p95, len(queries), len(timed)))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--customers", type=int, default=2000, help="seeded (default 2000)")
    parser.add_argument("--iterations", type=int, default=100, help="per row (default 100)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed first runs (default 5)")
    args = parser.parse_args(argv)
    customers = max(30, args.customers)
    bench = Bench(iterations=max(5, args.iterations), warmup=max(1, args.warmup))

    setup_test_environment()
    settings.DEBUG = False  # no query log
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.perf_counter()
        seeded = seed(customers)
        seed_seconds = time.perf_counter() - started
        run(bench, seeded)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print_table(bench, customers=customers, seed_seconds=seed_seconds)
    return 0


# --- seed -----------------------------------------------------------------------------------


def _cpf(number: int) -> str:
    """A valid CPF, formatted ("123.456.789-09"), from its first nine digits."""
    digits = [int(c) for c in f"{number:09d}"]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=True))
        digits.append((total * 10 % 11) % 10)
    text = "".join(map(str, digits))
    return f"{text[:3]}.{text[3:6]}.{text[6:9]}-{text[9:]}"


def _phone(index: int) -> str:
    """A São Paulo mobile number as people type it: "(11) 9xxxx-xxxx"."""
    digits = f"{10_000_000 + index * 37:08d}"
    return f"(11) 9{digits[:4]}-{digits[4:]}"


@dataclass
class Seeded:
    superuser: Any
    operator: Any
    customer: Any  # signed in to every client, consents, tokens: the portal's customer
    delegated_customer: Any  # one of Shop's customers
    searched: Any  # found by email, phone and CPF
    phone: str
    cpf: str
    service_client_id: str
    old_secret: str
    new_secret: str


def seed(count: int) -> Seeded:
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from oauth2_provider.models import (
        get_access_token_model,
        get_application_model,
        get_refresh_token_model,
    )

    from accounts.services.users import user_create
    from audit.services import audit_record
    from ciam.client_secrets import client_secret_rotate
    from ciam.models import AuthorizationContext
    from ciam.services.clients import client_register
    from consent.models import ConsentAction, ConsentChannel, Purpose, PurposeKind
    from consent.services.grants import consent_grant
    from consent.services.ledger import consent_record
    from console.delegation import delegation_grant
    from console.models import DailyCount, Metric
    from profiling.models import DocumentKind, FieldType, ProfileField, ProfileValue, ValueSource
    from profiling.schema import schema_forget
    from profiling.services.values import profile_update
    from tests.consent.purposes_helpers import publish

    User = get_user_model()
    Application = get_application_model()
    AccessToken = get_access_token_model()
    RefreshToken = get_refresh_token_model()
    now = timezone.now()

    # The standard schema has no national document: an operator adds a CPF field.
    if not ProfileField.objects.filter(type=FieldType.DOCUMENT).exists():
        ProfileField.objects.create(
            key="cpf",
            type=FieldType.DOCUMENT,
            document_kind=DocumentKind.BR_CPF,
            label_en="CPF",
            label_pt_br="CPF",
            order=500,
        )
        schema_forget()

    superuser = User.objects.create_superuser(email="root@example.com", password=None)
    operator = user_create(
        email="operator@example.com", password=None, is_staff=True, validate=False
    )
    clients = {}
    for name in CLIENTS:
        registered = client_register(
            name=name, kind="web", redirect_uris=[f"https://{name.lower()}.example/cb"]
        )
        clients[name] = Application.objects.get(client_id=registered.client_id)
    delegation_grant(operator=operator, client=clients["Shop"], granted_by=superuser)

    terms = Purpose.objects.create(key="terms", kind=PurposeKind.TERMS_OF_SERVICE, required=True)
    newsletter = Purpose.objects.create(key="newsletter", kind=PurposeKind.CUSTOM)
    terms_version, newsletter_version = publish(terms), publish(newsletter)

    users = []
    expires = now + timedelta(hours=1)
    for index in range(count):
        user = user_create(
            email=f"customer{index:05d}@example.com",
            password=None,
            given_name=("Ana", "Bruno", "Carla", "Diego", "Elisa")[index % 5],
            family_name=("Silva", "Souza", "Oliveira", "Santos", "Pereira")[index % 5],
            validate=False,
        )
        profile_update(
            user=user,
            changes={"phone_number": _phone(index), "cpf": _cpf(100_000_000 + index * 7919)},
            source=ValueSource.ACCOUNT,
        )
        consent_record(
            user=user,
            version=terms_version,
            action=ConsentAction.GRANTED,
            channel=ConsentChannel.SIGNUP,
            ip_address="203.0.113.9",
            user_agent="Bench browser 1.0",
        )
        if index % 3 == 0:
            consent_record(
                user=user,
                version=newsletter_version,
                action=ConsentAction.GRANTED,
                channel=ConsentChannel.PORTAL,
                application=clients["Shop"],
            )
        audit_record(action="profile.updated", actor=user, target=user, changes={"fields": ["cpf"]})
        for name, every in SIGNED_IN_EVERY.items():
            if index % every:
                continue
            application = clients[name]
            AuthorizationContext.objects.create(
                application=application,
                user=user,
                code_hash=secrets.token_hex(32),
                auth_time=int(now.timestamp()),
            )
            access = AccessToken.objects.create(
                user=user,
                application=application,
                token=secrets.token_urlsafe(),
                expires=expires,
                scope="openid email profile",
            )
            RefreshToken.objects.create(
                user=user,
                application=application,
                token=secrets.token_urlsafe(),
                access_token=access,
            )
        users.append(user)
    # The portal's customer has consented to and holds tokens of every client.
    customer = users[0]
    for application in clients.values():
        consent_grant(user=customer, application=application, scopes=["openid", "email"], claims=[])

    # Sign-ups, sign-ins (authorization codes) and profile values spread over 90 days.
    ids = [user.pk for user in users]
    contexts = list(AuthorizationContext.objects.values_list("pk", flat=True))
    for day in range(DAYS):
        at = now - timedelta(days=day, hours=day % 11)
        User.objects.filter(pk__in=ids[day::DAYS]).update(date_joined=at)
        AuthorizationContext.objects.filter(pk__in=contexts[day::DAYS]).update(created=at)
        ProfileValue.objects.filter(user_id__in=ids[day::DAYS]).update(collected_at=at)
    counts = []
    today = now.date()
    for day in range(DAYS):
        date = today - timedelta(days=day)
        base = count // 10 + day % 13
        for metric, label, value in (
            (Metric.SIGN_IN_PAGE_VIEW, "", base * 3),
            (Metric.SIGN_IN_SUCCESS, "password", base),
            (Metric.SIGN_IN_SUCCESS, "email_code", base // 3),
            (Metric.SIGN_IN_SUCCESS, "passkey", base // 4),
            (Metric.SIGN_IN_SUCCESS, "social:google", base // 5),
            (Metric.SIGN_IN_FAILURE, "password", base // 6),
            (Metric.SECOND_FACTOR, "password", base // 8),
        ):
            counts.append(DailyCount(day=date, metric=metric, label=label, count=value))
    DailyCount.objects.bulk_create(counts)
    for user in users[:50]:
        audit_record(
            action="customer.signed_out_everywhere",
            actor=superuser,
            target=user,
            changes={"sessions": 1},
        )

    service = client_register(name="Warehouse", kind="service")
    application = Application.objects.get(client_id=service.client_id)
    new_secret = client_secret_rotate(application=application)

    searched = users[count // 2]
    delegated_customer = users[SIGNED_IN_EVERY["Shop"] * 3]
    return Seeded(
        superuser=User.objects.get(pk=superuser.pk),
        operator=User.objects.get(pk=operator.pk),
        customer=User.objects.get(pk=customer.pk),
        delegated_customer=delegated_customer,
        searched=searched,
        phone=_phone(count // 2),
        cpf=_cpf(100_000_000 + (count // 2) * 7919),
        service_client_id=service.client_id,
        old_secret=service.client_secret,
        new_secret=new_secret,
    )


# --- measure --------------------------------------------------------------------------------


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _basic(client_id: str, secret: str) -> str:
    # RFC 6749 2.3.1: each part form-urlencoded, then Base64.
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def run(bench: Bench, seeded: Seeded) -> None:
    from audit.services import audit_record

    root = _signed_in(seeded.superuser)
    operator = _signed_in(seeded.operator)
    customer = _signed_in(seeded.customer)

    for who, client in (("superuser", root), ("delegated operator", operator)):
        if b"console-dashboard" not in client.get("/admin/").content:
            raise SystemExit(f"the admin index shows no dashboard to the {who}")
    bench.measure(
        "admin index + dashboard, superuser, cold", lambda: root.get("/admin/"), prepare=cache.clear
    )
    bench.measure("admin index + dashboard, superuser, warm", lambda: root.get("/admin/"))
    bench.measure(
        "admin index + dashboard, delegated, cold",
        lambda: operator.get("/admin/"),
        prepare=cache.clear,
    )

    searches = (
        ("email", seeded.searched.email),
        ("phone", seeded.phone),
        ("CPF", seeded.cpf),
    )
    for label, term in searches:
        found = list(root.get(USERS, {"q": term}).context["cl"].result_list)
        if found != [seeded.searched]:
            raise SystemExit(f"search by {label} ({term!r}) found {found}, not the customer")
        bench.measure(f"customer search by {label} ({term})", partial(root.get, USERS, {"q": term}))

    bench.measure(
        "customer page, superuser",
        lambda: root.get(f"{USERS}{seeded.searched.pk}/change/"),
    )
    bench.measure(
        "customer page, delegated",
        lambda: operator.get(f"{USERS}{seeded.delegated_customer.pk}/change/"),
    )

    for path in ("/", "/account/security/", "/account/apps/", "/account/profile/"):
        bench.measure(f"portal {path}", partial(customer.get, path))

    bench.measure(
        "audit_record (one entry, no request)",
        lambda: audit_record(
            action="customer.email_verified",
            actor=seeded.superuser,
            target=seeded.searched,
            changes={"email": seeded.searched.email},
        ),
        expect=None,
    )

    token = Client()
    form = "grant_type=client_credentials"

    def token_with(secret: str) -> Callable[[], Any]:
        authorization = _basic(seeded.service_client_id, secret)
        return lambda: token.post(
            "/token",
            form,
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=authorization,
        )

    bench.measure_pair(
        ("token, secret_basic, old secret (grace)", "token, secret_basic, new secret"),
        (token_with(seeded.old_secret), token_with(seeded.new_secret)),
    )


def print_table(bench: Bench, *, customers: int, seed_seconds: float) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"Portal and console, in-process ({connection.vendor}), {customers} customers seeded "
        f"in {seed_seconds:.0f} s; median and p95 of {bench.iterations} iterations after "
        f"{bench.warmup} warm-up; load average {load} on {os.cpu_count()} cores:"
    )
    print(f"  {'operation':<56} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    for name, median, p95, queries, _count in bench.rows:
        print(f"  {name:<56} {median:10.2f} {p95:8.2f} {queries:8d}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
