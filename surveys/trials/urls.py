from django.urls import path, register_converter

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

urlpatterns = [
    path("s/<iris_token:public_id>/", views.study_start, name="start"),
    path("s/<iris_token:public_id>/preview", views.study_preview, name="preview"),
    # Before the session pages: "withdraw" would otherwise be read as a session token.
    path("p/withdraw/", views.withdraw_with_code, name="withdraw-code"),
    path("p/<iris_token:token>/", views.participant_page, name="participant"),
    path("p/<iris_token:token>/consent", views.participant_consent, name="consent"),
    path("p/<iris_token:token>/device", views.participant_device, name="device"),
    path("p/<iris_token:token>/viewing", views.participant_viewing, name="viewing"),
    path("p/<iris_token:token>/trials", views.participant_trials, name="trials"),
    path("p/<iris_token:token>/answers", views.participant_answers, name="answers"),
    path("p/<iris_token:token>/responses", views.participant_respond, name="respond"),
    path("p/<iris_token:token>/trials/<iris_token:trial_id>/unavailable", views.trial_unavailable, name="unavailable"),
    path("p/<iris_token:token>/finish", views.participant_finish, name="finish"),
    path("p/<iris_token:token>/withdraw", views.participant_withdraw, name="withdraw"),
    path("p/<iris_token:token>/img/<iris_token:trial_id>/<iris_slot:slot>", views.trial_image, name="image"),
]
