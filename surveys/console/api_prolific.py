"""The REST API's Prolific actions on a study (docs/prolific.md): create the draft, publish it, review
its submissions. The same services as the study list's admin actions; a refusal by IRIS is a 400,
a refusal by Prolific (or no answer from it) a 502 naming Prolific's status and message."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from surveys.common.prolific import ProlificError
from surveys.console.links import participant_link
from surveys.console.views import owned_study
from surveys.scoring import prolific_services as services
from surveys.scoring.models import ProlificStudy


class ProlificStudyOutput(serializers.ModelSerializer):
    class Meta:
        model = ProlificStudy
        fields = ["prolific_id", "status", "places", "reward_cents", "minutes", "created_at", "published_at"]


class ProlificReviewOutput(serializers.Serializer):
    approved = serializers.IntegerField(help_text="Submissions approved by this call.")
    rejected = serializers.IntegerField(help_text="Submissions rejected by this call, with the rule's reason.")
    left = serializers.IntegerField(help_text="Submissions left as they were (not completed in IRIS, reviewed before).")


PROLIFIC_REFUSED = OpenApiResponse(description="Prolific refused the request or did not answer: "
                                               "{\"detail\": \"Prolific answered 401: Invalid token.\"}")


def _prolific(call) -> Response:
    try:
        return Response(call(), status=status.HTTP_200_OK)
    except ProlificError as error:
        return Response({"detail": str(error)}, status=status.HTTP_502_BAD_GATEWAY)


class ProlificDraftApi(APIView):
    """Create the study's Prolific draft (once) with the IRIS participant link and end codes."""

    @extend_schema(request=None, responses={200: ProlificStudyOutput, 502: PROLIFIC_REFUSED})
    def post(self, request: Request, study_id: int) -> Response:
        study = owned_study(request, study_id)
        return _prolific(lambda: ProlificStudyOutput(
            services.prolific_draft_create(study=study, study_url=participant_link(study))).data)


class ProlificPublishApi(APIView):
    """Publish the study's Prolific draft (publishing again does nothing)."""

    @extend_schema(request=None, responses={200: ProlificStudyOutput, 502: PROLIFIC_REFUSED})
    def post(self, request: Request, study_id: int) -> Response:
        study = owned_study(request, study_id)
        return _prolific(lambda: ProlificStudyOutput(services.prolific_publish(study=study)).data)


class ProlificReviewApi(APIView):
    """Approve awaiting submissions the exclusion decisions keep, reject the excluded; once each."""

    @extend_schema(request=None, responses={200: ProlificReviewOutput, 502: PROLIFIC_REFUSED})
    def post(self, request: Request, study_id: int) -> Response:
        study = owned_study(request, study_id)
        return _prolific(lambda: ProlificReviewOutput(
            services.prolific_review(study=study, author=request.user)).data)
