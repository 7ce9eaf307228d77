from django.urls import path

from operations import views

urlpatterns = [
    path("review/operations/", views.operations, name="operations"),
]
