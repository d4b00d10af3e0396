"""The REST API: models, generation jobs and a study's scores. Views parse, call one service or
selector, render; a researcher reaches only their own rows (404 for anyone else's)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from surveys.console.api_inputs import Strict
from surveys.console.views import csv_response, owned_study
from surveys.generation import selectors, services
from surveys.generation.models import GenerationJob, ModelStatus, RegisteredModel, TargetSet
from surveys.scoring import services as scoring
from surveys.scoring.report_json import report_as_dict
from surveys.scoring.selectors import study_report_cached, study_scores
from surveys.studies import services as studies
from surveys.studies.services import StudyFrozen
from surveys.trials.models import Participant


def api_exception_handler(error, context):
    """DRF's handler, which also answers a service's refusal (a Django ValidationError) with a 400
    that carries its messages: {"detail": [...]}; a change to a study whose design has frozen is a 409."""
    if isinstance(error, StudyFrozen):
        return Response({"detail": error.messages}, status=status.HTTP_409_CONFLICT)
    if isinstance(error, ValidationError):
        error = ApiValidationError({"detail": error.messages})
    return exception_handler(error, context)


# --- models and generation jobs ------------------------------------------------------------------

class ModelOutput(serializers.ModelSerializer):
    class Meta:
        model = RegisteredModel
        fields = ["id", "name", "status", "error", "architecture", "input_size", "mean", "std", "num_classes",
                  "layer_names", "checkpoint_sha256", "is_classifier", "created_at"]


class ModelInput(Strict, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    architecture = serializers.CharField(
        max_length=128, help_text="A torchvision classification model name (e.g. resnet18); timm:NAME for a timm "
                                  "architecture (built without pretrained weights: upload yours); installed:NAME "
                                  "for an architecture the workers' operator installed (an iris.architectures "
                                  "entry point); or torchscript.")
    weights = serializers.FileField(required=False)
    input_size = serializers.IntegerField(min_value=8, max_value=1024)
    mean = serializers.ListField(child=serializers.FloatField(), min_length=3, max_length=3)
    std = serializers.ListField(child=serializers.FloatField(), min_length=3, max_length=3)
    num_classes = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    init_seed = serializers.IntegerField(min_value=0, default=0)


class ModelListApi(APIView):
    parser_classes = [MultiPartParser, JSONParser]

    @extend_schema(responses=ModelOutput(many=True))
    def get(self, request):
        return Response(ModelOutput(RegisteredModel.objects.filter(owner=request.user), many=True).data)

    @extend_schema(request=ModelInput, responses={
        201: ModelOutput, 202: OpenApiResponse(ModelOutput, description="Saved with status 'inspecting': a worker "
                                                                        "inspects it; poll the Location header's URL "
                                                                        "until the status is 'ready' or 'refused'.")})
    def post(self, request):
        data = ModelInput(data=request.data)
        data.is_valid(raise_exception=True)
        model = services.model_register(owner=request.user, **{"weights": None, **data.validated_data})
        if model.status == ModelStatus.INSPECTING:
            location = request.build_absolute_uri(reverse("api-model", args=[model.pk]))
            return Response(ModelOutput(model).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})
        return Response(ModelOutput(model).data, status=status.HTTP_201_CREATED)


class JobOutput(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    verdicts = serializers.SerializerMethodField()

    class Meta:
        model = GenerationJob
        fields = ["id", "kind", "model", "target_set", "null_reference", "config", "status", "error", "progress",
                  "verdicts", "created_at", "finished_at"]

    def get_progress(self, job) -> dict:
        return selectors.job_progress(job=job)

    def get_verdicts(self, job) -> dict:
        """How many IRIs passed and failed the job's criterion (config["criterion"]), per layer too."""
        return selectors.job_verdicts(job=job)


class JobInput(Strict, serializers.Serializer):
    model = serializers.IntegerField()
    target_set = serializers.IntegerField()
    config = serializers.JSONField(help_text="The engine's GenerationSpec; its criterion decides which IRIs pass.")
    null_reference = serializers.IntegerField(required=False, allow_null=True,
                                              help_text="A target set of yours: the natural images of the "
                                                        "criterion's 'reference' null.")
    # As on admin's job form: {"model": id, "layers": [...]} per perceptual distance; classifiers' ids.
    perceptual = serializers.JSONField(required=False, allow_null=True, default=None,
                                       help_text="The distance adversarial losses push against.")
    proxies = serializers.ListField(child=serializers.JSONField(), required=False, default=list,
                                    help_text="Distances that score each IRI's proxy alignment.")
    recognizers = serializers.ListField(child=serializers.IntegerField(), required=False, default=list,
                                        help_text="Other registered classifiers asked what each IRI shows.")


class JobListApi(APIView):
    @extend_schema(responses=JobOutput(many=True))
    def get(self, request):
        return Response(JobOutput(selectors.jobs_visible_to(user=request.user), many=True).data)

    @extend_schema(request=JobInput, responses={201: JobOutput})
    def post(self, request):
        data = JobInput(data=request.data)
        data.is_valid(raise_exception=True)
        model = get_object_or_404(RegisteredModel, pk=data.validated_data["model"], owner=request.user)
        target_set = get_object_or_404(TargetSet, pk=data.validated_data["target_set"], owner=request.user)
        given = data.validated_data
        reference_id = given.get("null_reference")
        reference = None if reference_id is None else get_object_or_404(TargetSet, pk=reference_id, owner=request.user)
        job = services.job_submit(owner=request.user, model=model, target_set=target_set, config=given["config"],
                                  perceptual=given["perceptual"], proxies=given["proxies"],
                                  recognizers=given["recognizers"], null_reference=reference)
        return Response(JobOutput(job).data, status=status.HTTP_201_CREATED)


class JobDetailApi(APIView):
    @extend_schema(responses=JobOutput)
    def get(self, request, job_id: int):
        return Response(JobOutput(get_object_or_404(selectors.jobs_visible_to(user=request.user), pk=job_id)).data)


class JobCancelApi(APIView):
    @extend_schema(request=None, responses=JobOutput)
    def post(self, request, job_id: int):
        job = get_object_or_404(selectors.jobs_visible_to(user=request.user), pk=job_id)
        services.job_cancel(job=job)
        job.refresh_from_db()
        return Response(JobOutput(job).data)


# --- a study's scores, exports and exclusion overrides -------------------------------------------

class ConditionScoreSerializer(serializers.Serializer):
    condition_id = serializers.IntegerField()
    label = serializers.CharField()
    participants = serializers.IntegerField()
    items = serializers.IntegerField()
    trials = serializers.IntegerField()
    score_name = serializers.CharField(help_text="What score is: target_share (2AFC), accuracy (matching, "
                                                 "classification) or mean_rating (similarity, 1-7).")
    measure = serializers.CharField(help_text="The same in words, as the results page says it.")
    score = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    item_majority = serializers.FloatField(allow_null=True)
    chance = serializers.FloatField(allow_null=True)
    participant_mean = serializers.FloatField(allow_null=True)
    participant_sem = serializers.FloatField(allow_null=True)
    p_vs_chance = serializers.FloatField(allow_null=True)
    more_participants_needed = serializers.IntegerField(
        allow_null=True, help_text="For the target CI width: null when not set, too few participants, or out of "
                                   "reach (the item part alone is as wide).")
    item_part_width = serializers.FloatField(allow_null=True, help_text="The part of the CI's width that more "
                                                                       "participants cannot narrow (docs/method.md §3).")
    item_part_low = serializers.FloatField(allow_null=True, help_text="Its one-sided 95% lower bound, which the "
                                                                     "stopping rule judges.")
    job_id = serializers.IntegerField(allow_null=True)
    layer = serializers.CharField()


class StudyScoresApi(APIView):
    @extend_schema(responses=ConditionScoreSerializer(many=True),
                   description="Score per condition, exclusions applied, with 95% bootstrap CIs; score_name "
                               "says which score the study's paradigm has.")
    def get(self, request: Request, study_id: int) -> Response:
        study = owned_study(request, study_id)
        traits = study.design_spec.traits
        named = {"score_name": traits.score_name, "measure": traits.measure}
        return Response(ConditionScoreSerializer([s.as_dict() | named for s in study_scores(study=study)],
                                                 many=True).data)


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


class StudyExportApi(APIView):
    """One CSV export of a study; its URL names which (responses: one row per response; stimuli: the
    stimulus manifest)."""

    renderer_classes = [CsvRenderer]

    @extend_schema(responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="a CSV export")})
    def get(self, request: Request, study_id: int, export: str):
        return csv_response(study=owned_study(request, study_id), export=export)


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
        row = scoring.exclusion_override(study=study, participant=participant, author=request.user,
                                         excluded=data.validated_data["excluded"], note=data.validated_data["note"])
        return Response({"id": row.pk, "participant": participant.pk, "excluded": row.excluded, "note": row.note},
                        status=status.HTTP_201_CREATED)


# --- a study's design and what its participants read ---------------------------------------------

class StudyDesignSerializer(serializers.Serializer):
    design_version = serializers.IntegerField(read_only=True)
    frozen = serializers.BooleanField(read_only=True, help_text="A participant (not a pilot) has started: the "
                                                                "design cannot change any more; the texts can, each "
                                                                "change a new version.")
    design = serializers.JSONField(required=False, help_text="StudyDesign's options (docs/method.md §2); those "
                                                             "left out take their defaults.")
    language = serializers.ChoiceField(required=False, choices=settings.LANGUAGES,
                                       help_text="The participant pages' language (the texts are not rewritten).")
    consent_text = serializers.CharField(required=False)
    instructions = serializers.CharField(required=False, source="instructions_html",
                                         help_text="Plain text, Markdown-compatible.")
    prompt = serializers.CharField(required=False, max_length=300)
    scale_low_label = serializers.CharField(required=False, allow_blank=True, max_length=60)
    scale_high_label = serializers.CharField(required=False, allow_blank=True, max_length=60)
    debrief = serializers.CharField(required=False, allow_blank=True, source="debrief_text",
                                    help_text="Shown on the last page; Markdown.")


def _design_state(study) -> dict:
    return {"design_version": study.design_version, "frozen": studies.study_frozen_since(study=study) is not None,
            "design": study.design, "language": study.language, "consent_text": study.consent_text,
            "instructions": study.instructions_html,
            "prompt": study.prompt, "scale_low_label": study.scale_low_label,
            "scale_high_label": study.scale_high_label, "debrief": study.debrief_text}


class StudyDesignApi(APIView):
    """A study's design and texts; each change is a new version. The design changes until the first
    non-pilot participant starts (then 409), the texts at any time."""

    @extend_schema(responses=StudyDesignSerializer)
    def get(self, request: Request, study_id: int) -> Response:
        return Response(_design_state(owned_study(request, study_id)))

    @extend_schema(request=StudyDesignSerializer, responses={200: StudyDesignSerializer, 409: OpenApiTypes.OBJECT})
    def patch(self, request: Request, study_id: int) -> Response:
        study = owned_study(request, study_id)
        data = StudyDesignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        study = studies.study_update(study=study, editor=request.user, design=changes.pop("design", None), **changes)
        return Response(_design_state(study))
