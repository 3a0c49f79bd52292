from django.urls import path

from . import views

app_name = "mfa"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("totp/", views.totp_enrol, name="totp"),
    path("totp/remove/", views.totp_remove, name="totp-remove"),
    path("recovery-codes/", views.recovery_codes, name="recovery-codes"),
    path("forget-browser/", views.forget_browser, name="forget-browser"),
    path("verify/", views.verify_session, name="verify-session"),
    path("verify/<str:pending_id>/", views.verify, name="verify"),
]
