"""Operators declare the profile schema, ask rules and clients' needs in admin, read values
and questions there read-only, and follow the profiling report."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone
from oauth2_provider.models import get_application_model

from consent.models import Purpose
from profiling.forms import ProfileFieldForm
from profiling.learner import ArmCounts, Candidate, LearnerSettings, posterior_mean
from profiling.models import (
    AskRule,
    ClientProfileSettings,
    FieldType,
    LearnerArm,
    Outcome,
    Position,
    Profile,
    ProfileField,
    ProfileQuestion,
    ProfileValue,
    Sensitivity,
)
from profiling.report import (
    completeness_by_field,
    completeness_chart,
    completeness_over_time,
    context_label,
    learner_preferences,
    question_outcomes,
    report_period,
)
from profiling.schema import schema_current, schema_forget
from tests.factories import UserFactory, make_client

REPORT_URL = "/admin/profiling/profilefield/report/"
BUCKET = "after_sign_in|mobile|evening|weekday|2-3"


def form_errors(response) -> list[str]:
    return re.findall(r"errorlist[^<]*<li>([^<]*)", response.content.decode())


def field_data(**overrides: Any) -> dict[str, Any]:
    """The admin form's data for a valid custom text field, with ``overrides``."""
    data: dict[str, Any] = {
        "key": "home_style",
        "type": FieldType.TEXT,
        "label_en": "Home style",
        "label_pt_br": "Estilo da casa",
        "help_en": "",
        "help_pt_br": "",
        "benefit_en": "So we can show what fits your space",
        "benefit_pt_br": "",
        "choices": "[]",
        "pattern": "",
        "min_length": "",
        "max_length": "",
        "min_value": "",
        "max_value": "",
        "min_date": "",
        "max_date": "",
        "document_kind": "",
        "phone_region": "BR",
        "check_junk": "on",
        "sensitivity": Sensitivity.PERSONAL,
        "claim": "https://shop.example/style",
        "scope": "profile",
        "purpose": "",
        "active": "on",
        "order": "200",
    }
    data.update(overrides)
    return data


def make_field(key: str = "home_style", **kwargs: Any) -> ProfileField:
    kwargs.setdefault("type", FieldType.TEXT)
    kwargs.setdefault("label_en", key.replace("_", " ").capitalize())
    field = ProfileField.objects.create(key=key, **kwargs)
    schema_forget()
    return field


@pytest.fixture
def purpose(db) -> Purpose:
    return Purpose.objects.create(key="style_marketing")


# Pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/profiling/",
        "/admin/profiling/profilefield/",
        "/admin/profiling/profilefield/add/",
        "/admin/profiling/profilefield/?type__exact=text&active__exact=1",
        "/admin/profiling/askrule/",
        "/admin/profiling/askrule/add/",
        "/admin/profiling/clientprofilesettings/",
        "/admin/profiling/clientprofilesettings/add/",
        "/admin/profiling/profilevalue/",
        "/admin/profiling/profilevalue/?q=someone",
        "/admin/profiling/profilequestion/",
        "/admin/profiling/profilequestion/?outcome__exact=skipped&explored__exact=1",
        "/admin/profiling/profile/",
    ],
)
def test_profiling_admin_pages_render(admin_client, url):
    """Every profiling changelist and add page renders for an operator."""
    assert admin_client.get(url).status_code == 200


def test_change_pages_render(admin_client):
    """A field, a rule, a client's settings, a value, a question and a profile open in admin;
    the client's page carries its profile settings inline."""
    from profiling.services.values import profile_update

    user = UserFactory(email="reader@example.com")
    field = make_field()
    registered = make_client("web", name="Shop", redirect_uris=["https://shop.example/cb"])
    application = get_application_model().objects.get(pk=registered.application_id)
    rule = AskRule.objects.create(name="Style at second sign-in", min_sign_ins=2)
    rule.fields.add(field)
    settings = ClientProfileSettings.objects.create(application=application, transactional=True)
    profile_update(user=user, changes={"home_style": "industrial"}, source="api")
    value = ProfileValue.objects.get(user=user, field=field)
    question = ProfileQuestion.objects.create(
        user=user, field=field, interaction="i-1", position=Position.AFTER_SIGN_IN, bucket=BUCKET
    )
    for url in (
        f"/admin/profiling/profilefield/{field.pk}/change/",
        f"/admin/profiling/askrule/{rule.pk}/change/",
        f"/admin/profiling/clientprofilesettings/{settings.pk}/change/",
        f"/admin/profiling/profilevalue/{value.pk}/change/",
        f"/admin/profiling/profilequestion/{question.pk}/change/",
        f"/admin/profiling/profile/{user.profile.pk}/change/",
    ):
        assert admin_client.get(url).status_code == 200, url
    profile_page = admin_client.get(f"/admin/profiling/profile/{user.profile.pk}/change/")
    assert "industrial" in profile_page.content.decode()
    client_page = admin_client.get(f"/admin/ciam/application/{application.pk}/change/")
    assert client_page.status_code == 200
    assert 'name="profile_settings-0-required_fields"' in client_page.content.decode()


def test_values_and_questions_are_read_only(admin_client):
    """Values and questions cannot be added or edited in admin."""
    assert admin_client.get("/admin/profiling/profilevalue/add/").status_code == 403
    assert admin_client.get("/admin/profiling/profilequestion/add/").status_code == 403
    page = admin_client.get("/admin/profiling/profilevalue/").content.decode()
    assert "/admin/profiling/profilevalue/add/" not in page


def test_deleting_a_value_removes_it_from_the_profile(admin_client):
    """A value deleted by an operator is gone from the profile the claims are read from."""
    from profiling.services.values import profile_update

    make_field()
    user = UserFactory()
    profile_update(user=user, changes={"home_style": "Industrial loft"}, source="api")
    value = ProfileValue.objects.get(user=user, field__key="home_style")
    response = admin_client.post(
        f"/admin/profiling/profilevalue/{value.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not ProfileValue.objects.filter(pk=value.pk).exists()
    assert "home_style" not in Profile.objects.get(user=user).values


# The field form ---------------------------------------------------------------------------


def test_valid_custom_field_is_saved_and_seen_at_once(admin_client, purpose):
    """A valid field saved in admin is in the schema at once; its key cannot change later."""
    schema_current()  # cached before the change
    response = admin_client.post(
        "/admin/profiling/profilefield/add/",
        field_data(
            type=FieldType.CHOICE,
            choices='[{"value": "loft", "label_en": "Loft", "label_pt_br": "Loft"},'
            ' {"value": "classic", "label_en": "Classic"}]',
            sensitivity=Sensitivity.SENSITIVE,
            purpose=str(purpose.pk),
        ),
    )
    assert response.status_code == 302, form_errors(response)
    field = ProfileField.objects.get(key="home_style")
    assert field.choice_values() == ["loft", "classic"]
    assert "home_style" in schema_current().by_key
    change = admin_client.get(f"/admin/profiling/profilefield/{field.pk}/change/")
    assert 'name="key"' not in change.content.decode()


def test_emptied_choices_box_means_no_choices(db):
    """An emptied choices box saves as no choices, not as null."""
    form = ProfileFieldForm(data=field_data(choices=""))
    assert form.is_valid(), form.errors
    assert form.save().choices == []


def test_standard_claim_with_fitting_type_is_accepted(db):
    """A new field may feed a standard claim no other field feeds, with a fitting type."""
    ProfileField.objects.filter(claim="preferred_username").delete()
    form = ProfileFieldForm(data=field_data(claim="preferred_username"))
    assert form.is_valid(), form.errors


@pytest.mark.parametrize(
    ("overrides", "error_field", "message"),
    [
        ({"claim": "sub"}, "claim", "set by the identity provider"),
        ({"claim": "email"}, "claim", "set by the identity provider"),
        ({"claim": "profile_completeness"}, "claim", "set by the identity provider"),
        ({"claim": "consents"}, "claim", "set by the identity provider"),
        ({"claim": "birthdate"}, "claim", "needs a field of type: Date"),
        ({"claim": "phone_number"}, "claim", "needs a field of type: Phone number"),
        ({"claim": "address"}, "claim", "needs a field of type: Postal address"),
        ({"claim": "picture"}, "claim", "needs a field of type: Web address"),
        ({"claim": "locale", "type": FieldType.DATE}, "claim", "Text, One choice"),
        ({"claim": "style"}, "claim", "must be namespaced"),
        ({"claim": "shop:home style"}, "claim", "must be namespaced"),
        ({"claim": "shop:style!"}, "claim", "must be namespaced"),
        ({"claim": "given_name"}, "claim", "“given_name” already feeds this claim"),
        ({"type": FieldType.CHOICE}, "choices", "needs at least one choice"),
        ({"type": FieldType.CHOICE, "choices": '{"value": "a"}'}, "choices", "JSON list"),
        ({"type": FieldType.CHOICE, "choices": "not json"}, "choices", "valid JSON"),
        ({"type": FieldType.CHOICE, "choices": '["loft"]'}, "choices", "is not an object"),
        (
            {"type": FieldType.MULTI_CHOICE, "choices": '[{"value": "", "label_en": "Loft"}]'},
            "choices",
            "has no &quot;value&quot;",
        ),
        (
            {
                "type": FieldType.CHOICE,
                "choices": '[{"value": "a", "label_en": "A"}, {"value": "a", "label_en": "B"}]',
            },
            "choices",
            "used by two choices",
        ),
        (
            {"type": FieldType.CHOICE, "choices": '[{"value": "a", "label_pt_br": "A"}]'},
            "choices",
            "has no &quot;label_en&quot;",
        ),
        ({"choices": '[{"value": "a", "label_en": "A"}]'}, "choices", "Only choice fields"),
        ({"pattern": "([a-z"}, "pattern", "does not compile"),
        ({"pattern": r"(a)\1"}, "pattern", "does not compile"),
        ({"min_length": "10", "max_length": "3"}, "max_length", "smaller than the minimum"),
        ({"min_value": "5", "max_value": "1", "type": FieldType.NUMBER}, "max_value", "smaller"),
        ({"min_date": "2020-01-02", "max_date": "2020-01-01"}, "max_date", "smaller"),
        ({"type": FieldType.DOCUMENT}, "document_kind", "needs the kind of document"),
        ({"sensitivity": Sensitivity.SENSITIVE}, "purpose", "LGPD art. 11"),
    ],
)
def test_field_form_refusals(admin_client, overrides, error_field, message):
    """A field declaration that would break claims, validation or the law is refused with the
    reason shown on the right field, and nothing is saved."""
    response = admin_client.post("/admin/profiling/profilefield/add/", field_data(**overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert error_field in errors, errors
    assert any(message.replace("&quot;", '"') in error for error in errors[error_field]), errors
    assert not ProfileField.objects.filter(key="home_style").exists()


def test_claim_fed_by_another_custom_field_is_refused(db):
    """Two fields cannot feed the same custom claim."""
    make_field("home_size", claim="shop:style")
    form = ProfileFieldForm(data=field_data(claim="shop:style"))
    assert not form.is_valid()
    assert "The field “home_size” already feeds this claim." in form.errors["claim"]


def test_editing_a_field_keeps_its_own_claim(db):
    """A field saved again with its own claim is not a duplicate of itself."""
    field = ProfileField.objects.get(key="given_name")
    data = field_data(key="given_name", claim="given_name", label_en="Given name")
    form = ProfileFieldForm(data=data, instance=field)
    assert form.is_valid(), form.errors


def test_deleting_a_field_updates_the_schema(admin_client):
    """A field deleted in admin leaves the schema at once."""
    field = make_field()
    assert "home_style" in schema_current().by_key
    response = admin_client.post(
        f"/admin/profiling/profilefield/{field.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert "home_style" not in schema_current().by_key


# The report -------------------------------------------------------------------------------


@pytest.fixture
def report_data(db) -> dict[str, Any]:
    """Two custom fields asked and answered, the learner's counts and some values."""
    style = make_field("home_style", label_pt_br="Estilo da casa", order=1)
    size = make_field("home_size", order=2)
    now = timezone.now()
    users = [UserFactory() for _ in range(4)]
    outcomes = [Outcome.ANSWERED, Outcome.ANSWERED, Outcome.ANSWERED, Outcome.SKIPPED]
    for number, (user, outcome) in enumerate(zip(users, outcomes, strict=True)):
        ProfileQuestion.objects.create(
            user=user,
            field=style,
            interaction=f"style-{number}",
            position=Position.AFTER_SIGN_IN,
            bucket=BUCKET,
            outcome=outcome,
            shown_at=now - timedelta(days=1),
        )
    ProfileQuestion.objects.create(
        user=users[0],
        field=size,
        interaction="size-old",
        position=Position.BEFORE_RETURN,
        bucket=BUCKET,
        outcome=Outcome.ABANDONED,
        shown_at=now - timedelta(days=45),
    )
    # Overall the style is answered more; in this context (ample evidence) the size is.
    LearnerArm.objects.create(field=style, bucket="*", shown=400, answered=300, abandoned=10)
    LearnerArm.objects.create(field=size, bucket="*", shown=400, answered=200, abandoned=20)
    LearnerArm.objects.create(field=style, bucket=BUCKET, shown=200, answered=10, abandoned=9)
    LearnerArm.objects.create(field=size, bucket=BUCKET, shown=200, answered=190, abandoned=0)
    ProfileValue.objects.create(user=users[0], field=style, value="loft", source="question")
    ProfileValue.objects.create(user=users[1], field=style, value="classic", source="question")
    return {"style": style, "size": size, "users": users}


def test_report_shows_outcomes_learner_and_completeness(admin_client, report_data):
    """The report shows each field's questions by outcome over the period, the learner's
    ranking per context and the completeness chart and table."""
    response = admin_client.get(REPORT_URL)
    assert response.status_code == 200
    html = response.content.decode()
    outcomes = {row.key: row for row in response.context["outcomes"]}
    assert (outcomes["home_style"].shown, outcomes["home_style"].answered) == (4, 3)
    assert "home_size" not in outcomes  # asked 45 days ago, outside the last 30 days
    assert "75%" in html
    assert "(3)" in html
    assert "25%" in html
    contexts = {c.bucket: c for c in response.context["learner"].contexts}
    assert [f.key for f in contexts["*"].fields] == ["home_style", "home_size"]
    assert [f.key for f in contexts[BUCKET].fields] == ["home_size", "home_style"]
    assert "Right after signing in · Mobile · Evening · Weekday · Sign-ins 2-3" in html
    assert "<polyline" in html
    assert html.count('class="profiling-dot"') == 30
    by_field = {row.key: row for row in response.context["by_field"]}
    assert by_field["home_style"].filled == 2
    assert "Profiling report" in html


def test_report_period_all_includes_older_questions(admin_client, report_data):
    """With all time chosen, questions older than 90 days count too."""
    response = admin_client.get(REPORT_URL, {"days": "all"})
    keys = [row.key for row in response.context["outcomes"]]
    assert keys == ["home_style", "home_size"]
    assert response.context["period"] == "all"


@pytest.mark.parametrize(
    "query",
    ["?days=abc", "?days=", "?days=-5", "?days=99999999999999999999", "?days=7&days=x", "?x=1"],
)
def test_report_survives_malformed_parameters(admin_client, report_data, query):
    """A malformed period falls back to the last 30 days instead of failing."""
    response = admin_client.get(REPORT_URL + query)
    assert response.status_code == 200
    assert response.context["period"] in ("30", "7")


def test_report_renders_empty(admin_client):
    """With nothing asked yet, the report says so."""
    response = admin_client.get(REPORT_URL)
    assert response.status_code == 200
    assert "No question was shown in this period." in response.content.decode()


def test_report_in_portuguese(admin_client, report_data):
    """The report renders in Portuguese, with the fields' Portuguese labels."""
    response = admin_client.get(REPORT_URL, HTTP_ACCEPT_LANGUAGE="pt-BR")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="pt-br"' in html
    assert "Estilo da casa" in html


def test_report_is_linked_from_the_field_list(admin_client):
    """The field list links to the report."""
    page = admin_client.get("/admin/profiling/profilefield/").content.decode()
    assert f'href="{REPORT_URL}"' in page


def test_report_needs_the_view_permission(client, db):
    """A staff member who may not view profile fields gets 403; one who may sees it."""
    staff = get_user_model().objects.create_user(
        email="staff@example.com", password="staff-password-1", is_staff=True
    )
    client.force_login(staff)
    assert client.get(REPORT_URL).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_profilefield"))
    assert client.get(REPORT_URL).status_code == 200


def test_report_needs_staff(client, db):
    """A customer is sent to the admin sign-in page."""
    customer = get_user_model().objects.create_user(
        email="customer@example.com", password="customer-password-1"
    )
    client.force_login(customer)
    response = client.get(REPORT_URL)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# The reads --------------------------------------------------------------------------------


def test_question_outcomes_shares(report_data):
    """Shares are of the questions shown; older questions are outside the period."""
    rows = question_outcomes(since=timezone.now() - timedelta(days=7), language="en")
    assert [(r.key, r.shown, r.answered_pct, r.skipped_pct) for r in rows] == [
        ("home_style", 4, 75.0, 25.0)
    ]


def test_learner_preferences_use_the_posterior(report_data):
    """Each context's rates are the learner's posterior means (a bucket borrows from ``*``)."""
    report = learner_preferences(language="en")
    bucket = next(c for c in report.contexts if c.bucket == BUCKET)
    style = next(f for f in bucket.fields if f.key == "home_style")
    expected = posterior_mean(
        Candidate(
            "home_style",
            bucket=ArmCounts(shown=200, answered=10, abandoned=9),
            overall=ArmCounts(shown=400, answered=300, abandoned=10),
        ),
        LearnerSettings(),
    )
    assert (style.answer_rate, style.abandon_rate) == pytest.approx(expected)
    assert report.contexts[0].bucket == "*"


def test_learner_preferences_limit_contexts(db):
    """Only the contexts with the most evidence are listed; the others are counted."""
    field = make_field()
    for shown in range(1, 5):
        LearnerArm.objects.create(field=field, bucket=f"b{shown}", shown=shown)
    report = learner_preferences(language="en", contexts_shown=2)
    assert [c.bucket for c in report.contexts] == ["b4", "b3"]
    assert report.contexts_hidden == 2


def test_completeness_over_time_counts_users_who_existed(db):
    """Each day averages the filled share over the users who had joined by then."""
    for field in ProfileField.objects.exclude(key__in=["given_name", "family_name"]):
        field.active = False
        field.save()
    fields = {f.key: f for f in ProfileField.objects.filter(active=True)}
    assert set(fields) == {"given_name", "family_name"}
    now = timezone.now()
    today = timezone.localdate()
    users = get_user_model().objects
    early = users.create_user(email="early@example.com", date_joined=now - timedelta(days=10))
    late = users.create_user(email="late@example.com", date_joined=now - timedelta(days=2))
    ProfileValue.objects.create(
        user=early,
        field=fields["given_name"],
        value="Ana",
        source="signup",
        collected_at=now - timedelta(days=10),
    )
    ProfileValue.objects.create(
        user=early, field=fields["family_name"], value="Lima", source="api", collected_at=now
    )
    ProfileValue.objects.create(
        user=late,
        field=fields["given_name"],
        value="Bia",
        source="signup",
        collected_at=now - timedelta(days=2),
    )
    points = {p.day: p for p in completeness_over_time(today=today)}
    assert len(points) == 30
    assert points[today - timedelta(days=11)].users == 0
    assert points[today - timedelta(days=11)].average == 0
    assert points[today - timedelta(days=5)].average == pytest.approx(50.0)  # 1 of 2 slots
    assert points[today - timedelta(days=1)].users == 2
    assert points[today - timedelta(days=1)].average == pytest.approx(50.0)  # 2 of 4
    assert points[today].average == pytest.approx(75.0)  # 3 of 4
    by_field = {row.key: row for row in completeness_by_field(language="en")}
    assert by_field["given_name"].share == pytest.approx(100.0)
    assert by_field["family_name"].share == pytest.approx(50.0)


def test_completeness_chart_geometry(db):
    """The chart's axis fits the highest point and labels days back from today."""
    points = completeness_over_time()
    chart = completeness_chart(points)
    assert chart.y_max == 10
    assert [t.label for t in chart.y_ticks] == ["0%", "2%", "4%", "6%", "8%", "10%"]
    assert chart.x_ticks[-1].point.day == timezone.localdate()
    assert len(chart.dots) == 30


@pytest.mark.parametrize(
    ("raw", "period"), [("7", "7"), ("90", "90"), ("all", "all"), ("x", "30"), (None, "30")]
)
def test_report_period(raw, period):
    """Only the offered periods are taken; anything else is the default."""
    assert report_period(raw) == period


def test_context_label_falls_back_to_the_bucket():
    """An unknown bucket shape is shown as it is."""
    assert context_label("odd-bucket") == "odd-bucket"
    assert context_label("*") == "Every context"


def test_report_compares_policies_offline(admin_client, report_data):
    """The report's replay section: empty without randomised decisions, then the reward
    per decision of each policy; randomised decisions are listed read-only in admin."""
    from profiling.models import LearnerDecision, Position

    response = admin_client.get(REPORT_URL)
    assert "Policies compared offline" in response.content.decode()
    assert "No randomised decision yet." in response.content.decode()
    user = UserFactory()
    for chosen in ("", "home_style"):
        LearnerDecision.objects.create(
            user=user,
            interaction=f"x{chosen}",
            position=Position.AFTER_SIGN_IN,
            bucket="b",
            candidates=["home_style"],
            chosen=chosen,
            propensity=0.5,
        )
    html = admin_client.get(REPORT_URL).content.decode()
    assert "Never ask" in html
    assert "0.000" in html
    assert admin_client.get("/admin/profiling/learnerdecision/").status_code == 200
    assert admin_client.get("/admin/profiling/learnerdecision/add/").status_code == 403
