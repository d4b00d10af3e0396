"""Building one participant's trial list (science.md section 2). Pure: takes the study's pieces and a
random generator, returns unsaved Trial rows; services.design_freeze stores them.

A trial's `layout` (server-only) names what each screen slot shows and which option is right:
    {"query": ref | None, "options": [ref, ...] | None, "labels": [category, ...] | None,
     "answer": index | None, "anchor": "identical" | "unrelated" (similarity checks only)}
An image ref is [role, stimulus_id], role one of "target", "seed", "iri": that stimulus's PNG. Every
image of one trial comes from stimuli of the same job, so sizes and preprocessing never differ
between the right option and the others.
"""

import random
from collections import defaultdict
from dataclasses import dataclass

from surveys.studies.models import Condition, Paradigm, Study, StudyItem
from surveys.trials.models import Participant, Trial, TrialKind

# Similarity anchors count as passed at or above / at or below these ratings (1-7 scale).
IDENTICAL_PASS_AT_LEAST = 5
UNRELATED_PASS_AT_MOST = 3


@dataclass
class StudyPieces:
    """What the design needs, loaded once: items by (target, condition), a stimulus per (job, target)."""

    paradigm: str
    design: dict
    conditions: list[Condition]
    items: list[StudyItem]
    targets: list[int]  # target image ids, sorted
    category: dict[int, str]  # target id -> category
    representative: dict[tuple[int, int], int]  # (job id, target id) -> a stimulus id showing that target

    @property
    def rows(self) -> int:
        """Latin-square rows: each participant sees each target once, in the condition its row gives."""
        return len(self.conditions) if self.design.get("once_per_target") else 1

    def targets_of_job(self, job_id: int) -> list[int]:
        return [t for (job, t) in self.representative if job == job_id]

    @property
    def categories(self) -> list[str]:
        return sorted({c for c in self.category.values() if c})


def study_pieces(*, study: Study) -> StudyPieces:
    items = list(study.items.select_related("stimulus__target", "condition").order_by("pk"))
    representative: dict[tuple[int, int], int] = {}
    for item in items:
        representative.setdefault((item.stimulus.job_id, item.stimulus.target_id), item.stimulus_id)
    return StudyPieces(
        paradigm=study.paradigm, design=study.design, conditions=list(study.conditions.order_by("pk")),
        items=items, targets=sorted({item.stimulus.target_id for item in items}),
        category={item.stimulus.target_id: item.stimulus.target.category for item in items},
        representative=representative,
    )


def main_items(pieces: StudyPieces, *, row: int) -> list[StudyItem]:
    """Every item, or (once per target) target j in condition (row + j) mod C: a Latin square."""
    if not pieces.design.get("once_per_target"):
        return list(pieces.items)
    cells = {(item.stimulus.target_id, item.condition_id): item for item in pieces.items}
    chosen = []
    count = len(pieces.conditions)
    for j, target in enumerate(pieces.targets):
        for shift in range(count):  # a target missing in its condition takes the next one that has it
            condition = pieces.conditions[(row + j + shift) % count]
            if (target, condition.pk) in cells:
                chosen.append(cells[(target, condition.pk)])
                break
    return chosen


def balanced_positions(n: int, k: int, rng: random.Random) -> list[int]:
    """n answer positions among k, as even as n allows, in random order (sides counterbalanced)."""
    positions = [index % k for index in range(n)]
    rng.shuffle(positions)
    return positions


def placed(right: list, others: list, position: int) -> tuple[list, int]:
    options = list(others)
    options.insert(position, right[0])
    return options, position


# --- main trials, one builder per paradigm --------------------------------------------------------

def main_layout(pieces: StudyPieces, item: StudyItem, position: int, rng: random.Random) -> dict:
    stimulus = item.stimulus
    iri, target = ["iri", stimulus.pk], ["target", stimulus.pk]
    if pieces.paradigm == Paradigm.TWO_AFC:
        foil = ["seed", stimulus.pk] if pieces.design.get("foils", "seed") == "seed" else other_targets(
            pieces, stimulus.job_id, stimulus.target_id, 1, rng)[0]
        options, answer = placed([target], [foil], position)
        return {"query": iri, "options": options, "answer": answer}
    if pieces.paradigm == Paradigm.SIMILARITY:
        options, _ = placed([target], [iri], position)
        return {"query": None, "options": options, "answer": None}
    if pieces.paradigm == Paradigm.MATCHING:
        others = other_targets(pieces, stimulus.job_id, stimulus.target_id, pieces.design.get("k", 3) - 1, rng)
        options, answer = placed([target], others, position)
        return {"query": iri, "options": options, "answer": answer}
    labels = category_labels(pieces, pieces.category[stimulus.target_id], rng)
    return {"query": iri, "options": None, "labels": labels, "answer": labels.index(pieces.category[stimulus.target_id])}


def other_targets(pieces: StudyPieces, job_id: int, target_id: int, n: int, rng: random.Random) -> list[list]:
    """n other targets of the same job's set, each as one of that job's stimuli showing it."""
    pool = [t for t in pieces.targets_of_job(job_id) if t != target_id]
    return [["target", pieces.representative[(job_id, t)]] for t in rng.sample(pool, n)]


def category_labels(pieces: StudyPieces, right: str, rng: random.Random) -> list[str]:
    """All categories, or k of them including the right one; always in alphabetical order."""
    everything = pieces.categories
    k = pieces.design.get("k")
    if not k or k >= len(everything):
        return everything
    return sorted([right, *rng.sample([c for c in everything if c != right], k - 1)])


# --- check trials: practice, gate and catch show a natural target image as the query -------------

def check_layout(pieces: StudyPieces, number: int, rng: random.Random) -> dict:
    """A trial with an unambiguous answer: the query is identical to one option (or, for
    classification, a natural image of a known category; for similarity, an anchor pair)."""
    job_id, target_id = rng.choice(sorted(pieces.representative))
    shown = ["target", pieces.representative[(job_id, target_id)]]
    k = {Paradigm.TWO_AFC: 2, Paradigm.MATCHING: pieces.design.get("k", 3)}.get(pieces.paradigm, 2)
    if pieces.paradigm == Paradigm.SIMILARITY:
        if number % 2 == 0:
            return {"query": None, "options": [shown, shown], "answer": None, "anchor": "identical"}
        other = other_targets(pieces, job_id, target_id, 1, rng)[0]
        options = [shown, other] if rng.random() < 0.5 else [other, shown]
        return {"query": None, "options": options, "answer": None, "anchor": "unrelated"}
    if pieces.paradigm == Paradigm.CLASSIFICATION:
        labels = category_labels(pieces, pieces.category[target_id], rng)
        return {"query": shown, "options": None, "labels": labels, "answer": labels.index(pieces.category[target_id])}
    if pieces.paradigm == Paradigm.TWO_AFC and pieces.design.get("foils") == "seed":
        others = [["seed", shown[1]]]
    else:
        others = other_targets(pieces, job_id, target_id, k - 1, rng)
    options, answer = placed([shown], others, rng.randrange(k))
    return {"query": shown, "options": options, "answer": answer}


def with_catch_trials(main: list[Trial], catch_every: int, make_catch) -> list[Trial]:
    """One catch trial at a random place in each block of catch_every main trials (at least one)."""
    if not catch_every or not main:
        return main
    count = max(1, len(main) // catch_every)
    block = max(1, len(main) // count)
    out: list[Trial] = []
    for number in range(count):
        chunk = main[number * block:(number + 1) * block] if number < count - 1 else main[number * block:]
        at = make_catch.rng.randint(0, len(chunk))
        out.extend(chunk[:at] + [make_catch(number)] + chunk[at:])
    return out


class _CatchMaker:
    def __init__(self, participant: Participant, pieces: StudyPieces, rng: random.Random):
        self.participant, self.pieces, self.rng = participant, pieces, rng

    def __call__(self, number: int) -> Trial:
        return Trial(participant=self.participant, kind=TrialKind.CATCH,
                     layout=check_layout(self.pieces, number, self.rng))


def trials_build(*, participant: Participant, pieces: StudyPieces, row: int, rng: random.Random) -> list[Trial]:
    """Practice, then the gate, then the main block in random order with catch trials mixed in."""
    design = pieces.design
    before: list[Trial] = []
    if design.get("practice"):
        before += [Trial(participant=participant, kind=TrialKind.PRACTICE, layout=check_layout(pieces, n, rng))
                   for n in range(design.get("practice_trials", 3))]
    if design.get("gate"):
        before += [Trial(participant=participant, kind=TrialKind.QUALIFICATION, layout=check_layout(pieces, n, rng))
                   for n in range(design["gate"]["trials"])]
    items = main_items(pieces, row=row)
    rng.shuffle(items)
    k = {Paradigm.MATCHING: design.get("k", 3), Paradigm.CLASSIFICATION: 1}.get(pieces.paradigm, 2)
    positions = balanced_positions(len(items), k, rng)
    main = [Trial(participant=participant, kind=TrialKind.MAIN, item=item, condition_id=item.condition_id,
                  target_on_left=position == 0 and pieces.paradigm in (Paradigm.TWO_AFC, Paradigm.SIMILARITY),
                  layout=main_layout(pieces, item, position, rng))
            for item, position in zip(items, positions, strict=True)]
    trials = before + with_catch_trials(main, design.get("catch_every", 0), _CatchMaker(participant, pieces, rng))
    for index, trial in enumerate(trials):
        trial.index = index
    return trials


def anchor_passed(anchor: str, rating: int) -> bool:
    return rating >= IDENTICAL_PASS_AT_LEAST if anchor == "identical" else rating <= UNRELATED_PASS_AT_MOST


def design_row_counts(*, rows: int, taken: list[int]) -> list[int]:
    counts = defaultdict(int)
    for row in taken:
        counts[row] += 1
    return [counts[row] for row in range(rows)]
