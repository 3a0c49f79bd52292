from django.urls import path

from . import views

app_name = "profiling"

urlpatterns = [
    path("question/<str:pending_id>/", views.question, name="question"),
    path("question/<str:pending_id>/return/", views.question_before_return, name="question-return"),
    path("required/<str:pending_id>/", views.required, name="required"),
]
