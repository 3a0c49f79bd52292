"""What the long tests' database holds before any node starts: customers, an operator with a
signed-in session, a first-party web client, a machine client, a consent purpose and an
(inactive) webhook endpoint.

Run once per test run on the migrated template database, with the nodes' settings
(``SECRET_KEY`` above all: the operator's session hash depends on it)::

    DATABASE_URL=... SECRET_KEY=... python -m tests.long.seed

It prints what the tests need to know (client secrets, the session key) as one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

CUSTOMERS = 16
REDIRECT_URI = "http://rp.long.test/callback"


def seed() -> dict[str, Any]:
    from django.contrib.auth.models import Permission
    from django.test import Client

    from consent.models import Purpose, PurposeKind, PurposeVersion
    from consent.services.ledger import purpose_version_publish
    from tests.factories import PASSWORD, UserFactory, make_client
    from webhooks.models import Endpoint
    from webhooks.services.secrets import endpoint_secret_generate

    customers = [
        UserFactory(email=f"customer{number}@long.test").email for number in range(CUSTOMERS)
    ]
    operator = UserFactory(email="operator@long.test", is_staff=True)
    operator.user_permissions.add(
        Permission.objects.get(content_type__app_label="monitor", codename="view_live_monitor")
    )
    browser = Client()
    browser.force_login(type(operator)._default_manager.get(pk=operator.pk))
    from django.conf import settings

    session_key = browser.cookies[settings.SESSION_COOKIE_NAME].value

    web = make_client("web", name="Long shop", redirect_uris=[REDIRECT_URI], first_party=True)
    service = make_client("service", name="Long CRM")

    purpose = Purpose.objects.create(key="newsletter", kind=PurposeKind.MARKETING_EMAIL)
    version = purpose_version_publish(
        version=PurposeVersion.objects.create(
            purpose=purpose,
            number=1,
            title_en="Newsletter",
            title_pt_br="Boletim",
            summary_en="News by email.",
            summary_pt_br="Novidades por email.",
            text_en="We send you our news by email.",
            text_pt_br="Enviamos as nossas novidades por email.",
        ),
        change="material",
    )

    secret = endpoint_secret_generate()
    endpoint = Endpoint.objects.create(
        name="Long receiver",
        url="http://127.0.0.1:9/hook",
        event_types=["user.signed_in"],
        secret=secret,
        active=False,
    )
    return {
        "password": PASSWORD,
        "customers": customers,
        "operator": {"id": operator.pk, "email": operator.email, "session_key": session_key},
        "web": {
            "client_id": web.client_id,
            "client_secret": web.client_secret,
            "redirect_uri": REDIRECT_URI,
        },
        "service": {"client_id": service.client_id, "client_secret": service.client_secret},
        "purpose": {
            "key": purpose.key,
            "version": version.number,
            "text_sha256": version.text_sha256("en"),
        },
        "endpoint": {"id": endpoint.pk, "secret": secret},
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ciam.settings")
    import django

    django.setup()
    json.dump(seed(), sys.stdout)


if __name__ == "__main__":
    main()
