"""The researcher's routes: the REST API (mounted under /api/) and the pages admin lacks (under /researcher/)."""

from django.urls import path

from surveys.console import api, views

api_urlpatterns = [
    path("models/", api.ModelListApi.as_view(), name="api-models"),
    path("jobs/", api.JobListApi.as_view(), name="api-jobs"),
    path("jobs/<int:job_id>/", api.JobDetailApi.as_view(), name="api-job"),
    path("jobs/<int:job_id>/cancel/", api.JobCancelApi.as_view(), name="api-job-cancel"),
    path("studies/<int:study_id>/scores/", api.StudyScoresApi.as_view(), name="api-study-scores"),
    path("studies/<int:study_id>/report/", api.StudyReportApi.as_view(), name="api-study-report"),
    path("studies/<int:study_id>/responses.csv", api.StudyExportApi.as_view(), {"export": "responses"},
         name="api-study-responses"),
    path("studies/<int:study_id>/stimuli.csv", api.StudyExportApi.as_view(), {"export": "stimuli"},
         name="api-study-stimuli"),
    path("studies/<int:study_id>/design/", api.StudyDesignApi.as_view(), name="api-study-design"),
    path("studies/<int:study_id>/exclusions/overrides/", api.StudyExclusionOverrideApi.as_view(),
         name="api-study-exclusion-override"),
]

researcher_urlpatterns = [
    path("jobs/<int:job_id>/progress", views.job_progress, name="researcher-job-progress"),
    path("files/<path:name>", views.stored_file, name="researcher-file"),
    path("studies/<int:study_id>/results/", views.study_results, name="scoring-study-results"),
    path("studies/<int:study_id>/plots/<str:name>.<str:fmt>", views.study_plot, name="scoring-study-plot"),
    path("studies/<int:study_id>/responses.csv", views.study_export, {"export": "responses"},
         name="scoring-study-responses"),
    path("studies/<int:study_id>/stimuli.csv", views.study_export, {"export": "stimuli"},
         name="scoring-study-stimuli"),
    path("studies/<int:study_id>/exclusions/override", views.study_exclusion_override,
         name="scoring-study-exclusion-override"),
    path("studies/<int:study_id>/exclusions/apply", views.study_exclusions_apply,
         name="scoring-study-exclusions-apply"),
]
