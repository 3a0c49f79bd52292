"""Interoperability with panva's openid-client (npm), a certified relying-party library.

The Node script tests/oidc/js/rp.mjs does everything a relying party does; the hosted
sign-in form is filled in from Python with the ``browser`` fixture, which hands the
callback URL back to the script.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Browser, query_of
from tests.factories import make_client

NODE = shutil.which("node")
JS_DIR = Path(__file__).parent / "js"
SCRIPT = JS_DIR / "rp.mjs"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


@pytest.fixture(scope="session")
def openid_client_installed() -> Path:
    """tests/oidc/js with its locked node_modules (npm ci when they are missing)."""
    if not (JS_DIR / "node_modules" / "openid-client").is_dir():
        npm = shutil.which("npm")
        assert npm, "node is installed but npm is not"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, timeout=300)
    return SCRIPT


def node(command: str, payload: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [NODE, str(SCRIPT), command],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.mark.parametrize(
    ("kind", "redirect_uri", "post_logout_redirect_uri"),
    [
        ("web", "https://rp.example.test/callback", "https://rp.example.test/bye"),
        ("spa", "http://localhost:5173/callback", "http://localhost:5173/bye"),
    ],
)
def test_openid_client_code_flow_pkce_refresh(
    openid_client_installed,
    issuer,
    browser: Browser,
    user,
    password,
    kind,
    redirect_uri,
    post_logout_redirect_uri,
):
    """openid-client discovers the provider, runs the code flow with PKCE and nonce,
    validates the ID token and iss, reads UserInfo, refreshes with rotation, revokes, sees
    reuse refused, and its end-session URL signs the user out back to the client."""
    registered = make_client(
        kind,
        redirect_uris=[redirect_uri],
        post_logout_redirect_uris=[post_logout_redirect_uri],
        first_party=True,
    )
    base = {
        "issuer": issuer,
        "client_id": registered.client_id,
        "client_secret": registered.client_secret,
        "redirect_uri": redirect_uri,
        "scope": "openid email profile",
    }
    started = node("begin", base)
    request = query_of(started["url"])
    assert request["code_challenge_method"] == "S256"
    callback_url = browser.authorize(request, email=user.email, password=password)

    result = node(
        "complete",
        {
            **base,
            **started,
            "callback_url": callback_url,
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "logout_state": "js-logout",
        },
    )
    steps = result["steps"]

    exchange = steps["code_exchange"]
    assert exchange["ok"], exchange
    claims = exchange["value"]["claims"]
    assert claims["iss"] == issuer
    assert claims["aud"] in (registered.client_id, [registered.client_id])
    assert claims["sub"] == user.public_id
    assert claims["nonce"] == started["nonce"]
    assert exchange["value"]["has_refresh_token"]

    assert steps["userinfo"]["ok"], steps["userinfo"]
    assert steps["userinfo"]["value"]["sub"] == claims["sub"]
    assert steps["userinfo"]["value"]["email"] == user.email

    refresh = steps["refresh"]
    assert refresh["ok"], refresh
    assert refresh["value"]["rotated"]
    refreshed_claims = refresh["value"]["claims"]
    assert refreshed_claims["sub"] == claims["sub"]
    assert refreshed_claims["auth_time"] == claims["auth_time"]
    assert steps["userinfo_after_refresh"]["ok"], steps["userinfo_after_refresh"]

    if kind == "web":
        assert steps["introspection"]["ok"], steps["introspection"]
        assert steps["introspection"]["value"]["active"] is True
    assert steps["revocation"]["ok"], steps["revocation"]
    if kind == "web":
        after = steps["introspection_after_revocation"]
        assert after["ok"], after
        assert after["value"] == {"active": False}
    assert not steps["refresh_after_revocation"]["ok"]
    assert steps["refresh_after_revocation"]["error"] == "invalid_grant"
    assert not steps["refresh_token_reuse"]["ok"]
    assert steps["refresh_token_reuse"]["error"] == "invalid_grant"

    end_session = steps["end_session_url"]
    assert end_session["ok"], end_session
    logout = browser.get(end_session["value"])
    assert logout.status_code in (302, 303), logout.text[:300]
    assert logout.headers["Location"] == post_logout_redirect_uri + "?state=js-logout"

    silent = browser.authorize({**request, "prompt": "none", "state": "after-logout"})
    assert query_of(silent)["error"] == "login_required"
