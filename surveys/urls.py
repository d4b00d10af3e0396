from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from surveys import health
from surveys.console import urls as console

admin.site.site_header = "IRIS: identically represented input surveys"
admin.site.site_title = "IRIS"

SWAGGER_CDN = "https://cdn.jsdelivr.net"

api = [
    *console.api_urlpatterns,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI's page comes from its CDN and keeps a <style> of its own; its start-up script is a
    # separate request (the split view), so the page needs no inline script.
    path("docs/", csp_update({"script-src": SWAGGER_CDN, "style-src": [SWAGGER_CDN, UNSAFE_INLINE],
                              "img-src": SWAGGER_CDN})(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
         name="api-docs"),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("researcher/", include(console.researcher_urlpatterns)),
    path("", include("surveys.trials.urls")),
]
