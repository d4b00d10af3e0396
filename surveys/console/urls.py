"""The researcher's routes: the REST API (mounted under /api/) and the pages admin lacks (under /researcher/)."""

from django.urls import path

from surveys.console import api, api_generation, api_prolific, api_studies, views

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
    path("studies/<int:study_id>/exclusions/overrides/", api_studies.StudyOverridesApi.as_view(),
         name="api-study-exclusion-override"),
    path("studies/<int:study_id>/prolific/draft/", api_prolific.ProlificDraftApi.as_view(), name="api-prolific-draft"),
    path("studies/<int:study_id>/prolific/publish/", api_prolific.ProlificPublishApi.as_view(),
         name="api-prolific-publish"),
    path("studies/<int:study_id>/prolific/review/", api_prolific.ProlificReviewApi.as_view(),
         name="api-prolific-review"),
    *[  # the rest of the researcher's journey (issue 9): target sets, IRIs, studies, participants, rules
        path("models/<int:model_id>/", api_generation.ModelDetailApi.as_view(), name="api-model"),
        path("target-sets/", api_generation.TargetSetListApi.as_view(), name="api-target-sets"),
        path("target-sets/<int:target_set_id>/", api_generation.TargetSetDetailApi.as_view(), name="api-target-set"),
        path("jobs/<int:job_id>/stimuli/", api_generation.JobStimuliApi.as_view(), name="api-job-stimuli"),
        path("stimuli/<int:stimulus_id>/", api_generation.StimulusDetailApi.as_view(), name="api-stimulus"),
        path("stimuli/<int:stimulus_id>/<str:role>.png", api_generation.StimulusImageApi.as_view(),
             name="api-stimulus-image"),
        path("studies/", api_studies.StudyListApi.as_view(), name="api-studies"),
        path("studies/<int:study_id>/", api_studies.StudyDetailApi.as_view(), name="api-study"),
        path("studies/<int:study_id>/open/", api_studies.StudyStatusApi.as_view(), {"status_to": "open"},
             name="api-study-open"),
        path("studies/<int:study_id>/close/", api_studies.StudyStatusApi.as_view(), {"status_to": "closed"},
             name="api-study-close"),
        path("studies/<int:study_id>/participants/", api_studies.ParticipantListApi.as_view(),
             name="api-study-participants"),
        path("studies/<int:study_id>/participants/<int:participant_id>/", api_studies.ParticipantDetailApi.as_view(),
             name="api-study-participant"),
        path("studies/<int:study_id>/exclusions/", api_studies.StudyExclusionsApi.as_view(),
             name="api-study-exclusions"),
        path("studies/<int:study_id>/exclusions/rules/", api_studies.ExclusionRulesApi.as_view(),
             name="api-study-exclusion-rules"),
    ],
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
