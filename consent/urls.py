from django.urls import path

from . import views

app_name = "consent"
urlpatterns = [
    path("consent/<str:pending_id>/", views.ask, name="ask"),
    path("account/consents/", views.account, name="account"),
    path("account/apps/", views.apps, name="apps"),
    path("account/apps/<str:app_id>/revoke/", views.app_revoke, name="app_revoke"),
    path("account/consents/receipts/<str:receipt_id>.jwt", views.receipt, name="receipt"),
]
