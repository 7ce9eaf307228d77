from django.contrib import admin
from django.urls import include, path

from config.api import api
from config.favicon import favicon
from config.metrics import metrics

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("accounts/", include("accounts.urls")),
    path("collections/", include("accounts.collections_urls")),
    path("", include("ingestion.urls")),
    path("", include("retrieval.urls")),
    path("", include("chat.urls")),
    path("", include("feedback.urls")),
    path("", include("operations.urls")),
]

# Failures outside views (and Django's own 400s) answer JSON on the API paths too (config.errors).
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
