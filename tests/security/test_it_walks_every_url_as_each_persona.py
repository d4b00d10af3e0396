"""Property: every URL of the URLconf, its path parameters filled with researcher A's objects, gives
each other persona only what it owns. Walked as a stranger, a participant (of B's study), a signed-in
non-staff account and researcher B (given admin's token permissions too), with GET and with an empty
POST: no answer is a 5xx, no 2xx carries anything of A's, and the API answers researchers only.

Participant URLs (/p/<token>/...) carry the participant's secret: the walk fills them with the
participant persona's own token and A's trial ids, so a participant reaching A's trials through their
own session is what is tested. A's own walk (GET) is the control: the same fills reach A's data."""

import json
import re

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token

from surveys.scoring import services as scoring
from surveys.studies.models import Study
from surveys.trials.models import Participant
from tests.surveys import factories

pytestmark = pytest.mark.django_db
SECRETS = {"study": "A-secret-study", "model": "A-secret-model", "targets": "A-secret-targets", "pid": "A-secret-pid"}
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def url_patterns(patterns=None, prefix=""):
    """(route with its parameters, url name, default kwargs) of every endpoint, includes flattened."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from url_patterns(entry.url_patterns, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry.name


@pytest.fixture
def world(researcher_a, researcher_b, settings):
    """A's study with a participant who answered, A's model with weights, A's token and exclusion rules;
    a participant of B's study."""
    settings.RATELIMIT_ENABLE = False
    study = factories.study(researcher_a, n_items=4)
    Study.objects.filter(pk=study.pk).update(name=SECRETS["study"])
    job = study.jobs.get()
    job.model.name = SECRETS["model"]
    job.model.weights.save("weights.pt", ContentFile(b"A's weights"))
    job.target_set.name = SECRETS["targets"]
    job.target_set.save()
    a_participant = enter(Client(), study, {"PROLIFIC_PID": SECRETS["pid"], "STUDY_ID": "s", "SESSION_ID": "x"})
    answer_first_trial(Client(), a_participant)
    scoring.exclusion_rules_set(study=study, min_median_rt_ms=100)
    b_study = factories.study(researcher_b, n_items=4)
    participant_client = Client()
    b_participant = enter(participant_client, b_study, {})
    researcher_b.user_permissions.add(*Permission.objects.filter(content_type__app_label="authtoken"))
    return {"a": researcher_a, "study": study, "job": job, "participant": a_participant, "trial": a_participant.trials.first(),
            "token": Token.objects.create(user=researcher_a).key, "b_participant": b_participant,
            "participant_client": participant_client}


def enter(client: Client, study, params: dict) -> Participant:
    token = client.post(reverse("trials:start", args=[study.public_id]), params)["Location"].rstrip("/").split("/")[-1]
    client.post(reverse("trials:consent", args=[token]), {"agree": "yes"})
    return Participant.objects.get(token=token)


def answer_first_trial(client: Client, participant) -> None:
    trial = participant.trials.order_by("index").first()
    client.post(reverse("trials:respond", args=[participant.token]), content_type="application/json",
                data=json.dumps({"trial": trial.public_id, "choice": 0, "rt_ms": 700.0, "idempotency_key": "k"}))


def admin_object_id(route: str, world: dict) -> str:
    """A's row of the model an admin URL is about (the token admin names a token by its user)."""
    if "<path:object_id>" not in route or route.startswith("admin/r/"):
        return ""
    app_label, model_name = route.split("/")[1:3]
    if (app_label, model_name) in {("auth", "user"), ("authtoken", "tokenproxy")}:
        return str(world["a"].pk)
    model = apps.get_model(app_label, model_name)
    owned = {"study": world["study"], "participant": world["participant"], "generationjob": world["job"],
             "registeredmodel": world["job"].model, "targetset": world["job"].target_set}
    if model_name in owned:
        return str(owned[model_name].pk)
    row = model.objects.order_by("pk").first()
    return str(row.pk) if row else "1"


def fill(route: str, name: str | None, world: dict) -> str:
    study, trial = world["study"], world["trial"]
    values = {
        "study_id": study.pk, "job_id": world["job"].pk, "public_id": study.public_id,
        "model_id": world["job"].model_id, "target_set_id": world["job"].target_set_id,
        "stimulus_id": study.items.first().stimulus_id, "role": "iri", "participant_id": world["participant"].pk,
        "token": world["b_participant"].token, "trial_id": trial.public_id, "slot": "0", "fmt": "png",
        "name": "alignment" if name == "scoring-study-plot" else study.items.first().stimulus.iri_png.name,
        "app_label": "studies", "url": "no-such-page/", "id": world["a"].pk,
        "content_type_id": apps.get_model("contenttypes", "ContentType").objects.get_for_model(Study).pk,
    }
    values["object_id"] = study.pk if name == "view_on_site" else admin_object_id(route, world)
    path = PARAMETER.sub(lambda m: str(values[m.group(1) or m.group(2)]), route)
    return "/" + path.replace("^", "").replace("$", "")


def leaks(response, world: dict) -> list[str]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode(errors="replace")
    markers = [*SECRETS.values(), world["token"], world["study"].completion_code]
    return [marker for marker in markers if marker in text]


def walk(world: dict, client_for, persona, methods=("get", "post")) -> tuple[list[str], list[str]]:
    """(problems, URLs whose 2xx carried A's data) over every endpoint and method, as persona (a user)."""
    problems, reached = [], []
    for route, name in url_patterns():
        url = fill(route, name, world)
        for method in methods:
            response = getattr(client_for(), method)(url)
            found = leaks(response, world) if 200 <= response.status_code < 300 else []
            if response.status_code >= 500:
                problems.append(f"{method.upper()} {url}: {response.status_code}")
            if found:
                reached.append(f"{method.upper()} {url}: {response.status_code} shows {found}")
            if url.startswith("/api/") and 200 <= response.status_code < 300 and not persona.is_staff:
                problems.append(f"{method.upper()} {url}: {response.status_code} for a non-researcher")
    return problems, reached


def signed_in(user):
    def client_for() -> Client:
        client = Client(raise_request_exception=False)
        client.force_login(user)  # again each time: a walk through admin/logout/ must not sign them out
        return client

    return client_for


def test_every_url_gives_others_nothing_of_a_researchers(world, researcher_a, researcher_b, non_staff):
    stranger = world["participant_client"].__class__(raise_request_exception=False)
    participant = world["participant_client"]
    participant.raise_request_exception = False
    personas = {"stranger": lambda: stranger, "participant": lambda: participant,
                "non-staff": signed_in(non_staff), "researcher B": signed_in(researcher_b)}
    owners = {"stranger": non_staff, "participant": non_staff, "non-staff": non_staff, "researcher B": researcher_b}

    found = {who: walk(world, client_for, owners[who]) for who, client_for in personas.items()}

    assert {who: problems + reached for who, (problems, reached) in found.items()} == {who: [] for who in personas}
    researcher_a.refresh_from_db()
    assert not researcher_a.is_superuser and Token.objects.get(user=researcher_a).key == world["token"]
    assert Study.objects.filter(pk=world["study"].pk).exists()


def test_the_fills_reach_a_researchers_own_data(world, researcher_a):
    """The control: walked by A, the same URLs show A's rows, so the walk above tests something."""
    problems, reached = walk(world, signed_in(researcher_a), researcher_a, methods=("get",))

    assert problems == []
    for expected in ("/admin/studies/study/", "/admin/authtoken/tokenproxy/", f"/api/studies/{world['study'].pk}/responses.csv",
                     f"/researcher/studies/{world['study'].pk}/responses.csv", "/admin/trials/participant/"):
        assert any(line.startswith(f"GET {expected}") for line in reached), (expected, reached)
