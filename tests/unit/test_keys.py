"""ID-token signing keys (ciam/keys.py): creation, JWKS, rotation, pruning, verification."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from jwcrypto import jwk, jwt
from oauth2_provider.settings import oauth2_settings

from ciam import keys
from ciam.keys import (
    RELOAD_SECONDS,
    active_signing_key,
    keyring,
    publication_window,
    signing_key_rotate,
)
from ciam.models import SigningKey
from ciam.oauth.id_tokens import verify_id_token

pytestmark = pytest.mark.django_db

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.fixture(autouse=True)
def _fresh_keyring():
    """Each test reads the keys of its own database state, and leaves no stale cache."""
    keys._keyring = None
    yield
    keys._keyring = None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides) -> dict:
    now = int(time.time())
    data = {
        "iss": oauth2_settings.OIDC_ISS_ENDPOINT,
        "sub": "7",
        "aud": "client-1",
        "iat": now,
        "exp": now + 600,
        "jti": "00000000-0000-0000-0000-000000000001",
    }
    data.update(overrides)
    return data


def sign(payload: dict, key: jwk.JWK, header: dict) -> str:
    token = jwt.JWT(header=header, claims=json.dumps(payload))
    token.make_signed_token(key)
    return token.serialize()


def sign_with_active(algorithm: str = "RS256", **overrides) -> str:
    key = active_signing_key(algorithm)
    return sign(claims(**overrides), key.jwk, {"alg": key.algorithm, "kid": key.kid, "typ": "JWT"})


def published() -> dict[str, dict]:
    return {entry["kid"]: entry for entry in json.loads(keyring(refresh=True).jwks_json)["keys"]}


def newest(algorithm: str) -> SigningKey:
    return SigningKey.objects.filter(algorithm=algorithm).order_by("-id").first()


def at(moment, monkeypatch) -> None:
    """Let ``timezone.now()`` answer ``moment`` (the keys module reads the clock there)."""
    monkeypatch.setattr(timezone, "now", lambda: moment)


# --- creation and publication ----------------------------------------------------------------


def test_migrate_leaves_an_rs256_and_an_es256_key():
    """After migrate the provider has a usable key for each algorithm it offers."""
    SigningKey.objects.all().delete()
    call_command("migrate", verbosity=0)
    usable = SigningKey.objects.filter(retired_at__isnull=True, active_from__lte=timezone.now())
    assert set(usable.values_list("algorithm", flat=True)) == {"RS256", "ES256"}


def test_migrate_again_adds_no_keys():
    """post_migrate is idempotent: a second migrate keeps the existing keys."""
    call_command("migrate", verbosity=0)
    before = set(SigningKey.objects.values_list("kid", flat=True))
    call_command("migrate", verbosity=0)
    assert set(SigningKey.objects.values_list("kid", flat=True)) == before


def test_jwks_lists_public_keys_with_kid_alg_use():
    """Every key in JWKS has kid, alg and use=sig, and no private member (RFC 7517)."""
    entries = published()
    assert {entry["alg"] for entry in entries.values()} >= {"RS256", "ES256"}
    for kid, entry in entries.items():
        assert entry["kid"] == kid
        assert entry["use"] == "sig"
        assert not PRIVATE_MEMBERS & entry.keys(), entry.keys()
        if entry["alg"] == "RS256":
            assert entry["kty"] == "RSA"
            assert {"n", "e"} <= entry.keys()
        else:
            assert entry["kty"] == "EC"
            assert entry["crv"] == "P-256"
            assert {"x", "y"} <= entry.keys()


def test_jwks_endpoint_serves_the_keyring(client):
    """GET /jwks answers the published key set as JSON."""
    response = client.get("/jwks")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    served = {entry["kid"] for entry in response.json()["keys"]}
    assert served == set(published())


def test_active_key_of_each_algorithm_is_published():
    """The key that signs is always one that JWKS lists."""
    for algorithm in ("RS256", "ES256"):
        assert active_signing_key(algorithm).kid in published()


# --- rotation -------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_rotation_publishes_new_key_at_once_and_signs_with_it_later(algorithm, monkeypatch):
    """rotate_signing_key: the new key is in JWKS immediately; the old key keeps signing
    until the new key's active_from, which lies beyond a keyring reload interval."""
    old = active_signing_key(algorithm)
    out = StringIO()
    call_command("rotate_signing_key", "--algorithm", algorithm, stdout=out)
    new = newest(algorithm)
    assert new.kid != old.kid
    assert new.kid in out.getvalue()
    assert {old.kid, new.kid} <= set(published())
    assert new.active_from >= timezone.now() + timedelta(seconds=RELOAD_SECONDS)
    assert active_signing_key(algorithm).kid == old.kid

    at(new.active_from - timedelta(seconds=1), monkeypatch)
    assert active_signing_key(algorithm).kid == old.kid
    at(new.active_from + timedelta(seconds=1), monkeypatch)
    assert active_signing_key(algorithm).kid == new.kid
    assert old.kid in published()


def test_rotation_reaches_the_jwks_endpoint_at_once(client):
    """A process that rotated serves the new key from /jwks without waiting for a reload."""
    client.get("/jwks")  # warm the cache
    call_command("rotate_signing_key", "--algorithm", "RS256", stdout=StringIO())
    served = {entry["kid"] for entry in client.get("/jwks").json()["keys"]}
    assert newest("RS256").kid in served


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_rotation_now_switches_immediately(algorithm):
    """--now: the new key signs at once; the old one is still published."""
    old = active_signing_key(algorithm)
    call_command("rotate_signing_key", "--algorithm", algorithm, "--now", stdout=StringIO())
    new = newest(algorithm)
    assert active_signing_key(algorithm).kid == new.kid
    assert old.kid in published()


def test_rotation_of_one_algorithm_leaves_the_other_alone():
    """Rotating RS256 does not retire the ES256 key."""
    es256 = active_signing_key("ES256")
    signing_key_rotate(algorithm="RS256", immediately=True)
    assert active_signing_key("ES256").kid == es256.kid
    assert SigningKey.objects.get(kid=es256.kid).retired_at is None


def test_retired_key_is_published_for_the_window_then_pruned(monkeypatch):
    """The old key stays in JWKS until publication_window() has passed since it retired;
    after that cleanup_tokens deletes it and JWKS drops it."""
    old = active_signing_key("RS256")
    signing_key_rotate(algorithm="RS256", immediately=True)
    retired_at = SigningKey.objects.get(kid=old.kid).retired_at
    assert retired_at is not None
    assert publication_window() >= timedelta(seconds=oauth2_settings.ID_TOKEN_EXPIRE_SECONDS)

    at(retired_at + publication_window() - timedelta(seconds=30), monkeypatch)
    call_command("cleanup_tokens", stdout=StringIO())
    assert SigningKey.objects.filter(kid=old.kid).exists()
    assert old.kid in published()

    at(retired_at + publication_window() + timedelta(seconds=30), monkeypatch)
    assert old.kid not in published()
    out = StringIO()
    call_command("cleanup_tokens", stdout=out)
    assert not SigningKey.objects.filter(kid=old.kid).exists()
    assert "signing_keys: 1 deleted" in out.getvalue()
    assert active_signing_key("RS256").kid != old.kid


def test_token_signed_by_old_key_still_verifies_after_rotation():
    """ID tokens issued before a rotation keep verifying while their key is published."""
    token = sign_with_active("RS256", sub="before-rotation")
    old_kid = active_signing_key("RS256").kid
    signing_key_rotate(algorithm="RS256", immediately=True)
    assert active_signing_key("RS256").kid != old_kid
    verified = verify_id_token(token)
    assert verified is not None
    assert verified["sub"] == "before-rotation"


def test_token_of_pruned_key_no_longer_verifies(monkeypatch):
    """Once its key is pruned, an old token is no longer accepted (e.g. as id_token_hint)."""
    token = sign_with_active("RS256")
    old_kid = active_signing_key("RS256").kid
    signing_key_rotate(algorithm="RS256", immediately=True)
    retired_at = SigningKey.objects.get(kid=old_kid).retired_at
    at(retired_at + publication_window() + timedelta(seconds=30), monkeypatch)
    call_command("cleanup_tokens", stdout=StringIO())
    keyring(refresh=True)
    assert verify_id_token(token) is None


# --- verify_id_token ------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_own_token_verifies(algorithm):
    """A token signed by the active key of either algorithm verifies and gives its claims."""
    verified = verify_id_token(sign_with_active(algorithm))
    assert verified is not None
    assert verified["sub"] == "7"
    assert verified["iss"] == oauth2_settings.OIDC_ISS_ENDPOINT


def test_alg_none_is_rejected():
    """Unsigned tokens never verify, even with one of our kids (RFC 8725 3.1)."""
    kid = active_signing_key("RS256").kid
    header = {"alg": "none", "kid": kid, "typ": "JWT"}
    token = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims()).encode())
    assert verify_id_token(token + ".") is None
    assert verify_id_token(token) is None


def test_hs256_signed_with_our_public_key_is_rejected():
    """The RS256/HS256 confusion: an HMAC keyed with our public key does not verify."""
    key = active_signing_key("RS256")
    public_pem = key.jwk.export_to_pem(private_key=False)
    hmac_key = jwk.JWK(kty="oct", k=b64url(public_pem))
    token = sign(claims(), hmac_key, {"alg": "HS256", "kid": key.kid, "typ": "JWT"})
    assert verify_id_token(token) is None


def test_hs256_with_any_secret_is_rejected():
    """HMAC-signed tokens are never ours."""
    hmac_key = jwk.JWK(kty="oct", k=b64url(b"0123456789abcdef0123456789abcdef"))
    token = sign(claims(), hmac_key, {"alg": "HS256", "typ": "JWT"})
    assert verify_id_token(token) is None


@pytest.mark.parametrize("borrow_kid", [True, False], ids=["our-kid", "own-kid"])
def test_token_signed_by_a_foreign_key_is_rejected(borrow_kid):
    """A foreign RSA key does not verify, whether it names one of our kids or its own."""
    foreign = jwk.JWK.generate(kty="RSA", size=2048)
    kid = active_signing_key("RS256").kid if borrow_kid else foreign.thumbprint()
    token = sign(claims(), foreign, {"alg": "RS256", "kid": kid, "typ": "JWT"})
    assert verify_id_token(token) is None


def test_tampered_payload_is_rejected():
    """Changing the payload after signing breaks the signature."""
    header, _payload, signature = sign_with_active("RS256").split(".")
    forged = b64url(json.dumps(claims(sub="1")).encode())
    assert verify_id_token(f"{header}.{forged}.{signature}") is None


def test_tampered_header_is_rejected():
    """The header is signed too: swapping kid or alg to another published key fails."""
    _header, payload, signature = sign_with_active("RS256").split(".")
    es_kid = active_signing_key("ES256").kid
    forged = b64url(json.dumps({"alg": "ES256", "kid": es_kid, "typ": "JWT"}).encode())
    assert verify_id_token(f"{forged}.{payload}.{signature}") is None


def test_alg_must_match_the_key_named_by_kid():
    """An RS256 header naming our ES256 key's kid is rejected before any verification."""
    rsa = active_signing_key("RS256")
    es_kid = active_signing_key("ES256").kid
    token = sign(claims(), rsa.jwk, {"alg": "RS256", "kid": es_kid, "typ": "JWT"})
    assert verify_id_token(token) is None


def test_missing_kid_is_rejected():
    """Without a kid the key cannot be chosen: rejected."""
    key = active_signing_key("RS256")
    token = sign(claims(), key.jwk, {"alg": "RS256", "typ": "JWT"})
    assert verify_id_token(token) is None


@pytest.mark.parametrize(
    "issuer",
    ["https://evil.example", oauth2_settings.OIDC_ISS_ENDPOINT + "/", "", None],
    ids=["other-host", "trailing-slash", "empty", "missing"],
)
def test_wrong_issuer_is_rejected(issuer):
    """A token we signed but for another issuer (or none) is not ours (OIDC Core 3.1.3.7)."""
    assert verify_id_token(sign_with_active("RS256", iss=issuer)) is None


def test_expired_token_verifies_only_when_expiry_is_not_required():
    """Expired tokens are accepted as hints (RP-Initiated Logout 2) unless
    require_unexpired is asked."""
    token = sign_with_active("RS256", exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)
    assert verify_id_token(token) is not None
    assert verify_id_token(token, require_unexpired=True) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c",
        "a.b.c.d.e",
        "..",
        "x" * 20_000,
        None,
        b"bytes.are.no-str",
        12345,
    ],
)
def test_garbage_is_rejected(value):
    """Anything that is not a compact JWS we signed gives None, never an exception."""
    assert verify_id_token(value) is None
