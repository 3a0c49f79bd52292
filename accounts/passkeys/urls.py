from django.urls import path

from . import views

app_name = "passkeys"
urlpatterns = [
    path("", views.manage, name="manage"),
    path("<int:passkey_id>/rename/", views.rename, name="rename"),
    path("<int:passkey_id>/remove/", views.remove, name="remove"),
    path("<int:passkey_id>/reenable/", views.reenable, name="reenable"),
    path("register/begin", views.register_begin, name="register-begin"),
    path("register/complete", views.register_complete, name="register-complete"),
    path("authenticate/begin", views.authenticate_begin, name="authenticate-begin"),
    path("authenticate/complete", views.authenticate_complete, name="authenticate-complete"),
    path("confirm/complete", views.confirm_complete, name="confirm-complete"),
    path("offer/<str:pending_id>/", views.offer, name="offer"),
]
