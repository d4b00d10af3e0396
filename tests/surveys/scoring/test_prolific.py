"""Prolific through its API, end to end against a local fake Prolific (tests/fakes/prolific.py):
a researcher saves their token in admin, creates and publishes a study's Prolific draft with the
study list's actions, participants take the study through the participant endpoints, and the
review action approves the kept and rejects the excluded with the rule's reason, once."""

from decimal import Decimal

import pytest
from django.urls import reverse

from surveys.scoring import prolific_services
from surveys.scoring.models import ProlificAccount, ProlificReview, ProlificStudy
from surveys.scoring.services import exclusion_rules_set
from surveys.trials.models import Participant, ParticipantStatus
from tests.fakes.prolific import RESEARCHER_TOKEN as TOKEN
from tests.surveys import factories
from tests.surveys.admin_coverage import submits
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db


def token_save(client, token: str):
    """The add form; followed, so its message is read here and not by the next page."""
    return client.post(reverse("admin:scoring_prolificaccount_add"), {"token": token}, follow=True)


def action(client, study, name: str) -> list[str]:
    response = client.post(reverse("admin:studies_study_changelist"),
                           {"action": name, "_selected_action": [study.pk]}, follow=True)
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


def drafted(client):
    """A researcher's study with its Prolific draft made through the study list's action."""
    researcher = factories.researcher()
    study = factories.study(researcher, n_items=2)
    client.force_login(researcher)
    token_save(client, TOKEN)
    action(client, study, "prolific_draft")
    return study, ProlificStudy.objects.get(study=study)


def take_part(study, session: str, *, rt: float = 800.0, consent: bool = True, pid: str = "") -> Participant:
    """A Prolific participant through the participant endpoints, with the parameters Prolific adds."""
    return planting.through_endpoints(study, pid=pid or f"pid-{session}", session=session, rt_ms=rt, consent=consent)


@submits("scoring.prolificaccount", "add")
def test_a_researcher_saves_a_token_that_is_stored_encrypted_and_never_shown(client, prolific):
    researcher, other = factories.researcher(), factories.researcher("other")
    client.force_login(researcher)

    assert token_save(client, TOKEN).redirect_chain  # saved: admin went on to the list
    account = ProlificAccount.objects.get(owner=researcher)
    page = client.get(reverse("admin:scoring_prolificaccount_change", args=[account.pk])).content.decode()
    client.force_login(other)
    theirs = client.get(reverse("admin:scoring_prolificaccount_changelist")).content.decode()
    peek = client.get(reverse("admin:scoring_prolificaccount_change", args=[account.pk]))

    assert TOKEN not in account.token_encrypted and TOKEN not in page
    assert "0 Prolific tokens" in theirs
    assert peek.status_code == 302  # admin sends a row the user cannot see back to the index


def test_a_superuser_does_not_see_a_researchers_token_row(client, prolific):
    researcher = factories.researcher()
    client.force_login(researcher)
    token_save(client, TOKEN)
    boss = factories.researcher("boss")
    boss.is_superuser = True
    boss.save()
    client.force_login(boss)

    assert "0 Prolific tokens" in client.get(reverse("admin:scoring_prolificaccount_changelist")).content.decode()


def test_it_refuses_to_store_a_token_without_a_key(client, settings):
    settings.IRIS_PROLIFIC_KEY = None
    client.force_login(factories.researcher())

    response = token_save(client, TOKEN)

    assert not response.redirect_chain
    assert "IRIS_PROLIFIC_KEY is not set" in response.content.decode()
    assert not ProlificAccount.objects.exists()


@submits("studies.study", "prolific_draft", "prolific_publish", "prolific_review")
def test_the_prolific_flow_runs_end_to_end(client, prolific):
    researcher = factories.researcher()
    study = factories.study(researcher, n_items=4)
    exclusion_rules_set(study=study, min_median_rt_ms=300.0)
    client.force_login(researcher)
    token_save(client, TOKEN)

    drafted = action(client, study, "prolific_draft")
    linked = ProlificStudy.objects.get(study=study)
    on_prolific = prolific.studies[linked.prolific_id]
    published = action(client, study, "prolific_publish")

    assert "created" in drafted[0] and "published" in published[0]
    assert on_prolific["status"] == "ACTIVE"
    assert (on_prolific["total_available_places"], on_prolific["reward"], on_prolific["estimated_completion_time"]) \
        == (10, 150, 10)  # no cap in the design: a first batch of ten
    assert on_prolific["external_study_url"].startswith(f"http://127.0.0.1:8000/s/{study.public_id}/")
    assert "SESSION_ID={{%SESSION_ID%}}" in on_prolific["external_study_url"]
    assert on_prolific["completion_codes"][0] == {"code": study.completion_code, "code_type": "COMPLETED",
                                                  "actions": [{"action": "MANUALLY_REVIEW"}]}

    careful = take_part(study, "sub-careful")
    hasty = take_part(study, "sub-hasty", rt=120.0)
    declined = take_part(study, "sub-declined", consent=False)
    assert (careful.status, hasty.status) == (ParticipantStatus.COMPLETED, ParticipantStatus.COMPLETED)
    for who in (careful, hasty, declined):
        prolific.submission_add(study_id=linked.prolific_id, submission_id=who.recruitment_data["SESSION_ID"],
                                participant_id=who.recruitment_data["PROLIFIC_PID"])

    first = action(client, study, "prolific_review")
    second = action(client, study, "prolific_review")

    done = dict(prolific.transitions)
    assert list(done) == ["sub-careful", "sub-hasty"]  # the declined submission is left to the researcher
    assert done["sub-careful"] == {"action": "APPROVE"}
    assert done["sub-hasty"]["action"] == "REJECT"
    assert done["sub-hasty"]["rejection_category"] == "TOO_QUICKLY"
    assert "median response time 120 ms < 300 ms" in done["sub-hasty"]["message"]
    assert "1 approved, 1 rejected" in first[0]
    assert len(prolific.transitions) == 2 and "0 approved, 0 rejected" in second[0]
    rows = {row.participant_id: row.verdict for row in ProlificReview.objects.filter(study=study)}
    assert rows == {careful.pk: "approved", hasty.pk: "rejected"}


def test_a_wrong_token_gives_a_clear_admin_error(client, prolific):
    researcher = factories.researcher()
    study = factories.study(researcher, n_items=2)
    client.force_login(researcher)
    token_save(client, "not-the-token")

    messages = action(client, study, "prolific_draft")

    assert "Prolific answered 401: Invalid token." in messages[0]
    assert not ProlificStudy.objects.exists()


def test_a_study_without_a_token_is_told_where_to_add_one(client, prolific):
    researcher = factories.researcher()
    study = factories.study(researcher, n_items=2)
    client.force_login(researcher)

    assert "no Prolific token" in action(client, study, "prolific_draft")[0]


@submits("scoring.prolificstudy", "change")
def test_places_and_bonuses_reach_prolific(client, prolific):
    """Places through their admin form; bonuses have no page yet: the service against the fake."""
    study, linked = drafted(client)
    who = take_part(study, "sub-bonus")
    prolific.submission_add(study_id=linked.prolific_id, submission_id="sub-bonus", participant_id="pid-sub-bonus")

    saved = client.post(reverse("admin:scoring_prolificstudy_change", args=[linked.pk]), {"places": "42"})
    bulk = prolific_services.prolific_bonuses_pay(study=study, amounts={who.pk: Decimal("1.5")})

    assert saved.status_code == 302
    assert prolific.studies[linked.prolific_id]["total_available_places"] == 42
    assert ProlificStudy.objects.get().places == 42
    assert prolific.bonuses[bulk]["lines"] == [["sub-bonus", "1.50"]] and prolific.paid == [bulk]


def test_the_api_creates_publishes_and_reviews_once(client, prolific, api_as):
    researcher = factories.researcher()
    study = factories.study(researcher, n_items=2)
    client.force_login(researcher)
    token_save(client, TOKEN)
    api = api_as(researcher)

    draft = api.post(f"/api/studies/{study.pk}/prolific/draft/")
    again = api.post(f"/api/studies/{study.pk}/prolific/draft/")
    published = api.post(f"/api/studies/{study.pk}/prolific/publish/")
    who = take_part(study, "sub-api")
    prolific.submission_add(study_id=draft.json()["prolific_id"], submission_id="sub-api",
                            participant_id="pid-sub-api")
    first = api.post(f"/api/studies/{study.pk}/prolific/review/")
    second = api.post(f"/api/studies/{study.pk}/prolific/review/")

    assert draft.status_code == 200 and draft.json()["status"] == "draft"
    assert again.status_code == 400 and "already has a Prolific study" in again.json()["detail"][0]
    assert published.json()["status"] == "published"
    assert first.json() == {"approved": 1, "rejected": 0, "left": 0}
    assert second.json() == {"approved": 0, "rejected": 0, "left": 1}
    assert prolific.transitions == [("sub-api", {"action": "APPROVE"})]
    assert ProlificReview.objects.get().participant == who


def test_the_api_answers_a_prolific_refusal_with_502_and_hides_other_studies(client, prolific, api_as):
    researcher, other = factories.researcher(), factories.researcher("other")
    study = factories.study(researcher, n_items=2)
    client.force_login(researcher)
    token_save(client, "not-the-token")

    refused = api_as(researcher).post(f"/api/studies/{study.pk}/prolific/draft/")
    hidden = api_as(other).post(f"/api/studies/{study.pk}/prolific/draft/")

    assert refused.status_code == 502 and refused.json() == {"detail": "Prolific answered 401: Invalid token."}
    assert hidden.status_code == 404
    assert prolific.studies == {}


def test_a_link_carrying_someone_elses_session_id_does_not_decide_their_submission(client, prolific):
    """The attack: someone opens the study link with a real submission's SESSION_ID under another
    Prolific id and answers carelessly; the real participant's submission must still be approved."""
    researcher = factories.researcher()
    study = factories.study(researcher, n_items=4)
    exclusion_rules_set(study=study, min_median_rt_ms=300.0)
    client.force_login(researcher)
    token_save(client, TOKEN)
    action(client, study, "prolific_draft")
    linked = ProlificStudy.objects.get(study=study)
    take_part(study, "sub-real")
    take_part(study, "sub-real", pid="impostor", rt=100.0)
    prolific.submission_add(study_id=linked.prolific_id, submission_id="sub-real", participant_id="pid-sub-real")

    action(client, study, "prolific_review")

    assert prolific.transitions == [("sub-real", {"action": "APPROVE"})]


def test_a_refusal_midway_keeps_what_prolific_accepted_and_the_next_review_finishes(client, prolific):
    study, linked = drafted(client)
    for session in ("sub-one", "sub-two"):
        take_part(study, session)
        prolific.submission_add(study_id=linked.prolific_id, submission_id=session, participant_id=f"pid-{session}")
    prolific.failing.add("sub-two")

    failed = action(client, study, "prolific_review")
    kept = list(ProlificReview.objects.values_list("submission_id", flat=True))
    prolific.failing.clear()
    action(client, study, "prolific_review")

    assert "Prolific answered 503: Service temporarily unavailable." in failed[0]
    assert kept == ["sub-one"]
    assert [who for who, _ in prolific.transitions] == ["sub-one", "sub-two"]


def test_places_prolific_refuses_stay_on_the_form_and_change_nothing(client, prolific):
    study, linked = drafted(client)
    prolific.token = "revoked-on-prolific"

    response = client.post(reverse("admin:scoring_prolificstudy_change", args=[linked.pk]), {"places": "42"})

    assert response.status_code == 200 and "Prolific answered 401: Invalid token." in response.content.decode()
    assert ProlificStudy.objects.get().places == 10
    assert prolific.studies[linked.prolific_id]["total_available_places"] == 10


@submits("scoring.prolificaccount", "change", "delete_selected")
def test_a_researcher_replaces_and_deletes_only_their_own_token(client, prolific):
    researcher, other = factories.researcher(), factories.researcher("other")
    client.force_login(other)
    token_save(client, TOKEN)
    client.force_login(researcher)
    token_save(client, TOKEN)
    mine, theirs = ProlificAccount.objects.get(owner=researcher), ProlificAccount.objects.get(owner=other)
    change = reverse("admin:scoring_prolificaccount_change", args=[mine.pk])
    changelist = reverse("admin:scoring_prolificaccount_changelist")

    before = mine.token_encrypted
    replaced = client.post(change, {"token": "another-prolific-token-0123456789"})
    mine.refresh_from_db()
    deleted = client.post(changelist, {"action": "delete_selected", "_selected_action": [mine.pk, theirs.pk],
                                       "post": "yes"})

    assert replaced.status_code == 302 and mine.token_encrypted != before
    assert deleted.status_code == 302
    assert list(ProlificAccount.objects.values_list("owner__username", flat=True)) == ["other"]


@submits("scoring.prolificstudy", "delete_selected")
def test_deleting_a_prolific_link_forgets_it_and_leaves_the_study(client, prolific):
    study, linked = drafted(client)

    deleted = client.post(reverse("admin:scoring_prolificstudy_changelist"),
                          {"action": "delete_selected", "_selected_action": [linked.pk], "post": "yes"})

    assert deleted.status_code == 302 and not ProlificStudy.objects.exists()
    assert type(study).objects.filter(pk=study.pk).exists()  # the study itself stays
