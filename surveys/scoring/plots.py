"""The results page's figures, drawn from a StudyReport as PNG or SVG bytes.

matplotlib's Figure is used directly (no pyplot state, safe in threads) with the Agg backend;
it never needs torch.
"""

import io
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # before anything asks for a GUI backend; the web server has no display

import numpy as np
from matplotlib.figure import Figure

from surveys.scoring.selectors import StudyReport
from surveys.studies.paradigms import PARADIGMS

FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
WITH, WITHOUT = "#1f5fa8", "#b0b0b0"


def _short(label: str, width: int = 50) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _errors(scores) -> tuple[list, list, list]:
    values = [s.alignment if s.alignment is not None else float("nan") for s in scores]
    low = [v - s.ci_low if s.ci_low is not None else 0 for v, s in zip(values, scores, strict=True)]
    high = [s.ci_high - v if s.ci_high is not None else 0 for v, s in zip(values, scores, strict=True)]
    return values, low, high


def _score_axis(axes, report: StudyReport, *, vertical: bool, label: str, title: str) -> None:
    """The score axis (x when vertical, else y): its label, 0 to 1 for a share, the chance line; then
    the legend and the title."""
    set_label, set_limits, line = ((axes.set_xlabel, axes.set_xlim, axes.axvline) if vertical
                                   else (axes.set_ylabel, axes.set_ylim, axes.axhline))
    if report.chance is not None:
        line(report.chance, color="#c0392b", linestyle="--", linewidth=1, label="chance")
    set_label(label)
    if not PARADIGMS[report.paradigm].rated:
        set_limits(0, 1)
    axes.legend(loc="best", fontsize="small")
    axes.set_title(title)


def alignment_figure(report: StudyReport) -> Figure:
    """Score per condition with its 95% bootstrap CI, with and without exclusions."""
    n = max(1, len(report.conditions))
    figure = Figure(figsize=(8.5, 1.2 + 0.45 * n), layout="constrained")
    axes = figure.add_subplot()
    rows = list(range(len(report.conditions)))
    for scores, offset, colour, name in ((report.conditions, -0.12, WITH, "exclusions applied"),
                                         (report.conditions_all, 0.12, WITHOUT, "no exclusions")):
        values, low, high = _errors(scores)
        axes.errorbar(values, [r + offset for r in rows], xerr=[low, high], fmt="o", color=colour, capsize=3,
                      label=name)
    axes.set_yticks(rows, [_short(s.label) for s in report.conditions])
    axes.invert_yaxis()
    _score_axis(axes, report, vertical=True, label=f"{report.measure} (95% bootstrap CI)",
                title="Human alignment per condition")
    return figure


def _layer_lines(axes, scores, points: dict[int, tuple[float, float, float]]) -> None:
    """One line per generation job (model x loss x starting point) over its layers, in the job's own
    order (conditions are made in that order); points: condition id -> (value, low, high)."""
    by_job: dict = {}
    for score in scores:
        if score.condition_id in points:
            by_job.setdefault(score.job_id, []).append(score)
    for job_id, rows in by_job.items():
        value, low, high = (np.array([points[s.condition_id][k] for s in rows]) for k in range(3))
        label = _short(" / ".join(part for i, part in enumerate(rows[0].label.split(" / ")) if i != 1))
        axes.errorbar([s.layer for s in rows], value, yerr=[value - low, high - value], marker="o", capsize=3,
                      label=f"job {job_id}: {label}")
    axes.set_xlabel("layer (network order)")


def layers_figure(report: StudyReport) -> Figure:
    """Score against layer with its 95% bootstrap CI, one line per generation job: the figure these
    papers are read for."""
    figure = Figure(figsize=(7.5, 4), layout="constrained")
    axes = figure.add_subplot()
    _layer_lines(axes, report.conditions, {s.condition_id: (s.alignment, s.ci_low, s.ci_high)
                                           for s in report.conditions if s.alignment is not None})
    _score_axis(axes, report, vertical=False, label=f"{report.measure} (95% bootstrap CI)",
                title="Alignment per layer")
    return figure


def mixed_figure(report: StudyReport) -> Figure:
    """The mixed model's condition estimates against layer (probability scale, or rating), 95% intervals."""
    figure = Figure(figsize=(7.5, 4), layout="constrained")
    axes = figure.add_subplot()
    model = report.analyses.mixed
    binary = model.scale == "log-odds"
    points = {c.condition_id: ((c.probability, c.probability_low, c.probability_high) if binary
                               else (c.estimate, c.low, c.high)) for c in model.conditions}
    _layer_lines(axes, report.conditions, points)
    if not model.fitted:
        axes.text(0.5, 0.5, model.method, ha="center", va="center", transform=axes.transAxes)
    scale = "P(right) for a typical participant and item" if binary else "rating for a typical participant and item"
    _score_axis(axes, report, vertical=False, label=f"{scale} (95% interval)", title="Mixed model per layer")
    return figure


def proxy_figure(report: StudyReport) -> Figure:
    """Human score against the perceptual-distance proxy per condition (bars: CI and spread over distances)."""
    figure = Figure(figsize=(5.5, 5), layout="constrained")
    axes = figure.add_subplot()
    pairs = [(s, p) for s, p in zip(report.conditions, report.proxies, strict=True)
             if p.mean is not None and s.alignment is not None]
    axes.plot([0, 1], [0, 1], color="#888888", linewidth=1, linestyle=":", label="agreement")
    for score, proxy in pairs:
        axes.errorbar([score.alignment], [proxy.mean],
                      xerr=[[score.alignment - score.ci_low], [score.ci_high - score.alignment]],
                      yerr=[[proxy.mean - proxy.low], [proxy.high - proxy.mean]], fmt="o", capsize=3,
                      label=_short(score.label, 30))
    if not pairs:
        axes.text(0.5, 0.5, "no proxy scores yet", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel(f"human: {report.measure}")
    axes.set_ylabel("proxy: share of IRIs with D(x*, x_t) <= D(x*, x_0)")
    axes.legend(loc="best", fontsize="x-small")
    axes.set_title("Humans vs perceptual-distance proxy")
    return figure


PLOTS: dict[str, Callable[[StudyReport], Figure]] = {
    "alignment": alignment_figure, "layers": layers_figure, "mixed": mixed_figure, "proxy": proxy_figure}


def plot_render(*, report: StudyReport, name: str, fmt: str) -> bytes:
    """One named figure as PNG or SVG bytes."""
    buffer = io.BytesIO()
    # SVG keeps its text as text, so a figure can be edited for a paper (and searched).
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        PLOTS[name](report).savefig(buffer, format=fmt, dpi=110)
    return buffer.getvalue()
