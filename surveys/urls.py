from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from surveys import health
from surveys.console import urls as console

admin.site.site_header = "IRIS: identically represented input surveys"
admin.site.site_title = "IRIS"

api = [
    *console.api_urlpatterns,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("researcher/", include(console.researcher_urlpatterns)),
    path("", include("surveys.trials.urls")),
]
