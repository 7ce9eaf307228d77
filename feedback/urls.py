from django.urls import path

from feedback import views

urlpatterns = [
    path("review/", views.dashboard, name="feedback_dashboard"),
    path("review/votes/", views.vote_list_page, name="feedback_votes"),
    path("review/answers/<int:answer_id>/", views.answer_detail, name="feedback_answer"),
]
