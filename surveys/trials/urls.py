from django.urls import path

from surveys.trials import views

app_name = "trials"

urlpatterns = [
    path("s/<str:public_id>/", views.study_start, name="start"),
    path("s/<str:public_id>/preview", views.study_preview, name="preview"),
    path("p/<str:token>/", views.participant_page, name="participant"),
    path("p/<str:token>/consent", views.participant_consent, name="consent"),
    path("p/<str:token>/device", views.participant_device, name="device"),
    path("p/<str:token>/viewing", views.participant_viewing, name="viewing"),
    path("p/<str:token>/trials", views.participant_trials, name="trials"),
    path("p/<str:token>/responses", views.participant_respond, name="respond"),
    path("p/<str:token>/trials/<str:trial_id>/unavailable", views.trial_unavailable, name="unavailable"),
    path("p/<str:token>/finish", views.participant_finish, name="finish"),
    path("p/<str:token>/img/<str:trial_id>/<str:slot>", views.trial_image, name="image"),
]
