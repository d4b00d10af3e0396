"""Reads that turn stored responses into the scores a paper reports (docs/method.md §3).

Every score comes twice: with the study's exclusions applied, and with every completed, non-pilot
participant. Pilot sessions are never scored.
"""

import hashlib
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Max, Q, QuerySet

from surveys.generation.models import GenerationJob
from surveys.scoring.analyses import Analyses, study_analyses
from surveys.scoring.bootstrap import DEFAULT_RESAMPLES, bootstrap_sem
from surveys.scoring.data import ResponseTable, response_table
from surveys.scoring.exclusions import Rules, exclusion_reasons
from surveys.scoring.models import DecisionSource, ExclusionDecision, ExclusionRules, Recruitment
from surveys.scoring.proxies import ConditionProxy, ProxyAgreement, condition_proxy, proxy_agreement
from surveys.scoring.report import (
    Comparison,
    ConditionMeta,
    ConditionScore,
    comparisons,
    condition_reliabilities,
    condition_scores,
    main_rows,
    reliability,
)
from surveys.scoring.stats import Reliability
from surveys.studies.models import Study, StudyItem
from surveys.trials.models import DataErasure, Participant, ParticipantStatus, Response
from surveys.trials.selectors import study_places

# The resampling is seeded so a reported interval can be reproduced exactly.
BOOTSTRAP_SEED = 20231114


@dataclass(frozen=True)
class ParticipantExclusion:
    participant_id: int
    recruitment_id: str
    excluded: bool
    reason: str
    source: str  # "rules" (what the rules say now) or "override" (a researcher's decision)
    note: str = ""


@dataclass(frozen=True)
class StudyReport:
    """Everything the results page, the API and admin show of one study, from one read of its responses."""

    study_id: int
    paradigm: str
    measure: str
    chance: float | None
    conditions: list[ConditionScore]  # exclusions applied
    conditions_all: list[ConditionScore]  # every completed, non-pilot participant
    comparisons: list[Comparison]
    comparisons_all: list[Comparison]
    reliability: Reliability
    reliability_all: Reliability
    condition_reliability: dict[int, Reliability]
    exclusions: list[ParticipantExclusion]
    proxies: list[ConditionProxy]
    proxy_agreement: list[ProxyAgreement]
    target_ci_width: float | None
    analyses: Analyses  # mixed model, d′ (2AFC), response times; exclusions applied

    @property
    def excluded_ids(self) -> set[int]:
        return {e.participant_id for e in self.exclusions if e.excluded}


def studies_visible_to(*, user) -> QuerySet[Study]:
    """A researcher reads only their own studies (a superuser too: results are personal data)."""
    return Study.objects.filter(owner=user) if user.is_authenticated else Study.objects.none()


def study_chance(*, study: Study) -> float | None:
    """2AFC 1/2; matching and classification 1/K (docs/method.md §2); similarity: the scale midpoint."""
    categories = StudyItem.objects.filter(study=study).values("stimulus__target__category").distinct().count()
    return study.design_spec.chance(categories=categories)


def exclusion_rules_of(*, study: Study) -> ExclusionRules | None:
    """The study's stored rules (made with the study; None if a researcher deleted them)."""
    return ExclusionRules.objects.filter(study=study).first()


def study_rules(*, study: Study) -> tuple[Rules, float | None]:
    """(exclusion rules, target CI width); a study without rules still has its design's gate."""
    stored = ExclusionRules.objects.filter(study=study).first()
    gate = study.design_spec.gate
    if stored is None:
        return Rules(qualification_min_correct=gate.pass_mark if gate else None), None
    return Rules(stored.catch_min_accuracy, stored.min_median_rt_ms, stored.max_one_sided_share,
                 stored.qualification_min_correct, stored.max_focus_lost_share), stored.target_ci_width


def latest_overrides(*, study: Study) -> dict[int, ExclusionDecision]:
    rows = ExclusionDecision.objects.filter(study=study, source=DecisionSource.OVERRIDE).order_by("created_at", "pk")
    return {row.participant_id: row for row in rows}  # later rows win



def exclusion_overrides(*, study: Study) -> list[ExclusionDecision]:
    """Every override of a study, oldest first (a later one reverses an earlier: the trail is append-only)."""
    return list(ExclusionDecision.objects.filter(study=study, source=DecisionSource.OVERRIDE)
                .select_related("author").order_by("created_at", "pk"))


def study_exclusions(*, study: Study, table: ResponseTable | None = None) -> list[ParticipantExclusion]:
    """Each completed, non-pilot participant's decision: a researcher's latest override, else the rules."""
    table = response_table(study=study) if table is None else table
    reasons = exclusion_reasons(table, study_rules(study=study)[0])
    overrides = latest_overrides(study=study)
    participants = (Participant.objects.filter(study=study, status=ParticipantStatus.COMPLETED, is_pilot=False)
                    .order_by("pk").values_list("pk", "recruitment_id"))
    decisions = []
    for pk, recruitment_id in participants:
        override = overrides.get(pk)
        if override is not None:
            decisions.append(ParticipantExclusion(pk, recruitment_id, override.excluded, reasons.get(pk, ""),
                                                  DecisionSource.OVERRIDE, override.note))
        else:
            decisions.append(ParticipantExclusion(pk, recruitment_id, pk in reasons, reasons.get(pk, ""),
                                                  DecisionSource.RULES))
    return decisions


def condition_metas(*, study: Study) -> list[ConditionMeta]:
    return [ConditionMeta(c.pk, c.label, c.job_id, c.layer) for c in study.conditions.order_by("pk")]


def item_proxies(*, study: Study) -> dict[int, dict]:
    """StudyItem id -> its stimulus's proxy dict ({} when no proxy distance was asked for)."""
    return dict(StudyItem.objects.filter(study=study).values_list("pk", "stimulus__proxy"))


def _proxy_scores(*, study: Study, scores: list[ConditionScore]) -> tuple[list[ConditionProxy], list[ProxyAgreement]]:
    proxies = item_proxies(study=study)
    items_of: dict[int, list[int]] = {}
    for pk, condition_id in StudyItem.objects.filter(study=study).values_list("pk", "condition_id"):
        items_of.setdefault(condition_id, []).append(pk)
    per_condition = [condition_proxy(s.condition_id, [proxies.get(pk) for pk in items_of.get(s.condition_id, [])])
                     for s in scores]
    human = {item: share for s in scores for item, share in s.item_scores.items()}
    return per_condition, proxy_agreement(human, proxies)


@dataclass(frozen=True)
class _Scoring:
    table: ResponseTable  # main trials of every completed, non-pilot participant
    kept: ResponseTable  # the same, exclusions applied
    excluded: list[int]
    exclusions: list[ParticipantExclusion]
    metas: list[ConditionMeta]
    options: dict


def _scoring_inputs(*, study: Study, resamples: int) -> _Scoring:
    """One read of the responses, the exclusions, and what every score needs to know about the study."""
    table = response_table(study=study)
    exclusions = study_exclusions(study=study, table=table)
    table = main_rows(table, paradigm=study.paradigm)  # once: every score reads main trials only
    excluded = [e.participant_id for e in exclusions if e.excluded]
    kept = table.where(~np.isin(table.participant, np.asarray(excluded, dtype=np.int64))) if excluded else table
    options = {"paradigm": study.paradigm, "chance": study_chance(study=study),
               "target_width": study_rules(study=study)[1], "resamples": resamples}
    return _Scoring(table, kept, excluded, exclusions, condition_metas(study=study), options)


def study_scores(*, study: Study, resamples: int = DEFAULT_RESAMPLES) -> list[ConditionScore]:
    """Score per condition with exclusions applied (2AFC: share of valid trials choosing the target, 95% CI)."""
    inputs = _scoring_inputs(study=study, resamples=resamples)
    return condition_scores(inputs.kept, inputs.metas, seed=BOOTSTRAP_SEED, **inputs.options)


def study_report(*, study: Study, resamples: int = DEFAULT_RESAMPLES) -> StudyReport:
    """Everything the results page, the API and the admin show, from one read of the responses."""
    inputs = _scoring_inputs(study=study, resamples=resamples)
    kept, paradigm, metas = inputs.kept, study.paradigm, inputs.metas
    scores = condition_scores(kept, metas, seed=BOOTSTRAP_SEED, **inputs.options)
    # Nobody excluded: the same rows and seed give the same numbers, so they are not computed twice.
    scores_all = (condition_scores(inputs.table, metas, seed=BOOTSTRAP_SEED, **inputs.options)
                  if inputs.excluded else scores)
    proxies, agreement = _proxy_scores(study=study, scores=scores)
    compared = comparisons(kept, scores, paradigm=paradigm, seed=BOOTSTRAP_SEED)
    reliable = reliability(kept, paradigm=paradigm, seed=BOOTSTRAP_SEED)
    return StudyReport(
        study_id=study.pk, paradigm=paradigm, measure=study.design_spec.traits.measure,
        chance=inputs.options["chance"],
        conditions=scores, conditions_all=scores_all, comparisons=compared, reliability=reliable,
        comparisons_all=(comparisons(inputs.table, scores_all, paradigm=paradigm, seed=BOOTSTRAP_SEED)
                         if inputs.excluded else compared),
        reliability_all=(reliability(inputs.table, paradigm=paradigm, seed=BOOTSTRAP_SEED)
                         if inputs.excluded else reliable),
        condition_reliability=condition_reliabilities(kept, [m.condition_id for m in metas], paradigm=paradigm,
                                                      seed=BOOTSTRAP_SEED),
        exclusions=inputs.exclusions, proxies=proxies, proxy_agreement=agreement,
        target_ci_width=inputs.options["target_width"], analyses=study_analyses(kept, scores, paradigm=paradigm))


@dataclass(frozen=True)
class RecruitmentReading:
    """What the stopping rule needs to know about a study (docs/method.md §3, "Stopping rule")."""

    target: float | None  # the target CI width (the study's rules)
    places: int | None  # the design's cap, in participants (whole Latin squares); None: no cap
    completed: int  # completed, non-pilot sessions
    excluded: tuple[int, ...]  # the ids of those the exclusion decisions exclude
    scores: tuple[ConditionScore, ...]  # per condition, exclusions applied; () without a target

    @property
    def usable(self) -> int:
        return self.completed - len(self.excluded)


def recruitment_of(*, study: Study) -> Recruitment | None:
    """The stopping rule's last check of the study (None: never checked)."""
    return Recruitment.objects.filter(study=study).first()


def study_recruitment(*, study: Study) -> RecruitmentReading:
    """One read of the responses, and the bootstrap only when there is a target to judge. The scores
    are the results page's (same resamples, same seed), so the rule stops on the numbers it shows."""
    target, places = study_rules(study=study)[1], study_places(study=study)
    if target is None and places is None:  # nothing to judge: the responses need not be read
        completed = Participant.objects.filter(study=study, status=ParticipantStatus.COMPLETED, is_pilot=False)
        return RecruitmentReading(None, None, completed.count(), (), ())
    inputs = _scoring_inputs(study=study, resamples=DEFAULT_RESAMPLES)
    scores = () if target is None else tuple(
        condition_scores(inputs.kept, inputs.metas, seed=BOOTSTRAP_SEED, **inputs.options))
    return RecruitmentReading(target, places, len(inputs.exclusions), tuple(inputs.excluded), scores)


# The results page asks for the report once per figure; the same data gives the same report.
REPORT_CACHE_S = 600


def _report_version(*, study: Study) -> str:
    """Changes whenever anything a report depends on changes: responses, participants, decisions, rules,
    and each withdrawal, erasure or retention run (counts alone could come back to an earlier state
    once a participant is deleted, and retention changes the recruitment ids the report lists)."""
    responses = Response.objects.filter(trial__participant__study=study).aggregate(n=Count("pk"), top=Max("pk"))
    participants = Participant.objects.filter(study=study).aggregate(
        n=Count("pk"), seen=Max("completed_at"), pilots=Count("pk", filter=Q(is_pilot=True)),
        done=Count("pk", filter=Q(status=ParticipantStatus.COMPLETED)))
    decisions = ExclusionDecision.objects.filter(study=study).aggregate(top=Max("pk"))
    rules = ExclusionRules.objects.filter(study=study).values_list("updated_at", flat=True).first()
    erasures = DataErasure.objects.filter(study=study).aggregate(top=Max("pk"))
    return f"{responses}{participants}{decisions}{rules}{erasures}{study.paradigm}{study.design}"


def study_report_cached(*, study: Study) -> StudyReport:
    """study_report, reused while nothing it depends on has changed."""
    version = hashlib.sha256(_report_version(study=study).encode()).hexdigest()[:32]
    key = f"scoring:report:{study.pk}:{version}"
    report = cache.get(key)
    if report is None:
        report = study_report(study=study)
        cache.set(key, report, REPORT_CACHE_S)
    return report


@dataclass(frozen=True)
class Recognition:
    accuracy: float
    sem: float
    n: int


def job_recognition(*, job: GenerationJob, resamples: int = 1000) -> dict[str, Recognition]:
    """Each recognizer's accuracy on the job's IRIs with a bootstrap SEM (Feather et al.; docs/method.md §3)."""
    flags: dict[str, list[bool]] = {}
    for recognition in job.stimuli.values_list("recognition", flat=True):
        for name, row in recognition.items():
            flags.setdefault(name, []).append(bool(row["agrees"]))
    rng = np.random.default_rng(0)
    return {name: Recognition(float(np.mean(values)), bootstrap_sem(np.array(values), resamples=resamples, rng=rng),
                              len(values))
            for name, values in flags.items()}
