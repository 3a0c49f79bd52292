from django.contrib import admin
from django.urls import include, path

from .views import authorize, backchannel, discovery, favicon, logout, pages

oidc_patterns = (
    [
        path(".well-known/openid-configuration", discovery.discovery, name="discovery"),
        path("authorize", authorize.authorize, name="authorize"),
        path(
            "authorize/resume/<str:pending_id>", authorize.authorize_resume, name="authorize-resume"
        ),
        path("token", backchannel.TokenView.as_view(), name="token"),
        path("userinfo", backchannel.UserInfo.as_view(), name="userinfo"),
        path("jwks", discovery.jwks, name="jwks"),
        path("revoke", backchannel.Revoke.as_view(), name="revoke"),
        path("introspect", backchannel.introspect, name="introspect"),
        path("logout", logout.end_session, name="end-session"),
        path("logout/confirm", logout.end_session_confirm, name="end-session-confirm"),
        path("logged-out", logout.logged_out, name="logged-out"),
        path("demo/callback", pages.demo_callback, name="demo-callback"),
    ],
    "oidc",
)

# Django's error views without their CSRF decorator (ciam/views/errors.py).
handler400 = "ciam.views.errors.bad_request"
handler403 = "ciam.views.errors.permission_denied"
handler404 = "ciam.views.errors.page_not_found"
handler500 = "ciam.views.errors.server_error"

urlpatterns = [
    path("", pages.home, name="home"),
    path("brand.css", pages.brand_css, name="brand-css"),
    path("favicon.ico", favicon.favicon, name="favicon"),
    path("", include("ciam.ops.urls")),
    path("", include(oidc_patterns)),
    path("", include("consent.urls")),
    path("api/consent/", include("consent.urls_api")),
    path("api/profile/", include("profiling.urls_api")),
    path("api/interactions/", include("interactions.urls")),
    path("api/customers/", include("interactions.urls_customers")),
    path("api/events/", include("webhooks.urls")),
    path("api/personalization/", include("personalization.urls_api")),
    path("", include("ssf.urls")),
    path("profile/", include("profiling.urls")),
    path("account/profile/", include("profiling.urls_account")),
    path("account/phone/", include("accounts.phone.urls")),
    path("account/", include("accounts.portal.urls")),
    path("account/mfa/", include("accounts.mfa.urls")),
    path("account/passkeys/", include("accounts.passkeys.urls")),
    path("account/privacy/", include("accounts.privacy.urls")),
    path("account/interests/", include("personalization.urls_account")),
    path("account/sessions/", include("sessions_ctx.urls")),
    path("account/confirm/", include("accounts.stepup.urls")),
    path("account/email-sign-in/", include("accounts.passwordless.urls")),
    # Social login's own page keeps the path it had under email sign-in (links in flight).
    path("account/email-sign-in/social/", include("accounts.social.urls")),
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/monitor/", include("console.monitor.urls")),
    path("admin/", admin.site.urls),
]
