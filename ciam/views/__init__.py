"""HTTP endpoints of the OpenID Provider, by audience. Thin: validate, call one service, respond.

- ``authorize``: the authorization endpoint and its continuation (browsers);
- ``backchannel``: token, UserInfo, revocation, introspection (clients' servers);
- ``discovery``: the discovery document and the JWKS (anyone);
- ``logout``: RP-Initiated Logout (browsers);
- ``pages``: home, brand stylesheet, demo landing page.

Step pages of the interaction pipeline live in the apps that own their steps and use the
toolkit in ``ciam.interaction.pages``; nothing imports these modules but the URL conf.
"""
