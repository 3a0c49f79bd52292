"""The question services on their own: what an answer writes and tells the learner, the
log of a page shown twice, a rule deleted meanwhile, a field deleted from the schema, and
consent purposes seen per client."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from oauth2_provider.models import get_application_model

from ciam.claims import user_claims
from ciam.oauth.claim_sources import claim_source_for
from consent.models import ClientPurpose, ConsentAction
from consent.services.ledger import consent_record
from profiling.models import (
    AskRule,
    FieldType,
    LearnerArm,
    Outcome,
    Position,
    Profile,
    ProfileField,
    ProfileQuestion,
    ProfileValue,
    ValueSource,
)
from profiling.schema import schema_forget
from profiling.services.questions import QuestionNote, question_answer, question_show
from profiling.services.values import profile_field_delete, profile_update
from tests.consent.purposes_helpers import make_purpose
from tests.factories import UserFactory, make_client


@pytest.fixture(autouse=True)
def fresh_schema():
    schema_forget()
    yield
    schema_forget()


@pytest.fixture
def two_fields(db):
    style = ProfileField.objects.create(key="home_style", type=FieldType.TEXT, label_en="Style")
    size = ProfileField.objects.create(key="home_size", type=FieldType.NUMBER, label_en="Size")
    schema_forget()
    return style, size


def pending_for(client_id: str | None = None) -> SimpleNamespace:
    application = get_application_model().objects.get(client_id=client_id) if client_id else None
    return SimpleNamespace(id="interaction-1", client=application, client_id=client_id or "")


def shown(user, fields, *, rule=None) -> QuestionNote:
    note = QuestionNote(fields=[f.key for f in fields], rule=rule, bucket="b")
    return question_show(
        user=user, pending=pending_for(), position=Position.AFTER_SIGN_IN, note=note
    )


def test_blank_second_field_is_a_skip_and_removes_nothing(two_fields):
    """On a two-field page, the field left blank keeps its stored value and is counted as
    skipped; the one answered is stored and counted as answered."""
    style, size = two_fields
    user = UserFactory()
    profile_update(user=user, changes={"home_size": 80}, source=ValueSource.API)
    note = shown(user, [style, size])
    result = question_answer(
        user=user,
        pending=pending_for(),
        position=Position.AFTER_SIGN_IN,
        note=note,
        raw={"home_style": "Rustic", "home_size": ""},
    )
    assert result.kind == "saved"
    assert Profile.objects.get(user=user).values["home_size"] == 80
    outcomes = dict(ProfileQuestion.objects.values_list("field__key", "outcome"))
    assert outcomes == {"home_style": Outcome.ANSWERED, "home_size": Outcome.SKIPPED}
    assert LearnerArm.objects.get(field=size, bucket="*").skipped == 1
    assert LearnerArm.objects.get(field=style, bucket="*").answered == 1


def test_field_deactivated_after_the_decision_does_not_block(two_fields):
    """A field deactivated between the decision and the answer is left out; the rest is
    stored."""
    style, size = two_fields
    user = UserFactory()
    note = shown(user, [style, size])
    ProfileField.objects.filter(pk=size.pk).update(active=False)
    schema_forget()
    result = question_answer(
        user=user,
        pending=pending_for(),
        position=Position.AFTER_SIGN_IN,
        note=note,
        raw={"home_style": "Rustic"},
    )
    assert result.kind == "saved"
    assert ProfileValue.objects.get(user=user, field=style).value == "Rustic"


def test_page_shown_twice_is_logged_once_and_a_deleted_rule_is_no_error(two_fields):
    """Two loads of a question page log one row per field; a rule deleted since the
    decision leaves the row without a rule."""
    style, _size = two_fields
    user = UserFactory()
    rule = AskRule.objects.create(name="Style")
    rule_id = rule.pk
    rule.delete()
    first = shown(user, [style], rule=rule_id)
    again = question_show(
        user=user,
        pending=pending_for(),
        position=Position.AFTER_SIGN_IN,
        note=QuestionNote(fields=["home_style"], rule=rule_id, bucket="b"),
    )
    assert first.questions == again.questions
    assert ProfileQuestion.objects.count() == 1
    assert ProfileQuestion.objects.get().rule is None


def test_deleting_a_field_removes_its_values_everywhere(two_fields):
    """A field deleted from the schema takes its values with it, the Profile.values copy
    included: a new field with the same key starts empty."""
    style, _size = two_fields
    user = UserFactory()
    profile_update(user=user, changes={"home_style": "Rustic"}, source=ValueSource.API)
    assert profile_field_delete(field=style) == 1
    assert "home_style" not in Profile.objects.get(user=user).values
    ProfileField.objects.create(key="home_style", type=FieldType.TEXT, label_en="Style")
    schema_forget()
    assert not ProfileValue.objects.filter(user=user, field__key="home_style").exists()


def test_purpose_bound_claim_goes_only_to_the_purpose_clients(db):
    """A field collected for a purpose linked to one client is released to that client
    (and to none other) while the user grants the purpose."""
    shop = make_client("web", name="Shop", redirect_uris=["https://shop.test/cb"])
    news = make_client("web", name="News", redirect_uris=["https://news.test/cb"])
    Application = get_application_model()
    shop_app = Application.objects.get(client_id=shop.client_id)
    news_app = Application.objects.get(client_id=news.client_id)
    purpose = make_purpose("style-tips")
    ClientPurpose.objects.create(application=shop_app, purpose=purpose, required=False)
    ProfileField.objects.create(
        key="home_style",
        type=FieldType.TEXT,
        label_en="Style",
        claim="shop:style",
        purpose=purpose,
    )
    schema_forget()
    user = UserFactory()
    profile_update(user=user, changes={"home_style": "Rustic"}, source=ValueSource.API)
    consent_record(
        user=user, version=purpose.versions.get(), action=ConsentAction.GRANTED, channel="portal"
    )
    user.refresh_from_db()
    scopes = ["openid", "profile"]
    assert user_claims(claim_source_for(user, client=shop_app), scopes=scopes)["shop:style"] == (
        "Rustic"
    )
    assert "shop:style" not in user_claims(claim_source_for(user, client=news_app), scopes=scopes)


def test_replay_compares_policies_on_randomised_decisions(two_fields, capsys):
    """On uniformly randomised decisions where home_style is always answered and
    home_size always skipped, replay finds fixed order (home_style first) worth 1 per
    decision, never asking 0, and the learner (its counts favour home_style) 1;
    ``manage.py profiling_replay`` prints the table."""
    from django.core.management import call_command

    from profiling.models import LearnerDecision
    from profiling.replay import replay_compare

    style, size = two_fields
    user = UserFactory()
    LearnerArm.objects.create(field=style, bucket="*", shown=20, answered=18)
    LearnerArm.objects.create(field=size, bucket="*", shown=20, answered=1, skipped=19)
    for index in range(30):
        chosen = ("home_style", "home_size", "")[index % 3]
        question = None
        if chosen:
            question = ProfileQuestion.objects.create(
                user=user,
                field=style if chosen == "home_style" else size,
                interaction=f"i{index}",
                position=Position.AFTER_SIGN_IN,
                bucket="b",
                explored=True,
                outcome=Outcome.ANSWERED if chosen == "home_style" else Outcome.SKIPPED,
            )
        LearnerDecision.objects.create(
            user=user,
            interaction=f"i{index}",
            position=Position.AFTER_SIGN_IN,
            bucket="b",
            candidates=["home_style", "home_size"],
            chosen=chosen,
            propensity=1 / 3,
            question=question,
        )
    total, estimates = replay_compare()
    by_name = {item.name: item.estimate for item in estimates}
    assert total == 30
    assert by_name["fixed order"].mean == 1.0
    assert by_name["fixed order"].matched == 10
    assert by_name["never ask"].mean == 0.0
    assert by_name["learner"].mean == 1.0
    call_command("profiling_replay")
    out = capsys.readouterr().out
    assert "30 randomised decision(s)" in out
    assert "fixed order" in out


def test_schema_cache_follows_rules_and_client_settings(db):
    """The process's schema cache is dropped when a rule or a client's settings change:
    the positions where a rule may ask and the fields a client requires are current."""
    from profiling.models import ClientProfileSettings
    from profiling.schema import schema_current

    assert Position.BEFORE_RETURN not in schema_current().rule_positions
    rule = AskRule.objects.create(name="Later", position=Position.BEFORE_RETURN)
    assert Position.BEFORE_RETURN in schema_current().rule_positions
    shop = make_client("web", name="Shop", redirect_uris=["https://shop.test/cb"])
    application = get_application_model().objects.get(client_id=shop.client_id)
    settings = ClientProfileSettings.objects.create(application=application, transactional=True)
    settings.required_fields.add(ProfileField.objects.get(key="phone_number"))
    schema = schema_current()
    assert schema.required[application.pk] == ("phone_number",)
    assert application.pk in schema.transactional
    rule.delete()
    assert Position.BEFORE_RETURN not in schema_current().rule_positions
