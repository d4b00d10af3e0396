"""Scoring routes: the REST endpoints under /api/ and the researcher's results pages under /researcher/."""

from django.urls import path

from surveys.scoring import views

api_urlpatterns = [
    path("studies/<int:study_id>/scores/", views.StudyScoresApi.as_view(), name="api-study-scores"),
    path("studies/<int:study_id>/report/", views.StudyReportApi.as_view(), name="api-study-report"),
    path("studies/<int:study_id>/responses.csv", views.StudyResponsesCsvApi.as_view(), name="api-study-responses"),
    path("studies/<int:study_id>/stimuli.csv", views.StudyStimuliCsvApi.as_view(), name="api-study-stimuli"),
    path("studies/<int:study_id>/exclusions/overrides/", views.StudyExclusionOverrideApi.as_view(),
         name="api-study-exclusion-override"),
]

researcher_urlpatterns = [
    path("studies/<int:study_id>/results/", views.study_results, name="scoring-study-results"),
    path("studies/<int:study_id>/plots/<str:name>.<str:fmt>", views.study_plot, name="scoring-study-plot"),
    path("studies/<int:study_id>/responses.csv", views.study_responses_csv, name="scoring-study-responses"),
    path("studies/<int:study_id>/stimuli.csv", views.study_stimuli_csv, name="scoring-study-stimuli"),
    path("studies/<int:study_id>/exclusions/override", views.study_exclusion_override,
         name="scoring-study-exclusion-override"),
    path("studies/<int:study_id>/exclusions/apply", views.study_exclusions_apply,
         name="scoring-study-exclusions-apply"),
]
