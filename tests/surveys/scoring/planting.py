"""Planted participants for scoring tests: responses written in bulk with known answers, or given one
by one through the participant endpoints, as a participant's page posts them."""

import itertools
import json
from collections.abc import Callable

import numpy as np
from django.test import Client
from django.urls import reverse

from surveys.studies.models import Study
from surveys.trials.models import Participant, ParticipantStatus, Response, Trial, TrialKind

_counter = itertools.count()


def participant(study: Study, *, status: str = ParticipantStatus.COMPLETED, is_pilot: bool = False,
                name: str | None = None) -> Participant:
    name = name or f"p{next(_counter)}"
    return Participant.objects.create(study=study, recruitment_id=name, status=status, is_pilot=is_pilot,
                                      recruitment_data={"SESSION_ID": f"session-{name}"})


def answers(study: Study, who: Participant, *, correct: Callable[[int, object], bool], rt_ms: float = 800.0,
            choice: Callable[[int, object], int] | None = None, rating: Callable[[int, object], int] | None = None,
            catch: list[bool] = (), qualification: list[bool] = ()) -> None:
    """One main trial per study item (plus catch / gate trials), each with one response."""
    items = list(study.items.order_by("pk"))
    trials, responses = [], []
    specs = [(TrialKind.MAIN, item, None) for item in items]
    specs += [(TrialKind.CATCH, None, ok) for ok in catch] + [(TrialKind.QUALIFICATION, None, ok) for ok in qualification]
    for index, (kind, item, ok) in enumerate(specs):
        trial = Trial(participant=who, index=index, kind=kind, item=item,
                      condition_id=item.condition_id if item else None, target_on_left=index % 2 == 0)
        trials.append(trial)
        is_correct = correct(index, item) if kind == TrialKind.MAIN else ok
        picked = choice(index, item) if choice else (0 if is_correct == trial.target_on_left else 1)
        responses.append({"choice": None if rating else picked, "chose_target": None if rating else is_correct,
                          "correct": None if rating else is_correct,
                          "rating": rating(index, item) if rating and kind == TrialKind.MAIN else None,
                          "rt_ms": rt_ms, "client_data": {"onset_ms": 100.0 + index}})
    Trial.objects.bulk_create(trials)
    Response.objects.bulk_create(Response(trial=t, idempotency_key=t.public_id, **r)
                                 for t, r in zip(trials, responses, strict=True))


def crowd(study: Study, *, accuracy: dict[int, float], n: int, seed: int = 0, **kwargs) -> list[Participant]:
    """n participants who answer correctly with a given probability per condition id."""
    rng = np.random.default_rng(seed)
    made = []
    for _ in range(n):
        who = participant(study)
        answers(study, who, correct=lambda _i, item: bool(rng.random() < accuracy[item.condition_id]), **kwargs)
        made.append(who)
    return made


def through_endpoints(study: Study, *, pid: str, session: str = "", choose: Callable[[Trial], int] = lambda _t: 0,
                      rt_ms: float = 800.0, consent: bool = True) -> Participant | None:
    """A Prolific participant through the participant endpoints, with the parameters Prolific adds:
    start, consent, a response to every trial (``choose`` picks the option), finish. None when the
    study turned them away at the start (closed or full)."""
    client = Client()
    started = client.post(reverse("trials:start", args=[study.public_id]),
                          {"PROLIFIC_PID": pid, "STUDY_ID": "x", "SESSION_ID": session or f"session-{pid}"})
    if started.status_code != 302:
        return None
    token = started["Location"].rstrip("/").split("/")[-1]
    client.post(reverse("trials:consent", args=[token]), {"agree": "yes" if consent else "no"})
    participant = Participant.objects.get(token=token)
    if consent:
        for trial in participant.trials.order_by("index"):
            client.post(reverse("trials:respond", args=[token]), content_type="application/json",
                        data=json.dumps({"trial": trial.public_id, "choice": choose(trial), "rt_ms": rt_ms,
                                         "idempotency_key": trial.public_id}))
        assert client.post(reverse("trials:finish", args=[token])).status_code == 200
    participant.refresh_from_db()
    return participant
