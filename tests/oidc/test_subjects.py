"""Subject identifiers (OIDC Core 8): public, pairwise and legacy ``sub`` values.

The relying parties here are Authlib clients against the live provider (tests/oidc/conftest.py);
the migration functions, the registration options and the admin are exercised directly.
"""

from __future__ import annotations

import importlib
import re
from io import StringIO
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from oauth2_provider.models import get_application_model

from ciam.oauth.client_cache import application_cache_forget
from ciam.oauth.id_tokens import id_token_names_user, user_for_sub
from ciam.services.clients import client_register
from ciam.subjects import client_sector, pairwise_subject, subject_for
from tests.conftest import Browser, Client, query_of
from tests.factories import UserFactory, make_client

from .conftest import RelyingParty

Application = get_application_model()


def registered(redirect_uri: str, **kwargs) -> Client:
    """A first-party confidential web client with one redirect URI (and a logout URI on
    its host)."""
    host = redirect_uri.split("/")[2]
    bye = f"https://{host}/bye"
    client = make_client(
        "web",
        redirect_uris=[redirect_uri],
        post_logout_redirect_uris=[bye],
        first_party=True,
        **kwargs,
    )
    return Client(client.client_id, client.client_secret, redirect_uri, bye)


def sign_in(rp: RelyingParty, user, password: str, **params: str) -> dict:
    """A code flow through the hosted form; the verified ID token claims and the tokens."""
    request, tokens = rp.sign_in(email=user.email, password=password, **params)
    claims = rp.verify_id_token(
        tokens["id_token"], nonce=request.nonce, access_token=tokens["access_token"]
    ).claims
    return {"claims": claims, "tokens": tokens}


def set_subject_type(client: Client, subject_type: str) -> None:
    Application.objects.filter(client_id=client.client_id).update(subject_type=subject_type)
    application_cache_forget(client.client_id)


@pytest.fixture
def pairwise_a(db) -> Client:
    return registered("https://a.example.test/callback", subject_type="pairwise")


@pytest.fixture
def pairwise_a_too(db) -> Client:
    """Another pairwise client on the same host as ``pairwise_a``: the same sector."""
    return registered("https://a.example.test/other-callback", subject_type="pairwise")


@pytest.fixture
def pairwise_b(db) -> Client:
    return registered("https://b.example.test/callback", subject_type="pairwise")


@pytest.fixture
def legacy_client(db) -> Client:
    return registered("https://legacy.example.test/callback", subject_type="legacy")


# --- what each subject type gives ---------------------------------------------------------------


def test_new_client_sub_is_the_public_id_not_the_database_id(rp, user, password):
    """A client registered now sees the user's random public id, never the sequential
    database id (OIDC Core 8: the sub tells nothing about how many customers there are)."""
    claims = sign_in(rp, user, password)["claims"]
    assert claims["sub"] != str(user.pk)
    assert claims["sub"] == user.public_id
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", claims["sub"])


def test_public_ids_are_random_unique_and_set_on_creation(db):
    """Every user gets a 128-bit URL-safe public id when created; no two share one."""
    users = [UserFactory() for _ in range(5)]
    ids = {user.public_id for user in users}
    assert len(ids) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", value) for value in ids)
    for user in users:
        user.refresh_from_db()
    assert {user.public_id for user in users} == ids


def test_sub_is_stable_across_sign_ins_and_refresh(rp, user, password):
    """The same client sees the same sub at every sign-in and in refreshed ID tokens."""
    first = sign_in(rp, user, password)
    again = sign_in(rp, user, password, prompt="login")
    refreshed = rp.refresh(first["tokens"]["refresh_token"])
    refreshed_claims = rp.verify_id_token(refreshed["id_token"]).claims
    assert first["claims"]["sub"] == again["claims"]["sub"] == refreshed_claims["sub"]


def test_pairwise_subs_differ_across_sectors_and_agree_within_one(
    make_rp, pairwise_a, pairwise_a_too, pairwise_b, user, password
):
    """OIDC Core 8.1: pairwise clients on different hosts get different subs for the same
    user; two on the same host (one sector) get the same; none is the public id or the
    database id."""
    a = sign_in(make_rp(pairwise_a), user, password)["claims"]["sub"]
    a_too = sign_in(make_rp(pairwise_a_too), user, password)["claims"]["sub"]
    b = sign_in(make_rp(pairwise_b), user, password)["claims"]["sub"]
    assert a == a_too
    assert a != b
    assert {a, b}.isdisjoint({user.public_id, str(user.pk)})
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", value) for value in (a, b))


def test_pairwise_subs_differ_between_users(make_rp, issuer, pairwise_a, password):
    """Two users of one pairwise client have different subs."""
    first, second = UserFactory(), UserFactory()
    rp_first = make_rp(pairwise_a)
    rp_second = make_rp(pairwise_a, browser=Browser(issuer))
    sub_first = sign_in(rp_first, first, password)["claims"]["sub"]
    sub_second = sign_in(rp_second, second, password)["claims"]["sub"]
    rp_second.browser.session.close()
    assert sub_first != sub_second


def test_legacy_client_keeps_the_database_id(make_rp, legacy_client, user, password):
    """A legacy client sees the database id, as before, in the ID token, at UserInfo and in
    introspection."""
    rp = make_rp(legacy_client)
    session = sign_in(rp, user, password)
    assert session["claims"]["sub"] == str(user.pk)
    assert rp.userinfo(session["tokens"]["access_token"]).json()["sub"] == str(user.pk)
    assert rp.introspect(session["tokens"]["access_token"]).json()["sub"] == str(user.pk)


@pytest.mark.parametrize("subject_type", ["public", "pairwise", "legacy"])
def test_userinfo_and_introspection_give_the_id_token_sub(
    make_rp, pairwise_a, subject_type, user, password
):
    """OIDC Core 5.3.2: UserInfo's sub is the ID token's; introspection (RFC 7662) of the
    access and refresh tokens says the same sub, also after a refresh."""
    set_subject_type(pairwise_a, subject_type)
    rp = make_rp(pairwise_a)
    session = sign_in(rp, user, password)
    sub = session["claims"]["sub"]
    tokens = session["tokens"]
    for how in ("get", "post", "body"):
        assert rp.userinfo(tokens["access_token"], how).json()["sub"] == sub
    assert rp.introspect(tokens["access_token"]).json()["sub"] == sub
    assert rp.introspect(tokens["refresh_token"]).json()["sub"] == sub
    refreshed = rp.refresh(tokens["refresh_token"])
    assert rp.verify_id_token(refreshed["id_token"]).claims["sub"] == sub
    assert rp.userinfo(refreshed["access_token"]).json()["sub"] == sub


# --- id_token_hint ------------------------------------------------------------------------------


@pytest.mark.parametrize("subject_type", ["public", "pairwise", "legacy"])
def test_id_token_hint_with_prompt_none(make_rp, pairwise_a, subject_type, user, password):
    """OIDC Core 3.1.2.1: the client's own ID token as id_token_hint with prompt=none:
    immediate success, same sub, whatever the subject type."""
    set_subject_type(pairwise_a, subject_type)
    rp = make_rp(pairwise_a)
    first = sign_in(rp, user, password)
    request = rp.authorization_request(prompt="none", id_token_hint=first["tokens"]["id_token"])
    tokens = rp.exchange(rp.authorize(request), request)
    claims = rp.verify_id_token(tokens["id_token"], nonce=request.nonce).claims
    assert claims["sub"] == first["claims"]["sub"]


def test_id_token_hint_of_another_sector_names_the_same_user(
    make_rp, pairwise_a, pairwise_b, user, password
):
    """A hint issued to a client of another sector carries another sub; it is compared with
    the sub its own client sees, so it still names the signed-in user."""
    hint = sign_in(make_rp(pairwise_a), user, password)["tokens"]["id_token"]
    rp_b = make_rp(pairwise_b)
    request = rp_b.authorization_request(prompt="none", id_token_hint=hint)
    params = rp_b.callback_params(rp_b.authorize(request), request)
    assert "code" in params, params


def test_pairwise_id_token_hint_of_another_user_needs_login(
    make_rp, issuer, pairwise_a, user, password
):
    """A pairwise hint naming someone else than the signed-in user: login_required."""
    other = UserFactory()
    other_rp = make_rp(pairwise_a, browser=Browser(issuer))
    hint = sign_in(other_rp, other, password)["tokens"]["id_token"]
    other_rp.browser.session.close()
    rp = make_rp(pairwise_a)
    sign_in(rp, user, password)
    request = rp.authorization_request(prompt="none", id_token_hint=hint)
    params = rp.callback_params(rp.authorize(request), request)
    assert params["error"] == "login_required"


@pytest.mark.parametrize("subject_type", ["public", "pairwise"])
def test_logout_with_the_id_token_hint(make_rp, pairwise_a, subject_type, user, password):
    """RP-Initiated Logout with a public or pairwise ID token as id_token_hint: signed out
    and redirected with state; prompt=none then needs a login."""
    set_subject_type(pairwise_a, subject_type)
    rp = make_rp(pairwise_a)
    session = sign_in(rp, user, password)
    response = rp.browser.get(
        rp.metadata["end_session_endpoint"],
        params={
            "id_token_hint": session["tokens"]["id_token"],
            "post_logout_redirect_uri": pairwise_a.post_logout_redirect_uri,
            "state": "bye-1",
        },
    )
    assert response.status_code in (302, 303), response.text[:300]
    assert response.headers["Location"].startswith(pairwise_a.post_logout_redirect_uri + "?")
    assert query_of(response.headers["Location"]) == {"state": "bye-1"}
    request = rp.authorization_request(prompt="none")
    assert rp.callback_params(rp.authorize(request), request)["error"] == "login_required"


# --- the functions behind them ------------------------------------------------------------------


@pytest.mark.django_db
def test_pairwise_subject_follows_sector_and_salt(settings):
    """The pairwise sub is keyed by CIAM_PAIRWISE_SALT (default: derived from SECRET_KEY):
    changing either changes it; the sector and the user change it too."""
    before = pairwise_subject(sector="a.example", public_id="user-1")
    assert before == pairwise_subject(sector="a.example", public_id="user-1")
    assert before != pairwise_subject(sector="b.example", public_id="user-1")
    assert before != pairwise_subject(sector="a.example", public_id="user-2")
    # No ambiguity where the sector ends and the id begins.
    assert pairwise_subject(sector="a.example1", public_id="2") != pairwise_subject(
        sector="a.example", public_id="12"
    )
    settings.SECRET_KEY = "another-secret-key-" * 3
    changed_secret = pairwise_subject(sector="a.example", public_id="user-1")
    assert changed_secret != before
    settings.CIAM_PAIRWISE_SALT = "a-salt-kept-apart-from-secret-key"
    salted = pairwise_subject(sector="a.example", public_id="user-1")
    settings.SECRET_KEY = "yet-another-secret-key-" * 3
    assert pairwise_subject(sector="a.example", public_id="user-1") == salted != changed_secret


@pytest.mark.django_db
def test_sector_is_the_sector_identifier_else_the_redirect_host():
    """OIDC Core 8.1: the sector is the explicit sector identifier, else the redirect URIs'
    host; clients sharing a sector identifier share pairwise subs."""
    user = UserFactory()
    multi = client_register(
        name="Multi",
        kind="web",
        redirect_uris=["https://www.shop.example/cb", "https://m.shop.example/cb"],
        subject_type="pairwise",
        sector_identifier="Shop.Example",
    )
    single = client_register(
        name="Single",
        kind="web",
        redirect_uris=["https://shop.example/cb"],
        subject_type="pairwise",
    )
    multi_app = Application.objects.get(pk=multi.application_id)
    single_app = Application.objects.get(pk=single.application_id)
    assert multi_app.sector_identifier == "shop.example"
    assert client_sector(multi_app) == client_sector(single_app) == "shop.example"
    assert subject_for(user, multi_app) == subject_for(user, single_app)


@pytest.mark.django_db
def test_user_for_sub_resolves_by_client():
    """user_for_sub reads a sub as the client's subject type: public ids and legacy ids
    resolve; pairwise ones are one-way (None); inactive users and garbage resolve to none."""
    user = UserFactory()
    public = Application.objects.get(
        pk=make_client(redirect_uris=["https://p.test/cb"]).application_id
    )
    legacy = Application.objects.get(
        pk=make_client(redirect_uris=["https://l.test/cb"], subject_type="legacy").application_id
    )
    pairwise = Application.objects.get(
        pk=make_client(redirect_uris=["https://w.test/cb"], subject_type="pairwise").application_id
    )
    assert user_for_sub(user.public_id, client=public) == user
    assert user_for_sub(str(user.pk), client=public) is None
    assert user_for_sub(str(user.pk), client=legacy) == user
    assert user_for_sub(user.public_id, client=legacy) is None
    assert user_for_sub(subject_for(user, pairwise), client=pairwise) is None
    for garbage in (None, "", 5, "x" * 300, "1" * 40, "\u0661"):
        assert user_for_sub(garbage, client=legacy) is None
        assert user_for_sub(garbage, client=public) is None
    user.is_active = False
    user.save()
    assert user_for_sub(user.public_id, client=public) is None


@pytest.mark.django_db
def test_id_token_names_user_compares_with_the_audience_sub():
    """An ID token names a user when its sub is the one its audience client sees for them."""
    user, other = UserFactory(), UserFactory()
    client = make_client(redirect_uris=["https://w.test/cb"], subject_type="pairwise")
    application = Application.objects.get(pk=client.application_id)
    claims = {"aud": client.client_id, "sub": subject_for(user, application)}
    assert id_token_names_user(claims, user)
    assert id_token_names_user({**claims, "aud": [client.client_id, "x"]}, user)
    assert not id_token_names_user(claims, other)
    assert not id_token_names_user({**claims, "sub": user.public_id}, user)
    assert not id_token_names_user({**claims, "aud": "unknown"}, user)
    assert not id_token_names_user({**claims, "aud": 5}, user)
    assert not id_token_names_user({**claims, "sub": None}, user)


# --- registration -------------------------------------------------------------------------------


def _printed(out: str, name: str) -> str | None:
    match = re.search(rf"^{name}: (\S+)$", out, re.MULTILINE)
    return match.group(1) if match else None


@pytest.mark.django_db
def test_create_client_defaults_to_the_configured_subject_type(settings):
    """Without --subject-type a new client gets CIAM_DEFAULT_SUBJECT_TYPE (public unless
    set), and the command prints it."""
    out = StringIO()
    call_command("create_client", "--name", "A", "--redirect-uri", "https://a.test/cb", stdout=out)
    assert _printed(out.getvalue(), "subject_type") == "public"
    client_id = _printed(out.getvalue(), "client_id")
    assert Application.objects.get(client_id=client_id).subject_type == "public"
    settings.CIAM_DEFAULT_SUBJECT_TYPE = "pairwise"
    out = StringIO()
    call_command("create_client", "--name", "B", "--redirect-uri", "https://b.test/cb", stdout=out)
    client_id = _printed(out.getvalue(), "client_id")
    assert Application.objects.get(client_id=client_id).subject_type == "pairwise"


@pytest.mark.django_db
@pytest.mark.parametrize("subject_type", ["public", "pairwise", "legacy"])
def test_create_client_subject_type_option(subject_type):
    """--subject-type chooses the client's subject type."""
    out = StringIO()
    call_command(
        "create_client",
        "--name",
        "C",
        "--redirect-uri",
        "https://c.test/cb",
        "--subject-type",
        subject_type,
        stdout=out,
    )
    client_id = _printed(out.getvalue(), "client_id")
    assert Application.objects.get(client_id=client_id).subject_type == subject_type


@pytest.mark.django_db
def test_create_client_pairwise_on_several_hosts_needs_a_sector_identifier():
    """OIDC Core 8.1: a pairwise client with redirect URIs on two hosts is refused without
    --sector-identifier, and registered with one."""
    args = [
        "create_client",
        "--name",
        "Two hosts",
        "--subject-type",
        "pairwise",
        "--redirect-uri",
        "https://www.two.test/cb",
        "--redirect-uri",
        "https://m.two.test/cb",
    ]
    with pytest.raises(CommandError, match="sector identifier"):
        call_command(*args, stdout=StringIO())
    assert not Application.objects.filter(name="Two hosts").exists()
    out = StringIO()
    call_command(*args, "--sector-identifier", "two.test", stdout=out)
    client = Application.objects.get(client_id=_printed(out.getvalue(), "client_id"))
    assert (client.subject_type, client.sector_identifier) == ("pairwise", "two.test")


@pytest.mark.django_db
@pytest.mark.parametrize("sector", ["https://two.test/", "two.test/path", "-bad.test", "a b"])
def test_create_client_refuses_a_sector_identifier_that_is_not_a_host(sector):
    """--sector-identifier is a host name: a URL or anything else is refused clearly."""
    with pytest.raises(CommandError, match="host name"):
        call_command(
            "create_client",
            "--name",
            "Bad sector",
            "--subject-type",
            "pairwise",
            "--redirect-uri",
            "https://two.test/cb",
            f"--sector-identifier={sector}",
            stdout=StringIO(),
        )


@pytest.mark.django_db
def test_create_client_refuses_an_unknown_subject_type():
    """--subject-type accepts only public, pairwise and legacy."""
    with pytest.raises(CommandError):
        call_command(
            "create_client",
            "--name",
            "X",
            "--redirect-uri",
            "https://x.test/cb",
            "--subject-type",
            "random",
            stdout=StringIO(),
        )


@pytest.mark.django_db
def test_pairwise_on_one_host_needs_no_sector_identifier():
    """One redirect host (several paths) implies the sector: no sector identifier needed;
    public clients on several hosts need none either."""
    client_register(
        name="One host",
        kind="web",
        redirect_uris=["https://one.test/a", "https://one.test/b"],
        subject_type="pairwise",
    )
    client_register(
        name="Public",
        kind="web",
        redirect_uris=["https://www.p.test/a", "https://m.p.test/b"],
        subject_type="public",
    )
    with pytest.raises(ValidationError):
        client_register(
            name="Two",
            kind="spa",
            redirect_uris=["https://www.p.test/a", "com.example.app:/cb"],
            subject_type="pairwise",
        )


@pytest.fixture
def operator_client(client, db):
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.create_superuser(
        email="subjects-operator@example.com", password="operator-password-1"
    )
    client.force_login(operator)
    return client


def _admin_form(**fields: str) -> dict[str, str]:
    data = {
        "client_id": "admin-subjects-client",
        "client_secret": "s" * 40,
        "hash_client_secret": "on",
        "name": "Admin client",
        "client_type": "confidential",
        "authorization_grant_type": "authorization-code",
        "redirect_uris": "https://www.admin.test/cb https://m.admin.test/cb",
        "post_logout_redirect_uris": "",
        "allowed_origins": "",
        "algorithm": "RS256",
        "subject_type": "pairwise",
        "sector_identifier": "",
        "logo_url": "",
        "session_bound_refresh_tokens": "online",
    }
    data.update(fields)
    return data


def test_admin_shows_and_validates_the_subject_fields(operator_client):
    """The admin form has the subject type (default: CIAM_DEFAULT_SUBJECT_TYPE) and the
    sector identifier; a pairwise client on two hosts without one is refused with a
    message, and saved with one."""
    page = operator_client.get("/admin/ciam/application/add/", HTTP_HOST="localhost")
    html = page.content.decode()
    assert 'name="subject_type"' in html
    assert re.search(r'name="subject_type"[^>]*value="public"[^>]*checked', html)
    assert 'name="sector_identifier"' in html
    response = operator_client.post(
        "/admin/ciam/application/add/", _admin_form(), HTTP_HOST="localhost"
    )
    assert response.status_code == 200
    assert "needs a sector identifier" in response.content.decode()
    assert not Application.objects.filter(client_id="admin-subjects-client").exists()
    response = operator_client.post(
        "/admin/ciam/application/add/",
        _admin_form(sector_identifier="admin.test"),
        HTTP_HOST="localhost",
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    saved = Application.objects.get(client_id="admin-subjects-client")
    assert (saved.subject_type, saved.sector_identifier) == ("pairwise", "admin.test")


# --- migrations ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_migration_gives_existing_clients_legacy_subjects():
    """Clients that existed before subject types (migration 0004 leaves theirs empty) become
    legacy, so that their relying parties keep the subs they stored; clients with a subject
    type keep it."""
    migration = importlib.import_module("ciam.migrations.0004_application_subject_type")
    old = make_client(redirect_uris=["https://old.test/cb"])
    new = make_client(redirect_uris=["https://new.test/cb"], subject_type="pairwise")
    Application.objects.filter(pk=old.application_id).update(subject_type="")
    migration.existing_clients_keep_legacy_subjects(
        django_apps, SimpleNamespace(connection=connection)
    )
    assert Application.objects.get(pk=old.application_id).subject_type == "legacy"
    assert Application.objects.get(pk=new.application_id).subject_type == "pairwise"


@pytest.mark.django_db(transaction=True)
def test_migration_gives_existing_users_public_ids():
    """Users that existed before public ids get one each (random, all different) from the
    migration; those that had one keep it."""
    migration = importlib.import_module("accounts.migrations.0005_user_public_id")
    kept = UserFactory()
    first, second = UserFactory(), UserFactory()
    executor = MigrationExecutor(connection)
    target = [("accounts", "0005_user_public_id")]
    try:
        executor.migrate(target)  # public_id nullable, as before the fill
        executor.loader.build_graph()
        state_apps = executor.loader.project_state(target).apps
        User = state_apps.get_model("accounts", "User")
        User.objects.filter(pk__in=[first.pk, second.pk]).update(public_id=None)
        migration.assign_public_ids(state_apps, SimpleNamespace(connection=connection))
        values = dict(User.objects.values_list("pk", "public_id"))
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert values[kept.pk] == kept.public_id
    assert len({values[kept.pk], values[first.pk], values[second.pk]}) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", values[pk]) for pk in (first.pk, second.pk))


# --- discovery ----------------------------------------------------------------------------------


def test_discovery_lists_public_and_pairwise(metadata):
    """OIDC Discovery 3: subject_types_supported names both subject types clients see."""
    assert metadata["subject_types_supported"] == ["public", "pairwise"]
