"""The account's sessions and security activity pages."""

from __future__ import annotations

from django.urls import URLPattern, path

from . import views

app_name = "sessions"

urlpatterns: list[URLPattern] = [
    path("", views.sessions_list, name="list"),
    path("sign-out-others/", views.sessions_sign_out_others, name="sign-out-others"),
    path("activity/", views.security_activity_page, name="activity"),
    # <str:...>: a malformed id reaches the view and gets its 404, like another user's.
    path("<str:session_id>/sign-out/", views.session_sign_out, name="sign-out"),
]
