"""Tidy CSV exports: one row per response, and a manifest of the study's stimuli.

Every participant who answered appears (pilot and unfinished sessions too, flagged), with the number
of the study version they were shown (`study_version`: its consent, instructions and design), so
others can reanalyse with their own rules; the `scored` column marks the rows the reported scores use with
exclusions applied (main trials of completed, non-pilot, included participants: never practice, gate
or catch trials), `excluded`/`exclusion_reason` say why a completed participant was left out.
Classification rows name the category chosen (`chosen_category`) beside the button's index (`choice`).
The answers to the study's questions before and after the trials follow, one column per question
(`q_<id>`), repeated on each of the participant's rows.
"""

import csv
import json
from collections.abc import Iterator

from surveys.scoring.selectors import study_exclusions
from surveys.studies.models import Study, StudyItem
from surveys.trials.layout import TrialLayout
from surveys.trials.models import ParticipantStatus, Response, TrialKind

# How each trial was shown and watched, from the page's record (client_data; also in "timings"):
# whether focus was lost during it, the frames asked for and dropped, the image's size on screen.
PRESENTATION_COLUMNS = ["focus_lost", "paused_ms", "frame_ms", "stimulus_frames", "stimulus_frames_ms",
                        "dropped_frames", "image_px", "px_per_deg", "size_fallback"]
RESPONSE_COLUMNS = [
    "response_id", "participant_id", "recruitment_id", "source", "session", "participant_status", "is_pilot",
    "study_version", "trial_id", "trial_index", "kind", "condition_id", "condition_label", "item_id", "stimulus_id",
    "target", "choice", "chosen_category", "chose_target", "correct", "rating", "rt_ms", "timings", "responded_at",
    "excluded", "exclusion_reason", "exclusion_source", "scored", *PRESENTATION_COLUMNS,
]
STIMULUS_COLUMNS = [
    "item_id", "condition_id", "condition_label", "stimulus_id", "job_id", "model", "layer", "loss", "seed_type",
    "optimizer", "target", "category", "final_rep_loss", "validity", "passes", "verdict_reasons", "proxy", "iri_file", "target_file",
    "seed_file", "code_version", "checkpoint_sha256",
]
_RESPONSE_FIELDS = [
    "pk", "trial__participant_id", "trial__participant__recruitment_id", "trial__participant__source",
    "trial__participant__recruitment_data", "trial__participant__status", "trial__participant__is_pilot",
    "trial__participant__study_version__number", "trial__public_id", "trial__index", "trial__kind",
    "trial__condition_id", "trial__condition__label", "trial__item_id", "trial__item__stimulus__public_id",
    "trial__item__stimulus__target__name", "choice", "chose_target", "correct", "rating", "rt_ms", "client_data",
    "created_at", "trial__layout", "trial__participant__answers",
]
CHUNK_ROWS = 5000


class _Echo:
    def write(self, value: str) -> str:
        return value


# A text cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...) in a participant's
# SESSION_ID, say): OWASP's advice is to prefix it with an apostrophe, which shows it as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, str):  # text someone typed; numbers (a negative one too) stay numbers
        return f"'{value}" if value.startswith(FORMULA_STARTS) else value
    return str(value)


def _question_ids(study: Study) -> list[str]:
    """The study's questions, before then after: one column each (q_<id>) after the fixed columns."""
    design = study.design_spec
    return [question.id for question in (*design.questions_before, *design.questions_after)]


def _answer_cells(answers: dict, question_ids: list[str]) -> list:
    """The participant's answer to each question ("" where none): the same on each of their rows."""
    given = {key: value for phase in (answers or {}).values() for key, value in phase.items()}
    return [given.get(question_id) for question_id in question_ids]


def _response_row(values: tuple, decisions: dict) -> list:
    row = dict(zip(_RESPONSE_FIELDS, values, strict=True))
    decision = decisions.get(row["trial__participant_id"])
    counted = row["trial__participant__status"] == ParticipantStatus.COMPLETED and not row[
        "trial__participant__is_pilot"]
    session = (row["trial__participant__recruitment_data"] or {}).get("SESSION_ID", "")
    excluded = decision.excluded if decision else None
    scored = counted and not excluded and row["trial__kind"] == TrialKind.MAIN
    return [row["pk"], row["trial__participant_id"], row["trial__participant__recruitment_id"],
            row["trial__participant__source"], session, row["trial__participant__status"],
            row["trial__participant__is_pilot"], row["trial__participant__study_version__number"],
            row["trial__public_id"], row["trial__index"], row["trial__kind"],
            row["trial__condition_id"], row["trial__condition__label"], row["trial__item_id"],
            row["trial__item__stimulus__public_id"], row["trial__item__stimulus__target__name"], row["choice"],
            _chosen_category(row["trial__layout"], row["choice"]), row["chose_target"], row["correct"], row["rating"], row["rt_ms"], row["client_data"],
            row["created_at"].isoformat(), excluded, decision.reason if decision else "",
            decision.source if decision else "", bool(scored),
            *_presentation_cells(row["client_data"])]


def _chosen_category(layout: dict, choice: int | None) -> str:
    """Classification: the name on the button the participant pressed; other paradigms: empty."""
    labels = TrialLayout.from_dict(layout).labels if layout else ()
    return labels[choice] if choice is not None and choice < len(labels) else ""


def _presentation_cells(client_data) -> list:
    data = client_data if isinstance(client_data, dict) else {}
    cells = [data.get(name) for name in PRESENTATION_COLUMNS]
    cells[0] = bool(data.get("focus_lost"))  # older responses carry no mark: nobody saw them leave
    return cells


def responses_csv_rows(*, study: Study) -> Iterator[str]:
    """The tidy responses CSV, line by line (for a streaming HTTP response)."""
    writer = csv.writer(_Echo())
    decisions = {d.participant_id: d for d in study_exclusions(study=study)}
    question_ids = _question_ids(study)
    yield writer.writerow([*RESPONSE_COLUMNS, *(f"q_{question_id}" for question_id in question_ids)])
    rows = (Response.objects.filter(trial__participant__study=study)
            .order_by("trial__participant_id", "trial__index").values_list(*_RESPONSE_FIELDS))
    for values in rows.iterator(chunk_size=CHUNK_ROWS):
        answers = _answer_cells(values[-1], question_ids)
        yield writer.writerow([_cell(v) for v in [*_response_row(values, decisions), *answers]])


def stimuli_csv_rows(*, study: Study) -> Iterator[str]:
    """The stimulus manifest: one row per IRI shown in the study, with how it was made."""
    writer = csv.writer(_Echo())
    yield writer.writerow(STIMULUS_COLUMNS)
    items = (StudyItem.objects.filter(study=study).order_by("pk")
             .select_related("condition", "stimulus__target", "stimulus__job__model"))
    for item in items.iterator(chunk_size=CHUNK_ROWS):
        stimulus = item.stimulus
        labels = stimulus.job.cell_labels(stimulus.layer)  # an imported IRI: its condition's labels
        yield writer.writerow([_cell(v) for v in [
            item.pk, item.condition_id, item.condition.label, stimulus.public_id, stimulus.job_id,
            labels.model, labels.layer, labels.loss, labels.seed_type, stimulus.optimizer,
            stimulus.target.name, stimulus.target.category, stimulus.final_rep_loss, stimulus.validity,
            stimulus.passes, stimulus.verdict.get("reasons"), stimulus.proxy, stimulus.iri_png.name, stimulus.target_png.name,
            stimulus.seed_png.name, stimulus.code_version, stimulus.checkpoint_sha256]])


# The study's CSV exports by name, as their URLs name them (responses.csv, stimuli.csv).
EXPORTS = {"responses": responses_csv_rows, "stimuli": stimuli_csv_rows}
