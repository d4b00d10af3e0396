"""Scores through the REST API and the researcher's results page: one researcher reads only their own studies."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from surveys.scoring import services
from surveys.scoring.exports import responses_csv_rows, stimuli_csv_rows
from surveys.scoring.plots import FORMATS, PLOTS, plot_render
from surveys.scoring.report_json import report_as_dict
from surveys.scoring.selectors import studies_visible_to, study_report_cached, study_scores
from surveys.studies.models import Study
from surveys.trials.models import Participant


def owned_study(request, study_id: int) -> Study:
    """The study if the signed-in researcher owns it; 404 otherwise (no hint that it exists)."""
    return get_object_or_404(studies_visible_to(user=request.user), pk=study_id)


def _csv_response(rows, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# Researcher pages (session login, as in admin).

@staff_member_required
def study_results(request: HttpRequest, study_id: int) -> HttpResponse:
    study = owned_study(request, study_id)
    report = study_report_cached(study=study)
    return render(request, "scoring/results.html", {
        "study": study, "report": report, "plots": list(PLOTS), "rows": _result_rows(report),
        "comparisons": _comparison_rows(report)})


def _comparison_rows(report) -> list[tuple]:
    """(with exclusions, the same pair without) for each compared pair."""
    without = {(c.a, c.b): c for c in report.comparisons_all}
    return [(c, without.get((c.a, c.b))) for c in report.comparisons]


def _result_rows(report) -> list[dict]:
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
def study_responses_csv(request: HttpRequest, study_id: int) -> StreamingHttpResponse:
    study = owned_study(request, study_id)
    return _csv_response(responses_csv_rows(study=study), f"study-{study.pk}-responses.csv")


@staff_member_required
def study_stimuli_csv(request: HttpRequest, study_id: int) -> StreamingHttpResponse:
    study = owned_study(request, study_id)
    return _csv_response(stimuli_csv_rows(study=study), f"study-{study.pk}-stimuli.csv")


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


# REST API (token or session authentication).

class ConditionScoreSerializer(serializers.Serializer):
    condition_id = serializers.IntegerField()
    label = serializers.CharField()
    participants = serializers.IntegerField()
    items = serializers.IntegerField()
    trials = serializers.IntegerField()
    alignment = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    item_majority = serializers.FloatField(allow_null=True)
    chance = serializers.FloatField(allow_null=True)
    participant_mean = serializers.FloatField(allow_null=True)
    participant_sem = serializers.FloatField(allow_null=True)
    p_vs_chance = serializers.FloatField(allow_null=True)
    more_participants_needed = serializers.IntegerField(allow_null=True)
    job_id = serializers.IntegerField(allow_null=True)
    layer = serializers.CharField()


class StudyScoresApi(APIView):
    @extend_schema(responses=ConditionScoreSerializer(many=True),
                   description="Score per condition, exclusions applied, with 95% bootstrap CIs.")
    def get(self, request: Request, study_id: int) -> Response:
        study = owned_study(request, study_id)
        return Response(ConditionScoreSerializer([s.as_dict() for s in study_scores(study=study)], many=True).data)


class StudyReportApi(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT,
                   description="Everything on the results page: scores with and without exclusions, tests, "
                               "comparisons, reliability, exclusions, proxies and their agreement with humans.")
    def get(self, request: Request, study_id: int) -> Response:
        return Response(report_as_dict(study_report_cached(study=owned_study(request, study_id))))


class CsvRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class StudyResponsesCsvApi(APIView):
    renderer_classes = [CsvRenderer]

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="one row per response")})
    def get(self, request: Request, study_id: int) -> StreamingHttpResponse:
        study = owned_study(request, study_id)
        return _csv_response(responses_csv_rows(study=study), f"study-{study.pk}-responses.csv")


class StudyStimuliCsvApi(APIView):
    renderer_classes = [CsvRenderer]

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="stimulus manifest")})
    def get(self, request: Request, study_id: int) -> StreamingHttpResponse:
        study = owned_study(request, study_id)
        return _csv_response(stimuli_csv_rows(study=study), f"study-{study.pk}-stimuli.csv")


class OverrideSerializer(serializers.Serializer):
    participant = serializers.IntegerField()
    excluded = serializers.BooleanField()
    note = serializers.CharField()


class StudyExclusionOverrideApi(APIView):
    @extend_schema(request=OverrideSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, study_id: int) -> Response:
        study = owned_study(request, study_id)
        data = OverrideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        participant = get_object_or_404(Participant, study=study, pk=data.validated_data["participant"])
        try:
            row = services.exclusion_override(study=study, participant=participant, author=request.user,
                                              excluded=data.validated_data["excluded"],
                                              note=data.validated_data["note"])
        except ValidationError as error:
            return Response({"detail": " ".join(error.messages)}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"id": row.pk, "participant": participant.pk, "excluded": row.excluded, "note": row.note},
                        status=status.HTTP_201_CREATED)
