"""Scoring benchmark: the full scoring of a 1,000,000-response study beside one SQL GROUP BY.

Usage: python -m bench scoring [--responses N] [--conditions C] [--items I]

Builds the study in a throwaway test database (Django's test-database machinery: PostgreSQL when
DATABASE_URL is set, in-memory SQLite otherwise), writes trials and responses with PostgreSQL COPY
(bulk_create in big chunks on SQLite), then times `study_report` (exclusions, crossed bootstrap
CIs, tests, comparisons, reliability, proxies) against a single aggregate over the same rows.
"""

import argparse
import io
import json
import os
import sys
import time
import uuid

import numpy as np

DEFAULT_RESPONSES = 1_000_000
CHUNK_ROWS = 100_000


def _django_setup() -> None:
    import django  # lazy: `python -m bench` imports every bench; Django only when this one runs

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "surveys.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-secret")
    django.setup()


def _copy_value(value) -> str:
    """One value as COPY text: \\N is NULL; a bool's True or False is what PostgreSQL reads as one."""
    if value is None:
        return "\\N"
    if isinstance(value, dict | list):
        value = json.dumps(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _column_text(value, n: int) -> list[str]:
    """A column as COPY text: a per-row array, or one constant repeated."""
    if isinstance(value, np.ndarray):
        if value.dtype == bool:
            return np.where(value, "t", "f").tolist()
        return value.astype(str).tolist()
    return [_copy_value(value)] * n


def _row_values(model, given: dict, n: int) -> tuple[list[str], list]:
    """Every concrete column of model: the given array or constant, else the field's default."""
    from django.utils import timezone  # lazy: after _django_setup()

    names, values = [], []
    for field in model._meta.concrete_fields:
        if field.attname in given:
            value = given[field.attname]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = timezone.now()
        else:
            value = field.get_default() if field.has_default() else None
        names.append(field.column)
        values.append(value)
    return names, values


def bulk_write(model, given: dict, n: int) -> None:
    """n rows of model: PostgreSQL COPY in chunks, bulk_create in big batches elsewhere."""
    from django.db import connection  # lazy: after _django_setup()

    names, values = _row_values(model, given, n)
    for start in range(0, n, CHUNK_ROWS):
        stop = min(n, start + CHUNK_ROWS)
        chunk = [v[start:stop] if isinstance(v, np.ndarray) else v for v in values]
        if connection.vendor == "postgresql":
            text = zip(*(_column_text(v, stop - start) for v in chunk), strict=True)
            with connection.cursor() as cursor:
                # A throwaway database: skip the per-row foreign-key triggers (the ids are built valid).
                cursor.execute("SET session_replication_role = replica")
                cursor.connection.cursor().copy_expert(
                    f"COPY {model._meta.db_table} ({', '.join(names)}) FROM STDIN",
                    io.StringIO("".join("\t".join(row) + "\n" for row in text)))
        else:
            attnames = [f.attname for f in model._meta.concrete_fields]
            model.objects.bulk_create(
                [model(**{a: (v[i].item() if isinstance(v, np.ndarray) else v) for a, v in zip(attnames, chunk,
                                                                                               strict=True)})
                 for i in range(stop - start)], batch_size=10_000)


def _next_id(model) -> int:
    from django.db.models import Max  # lazy: after _django_setup()

    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def _reset_sequences(*models) -> None:
    from django.core.management.color import no_style  # lazy: after _django_setup()
    from django.db import connection  # lazy: after _django_setup()

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), list(models)):
            cursor.execute(sql)


def build_study(*, responses: int, conditions: int, items: int, seed: int = 0):
    """A 2AFC study: `conditions` jobs of `items` IRIs, participants each answering every item once."""
    from django.contrib.auth import get_user_model  # lazy: after _django_setup()

    from surveys.generation import models as generation  # lazy: after _django_setup()
    from surveys.studies.models import Condition, Study, StudyItem  # lazy: after _django_setup()
    from surveys.trials.models import Participant, ParticipantStatus  # lazy: after _django_setup()

    owner = get_user_model().objects.create_user(username=f"bench-{uuid.uuid4().hex[:8]}")
    model = generation.RegisteredModel.objects.create(owner=owner, name="bench", architecture="resnet18", input_size=32)
    targets = generation.TargetSet.objects.create(owner=owner, name="bench")
    images = generation.TargetImage.objects.bulk_create(
        generation.TargetImage(target_set=targets, name=f"t{i}.png", image=f"t{i}.png", sha256="0" * 64)
        for i in range(items))
    # Main trials only: no practice, gate or catch trials (a researcher's study has all three by default).
    study = Study.objects.create(owner=owner, name="bench", design={"practice": False, "gate": None, "catch_every": 0})
    for c in range(conditions):
        job = generation.GenerationJob.objects.create(
            owner=owner, model=model, target_set=targets, status=generation.JobStatus.DONE,
            config={"layers": ["layer2"], "loss": "reg_free", "seed_type": f"s{c}"})
        condition = Condition.objects.create(study=study, job=job, layer="layer2", label=f"bench / layer2 / {c}")
        stimuli = generation.Stimulus.objects.bulk_create(
            generation.Stimulus(job=job, target=image, layer="layer2", target_png="t.png", seed_png="s.png",
                                iri_png="i.png", final_rep_loss=0.01, wall_seconds=1.0, optimizer="ngd",
                                config=job.config, code_version="bench")
            for image in images)
        StudyItem.objects.bulk_create(StudyItem(study=study, condition=condition, stimulus=s) for s in stimuli)
    participants = max(1, responses // (conditions * items))
    Participant.objects.bulk_create(
        Participant(study=study, recruitment_id=f"b{i}", status=ParticipantStatus.COMPLETED) for i in range(participants))
    _write_trials(study=study, responses=responses, seed=seed)
    return study


def _write_trials(*, study, responses: int, seed: int) -> None:
    from surveys.trials.models import Response, Trial  # lazy: after _django_setup()

    rng = np.random.default_rng(seed)
    item_ids, condition_ids = map(np.array, zip(*study.items.order_by("pk").values_list("pk", "condition_id"),
                                                strict=True))
    participant_ids = np.array(study.participants.order_by("pk").values_list("pk", flat=True))
    n = responses
    which_participant = np.arange(n) // len(item_ids) % len(participant_ids)
    which_item = np.arange(n) % len(item_ids)
    first_trial = _next_id(Trial)
    trial_ids = np.arange(first_trial, first_trial + n)
    accuracy = 0.3 + 0.5 * (condition_ids - condition_ids.min()) / max(1, np.ptp(condition_ids))
    correct = rng.random(n) < accuracy[which_item]
    left = rng.random(n) < 0.5
    bulk_write(Trial, {"id": trial_ids, "participant_id": participant_ids[which_participant],
                       "index": np.arange(n) // len(item_ids) // len(participant_ids) * len(item_ids) + which_item,
                       "public_id": np.char.add("bench", trial_ids.astype(str)), "kind": "main",
                       "item_id": item_ids[which_item], "condition_id": condition_ids[which_item],
                       "target_on_left": left}, n)
    bulk_write(Response, {"id": np.arange(_next_id(Response), _next_id(Response) + n), "trial_id": trial_ids,
                          "idempotency_key": "bench", "choice": np.where(correct == left, 0, 1),
                          "chose_target": correct, "correct": correct, "rating": None,
                          "rt_ms": rng.gamma(4.0, 200.0, n).round(1)}, n)
    _reset_sequences(Trial, Response)
    _analyze()


def _analyze() -> None:
    """Fresh planner statistics, as autovacuum would give a real database after a load."""
    from django.db import connection  # lazy: after _django_setup()

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
            cursor.execute("ANALYZE")


def sql_aggregate(*, study) -> list[tuple]:
    """The floor: one GROUP BY condition over the same rows (count and share correct)."""
    from django.db.models import Avg, Case, Count, FloatField, Value, When  # lazy: after _django_setup()

    from surveys.trials.models import Response  # lazy: after _django_setup()

    return list(Response.objects.filter(trial__participant__study=study, trial__participant__status="completed",
                                        trial__participant__is_pilot=False, trial__kind="main")
                .values("trial__condition_id")
                .annotate(n=Count("pk"), share=Avg(Case(When(correct=True, then=Value(1.0)), default=Value(0.0),
                                                        output_field=FloatField())))
                .values_list("trial__condition_id", "n", "share"))


def timed(function, *, repeats: int = 1):
    """(best wall time in seconds, last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_run(*, responses: int, conditions: int = 4, items: int = 50, out=sys.stdout) -> dict:
    """Build the study in the current database, time scoring and the aggregate, print and return figures."""
    from surveys.scoring.data import response_table  # lazy: after _django_setup()
    from surveys.scoring.selectors import study_report  # lazy: after _django_setup()

    build_s, study = timed(lambda: build_study(responses=responses, conditions=conditions, items=items))
    aggregate_s, rows = timed(lambda: sql_aggregate(study=study), repeats=3)
    load_s, _ = timed(lambda: response_table(study=study))
    scoring_s, report = timed(lambda: study_report(study=study))
    figures = {"responses": sum(r[1] for r in rows), "build_s": build_s, "sql_aggregate_s": aggregate_s,
               "load_s": load_s, "scoring_s": scoring_s, "ratio": scoring_s / aggregate_s}
    print(f"built {figures['responses']:,} responses ({conditions} conditions x {items} items, "
          f"{report.conditions[0].participants:,} participants) in {build_s:.1f} s", file=out)
    print(f"single SQL aggregate (GROUP BY condition): {aggregate_s:.3f} s", file=out)
    print(f"full scoring (study_report): {scoring_s:.3f} s (reading the rows alone: {load_s:.3f} s)", file=out)
    print(f"ratio scoring / aggregate: {figures['ratio']:.1f}x", file=out)
    for score in report.conditions:
        print(f"  {score.label}: {score.alignment:.4f} [{score.ci_low:.4f}, {score.ci_high:.4f}]", file=out)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench scoring", description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=DEFAULT_RESPONSES)
    parser.add_argument("--conditions", type=int, default=4)
    parser.add_argument("--items", type=int, default=50, help="IRIs per condition")
    parser.add_argument("--keepdb", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args(argv)
    _django_setup()
    from django.db import connection  # lazy: after _django_setup()
    from django.test.utils import setup_databases, teardown_databases  # lazy: after _django_setup()

    print(f"database: {connection.vendor}", flush=True)
    databases = setup_databases(verbosity=0, interactive=False, aliases={"default"}, keepdb=args.keepdb)
    try:
        bench_run(responses=args.responses, conditions=args.conditions, items=args.items)
    finally:
        connection.close()
        teardown_databases(databases, verbosity=0, keepdb=args.keepdb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
