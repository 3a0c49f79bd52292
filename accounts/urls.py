from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="account_login"),
    path("signup/", views.SignupView.as_view(), name="account_signup"),
    path("reauthenticate/", views.ReauthenticateView.as_view(), name="account_reauthenticate"),
    path("email/", views.EmailView.as_view(), name="account_email"),
]
