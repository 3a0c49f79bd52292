from django.urls import path

from . import views

app_name = "consent"
urlpatterns = [
    path("consent/<str:pending_id>/", views.ask, name="ask"),
    path("account/consents/", views.account, name="account"),
    path("account/consents/receipts/<str:receipt_id>.jwt", views.receipt, name="receipt"),
]
