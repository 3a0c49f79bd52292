"""A small OpenID Provider on loopback, standing in for Google or any upstream provider.

It serves discovery, an authorization endpoint that approves at once as a configured test
identity, a token endpoint (client_secret_post or _basic, PKCE S256 checked when used) that
returns an RS256 ID token signed with jwcrypto, UserInfo and JWKS, from a thread running
``http.server`` on 127.0.0.1 and a free port. What the relying party sent is kept in
``requests`` for assertions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from jwcrypto import jwk, jwt

KEY_ID = "test-idp-1"


@dataclass
class Identity:
    sub: str
    email: str
    email_verified: bool = True
    given_name: str = "Bia"
    family_name: str = "Souza"

    def claims(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "email": self.email,
            "email_verified": self.email_verified,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "name": f"{self.given_name} {self.family_name}".strip(),
        }


@dataclass
class LoopbackProvider:
    identity: Identity
    client_id: str = "ciam-relying-party"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = jwk.JWK.generate(kty="RSA", size=2048, kid=KEY_ID, alg="RS256", use="sig")
        self._codes: dict[str, dict[str, str]] = {}
        self._tokens: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"idp": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LoopbackProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def sent(self, path: str) -> list[dict[str, str]]:
        return [params for sent_path, params in self.requests if sent_path == path]

    # --- endpoints ----------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": self.url + "/authorize",
            "token_endpoint": self.url + "/token",
            "userinfo_endpoint": self.url + "/userinfo",
            "jwks_uri": self.url + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email"],
        }

    def authorize(self, params: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Approve at once as ``identity``: a redirect with a code (and the state)."""
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != self.client_id or params.get("response_type") != "code":
            return 400, {}
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._codes[code] = dict(params)
        response = {"code": code}
        if "state" in params:
            response["state"] = params["state"]
        return 302, {"Location": f"{redirect_uri}?{urlencode(response)}"}

    def token(self, params: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        client_id, client_secret = params.get("client_id", ""), params.get("client_secret", "")
        if authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, client_secret = decoded.partition(":")
        if client_id != self.client_id or client_secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        with self._lock:
            request = self._codes.pop(params.get("code", ""), None)
        if request is None or request.get("redirect_uri") != params.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        if "code_challenge" in request:
            verifier = params.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if challenge != request["code_challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        access_token = secrets.token_urlsafe(24)
        claims = self.identity.claims()
        with self._lock:
            self._tokens[access_token] = claims
        now = int(time.time())
        id_claims = {**claims, "iss": self.url, "aud": self.client_id, "iat": now, "exp": now + 300}
        if "nonce" in request:
            id_claims["nonce"] = request["nonce"]
        id_token = jwt.JWT(header={"alg": "RS256", "kid": KEY_ID}, claims=id_claims)
        id_token.make_signed_token(self.key)
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token.serialize(),
        }

    def userinfo(self, authorization: str) -> tuple[int, dict[str, Any]]:
        claims = self._tokens.get(authorization.removeprefix("Bearer "))
        if claims is None:
            return 401, {"error": "invalid_token"}
        return 200, claims

    def jwks(self) -> dict[str, Any]:
        return {"keys": [json.loads(self.key.export_public())]}


class _Handler(BaseHTTPRequestHandler):
    idp: LoopbackProvider

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query))
        self.idp.requests.append((parts.path, params))
        authorization = self.headers.get("Authorization", "")
        if parts.path == "/.well-known/openid-configuration":
            self._send_json(200, self.idp.discovery())
        elif parts.path == "/authorize":
            status, headers = self.idp.authorize(params)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif parts.path == "/userinfo":
            self._send_json(*self.idp.userinfo(authorization))
        elif parts.path == "/jwks":
            self._send_json(200, self.idp.jwks())
        else:
            self._send_json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length", "0"))
        params = dict(parse_qsl(self.rfile.read(length).decode()))
        self.idp.requests.append((parts.path, params))
        if parts.path == "/token":
            self._send_json(*self.idp.token(params, self.headers.get("Authorization", "")))
        else:
            self._send_json(404, {"error": "not_found"})
