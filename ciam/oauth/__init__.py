"""OpenID Connect glue: django-oauth-toolkit's validator, extended where it falls short.

Laid out like allauth's ``idp/oidc/internal/oauthlib/``: the validator (``validator.py``,
set as ``OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]``) delegates to small modules.

- ``tokens``: token values and the digests they are stored and looked up by.
- ``prepared``: querysets compiled once per connection (``PreparedLookup``).
- ``lookups``: the prepared reads the token endpoints make (tokens, codes, contexts).
- ``client_cache``: clients kept a few seconds per process.
- ``claim_sources``: what the claims function (ciam/claims.py) needs about a user.
- ``id_tokens``: signing and verifying the ID tokens this provider issues.
- ``rotation``: the statements of a refresh-token rotation.
- ``refresh_lifetime``: how long a refresh token works (sliding and absolute expiry).
- ``state``: what one oauthlib request's callbacks share (``oauth_state(request)``).

What this adds to DOT (each is covered by tests/oidc):

- PKCE required for public clients only; a verifier without a stored challenge is refused.
- A redeemed code remembers its tokens: replaying it revokes every token it produced.
- A refresh-token family ends CIAM_REFRESH_TOKEN_ABSOLUTE_DAYS after its authorization,
  however often it is rotated.
- A disabled account's tokens and codes are refused, also on the lean lookup paths.
- ID tokens carry the real auth_time, sid, acr, amr and azp of the authorization, also when
  refreshed, and are signed with the rotating keys of ciam/keys.py (RS256 or ES256).
- Claims come from one function, ciam/claims.py, honouring the ``claims`` request parameter.
- prompt=none is decided by the interaction pipeline (ciam/interaction/), not here.

Nothing is re-exported here: import from the module that owns the name.
"""
