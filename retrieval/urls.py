from django.urls import path

from retrieval import views

urlpatterns = [path("lab/", views.lab, name="retrieval_lab")]
