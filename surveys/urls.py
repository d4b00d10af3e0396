from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from surveys.generation import api as generation_api
from surveys.generation import views as generation_views
from surveys.scoring import urls as scoring_urls

admin.site.site_header = "IRIS: identically represented input surveys"
admin.site.site_title = "IRIS"

api = [
    path("models/", generation_api.ModelListApi.as_view(), name="api-models"),
    path("jobs/", generation_api.JobListApi.as_view(), name="api-jobs"),
    path("jobs/<int:job_id>/", generation_api.JobDetailApi.as_view(), name="api-job"),
    path("jobs/<int:job_id>/cancel/", generation_api.JobCancelApi.as_view(), name="api-job-cancel"),
    *scoring_urls.api_urlpatterns,
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("researcher/jobs/<int:job_id>/progress", generation_views.job_progress, name="researcher-job-progress"),
    path("researcher/files/<path:name>", generation_views.stored_file, name="researcher-file"),
    path("researcher/", include(scoring_urls.researcher_urlpatterns)),
    path("", include("surveys.trials.urls")),
]
