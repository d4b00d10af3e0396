"""The REST API's generation side beyond models and jobs (surveys/console/api.py): a model's page,
target sets (made from images or zips, listed, read, deleted), stimulus sets made elsewhere (imported
from a zip with its manifest, listed, read) and the IRIs a job made, with their metrics. Views parse,
call one service or selector, render; a researcher reaches only their own rows (404 for anyone else's)."""

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from surveys.console.api import ModelOutput
from surveys.console.api_inputs import Strict
from surveys.generation import import_services, selectors, services
from surveys.generation.models import GenerationJob, RegisteredModel, Stimulus, TargetImage, TargetSet


class ModelDetailApi(APIView):
    @extend_schema(responses=ModelOutput)
    def get(self, request: Request, model_id: int) -> Response:
        return Response(ModelOutput(get_object_or_404(RegisteredModel, pk=model_id, owner=request.user)).data)


# --- target sets ---------------------------------------------------------------------------------

class TargetImageOutput(serializers.ModelSerializer):
    class Meta:
        model = TargetImage
        fields = ["id", "name", "category", "sha256"]


class TargetSetOutput(serializers.ModelSerializer):
    images = TargetImageOutput(many=True, read_only=True)
    image_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = TargetSet
        fields = ["id", "name", "image_count", "images", "created_at"]


class TargetSetInput(Strict, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    files = serializers.ListField(
        child=serializers.FileField(), min_length=1,
        help_text="PNG/JPEG images, or zips of them (a zip's folders name the categories); send the field "
                  "once per file.")


class TargetSetListApi(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(responses=TargetSetOutput(many=True))
    def get(self, request: Request) -> Response:
        target_sets = selectors.target_sets_visible_to(user=request.user).prefetch_related("images")
        return Response(TargetSetOutput(target_sets, many=True).data)

    @extend_schema(request={"multipart/form-data": TargetSetInput}, responses={201: TargetSetOutput})
    def post(self, request: Request) -> Response:
        data = TargetSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        uploads = [(upload.name, upload) for upload in data.validated_data["files"]]  # streamed, never read whole
        made = services.target_set_create(owner=request.user, name=data.validated_data["name"], uploads=uploads)
        made = selectors.target_sets_visible_to(user=request.user).get(pk=made.pk)
        return Response(TargetSetOutput(made).data, status=status.HTTP_201_CREATED)


class TargetSetDetailApi(APIView):
    def owned(self, request: Request, target_set_id: int) -> TargetSet:
        return get_object_or_404(selectors.target_sets_visible_to(user=request.user), pk=target_set_id)

    @extend_schema(responses=TargetSetOutput)
    def get(self, request: Request, target_set_id: int) -> Response:
        return Response(TargetSetOutput(self.owned(request, target_set_id)).data)

    @extend_schema(responses={204: None}, description="Refused (400) while a generation job uses the set.")
    def delete(self, request: Request, target_set_id: int) -> Response:
        services.target_set_delete(target_set=self.owned(request, target_set_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- stimulus sets made elsewhere (docs/stimulus-import.md) ---------------------------------------

class ImportedConditionOutput(serializers.Serializer):
    name = serializers.CharField()
    model = serializers.CharField(help_text="A label: IRIS never had this model.")
    layer = serializers.CharField(help_text="A label, as the manifest gave it.")
    stimuli = serializers.IntegerField(help_text="Its IRIs.")
    passing = serializers.IntegerField(help_text="Those its maker marked as passing their criterion.")


class StimulusSetOutput(serializers.ModelSerializer):
    name = serializers.CharField(source="target_set.name")
    conditions = serializers.SerializerMethodField()

    class Meta:
        model = GenerationJob
        fields = ["id", "name", "kind", "status", "target_set", "conditions", "created_at"]

    @extend_schema_field(ImportedConditionOutput(many=True))
    def get_conditions(self, job: GenerationJob) -> list[dict]:
        counts = selectors.job_verdicts(job=job)["per_layer"]
        return ImportedConditionOutput([
            {**condition.to_dict(), "stimuli": sum(counts[condition.name].values()),
             "passing": counts[condition.name]["passed"]} for condition in job.imported.conditions], many=True).data


class StimulusSetInput(Strict, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    file = serializers.FileField(help_text="A zip: manifest.json at its root and the images it names "
                                           "(docs/stimulus-import.md).")


class StimulusSetListApi(APIView):
    """Stimulus sets made elsewhere. Each is a finished job of kind "imported": its id goes wherever a
    job's does (a study's jobs, /api/jobs/<id>/stimuli/)."""

    parser_classes = [MultiPartParser]

    @extend_schema(responses=StimulusSetOutput(many=True))
    def get(self, request: Request) -> Response:
        return Response(StimulusSetOutput(selectors.stimulus_sets_of(user=request.user), many=True).data)

    @extend_schema(request={"multipart/form-data": StimulusSetInput}, responses={201: StimulusSetOutput})
    def post(self, request: Request) -> Response:
        data = StimulusSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]  # streamed from its temporary file, never read whole
        made = import_services.stimulus_set_import(owner=request.user, name=data.validated_data["name"],
                                                   filename=upload.name, data=upload)
        return Response(StimulusSetOutput(made).data, status=status.HTTP_201_CREATED)


class StimulusSetDetailApi(APIView):
    @extend_schema(responses=StimulusSetOutput)
    def get(self, request: Request, job_id: int) -> Response:
        return Response(StimulusSetOutput(get_object_or_404(selectors.stimulus_sets_of(user=request.user),
                                                            pk=job_id)).data)


# --- a job's IRIs ------------------------------------------------------------------------------

IMAGE_ROLES = ("target", "seed", "iri")


class StimulusOutput(serializers.ModelSerializer):
    target = serializers.CharField(source="target.name")
    category = serializers.CharField(source="target.category")
    images = serializers.SerializerMethodField(help_text="API URLs of the target, seed and IRI PNGs.")

    class Meta:
        model = Stimulus
        fields = ["id", "public_id", "job", "layer", "target", "category", "images", "final_rep_loss",
                  "validity", "proxy", "recognition", "wall_seconds", "optimizer", "config", "code_version",
                  "checkpoint_sha256", "created_at"]

    def get_images(self, stimulus: Stimulus) -> dict[str, str]:
        request = self.context["request"]
        return {role: request.build_absolute_uri(reverse("api-stimulus-image", args=[stimulus.pk, role]))
                for role in IMAGE_ROLES}


class StimulusDetailOutput(StimulusOutput):
    """One IRI with its loss curve too (a value per iteration: too long to repeat for every IRI of a list)."""

    class Meta(StimulusOutput.Meta):
        fields = [*StimulusOutput.Meta.fields, "loss_curve"]


class JobStimuliApi(APIView):
    @extend_schema(responses=StimulusOutput(many=True))
    def get(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(selectors.jobs_visible_to(user=request.user), pk=job_id)
        stimuli = selectors.stimuli_visible_to(user=request.user).filter(job=job)
        return Response(StimulusOutput(stimuli, many=True, context={"request": request}).data)


class StimulusDetailApi(APIView):
    @extend_schema(responses=StimulusDetailOutput)
    def get(self, request: Request, stimulus_id: int) -> Response:
        stimulus = get_object_or_404(selectors.stimuli_visible_to(user=request.user), pk=stimulus_id)
        return Response(StimulusDetailOutput(stimulus, context={"request": request}).data)


class StimulusImageApi(APIView):
    """One stored PNG of an IRI: its target, its seed (starting point) or the IRI itself. The file goes
    out as it is; DRF's renderers stay, so that a refusal is JSON like any other."""

    @extend_schema(responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="a PNG")})
    def get(self, request: Request, stimulus_id: int, role: str) -> FileResponse:
        stimulus = get_object_or_404(selectors.stimuli_visible_to(user=request.user), pk=stimulus_id)
        if role not in IMAGE_ROLES:
            raise NotFound(f"An IRI has three images: {', '.join(IMAGE_ROLES)}.")
        if not stimulus.png(role):
            raise NotFound(f"This IRI has no {role} image: it was imported without one.")
        return FileResponse(stimulus.png(role).open("rb"), content_type="image/png")
