from django.urls import path

from chat import openai_compat, views

urlpatterns = [
    path("chat/", views.chat_page, name="chat"),
    path("v1/models", openai_compat.models, name="openai_models"),
    path("v1/chat/completions", openai_compat.chat_completions, name="openai_chat_completions"),
]
