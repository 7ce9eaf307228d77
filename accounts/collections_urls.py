from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.collections_page, name="collections"),
    path("<slug:slug>/", views.collection_page, name="collection"),
    path("<slug:slug>/settings", views.collection_settings, name="collection_settings"),
    path("<slug:slug>/members", views.member_add, name="member_add"),
    path("<slug:slug>/members/<int:membership_id>", views.member_change, name="member_change"),
]
