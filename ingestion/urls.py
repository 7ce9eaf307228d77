from django.urls import path

from ingestion import views

urlpatterns = [
    path("", views.home, name="home"),
    path("documents/", views.documents_page, name="documents"),
    path("documents/<int:document_id>/", views.document_page, name="document"),
    path("documents/<int:document_id>/file", views.document_file, name="document_file"),
]
