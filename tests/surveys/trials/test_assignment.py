"""Admission and balance: a Latin-square row per participant, counted over completed and recently
active sessions, under a lock so that a crowd arriving at once neither overfills nor unbalances."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from surveys.studies.models import Study, StudyStatus
from surveys.studies.services import study_update
from surveys.trials import services
from surveys.trials.models import Participant, ParticipantStatus
from tests.surveys import factories


def latin_study(per_condition):
    return factories.study(factories.researcher(), n_items=3, layers=("layer2", "layer3", "layer4"),
                           design={"once_per_target": True, "participants_per_condition": per_condition})


def enter(study, who, **extra):
    return services.participant_enter(study=study, source="prolific", recruitment_id=who, recruitment_data={},
                                      **extra)


@pytest.mark.django_db
def test_it_fills_the_least_filled_row_and_stops_when_full():
    study = latin_study(per_condition=6)

    rows = [enter(study, f"p{i}").design_row for i in range(6)]

    assert Counter(rows) == {0: 2, 1: 2, 2: 2}
    with pytest.raises(services.StudyFull):
        enter(study, "one-too-many")


@pytest.mark.django_db
def test_a_dropout_frees_its_place_and_a_newcomer_takes_its_row():
    study = latin_study(per_condition=3)
    _, second, _ = (enter(study, f"p{i}") for i in range(3))
    Participant.objects.filter(pk=second.pk).update(last_seen_at=timezone.now() - timedelta(hours=2))

    newcomer = enter(study, "newcomer")

    second.refresh_from_db()
    assert second.status == ParticipantStatus.TIMED_OUT
    assert newcomer.design_row == second.design_row


@pytest.mark.django_db
def test_sessions_that_failed_the_gate_or_declined_do_not_hold_places():
    study = latin_study(per_condition=3)
    for i, status in enumerate([ParticipantStatus.DECLINED, ParticipantStatus.FAILED_GATE,
                                ParticipantStatus.INCOMPATIBLE]):
        Participant.objects.filter(pk=enter(study, f"gone{i}").pk).update(status=status)

    assert Counter(enter(study, f"p{i}").design_row for i in range(3)) == {0: 1, 1: 1, 2: 1}


@pytest.mark.django_db
def test_pilot_sessions_are_admitted_to_a_full_study_without_taking_a_place():
    study = latin_study(per_condition=3)
    for i in range(3):
        enter(study, f"p{i}")

    pilot = enter(study, "pilot:me", is_pilot=True)

    assert pilot.is_pilot and pilot.trials.exists()


@pytest.mark.django_db
def test_a_returning_participant_keeps_their_place_in_a_full_study():
    study = latin_study(per_condition=3)
    first = enter(study, "p0")
    for i in range(1, 3):
        enter(study, f"p{i}")

    assert enter(study, "p0", resume_token=first.token).pk == first.pk


@pytest.mark.django_db(transaction=True)
def test_a_crowd_arriving_at_once_on_postgresql_never_overfills_and_stays_balanced():
    assert connection.vendor == "postgresql"
    study = latin_study(per_condition=6)
    outcomes, start = [], threading.Barrier(12)

    def arrive(number):
        try:
            start.wait()
            outcomes.append(enter(study, f"crowd{number}").design_row)
        except services.StudyFull:
            outcomes.append("full")
        finally:
            connection.close()

    threads = [threading.Thread(target=arrive, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(outcomes) == {0: 2, 1: 2, 2: 2, "full": 6}
    assert Participant.objects.filter(study=study).count() == 6


@pytest.mark.django_db(transaction=True)
def test_an_arrival_drawing_its_trials_does_not_hold_up_the_next_arrival(monkeypatch):
    """The study lock covers the admission decision only: while one arrival's trial list is still being
    drawn and stored, the next arrival is admitted (on PostgreSQL, where the lock is a row lock)."""
    assert connection.vendor == "postgresql"
    study = latin_study(per_condition=6)
    drawing, release = threading.Event(), threading.Event()
    real_build = services.trials_build

    def slow_first_draw(**kwargs):
        if kwargs["participant"].recruitment_id == "slow":
            drawing.set()
            release.wait(timeout=30)
        return real_build(**kwargs)

    monkeypatch.setattr(services, "trials_build", slow_first_draw)

    def arrive_slowly():
        try:
            enter(study, "slow")
        finally:
            connection.close()

    slow = threading.Thread(target=arrive_slowly)
    slow.start()
    try:
        assert drawing.wait(timeout=30)
        admitted = []
        quick = threading.Thread(target=lambda: (admitted.append(enter(study, "quick")), connection.close()))
        quick.start()
        quick.join(timeout=10)
        assert admitted and admitted[0].trials.exists()  # admitted while the first list is still being drawn
    finally:
        release.set()
        slow.join()
    assert Participant.objects.get(study=study, recruitment_id="slow").trials.exists()


@pytest.mark.django_db
def test_a_session_whose_trial_list_was_never_stored_gets_one_when_it_comes_back():
    """The connection may drop between a session's row and its trials (they are stored after the lock):
    the browser's retry of the same arrival finds the session and draws its list then."""
    study = latin_study(per_condition=6)
    first = enter(study, "p0", arrival="a" * 22)
    drawn = first.trials.count()
    first.trials.all().delete()

    again = enter(study, "p0", arrival="a" * 22)

    assert again.pk == first.pk and again.trials.count() == drawn > 0
    assert enter(study, "p0", resume_token=first.token).trials.count() == drawn  # drawn once, not twice


@pytest.mark.django_db
def test_a_study_closed_after_its_start_page_was_read_admits_nobody():
    """The request read the study open; it was closed before the arrival reached the lock. The lock
    reads the study's status again, so the arrival is refused and leaves no session behind."""
    study = latin_study(per_condition=6)
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.CLOSED)

    with pytest.raises(services.StudyClosed):
        enter(study, "late")

    assert not Participant.objects.filter(study=study).exists()


@pytest.mark.django_db
def test_an_arrival_gets_the_version_the_study_had_when_it_was_admitted():
    study = latin_study(per_condition=6)
    stale = Study.objects.get(pk=study.pk)
    study_update(study=study, editor=study.owner, consent_text="A clearer consent.")

    participant = enter(stale, "p0")

    assert participant.study_version.number == 2 and participant.study_version.consent_text == "A clearer consent."


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "silent_for", "frees"), [
    (ParticipantStatus.CONSENTED, timedelta(hours=2), True),
    (ParticipantStatus.CONSENTED, timedelta(minutes=10), False),
    (ParticipantStatus.STARTED, timedelta(minutes=10), True),
    (ParticipantStatus.STARTED, timedelta(minutes=1), False),
])
def test_a_silent_session_gives_up_its_place_after_its_status_s_timeout(settings, status, silent_for, frees):
    """Consented sessions time out after IRIS_SESSION_TIMEOUT_S, unconsented ones after UNCONSENTED_HOLD_S."""
    settings.IRIS_SESSION_TIMEOUT_S = 3600
    study = latin_study(per_condition=1)  # one place per row: three places in all
    holders = [enter(study, f"p{i}") for i in range(3)]
    Participant.objects.filter(pk=holders[0].pk).update(status=status, last_seen_at=timezone.now() - silent_for)

    if frees:
        assert enter(study, "newcomer").design_row == holders[0].design_row
    else:
        with pytest.raises(services.StudyFull):
            enter(study, "newcomer")


@pytest.mark.django_db
def test_an_excluded_completed_session_s_place_is_free_again_and_a_completed_one_s_is_not():
    study = latin_study(per_condition=1)
    holders = [enter(study, f"p{i}") for i in range(3)]
    Participant.objects.filter(pk__in=[h.pk for h in holders]).update(status=ParticipantStatus.COMPLETED)
    with pytest.raises(services.StudyFull):
        enter(study, "newcomer")

    Participant.objects.filter(pk=holders[1].pk).update(excluded=True)

    assert enter(study, "newcomer").design_row == holders[1].design_row


@pytest.mark.django_db(transaction=True)  # the connection's own transactions, as in a request
def test_under_the_study_lock_an_arrival_runs_only_prepared_statements_and_its_session_s_insert():
    """A wave of arrivals queues on the study's row lock: while it is held, nothing is compiled or
    planned afresh (admission.py), only the decision's prepared statements and the new row's INSERT."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements and row locks are PostgreSQL's")
    study = latin_study(per_condition=6)
    enter(study, "first")  # this connection has prepared its statements

    sent = []  # (statement, the outermost transaction block it ran in: held here, so never reused)

    def record(execute, sql, params, many, context):
        sent.append((sql, connection.atomic_blocks[0] if connection.atomic_blocks else None))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        enter(study, "second")

    lock_block = next(block for sql, block in sent if sql.startswith("EXECUTE iris_arrival_lock"))
    held = [sql for sql, block in sent if block is lock_block]
    assert held[0].startswith("EXECUTE iris_arrival_lock")
    assert [sql.split()[0] for sql in held].count("INSERT") == 1
    assert all(sql.startswith(("EXECUTE ", "INSERT ")) for sql in held), held
    assert len(held) <= 7, held
