"""Step-up asked by the risk policy: "confirm it's you" with the strongest method the
customer has.

The risk engine (sessions_ctx) decides that a session owes a step-up and why; this package
says what meets it, by the customer's methods:

- a customer with a passkey confirms with a passkey (sign-in with it also counts);
- otherwise one with an authenticator app gives its code (or a recovery code);
- otherwise a code is emailed to the account's address (a sign-in by emailed code is
  already that proof).

``steps.RiskStep`` asks for it inside an authorization request (with the client's own risk
policy), the sessions_ctx middleware sends account pages to ``views.session_page``, and
``views.reauthenticate`` is the re-authentication of customers without a password (allauth's
page asks for one; accounts.views.ReauthenticateView sends them here).
"""
