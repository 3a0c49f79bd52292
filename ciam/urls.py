from django.contrib import admin
from django.urls import include, path

from . import views

oidc_patterns = (
    [
        path(".well-known/openid-configuration", views.discovery, name="discovery"),
        path("authorize", views.authorize, name="authorize"),
        path("authorize/resume/<str:pending_id>", views.authorize_resume, name="authorize-resume"),
        path("token", views.TokenView.as_view(), name="token"),
        path("userinfo", views.UserInfo.as_view(), name="userinfo"),
        path("jwks", views.jwks, name="jwks"),
        path("revoke", views.Revoke.as_view(), name="revoke"),
        path("introspect", views.introspect, name="introspect"),
        path("logout", views.end_session, name="end-session"),
        path("logout/confirm", views.end_session_confirm, name="end-session-confirm"),
        path("logged-out", views.logged_out, name="logged-out"),
        path("demo/callback", views.demo_callback, name="demo-callback"),
    ],
    "oidc",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("brand.css", views.brand_css, name="brand-css"),
    path("", include(oidc_patterns)),
    path("", include("consent.urls")),
    path("account/mfa/", include("accounts.mfa.urls")),
    path("account/passkeys/", include("accounts.passkeys.urls")),
    path("account/email-sign-in/", include("accounts.passwordless.urls")),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
