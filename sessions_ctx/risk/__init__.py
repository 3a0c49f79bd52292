"""The risk engine: assessors find, a policy decides, every decision is stored and explained.

- ``assessors``: small functions of the request's context and the user's history, each
  returning findings (code, confidence, parameters for the plain-language reason);
- ``history``: what the engine remembers of a user (confirmed sessions and known devices);
- ``policy``: the operator's rules (admin; one client may have its own) mapping findings
  to an action: allow, step-up, end the session, block;
- ``findings``: the findings' wording, in the reader's language;
- ``services/risk.py``: evaluating a sign-in or a changed context and storing the decision.
"""
