"""The researcher's routes: the REST API (mounted under /api/) and the pages admin lacks (under /researcher/)."""

from django.urls import include, path

from surveys.console import api, api_generation, api_notifications, api_prolific, api_studies, views

# One study's routes, under studies/<study_id>/ (api_urlpatterns, below).
study_api_urlpatterns = [
    path("", api_studies.StudyDetailApi.as_view(), name="api-study"),
    path("design/", api.StudyDesignApi.as_view(), name="api-study-design"),
    path("open/", api_studies.StudyStatusApi.as_view(), {"status_to": "open"}, name="api-study-open"),
    path("close/", api_studies.StudyStatusApi.as_view(), {"status_to": "closed"}, name="api-study-close"),
    path("clone/", api_studies.StudyCloneApi.as_view(), name="api-study-clone"),
    path("versions/", api_studies.StudyVersionsApi.as_view(), name="api-study-versions"),
    path("scores/", api.StudyScoresApi.as_view(), name="api-study-scores"),
    path("report/", api.StudyReportApi.as_view(), name="api-study-report"),
    path("responses.csv", api.StudyExportApi.as_view(), {"export": "responses"}, name="api-study-responses"),
    path("stimuli.csv", api.StudyExportApi.as_view(), {"export": "stimuli"}, name="api-study-stimuli"),
    path("participants/", api_studies.ParticipantListApi.as_view(), name="api-study-participants"),
    path("participants/<int:participant_id>/", include([
        path("", api_studies.ParticipantDetailApi.as_view(), name="api-study-participant"),
        path("erase/", api_studies.ParticipantEraseApi.as_view(), name="api-study-participant-erase"),
    ])),
    path("erasures/", api_studies.StudyErasuresApi.as_view(), name="api-study-erasures"),
    path("exclusions/", include([
        path("", api_studies.StudyExclusionsApi.as_view(), name="api-study-exclusions"),
        path("rules/", api_studies.ExclusionRulesApi.as_view(), name="api-study-exclusion-rules"),
        path("overrides/", api_studies.StudyOverridesApi.as_view(), name="api-study-exclusion-override"),
    ])),
    path("prolific/", include([
        path("draft/", api_prolific.ProlificDraftApi.as_view(), name="api-prolific-draft"),
        path("publish/", api_prolific.ProlificPublishApi.as_view(), name="api-prolific-publish"),
        path("review/", api_prolific.ProlificReviewApi.as_view(), name="api-prolific-review"),
    ])),
]

api_urlpatterns = [
    path("models/", api.ModelListApi.as_view(), name="api-models"),
    path("models/<int:model_id>/", api_generation.ModelDetailApi.as_view(), name="api-model"),
    path("target-sets/", api_generation.TargetSetListApi.as_view(), name="api-target-sets"),
    path("target-sets/<int:target_set_id>/", api_generation.TargetSetDetailApi.as_view(), name="api-target-set"),
    path("jobs/", api.JobListApi.as_view(), name="api-jobs"),
    path("jobs/<int:job_id>/", api.JobDetailApi.as_view(), name="api-job"),
    path("jobs/<int:job_id>/cancel/", api.JobCancelApi.as_view(), name="api-job-cancel"),
    path("jobs/<int:job_id>/stimuli/", api_generation.JobStimuliApi.as_view(), name="api-job-stimuli"),
    path("stimuli/<int:stimulus_id>/", api_generation.StimulusDetailApi.as_view(), name="api-stimulus"),
    path("stimuli/<int:stimulus_id>/<str:role>.png", api_generation.StimulusImageApi.as_view(),
         name="api-stimulus-image"),
    path("stimulus-sets/", api_generation.StimulusSetListApi.as_view(), name="api-stimulus-sets"),
    path("stimulus-sets/<int:job_id>/", api_generation.StimulusSetDetailApi.as_view(), name="api-stimulus-set"),
    path("notifications/", api_notifications.NotificationSettingsApi.as_view(), name="api-notifications"),
    path("studies/", api_studies.StudyListApi.as_view(), name="api-studies"),
    path("studies/<int:study_id>/", include(study_api_urlpatterns)),
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
