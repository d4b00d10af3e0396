from django.urls import include, path, register_converter

from surveys.trials import views


class UrlTokenConverter:
    """A URL-safe token (a session's, a trial's, a study's public id): anything else in its place is
    not a page of ours (404 before any view or query runs)."""

    regex = "[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class ImageSlotConverter(UrlTokenConverter):
    """A screen slot: q (the query) or an option's index."""

    regex = "q|[0-9]{1,2}"


register_converter(UrlTokenConverter, "iris_token")
register_converter(ImageSlotConverter, "iris_slot")

app_name = "trials"

# A participant's session, under p/<token>/: the page, and the JSON API the runner on it calls.
session_urlpatterns = [
    path("", views.participant_page, name="participant"),
    path("consent", views.participant_consent, name="consent"),
    path("device", views.participant_device, name="device"),
    path("viewing", views.participant_viewing, name="viewing"),
    path("trials", views.participant_trials, name="trials"),
    path("answers", views.participant_answers, name="answers"),
    path("responses", views.participant_respond, name="respond"),
    path("trials/<iris_token:trial_id>/unavailable", views.trial_unavailable, name="unavailable"),
    path("finish", views.participant_finish, name="finish"),
    path("withdraw", views.participant_withdraw, name="withdraw"),
    path("img/<iris_token:trial_id>/<iris_slot:slot>", views.trial_image, name="image"),
]

urlpatterns = [
    path("s/<iris_token:public_id>/", views.study_start, name="start"),
    path("s/<iris_token:public_id>/preview", views.study_preview, name="preview"),
    # Before the session pages: "withdraw" would otherwise be read as a session token.
    path("p/withdraw/", views.withdraw_with_code, name="withdraw-code"),
    path("p/<iris_token:token>/", include(session_urlpatterns)),
]
