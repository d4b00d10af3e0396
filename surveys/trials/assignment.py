"""Drawing one participant's trial list (docs/method.md §2). Pure: takes the study's pieces and a
random generator, returns unsaved Trial rows; services.design_freeze stores them."""

import functools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from surveys.studies.design import StudyDesign
from surveys.studies.models import Study
from surveys.studies.paradigms import Paradigm
from surveys.trials import admission
from surveys.trials.layout import ImageRef, TrialLayout
from surveys.trials.models import Participant, Trial, TrialKind


@dataclass(frozen=True)
class DrawItem:
    """A study item as the draw reads it: ids and its target's category. Not StudyItem with its
    stimulus row: every arrival loads all of a study's items, and the stimulus's JSON (loss curve,
    scores, config) cost far more to load than the whole draw."""

    pk: int
    condition_id: int
    stimulus_id: int
    job_id: int
    target_id: int
    category: str


@dataclass
class StudyPieces:
    """What the draw needs, loaded once: items by (target, condition), a stimulus per (job, target)."""

    design: StudyDesign
    conditions: list[int]  # condition ids, in order
    items: list[DrawItem]
    targets: list[int]  # target image ids, sorted
    category: dict[int, str]  # target id -> category
    representative: dict[tuple[int, int], int]  # (job id, target id) -> a stimulus id showing that target

    @property
    def rows(self) -> int:
        return square_rows(design=self.design, conditions=len(self.conditions))

    def targets_of_job(self, job_id: int) -> list[int]:
        return [t for (job, t) in self.representative if job == job_id]

    @property
    def categories(self) -> list[str]:
        return sorted({c for c in self.category.values() if c})


def square_rows(*, design: StudyDesign, conditions: int) -> int:
    """Latin-square rows: each participant sees each target once, in the condition its row gives."""
    return conditions if design.once_per_target else 1


def capped_places(*, cap: int | None, rows: int) -> int | None:
    """The participants a design with a cap admits (None: no cap). Each participant contributes to
    every condition (all items, or one Latin-square row covering every condition), so the cap is on
    participants, rounded up to whole squares."""
    return math.ceil(cap / rows) * rows if cap else None


def study_pieces(*, study: Study) -> StudyPieces:
    """The study's pieces, its design as ``study`` holds it. Items and conditions are made with the
    study and never change afterwards; every arrival reads them (admission.py's prepared statements)."""
    items = [DrawItem(*row) for row in admission.draw_items(study_id=study.pk)]
    representative: dict[tuple[int, int], int] = {}
    for item in items:
        representative.setdefault((item.job_id, item.target_id), item.stimulus_id)
    return StudyPieces(
        design=study.design_spec, conditions=admission.condition_ids(study_id=study.pk),
        items=items, targets=sorted({item.target_id for item in items}),
        category={item.target_id: item.category for item in items},
        representative=representative,
    )


def main_items(pieces: StudyPieces, *, row: int) -> list[DrawItem]:
    """Every item, or (once per target) target j in condition (row + j) mod C: a Latin square."""
    if not pieces.design.once_per_target:
        return list(pieces.items)
    cells = {(item.target_id, item.condition_id): item for item in pieces.items}
    chosen = []
    count = len(pieces.conditions)
    for j, target in enumerate(pieces.targets):
        for shift in range(count):  # a target missing in its condition takes the next one that has it
            condition_id = pieces.conditions[(row + j + shift) % count]
            if (target, condition_id) in cells:
                chosen.append(cells[(target, condition_id)])
                break
    return chosen


def balanced_positions(n: int, k: int, rng: random.Random) -> list[int]:
    """n answer positions among k, as even as n allows, in random order (sides counterbalanced)."""
    positions = [index % k for index in range(n)]
    rng.shuffle(positions)
    return positions


def placed(right: ImageRef, others: list[ImageRef], position: int) -> tuple[ImageRef, ...]:
    options = list(others)
    options.insert(position, right)
    return tuple(options)


# --- main trials, one builder per paradigm --------------------------------------------------------

def main_layout(pieces: StudyPieces, item: DrawItem, position: int, rng: random.Random) -> TrialLayout:
    design = pieces.design
    iri, target = ImageRef("iri", item.stimulus_id), ImageRef("target", item.stimulus_id)
    if design.paradigm == Paradigm.TWO_AFC:
        foil = (ImageRef("seed", item.stimulus_id) if design.foils == "seed"
                else other_targets(pieces, item.job_id, item.target_id, 1, rng)[0])
        return TrialLayout(query=iri, options=placed(target, [foil], position), answer=position)
    if design.paradigm == Paradigm.SIMILARITY:
        return TrialLayout(options=placed(target, [iri], position))
    if design.paradigm == Paradigm.MATCHING:
        others = other_targets(pieces, item.job_id, item.target_id, design.k - 1, rng)
        return TrialLayout(query=iri, options=placed(target, others, position), answer=position)
    return category_layout(pieces, query=iri, target_id=item.target_id, rng=rng)


def other_targets(pieces: StudyPieces, job_id: int, target_id: int, n: int, rng: random.Random) -> list[ImageRef]:
    """n other targets of the same job's set, each as one of that job's stimuli showing it."""
    pool = [t for t in pieces.targets_of_job(job_id) if t != target_id]
    return [ImageRef("target", pieces.representative[(job_id, t)]) for t in rng.sample(pool, n)]


def category_layout(pieces: StudyPieces, *, query: ImageRef, target_id: int, rng: random.Random) -> TrialLayout:
    """Classification: all categories, or k of them including the right one, in alphabetical order."""
    everything, right, k = pieces.categories, pieces.category[target_id], pieces.design.k
    labels = everything if not k or k >= len(everything) else sorted(
        [right, *rng.sample([c for c in everything if c != right], k - 1)])
    return TrialLayout(query=query, labels=tuple(labels), answer=labels.index(right))


# --- check trials: practice, gate and catch show a natural target image as the query -------------

def check_layout(pieces: StudyPieces, number: int, rng: random.Random) -> TrialLayout:
    """A trial with an unambiguous answer: the query is identical to one option (or, for
    classification, a natural image of a known category; for similarity, an anchor pair)."""
    design = pieces.design
    job_id, target_id = rng.choice(sorted(pieces.representative))
    shown = ImageRef("target", pieces.representative[(job_id, target_id)])
    if design.paradigm == Paradigm.SIMILARITY:
        return anchor_layout(pieces, shown, job_id=job_id, target_id=target_id, identical=number % 2 == 0, rng=rng)
    if design.paradigm == Paradigm.CLASSIFICATION:
        return category_layout(pieces, query=shown, target_id=target_id, rng=rng)
    if design.paradigm == Paradigm.TWO_AFC and design.foils == "seed":
        others = [ImageRef("seed", shown.stimulus_id)]
    else:
        others = other_targets(pieces, job_id, target_id, design.image_options - 1, rng)
    answer = rng.randrange(design.image_options)
    return TrialLayout(query=shown, options=placed(shown, others, answer), answer=answer)


def anchor_layout(pieces: StudyPieces, shown: ImageRef, *, job_id: int, target_id: int, identical: bool,
                  rng: random.Random) -> TrialLayout:
    """Similarity's attention checks: an identical pair, or the image beside another target."""
    if identical:
        return TrialLayout(options=(shown, shown), anchor="identical")
    other = other_targets(pieces, job_id, target_id, 1, rng)[0]
    options = (shown, other) if rng.random() < 0.5 else (other, shown)
    return TrialLayout(options=options, anchor="unrelated")


def check_trial(participant: Participant, pieces: StudyPieces, kind: str, number: int, *,
                rng: random.Random) -> Trial:
    return Trial(participant=participant, kind=kind, layout=check_layout(pieces, number, rng).to_dict())


def with_catch_trials(main: list[Trial], catch_every: int, make_catch: Callable[[int], Trial],
                      rng: random.Random) -> list[Trial]:
    """One catch trial at a random place in each block of catch_every main trials (at least one)."""
    if not catch_every or not main:
        return main
    count = max(1, len(main) // catch_every)
    block = max(1, len(main) // count)
    out: list[Trial] = []
    for number in range(count):
        chunk = main[number * block:(number + 1) * block] if number < count - 1 else main[number * block:]
        at = rng.randint(0, len(chunk))
        out.extend(chunk[:at] + [make_catch(number)] + chunk[at:])
    return out


def trials_build(*, participant: Participant, pieces: StudyPieces, row: int, rng: random.Random) -> list[Trial]:
    """Practice, then the gate, then the main block in random order with catch trials mixed in."""
    design = pieces.design
    before = [check_trial(participant, pieces, TrialKind.PRACTICE, n, rng=rng)
              for n in range(design.practice_trials if design.practice else 0)]
    before += [check_trial(participant, pieces, TrialKind.QUALIFICATION, n, rng=rng)
               for n in range(design.gate.trials if design.gate else 0)]
    items = main_items(pieces, row=row)
    rng.shuffle(items)
    positions = balanced_positions(len(items), max(1, design.image_options), rng)
    two_sided = design.traits.image_options == 2  # the target is left or right of one other image
    main = [Trial(participant=participant, kind=TrialKind.MAIN, item_id=item.pk, condition_id=item.condition_id,
                  target_on_left=two_sided and position == 0,
                  layout=main_layout(pieces, item, position, rng).to_dict())
            for item, position in zip(items, positions, strict=True)]
    catch = functools.partial(check_trial, participant, pieces, TrialKind.CATCH, rng=rng)
    trials = before + with_catch_trials(main, design.catch_every, catch, rng)
    for index, trial in enumerate(trials):
        trial.index = index
    return trials

