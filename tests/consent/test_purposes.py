"""Which purposes a user is asked about for a client (consent.selectors.purposes_to_ask)."""

from __future__ import annotations

import pytest
from oauth2_provider.models import get_application_model

from consent.models import (
    ClientPurpose,
    ConsentAction,
    ConsentChannel,
    Purpose,
    PurposeKind,
    PurposeVersion,
)
from consent.selectors import consent_history, consent_state, purposes_to_ask
from consent.services.ledger import (
    consent_record,
    purpose_version_next_number,
    purpose_version_publish,
    purpose_withdraw,
    purposes_decide,
)
from tests.factories import UserFactory, make_client


def make_purpose(
    key: str,
    *,
    kind: str = PurposeKind.CUSTOM,
    required: bool = False,
    active: bool = True,
    publish: str | None = "material",
    data_categories: list[str] | None = None,
) -> Purpose:
    """A purpose with a first version (published as ``publish``, or a draft when None)."""
    purpose = Purpose.objects.create(
        key=key,
        kind=kind,
        required=required,
        active=active,
        data_categories=data_categories or [],
    )
    new_version(purpose, publish=publish)
    return purpose


def new_version(purpose: Purpose, *, publish: str | None = "material") -> PurposeVersion:
    number = purpose_version_next_number(purpose=purpose)
    version = PurposeVersion.objects.create(
        purpose=purpose,
        number=number,
        title_en=f"{purpose.key} v{number}",
        title_pt_br=f"{purpose.key} v{number} (pt)",
        summary_en="In plain words.",
        summary_pt_br="Em palavras simples.",
        text_en="The full text.",
        text_pt_br="O texto completo.",
        policy_url="https://example.com/policy",
    )
    if publish:
        purpose_version_publish(version=version, change=publish)
    return version


def make_application(**kwargs):
    kwargs.setdefault("redirect_uris", ["https://rp.example.test/callback"])
    registered = make_client("web", **kwargs)
    return get_application_model().objects.get(client_id=registered.client_id)


def link(application, purpose: Purpose, *, required: bool) -> ClientPurpose:
    return ClientPurpose.objects.create(application=application, purpose=purpose, required=required)


def grant(user, purpose: Purpose, application=None):
    return consent_record(
        user=user,
        version=purpose.current_version(),
        action=ConsentAction.GRANTED,
        channel=ConsentChannel.SIGNIN,
        application=application,
    )


@pytest.fixture
def application(db):
    return make_application(name="Partner Shop")


def keys(versions: list[PurposeVersion]) -> list[str]:
    return [version.purpose.key for version in versions]


def test_never_asked_user_is_asked_every_purpose_of_the_client(user, application):
    """A user who never decided is asked the client's required and optional purposes."""
    link(application, make_purpose("terms"), required=True)
    link(application, make_purpose("newsletter"), required=False)
    ask = purposes_to_ask(user=user, application=application)
    assert keys(ask.required) == ["terms"]
    assert keys(ask.optional) == ["newsletter"]
    assert not ask.empty


def test_current_grants_ask_nothing(user, application):
    """Granted current versions, required and optional, are not asked again."""
    terms, newsletter = make_purpose("terms"), make_purpose("newsletter")
    link(application, terms, required=True)
    link(application, newsletter, required=False)
    grant(user, terms, application)
    grant(user, newsletter, application)
    assert purposes_to_ask(user=user, application=application).empty


def test_minor_version_does_not_ask_again(user, application):
    """A version published as a minor change keeps standing grants valid."""
    terms = make_purpose("terms")
    link(application, terms, required=True)
    grant(user, terms)
    new_version(terms, publish="minor")
    assert terms.current_version().number == 2
    assert purposes_to_ask(user=user, application=application).empty


def test_material_version_asks_only_affected_users_and_only_that_purpose(application):
    """A material version re-asks users granted an older version, for that purpose only;
    a user who already agreed to the new version is not asked."""
    terms, privacy = make_purpose("terms"), make_purpose("privacy")
    link(application, terms, required=True)
    link(application, privacy, required=True)
    old_user, new_user = UserFactory(), UserFactory()
    for person in (old_user, new_user):
        grant(person, terms)
        grant(person, privacy)
    version_two = new_version(terms, publish="material")
    grant(new_user, terms)
    ask = purposes_to_ask(user=old_user, application=application)
    assert ask.required == [version_two]
    assert ask.optional == []
    assert purposes_to_ask(user=new_user, application=application).empty


def test_material_then_minor_still_asks_users_of_the_version_before_the_material_one(
    user, application
):
    """v1 granted, v2 material, v3 minor: the user is asked v3 (the current version)."""
    terms = make_purpose("terms")
    link(application, terms, required=True)
    grant(user, terms)
    new_version(terms, publish="material")
    version_three = new_version(terms, publish="minor")
    assert purposes_to_ask(user=user, application=application).required == [version_three]


def test_optional_material_change_asks_again_even_after_a_decline(user, application):
    """An optional purpose declined on v1 is not asked again, until a material v2."""
    newsletter = make_purpose("newsletter")
    link(application, newsletter, required=False)
    purposes_decide(
        user=user,
        application=application,
        granted=[],
        declined=[newsletter.current_version()],
        channel=ConsentChannel.SIGNIN,
    )
    assert purposes_to_ask(user=user, application=application).empty
    version_two = new_version(newsletter, publish="material")
    assert purposes_to_ask(user=user, application=application).optional == [version_two]


def test_withdrawn_required_purpose_is_asked_again(user, application):
    """After withdrawing a required purpose the user is asked for it again."""
    terms = make_purpose("terms")
    link(application, terms, required=True)
    grant(user, terms)
    purpose_withdraw(user=user, purpose=terms, channel=ConsentChannel.PORTAL)
    assert keys(purposes_to_ask(user=user, application=application).required) == ["terms"]
    assert consent_state(user=user)["terms"].granted is False


def test_withdrawn_optional_purpose_is_not_nagged_about(user, application):
    """A withdrawn optional purpose is a decision: not asked again on the same version."""
    newsletter = make_purpose("newsletter")
    link(application, newsletter, required=False)
    grant(user, newsletter)
    purpose_withdraw(user=user, purpose=newsletter, channel=ConsentChannel.PORTAL)
    assert purposes_to_ask(user=user, application=application).empty


def test_required_and_optional_are_per_client(user, application):
    """The same purpose may be required by one client and optional for another."""
    other = make_application()
    sharing = make_purpose("sharing", kind=PurposeKind.PARTNER_SHARING)
    link(application, sharing, required=True)
    link(other, sharing, required=False)
    assert keys(purposes_to_ask(user=user, application=application).required) == ["sharing"]
    ask_other = purposes_to_ask(user=user, application=other)
    assert ask_other.required == []
    assert keys(ask_other.optional) == ["sharing"]


def test_purpose_required_applies_to_every_client(user, application):
    """``Purpose.required`` purposes are asked for every client, linked or not, first-party
    included, and win over an optional link."""
    terms = make_purpose("terms", required=True)
    link(application, terms, required=False)
    first_party = make_application(first_party=True)
    assert keys(purposes_to_ask(user=user, application=application).required) == ["terms"]
    assert purposes_to_ask(user=user, application=application).optional == []
    assert keys(purposes_to_ask(user=user, application=first_party).required) == ["terms"]


def test_inactive_purpose_is_ignored(user, application):
    """An inactive purpose is never asked, even when required."""
    link(application, make_purpose("old-terms", active=False), required=True)
    make_purpose("old-global", required=True, active=False)
    assert purposes_to_ask(user=user, application=application).empty


def test_draft_versions_are_ignored(user, application):
    """A purpose with only drafts is not asked; a draft after a published version does not
    replace it as the current version."""
    link(application, make_purpose("drafted", publish=None), required=True)
    terms = make_purpose("terms")
    link(application, terms, required=True)
    grant(user, terms)
    new_version(terms, publish=None)
    assert terms.current_version().number == 1
    assert purposes_to_ask(user=user, application=application).empty


def test_consent_state_and_history_follow_the_ledger(user, application):
    """The state is the latest decision per purpose; history lists every record newest
    first."""
    newsletter = make_purpose("newsletter")
    first = grant(user, newsletter)
    withdrawal = purpose_withdraw(user=user, purpose=newsletter, channel=ConsentChannel.PORTAL)
    again = grant(user, newsletter)
    state = consent_state(user=user)
    assert state["newsletter"].granted is True
    assert state["newsletter"].record == again
    assert list(consent_history(user=user)) == [again, withdrawal, first]
    assert consent_state(user=UserFactory()) == {}
