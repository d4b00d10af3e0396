"""The researcher's pages that admin lacks: live job progress, stored images, and a study's results
page with its plots, CSV exports and exclusion overrides. Each parses, calls one service or selector,
renders; a researcher reaches only their own jobs, files and studies."""

import mimetypes

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from surveys.generation import selectors as generation
from surveys.scoring import services
from surveys.scoring.exports import EXPORTS
from surveys.scoring.plots import FORMATS, PLOTS, plot_render
from surveys.scoring.selectors import StudyReport, exclusion_rules_of, studies_visible_to, study_report_cached
from surveys.studies.models import Study
from surveys.studies.selectors import study_iri_verdicts
from surveys.trials.models import Participant


def owned_study(request, study_id: int) -> Study:
    """The study if the signed-in researcher owns it; 404 otherwise (no hint that it exists)."""
    return get_object_or_404(studies_visible_to(user=request.user), pk=study_id)


def csv_response(*, study: Study, export: str) -> StreamingHttpResponse:
    """One of the study's CSV exports (EXPORTS), streamed as a download."""
    response = StreamingHttpResponse(EXPORTS[export](study=study), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-{export}.csv"'
    return response


@staff_member_required
def job_progress(request: HttpRequest, job_id: int) -> JsonResponse:
    job = get_object_or_404(generation.jobs_visible_to(user=request.user), pk=job_id)
    return JsonResponse(generation.job_progress(job=job))


# Stored files admin may show in the page (thumbnails). Anything else, a checkpoint named weights.html
# or an SVG included, is a download of opaque bytes, never a document of our origin that could run script.
INLINE_FILE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


@staff_member_required
def stored_file(request: HttpRequest, name: str) -> HttpResponse:
    """A stored file for a researcher's own eyes (thumbnails in admin); participants never use this."""
    if not generation.file_visible_to(user=request.user, name=name):
        raise Http404("No such file.")
    content_type = mimetypes.guess_type(name)[0]
    inline = content_type in INLINE_FILE_TYPES
    try:
        return FileResponse(default_storage.open(name, "rb"), as_attachment=not inline,
                            content_type=content_type if inline else "application/octet-stream")
    except NotImplementedError:
        return redirect(default_storage.url(name))
    except FileNotFoundError:
        raise Http404("No such file.") from None


@staff_member_required
def study_results(request: HttpRequest, study_id: int) -> HttpResponse:
    study = owned_study(request, study_id)
    report = study_report_cached(study=study)
    return render(request, "scoring/results.html", {
        "study": study, "report": report, "rules": exclusion_rules_of(study=study), "plots": list(PLOTS),
        "rows": _result_rows(report), "comparisons": _comparison_rows(report),
        "analysis_rows": _analysis_rows(report), "verdicts": study_iri_verdicts(study=study)})


def _comparison_rows(report: StudyReport) -> list[tuple]:
    """(with exclusions, the same pair without) for each compared pair."""
    without = {(c.a, c.b): c for c in report.comparisons_all}
    return [(c, without.get((c.a, c.b))) for c in report.comparisons]


def _analysis_rows(report: StudyReport) -> list[dict]:
    """Per condition: its mixed-model estimate, d′ (2AFC) and response times, for the analyses table."""
    analyses = report.analyses
    mixed = {c.condition_id: c for c in analyses.mixed.conditions}
    d_prime = {d.condition_id: d for d in analyses.d_prime}
    times = {t.condition_id: t for t in analyses.response_times}
    return [{"score": s, "mixed": mixed.get(s.condition_id), "d_prime": d_prime.get(s.condition_id),
             "rt": times.get(s.condition_id)} for s in report.conditions]


def _result_rows(report: StudyReport) -> list[dict]:
    proxies = {p.condition_id: p for p in report.proxies}
    return [{"score": s, "all": a, "proxy": proxies.get(s.condition_id),
             "reliability": report.condition_reliability.get(s.condition_id)}
            for s, a in zip(report.conditions, report.conditions_all, strict=True)]


@staff_member_required
def study_plot(request: HttpRequest, study_id: int, name: str, fmt: str) -> HttpResponse:
    study = owned_study(request, study_id)
    if name not in PLOTS or fmt not in FORMATS:
        return HttpResponse(status=404)
    response = HttpResponse(plot_render(report=study_report_cached(study=study), name=name, fmt=fmt),
                            content_type=FORMATS[fmt])
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-{name}.{fmt}"'
    return response


@staff_member_required
def study_export(request: HttpRequest, study_id: int, export: str) -> StreamingHttpResponse:
    return csv_response(study=owned_study(request, study_id), export=export)


@staff_member_required
@require_POST
def study_exclusion_override(request: HttpRequest, study_id: int) -> HttpResponse:
    study = owned_study(request, study_id)
    participant = get_object_or_404(Participant, study=study, pk=request.POST.get("participant"))
    try:
        services.exclusion_override(study=study, participant=participant, excluded=request.POST.get("excluded") == "1",
                                    note=request.POST.get("note", ""), author=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("scoring-study-results", study_id=study.pk)


@staff_member_required
@require_POST
def study_exclusions_apply(request: HttpRequest, study_id: int) -> HttpResponse:
    study = owned_study(request, study_id)
    added = services.exclusions_apply(study=study)
    messages.info(request, f"Recorded {added} new exclusion decision(s).")
    return redirect("scoring-study-results", study_id=study.pk)
