"""Recruiting until the intervals are narrow enough (docs/method.md §3, "Stopping rule"): scripted
participants with planted rates take a study through the participant endpoints; after each one
completes, the stopping rule's check (a Celery task, run inline here) copies the exclusion decisions,
and closes the study, recording why, once every condition's CI is no wider than its target, or at
its cap, or when the items alone keep an interval wider; excluded participants are replaced."""

import json
from datetime import datetime, timedelta

import numpy as np
import pytest
import redis
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from surveys.console.links import participant_link
from surveys.generation.models import Notification, NotificationEvent
from surveys.scoring import prolific_services, recruitment_services
from surveys.scoring.models import ProlificStudy, Recruitment
from surveys.scoring.selectors import study_scores
from surveys.scoring.services import exclusion_rules_set
from surveys.scoring.stopping import MIN_PARTICIPANTS_TO_STOP
from surveys.studies.models import Study, StudyStatus
from surveys.trials.models import Participant, ParticipantStatus
from tests.fakes.prolific import RESEARCHER_TOKEN
from tests.surveys import factories
from tests.surveys.admin_coverage import submits
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db
TARGET = 0.25
HASTY_MS, CAREFUL_MS, RULE_MS = 120.0, 900.0, 300.0  # the rule excludes a median response time below RULE_MS


def planted(study, rates: dict[int, float], *, seed: int = 0):
    """choose(trial) for participant number n, right on each IRI with the planted rate of its condition:
    a draw fixed by (seed, n, the IRI's place in the study), whatever order their trials come in."""
    place = {pk: index for index, pk in enumerate(study.items.order_by("pk").values_list("pk", flat=True))}

    def for_participant(number: int):
        def choose(trial) -> int:
            draw = np.random.default_rng([seed, number, place[trial.item_id]]).random()
            return trial.layout_spec.answer if draw < rates[trial.condition_id] else 1 - trial.layout_spec.answer
        return choose

    return for_participant


def arrive(study, number: int, *, choose, hasty: bool = False) -> Participant | None:
    """The next scripted participant; their completion's check runs as its transaction commits."""
    return planting.through_endpoints(study, pid=f"p{number}", choose=choose, rt_ms=HASTY_MS if hasty else CAREFUL_MS)


def closed_page(study) -> str:
    late = Client().post(reverse("trials:start", args=[study.public_id]), {"PROLIFIC_PID": "late"})
    assert late.status_code == 410
    return late.content.decode()


def test_a_simulated_study_stops_by_itself_once_every_ci_is_narrower_than_the_target_and_replaces_excluded_participants(
        researcher, inline_tasks, django_capture_on_commit_callbacks):
    """Every fourth participant answers too fast and is excluded: both intervals are narrow enough with 15
    usable participants, who take 19 completions: more than the cap of 17, which only replacing allows."""
    cap = 17
    researcher.email = "lab@example.org"  # where the researcher is told that the target is reached
    researcher.save()
    study = factories.study(researcher, n_items=8, layers=("layer2", "layer3"), design={"participants_per_condition": cap})
    exclusion_rules_set(study=study, min_median_rt_ms=RULE_MS, target_ci_width=TARGET)
    easy, hard = study.conditions.order_by("pk")
    choices = planted(study, {easy.pk: 0.9, hard.pk: 0.65})
    arrivals, verdicts = [], []
    while study.status == StudyStatus.OPEN and len(arrivals) < 3 * cap:
        number = len(arrivals) + 1
        with django_capture_on_commit_callbacks(execute=True):
            arrivals.append(arrive(study, number, choose=choices(number), hasty=number % 4 == 0))
        study.refresh_from_db()
        verdicts.append(Recruitment.objects.get(study=study).verdict)

    scores = study_scores(study=study)
    completed = Participant.objects.filter(study=study, status=ParticipantStatus.COMPLETED)
    assert study.status == StudyStatus.CLOSED and study.closed_at is not None
    assert study.closed_reason.startswith(f"every condition's 95% CI is no wider than the target {TARGET:.3f}")
    assert all(s.ci_high - s.ci_low <= TARGET and s.participants >= MIN_PARTICIPANTS_TO_STOP for s in scores)
    assert all(verdict.startswith("recruiting: ") for verdict in verdicts[:-1])  # it stopped at the first chance
    assert verdicts[-1] == f"closed: {study.closed_reason}"
    # Replaced: every arrival was admitted, though more completed than the cap, the excluded among them.
    assert None not in arrivals and completed.count() > cap
    assert {p.recruitment_id for p in completed.filter(excluded=True)} == {
        p.recruitment_id for p in arrivals[3::4]}
    assert completed.filter(excluded=False).count() == scores[0].participants <= cap
    assert "This study is closed" in closed_page(study)
    told = Notification.objects.get(about=f"study:{study.pk}", event=NotificationEvent.STUDY_TARGET_REACHED)
    assert told.owner == researcher and told.detail == study.closed_reason


def test_an_excluded_participants_place_goes_to_a_newcomer_in_their_row_until_the_cap_is_reached(
        researcher, inline_tasks, django_capture_on_commit_callbacks):
    """A cap and no target: in a Latin square of two rows, the second arrival is excluded, so the third
    takes their row; the study closes when four usable participants have completed."""
    study = factories.study(researcher, n_items=4, layers=("layer2", "layer3"),
                            design={"participants_per_condition": 4, "once_per_target": True})
    exclusion_rules_set(study=study, min_median_rt_ms=RULE_MS)
    arrivals = []
    while study.status == StudyStatus.OPEN and len(arrivals) < 10:
        with django_capture_on_commit_callbacks(execute=True):
            arrivals.append(arrive(study, len(arrivals) + 1, choose=lambda trial: 0, hasty=len(arrivals) == 1))
        study.refresh_from_db()

    arrivals = [Participant.objects.get(pk=p.pk) for p in arrivals]
    first, hasty, replacement = arrivals[:3]
    assert len(arrivals) == 5 and hasty.excluded and not any(p.excluded for p in arrivals[2:])
    assert replacement.design_row == hasty.design_row != first.design_row
    assert study.closed_reason == "the cap is reached: 4 usable participants of 4"
    assert "This study is closed" in closed_page(study)


def test_a_target_the_items_alone_keep_out_of_reach_closes_the_study_and_says_why(
        client, researcher, inline_tasks, django_capture_on_commit_callbacks):
    """Half the IRIs everyone gets right, half nobody does: no number of participants narrows that.
    The researcher sets the target on the rules page; the check that follows closes the study."""
    study = factories.study(researcher, n_items=8)
    right = set(study.items.order_by("pk").values_list("pk", flat=True)[:4])
    for _ in range(MIN_PARTICIPANTS_TO_STOP):
        planting.answers(study, planting.participant(study), correct=lambda _i, item: item.pk in right)
    client.force_login(researcher)

    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post(reverse("admin:scoring_exclusionrules_change", args=[study.exclusion_rules.pk]),
                            {"study": study.pk, "catch_min_accuracy": "0.75", "target_ci_width": "0.2"})
    study.refresh_from_db()
    page = client.get(reverse("admin:studies_study_change", args=[study.pk])).content.decode()

    assert saved.status_code == 302
    assert study.status == StudyStatus.CLOSED
    assert study.closed_reason.startswith("the target CI width 0.200 cannot be reached by more participants: in "
                                          f"{study.conditions.get().label} the items alone make the interval about")
    assert "more IRIs per condition would narrow it" in study.closed_reason
    assert not Notification.objects.filter(event=NotificationEvent.STUDY_TARGET_REACHED).exists()  # not reached
    assert "Target 95% CI width: 0.200" in page and "the items alone make the interval" in page


@submits("studies.study", "check_recruitment")
def test_a_researcher_checks_the_stopping_rule_from_the_study_list(client, researcher, study):
    condition = study.conditions.get()
    planting.crowd(study, accuracy={condition.pk: 0.7}, n=4)
    exclusion_rules_set(study=study, target_ci_width=0.1)
    client.force_login(researcher)

    checked = client.post(reverse("admin:studies_study_changelist"),
                          {"action": "check_recruitment", "_selected_action": [study.pk]}, follow=True)

    said = [str(message) for message in checked.context["messages"]]
    assert said == [f"{study}: recruiting: each condition needs {MIN_PARTICIPANTS_TO_STOP} usable participants "
                    f"before its CI is judged against the target 0.100 ({condition.label} has 4)"]
    assert Recruitment.objects.get(study=study).checked_at is not None
    assert Study.objects.get().status == StudyStatus.OPEN


def test_prolifics_places_follow_what_the_rule_still_wants_and_its_study_stops_when_the_study_closes(
        client, researcher, prolific, inline_tasks, django_capture_on_commit_callbacks):
    study = factories.study(researcher, n_items=4)
    exclusion_rules_set(study=study, min_median_rt_ms=RULE_MS, target_ci_width=0.1)
    prolific_services.prolific_token_set(owner=researcher, token=RESEARCHER_TOKEN)
    linked = prolific_services.prolific_draft_create(study=study, study_url=participant_link(study))
    on_prolific = prolific.studies[linked.prolific_id]
    assert on_prolific["total_available_places"] == prolific_services.UNCAPPED_PLACES

    with django_capture_on_commit_callbacks(execute=True):
        kept = planting.through_endpoints(study, pid="kept", rt_ms=CAREFUL_MS)
        hasty = planting.through_endpoints(study, pid="hasty", rt_ms=HASTY_MS)
        planting.through_endpoints(study, pid="declined", consent=False)
        planting.through_endpoints(study, pid="also-kept", rt_ms=CAREFUL_MS)
    # Ten usable wanted before anything is judged, and the two sessions IRIS cannot use hold places too.
    assert on_prolific["total_available_places"] == 12

    prolific_services.prolific_publish(study=study)
    for who in (kept, hasty):
        prolific.submission_add(study_id=linked.prolific_id, submission_id=who.recruitment_data["SESSION_ID"],
                                participant_id=who.recruitment_data["PROLIFIC_PID"])
    reviewed = prolific_services.prolific_review(study=study, author=researcher)
    assert (reviewed.approved, reviewed.rejected) == (1, 1)
    # Prolific frees a rejected submission's place: the hasty one no longer needs one of its own.
    assert prolific_services.prolific_places_for(study=study, usable=10, excluded=[hasty.pk]) == 11
    client.force_login(researcher)
    client.post(reverse("admin:studies_study_changelist"), {"action": "check_recruitment",
                                                            "_selected_action": [study.pk]})
    assert on_prolific["total_available_places"] == 12  # 11 would do, but a published study's never fall

    closed = client.post(reverse("admin:studies_study_changelist"),
                         {"action": "close_studies", "_selected_action": [study.pk]}, follow=True)
    client.post(reverse("admin:studies_study_changelist"), {"action": "check_recruitment",
                                                            "_selected_action": [study.pk]})

    study.refresh_from_db()
    assert study.closed_reason == "closed by researcher"
    assert prolific.study_transitions == [(linked.prolific_id, "PUBLISH"), (linked.prolific_id, "STOP")]
    assert on_prolific["status"] == "COMPLETED" and ProlificStudy.objects.get().status == "stopped"
    assert f"{study}: closed; its Prolific study {linked.prolific_id} is stopped." in [
        str(message) for message in closed.context["messages"]]


def test_the_api_shows_the_rule_sets_its_target_and_closes_with_a_reason(
        api_as, researcher, other_researcher, study, inline_tasks, django_capture_on_commit_callbacks):
    planting.crowd(study, accuracy={study.conditions.get().pk: 0.7}, n=MIN_PARTICIPANTS_TO_STOP)
    api = api_as(researcher)

    with django_capture_on_commit_callbacks(execute=True):
        rules = api.patch(f"/api/studies/{study.pk}/exclusions/rules/", {"target_ci_width": 0.9}, format="json")
    shown = api.get(f"/api/studies/{study.pk}/").json()
    scores = api.get(f"/api/studies/{study.pk}/scores/").json()
    hidden = api_as(other_researcher).get(f"/api/studies/{study.pk}/")
    reopened = api.post(f"/api/studies/{study.pk}/open/").json()
    closed = api.post(f"/api/studies/{study.pk}/close/").json()

    assert rules.status_code == 200 and hidden.status_code == 404
    assert shown["status"] == "closed" and shown["closed_at"] is not None
    assert shown["closed_reason"].startswith("every condition's 95% CI is no wider than the target 0.900")
    assert shown["recruitment"]["target_ci_width"] == 0.9 and shown["recruitment"]["cap"] is None
    assert shown["recruitment"]["verdict"] == f"closed: {shown['closed_reason']}"
    assert 0 <= scores[0]["item_part_low"] <= scores[0]["item_part_width"] < scores[0]["ci_high"] - scores[0]["ci_low"]
    assert (reopened["status"], reopened["closed_reason"], reopened["closed_at"]) == ("open", "", None)
    assert (closed["status"], closed["closed_reason"]) == ("closed", "closed by researcher")


# --- when the check runs ------------------------------------------------------------------------------

def test_completions_while_a_check_is_queued_queue_no_other_and_the_check_runs_later(
        study, django_capture_on_commit_callbacks, settings):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("default")
    with django_capture_on_commit_callbacks() as first:
        planting.through_endpoints(study, pid="a")
        planting.through_endpoints(study, pid="b")
        planting.through_endpoints(study, pid="declines", consent=False)  # never completes: nothing to check
    recruitment_services.recruitment_check(study=study)  # the queued check starts: the next completion queues one
    with django_capture_on_commit_callbacks() as second:
        planting.through_endpoints(study, pid="c")
    Recruitment.objects.filter(study=study).update(queued_at=timezone.now() - timedelta(days=1))  # lost
    with django_capture_on_commit_callbacks() as third:
        planting.through_endpoints(study, pid="d")
    third[0]()  # what the commit does: the task goes to the broker, due IRIS_RECRUITMENT_CHECK_S later

    message = json.loads(broker.lpop("default"))
    assert (len(first), len(second), len(third)) == (1, 1, 1)
    assert (message["headers"]["task"], message["headers"]["argsrepr"]) == ("scoring.recruitment_check",
                                                                            f"[{study.pk}]")
    due = datetime.fromisoformat(message["headers"]["eta"]) - timezone.now()
    assert settings.IRIS_RECRUITMENT_CHECK_S - 10 < due.total_seconds() <= settings.IRIS_RECRUITMENT_CHECK_S
