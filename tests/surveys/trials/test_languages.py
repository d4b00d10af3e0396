"""A study's language: its participant pages are in it whatever the browser asks for (a German study
for an English browser, an English study for a German one), the runner gets its words in it, the
questions' refusals and the end page are in it, withdrawing is offered and done in it, a new study's
texts are written in it, and the API sets and reports it. The busy page, and the withdrawal code page
until a code names a study, follow the browser."""

import json

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from surveys.studies.models import Study
from surveys.studies.paradigms import PARADIGMS
from surveys.studies.services import paradigm_texts
from surveys.trials.models import DataErasure, Participant
from tests.surveys import factories
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db

ENGLISH_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}
GERMAN_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9"}
WITHDRAW_CODE_PAGE = "/p/withdraw/"
GERMAN_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
                 "November", "Dezember")
AGE = {"questions_before": [{"id": "age", "kind": "number", "prompt": "Wie alt sind Sie?", "min": 18, "max": 100}]}


def start(client, study) -> tuple[str, Participant]:
    """The start page's text, then the participant its button makes."""
    page = client.get(reverse("trials:start", args=[study.public_id])).content.decode()
    started = client.post(reverse("trials:start", args=[study.public_id]))
    return page, Participant.objects.get(token=started["Location"].rstrip("/").split("/")[-1])


def page_of(client, participant) -> str:
    return client.get(reverse("trials:participant", args=[participant.token])).content.decode()


def runner_text(page: str) -> dict:
    config = page.split('<script id="iris-config" type="application/json">')[1].split("</script>")[0]
    return json.loads(config)


def test_a_german_study_shows_german_pages_to_an_english_browser():
    study = factories.study(factories.researcher(), n_items=2, language="de")
    client = Client(**ENGLISH_BROWSER)

    welcome, participant = start(client, study)
    consent = page_of(client, participant)
    client.post(reverse("trials:consent", args=[participant.token]), {"agree": "yes"})
    config = runner_text(page_of(client, participant))

    assert '<html lang="de">' in welcome and "<h1>Willkommen</h1>" in welcome and ">Beginnen</button>" in welcome
    assert "Welcome" not in welcome and "Begin<" not in welcome
    assert "<h1>Einwilligung</h1>" in consent and "Ich stimme zu und möchte teilnehmen" in consent
    assert "Wir laden Sie ein" in consent and "I agree" not in consent  # its consent text too, written in German
    assert config["prompt"] == "Welches der beiden unteren Bilder ist dem oberen Bild ähnlicher?"
    assert (config["text"]["progress"], config["text"]["continue"], config["text"]["option"]) == (
        "Fortschritt", "Weiter", "Option {n}")
    assert config["text"]["refusals"]["phone"].startswith("Diese Studie kann nicht auf einem Smartphone")


def test_an_english_study_stays_english_for_a_german_browser():
    study = factories.study(factories.researcher(), n_items=2)
    client = Client(**GERMAN_BROWSER)

    welcome, participant = start(client, study)
    consent = page_of(client, participant)
    client.post(reverse("trials:consent", args=[participant.token]), {"agree": "yes"})
    config = runner_text(page_of(client, participant))

    assert '<html lang="en">' in welcome and "<h1>Welcome</h1>" in welcome and "Willkommen" not in welcome
    assert "I agree and want to take part" in consent and "Einwilligung" not in consent
    assert (config["text"]["progress"], config["text"]["break"]) == ("Progress", "Time for a short break.")


def test_the_end_page_and_the_closed_page_of_a_german_study_are_german():
    study = factories.study(factories.researcher(), n_items=2, language="de")
    client = Client(**ENGLISH_BROWSER)
    _, participant = start(client, study)

    client.post(reverse("trials:consent", args=[participant.token]), {"agree": "no"})
    declined = page_of(client, participant)
    Study.objects.filter(pk=study.pk).update(status="closed")
    closed = Client(**ENGLISH_BROWSER).post(reverse("trials:start", args=[study.public_id]))

    assert "<h1>Vielen Dank</h1>" in declined and "Sie haben sich entschieden, nicht teilzunehmen." in declined
    assert "Ihr Code lautet:" in declined and "Your code" not in declined
    assert closed.status_code == 410 and "<h1>Diese Studie ist geschlossen</h1>" in closed.content.decode()


def test_a_participant_back_on_another_device_is_told_in_german_where_to_continue():
    study = factories.study(factories.researcher(), n_items=2, language="de")
    url = reverse("trials:start", args=[study.public_id])
    first = Client()
    token = first.post(url, {"PROLIFIC_PID": "wieder-da"})["Location"].rstrip("/").split("/")[-1]
    first.post(reverse("trials:consent", args=[token]), {"agree": "yes"})

    elsewhere = Client(**ENGLISH_BROWSER).post(url, {"PROLIFIC_PID": "wieder-da"})

    text = elsewhere.content.decode()
    assert elsewhere.status_code == 409 and "<h1>Sie haben diese Studie bereits begonnen</h1>" in text
    assert "Diese Studie wurde mit Ihrer Prolific-ID in einem anderen Browser" in text
    assert "über die Nachrichten von Prolific an die Forschenden" in text


def test_a_participant_of_a_german_study_is_offered_withdrawal_and_withdraws_in_german():
    study = factories.study(factories.researcher(), n_items=2, language="de")
    participant = planting.through_endpoints(study, pid="zurueck-1")
    browser = Client(**ENGLISH_BROWSER)

    end_page = page_of(browser, participant)
    withdrawn = browser.post(reverse("trials:withdraw", args=[participant.token]), {"withdraw": "yes"}).content.decode()

    assert "<h2>Falls Sie es sich anders überlegen</h2>" in end_page and ">Jetzt widerrufen</button>" in end_page
    assert "Ich widerrufe meine Teilnahme an dieser Studie." in end_page
    assert "If you change your mind" not in end_page and "Withdraw now" not in end_page
    assert "<h2>Ihre Teilnahme ist widerrufen</h2>" in withdrawn and "die Vorgangsnummer" in withdrawn
    assert "Your answers are withdrawn" not in withdrawn and "Nothing that names you" not in withdrawn
    assert not Participant.objects.filter(pk=participant.pk).exists()


def test_the_code_page_follows_the_browser_until_the_code_names_a_german_study():
    study = factories.study(factories.researcher(), n_items=2, language="de")
    participant = planting.through_endpoints(study, pid="zurueck-2")
    english, german = Client(**ENGLISH_BROWSER), Client(**GERMAN_BROWSER)
    _, running = start(english, study)
    english.post(reverse("trials:consent", args=[running.token]), {"agree": "yes"})  # and still at its trials

    form_en, form_de = (client.get(WITHDRAW_CODE_PAGE).content.decode() for client in (english, german))
    unknown = english.post(WITHDRAW_CODE_PAGE, {"code": "ZZZZ-ZZZZ-ZZZZ", "withdraw": "yes"}).content.decode()
    unknown_de = german.post(WITHDRAW_CODE_PAGE, {"code": "ZZZZ-ZZZZ-ZZZZ", "withdraw": "yes"}).content.decode()
    unticked = english.post(WITHDRAW_CODE_PAGE, {"code": participant.withdrawal_code}).content.decode()
    too_soon = english.post(WITHDRAW_CODE_PAGE, {"code": running.withdrawal_code, "withdraw": "yes"}).content.decode()
    first = english.post(WITHDRAW_CODE_PAGE, {"code": participant.withdrawal_code, "withdraw": "yes"}).content.decode()
    again = english.post(WITHDRAW_CODE_PAGE, {"code": participant.withdrawal_code, "withdraw": "yes"}).content.decode()

    assert "<h1>Withdraw from a study</h1>" in form_en and "Widerrufscode" not in form_en
    assert '<html lang="de">' in form_de and "<h1>Teilnahme an einer Studie widerrufen</h1>" in form_de
    assert ">Widerrufen</button>" in form_de and ">Withdraw</button>" not in form_de
    assert "No participation has this withdrawal code." in unknown
    assert "Zu diesem Widerrufscode gibt es keine Teilnahme." in unknown_de
    assert "Setzen Sie das Häkchen" in unticked and "Tick the box" not in unticked
    assert "Die Teilnahme kann erst widerrufen werden, wenn die Sitzung beendet ist." in too_soon
    assert "<h1>Ihre Teilnahme ist widerrufen</h1>" in first and "Your answers" not in first
    withdrawn_on = timezone.localdate(DataErasure.objects.get().created_at)
    assert "<h1>Bereits widerrufen</h1>" in again and "Already withdrawn" not in again
    assert f"am {withdrawn_on.day}. {GERMAN_MONTHS[withdrawn_on.month - 1]} {withdrawn_on.year} widerrufen" in again


def test_the_code_page_speaks_the_language_the_participant_read_the_study_in():
    study = factories.study(factories.researcher(), n_items=2, language="de")
    participant = planting.through_endpoints(study, pid="zurueck-4")
    Study.objects.filter(pk=study.pk).update(language="en")  # later participants read English; this one read German

    withdrawn = Client(**ENGLISH_BROWSER).post(WITHDRAW_CODE_PAGE, {"code": participant.withdrawal_code, "withdraw": "yes"})

    assert "<h1>Ihre Teilnahme ist widerrufen</h1>" in withdrawn.content.decode()


def test_a_refused_answer_is_explained_in_the_studys_language():
    study = factories.study(factories.researcher(), n_items=2, language="de", design=AGE)
    client = Client(**ENGLISH_BROWSER)
    _, participant = start(client, study)
    client.post(reverse("trials:consent", args=[participant.token]), {"agree": "yes"})

    refused = client.post(reverse("trials:answers", args=[participant.token]),
                          json.dumps({"phase": "before", "answers": {"age": 150}}), content_type="application/json")

    assert refused.status_code == 400
    assert refused.json()["error"] == "Die Antwort auf age muss eine Zahl von 18 bis 100 sein."


def test_the_busy_page_which_knows_no_study_follows_the_browser(settings):
    study = factories.study(factories.researcher(), n_items=2)
    settings.IRIS_ADDRESS_RATE = "1/m"
    cache.clear()
    url = reverse("trials:start", args=[study.public_id])

    Client(**GERMAN_BROWSER).get(url)
    german = Client(**GERMAN_BROWSER).get(url)
    english = Client(**ENGLISH_BROWSER).get(url)
    cache.clear()

    assert german.status_code == english.status_code == 429
    assert "<h1>Einen Moment bitte</h1>" in german.content.decode() and "Zu viele Anfragen" in german.content.decode()
    assert "<h1>One moment, please</h1>" in english.content.decode()


@pytest.mark.parametrize("paradigm", list(PARADIGMS))
def test_a_new_german_study_gets_every_text_of_its_paradigm_in_german(paradigm):
    english, german = (paradigm_texts(paradigm=paradigm, language=code) for code in ("en", "de"))

    assert set(german) == {"consent_text", "instructions_html", "prompt", "scale_low_label", "scale_high_label"}
    assert [name for name, text in english.items() if text and german[name] == text] == []
    assert [name for name, text in english.items() if bool(text) != bool(german[name])] == []
    assert english["prompt"] == PARADIGMS[paradigm].prompt and "{task}" not in german["consent_text"]


def test_the_api_makes_a_german_study_and_switches_it_to_english(researcher, api_as):
    job = factories.finished_job(researcher, n_items=4)
    api = api_as(researcher)

    made = api.post("/api/studies/", {"name": "de", "jobs": [job.pk], "language": "de"}, format="json")
    unknown = api.post("/api/studies/", {"name": "xx", "jobs": [job.pk], "language": "xx"}, format="json")
    switched = api.patch(f"/api/studies/{made.json()['id']}/design/", {"language": "en"}, format="json")

    assert made.status_code == 201 and made.json()["language"] == "de"
    assert unknown.status_code == 400 and "language" in unknown.json()
    assert switched.status_code == 200 and switched.json()["language"] == "en"
    study = Study.objects.get(name="de")
    assert (study.language, study.design_version) == ("en", 2)
    assert study.prompt.startswith("Welches")  # the texts are the researcher's: not rewritten
