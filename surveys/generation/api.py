"""REST API for models, target sets and generation jobs. Views parse, call one service, render."""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from surveys.generation import selectors, services
from surveys.generation.models import GenerationJob, RegisteredModel, TargetSet


def _api_errors(error: ValidationError) -> ApiValidationError:
    return ApiValidationError({"detail": error.messages})


class ModelOutput(serializers.ModelSerializer):
    class Meta:
        model = RegisteredModel
        fields = ["id", "name", "architecture", "input_size", "mean", "std", "num_classes", "layer_names",
                  "checkpoint_sha256", "is_classifier", "created_at"]


class ModelInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    architecture = serializers.CharField(max_length=64)
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

    @extend_schema(request=ModelInput, responses={201: ModelOutput})
    def post(self, request):
        data = ModelInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            model = services.model_register(owner=request.user, **{"weights": None, **data.validated_data})
        except ValidationError as error:
            raise _api_errors(error) from None
        return Response(ModelOutput(model).data, status=status.HTTP_201_CREATED)


class JobOutput(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()

    class Meta:
        model = GenerationJob
        fields = ["id", "model", "target_set", "config", "status", "error", "progress", "created_at", "finished_at"]

    def get_progress(self, job) -> dict:
        return selectors.job_progress(job=job)


class JobInput(serializers.Serializer):
    model = serializers.IntegerField()
    target_set = serializers.IntegerField()
    config = serializers.JSONField()


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
        try:
            job = services.job_submit(owner=request.user, model=model, target_set=target_set,
                                      config=data.validated_data["config"])
        except ValidationError as error:
            raise _api_errors(error) from None
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
