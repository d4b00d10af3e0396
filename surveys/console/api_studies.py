"""The REST API's study side: studies made from finished jobs (paradigm and design), opened, closed
and cloned, with their versions; their participants and responses (read), a participant erased on
request and the record of erasures; exclusion rules, decisions and overrides. Scores, the report and
the CSV exports are in surveys/console/api.py. Views parse, call one service or selector, render; a
researcher reaches only their own studies (404 for anyone else's)."""

from django.conf import settings
from django.db.models import Count
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from surveys.console.api import StudyExclusionOverrideApi
from surveys.console.api_inputs import Strict
from surveys.console.links import participant_link
from surveys.console.views import owned_study
from surveys.generation.models import GenerationJob
from surveys.generation.selectors import jobs_by_id
from surveys.scoring import recruitment_services as recruitment
from surveys.scoring import services as scoring
from surveys.scoring.models import DecisionSource, ExclusionDecision, ExclusionRules
from surveys.scoring.selectors import (
    exclusion_overrides,
    exclusion_rules_of,
    recruitment_of,
    studies_visible_to,
    study_exclusions,
)
from surveys.studies import selectors as studies_selectors
from surveys.studies import services as studies
from surveys.studies.models import DEFAULT_LANGUAGE, STUDY_TEXTS, Condition, Study, StudyStatus, StudyVersion
from surveys.studies.paradigms import Paradigm
from surveys.trials import selectors as trials
from surveys.trials import withdrawal
from surveys.trials.models import DataErasure, Participant
from surveys.trials.models import Response as Answer


def study_create(*, owner, name: str, jobs: list[GenerationJob], paradigm: str, design: dict,
                 completion_url: str, include_failing: bool, language: str) -> Study:
    """The one place the API makes a study: the same service as admin's study form."""
    return scoring.study_create(owner=owner, name=name, jobs=jobs, paradigm=paradigm, design=design,
                                completion_url=completion_url, include_failing=include_failing, language=language)


# --- studies -------------------------------------------------------------------------------------

class ConditionOutput(serializers.ModelSerializer):
    items = serializers.IntegerField(source="item_count", read_only=True)

    class Meta:
        model = Condition
        fields = ["id", "label", "job", "layer", "items"]


class RecruitmentOutput(serializers.Serializer):
    target_ci_width = serializers.FloatField(allow_null=True, help_text="The stopping rule's target (the study's "
                                                                        "exclusion rules); null: none.")
    cap = serializers.IntegerField(allow_null=True, help_text="Usable participants the design's cap admits "
                                                              "(whole Latin squares); null: no cap.")
    checked_at = serializers.DateTimeField(allow_null=True, help_text="The stopping rule's last check.")
    verdict = serializers.CharField(help_text="What that check found and did, in words.")


class StudyOutput(serializers.ModelSerializer):
    measure = serializers.SerializerMethodField(help_text="What a condition's score is (per paradigm).")
    participant_link = serializers.SerializerMethodField(help_text="The link to hand to participants.")
    conditions = serializers.SerializerMethodField()
    recruitment = serializers.SerializerMethodField(help_text="The stopping rule (docs/method.md §3): its target, "
                                                              "the cap, and its last verdict.")

    class Meta:
        model = Study
        fields = ["id", "name", "public_id", "paradigm", "language", "status", "closed_reason", "closed_at",
                  "recruitment", "design", "jobs", "measure", "participant_link", "completion_code", "completion_url",
                  "includes_failing_iris", "retention_days", "conditions", "created_at"]

    def get_measure(self, study: Study) -> str:
        return study.design_spec.traits.measure

    def get_participant_link(self, study: Study) -> str:
        return participant_link(study)

    @extend_schema_field(ConditionOutput(many=True))
    def get_conditions(self, study: Study) -> list[dict]:
        conditions = study.conditions.annotate(item_count=Count("items")).order_by("pk")
        return ConditionOutput(conditions, many=True).data

    @extend_schema_field(RecruitmentOutput)
    def get_recruitment(self, study: Study) -> dict:
        rules, state = exclusion_rules_of(study=study), recruitment_of(study=study)
        return RecruitmentOutput({"target_ci_width": rules.target_ci_width if rules else None,
                                  "cap": trials.study_places(study=study),
                                  "checked_at": state.checked_at if state else None,
                                  "verdict": state.verdict if state else ""}).data


class StudyInput(Strict, serializers.Serializer):
    name = serializers.CharField(max_length=200)
    jobs = serializers.ListField(child=serializers.IntegerField(), min_length=1,
                                 help_text="Finished generation jobs; one condition per job and layer.")
    paradigm = serializers.ChoiceField(choices=Paradigm.choices, default=Paradigm.TWO_AFC)
    design = serializers.JSONField(default=dict, help_text="The paradigm's design options (docs/method.md §2); "
                                                           "those left out take their defaults.")
    completion_url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    include_failing = serializers.BooleanField(
        default=False, help_text="Survey IRIs that fail their job's criterion too (recorded on the study).")
    language = serializers.ChoiceField(
        choices=settings.LANGUAGES, default=DEFAULT_LANGUAGE,
        help_text="The participant pages' language; the study's first texts are written in it.")


class StudyListApi(APIView):
    @extend_schema(responses=StudyOutput(many=True))
    def get(self, request: Request) -> Response:
        return Response(StudyOutput(studies_visible_to(user=request.user).order_by("pk"), many=True).data)

    @extend_schema(request=StudyInput, responses={201: StudyOutput})
    def post(self, request: Request) -> Response:
        data = StudyInput(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        study = study_create(owner=request.user, name=given["name"], paradigm=given["paradigm"],
                             jobs=jobs_by_id(user=request.user, ids=given["jobs"]), design=given["design"],
                             completion_url=given["completion_url"], include_failing=given["include_failing"],
                             language=given["language"])
        return Response(StudyOutput(study).data, status=status.HTTP_201_CREATED)


class StudyDetailApi(APIView):
    @extend_schema(responses=StudyOutput)
    def get(self, request: Request, study_id: int) -> Response:
        return Response(StudyOutput(owned_study(request, study_id)).data)


class StudyStatusApi(APIView):
    """Open a study (participants may enter) or close it (nobody new is admitted; its Prolific study is
    stopped, and the study records who closed it); the URL says which."""

    @extend_schema(request=None, responses=StudyOutput)
    def post(self, request: Request, study_id: int, status_to: str) -> Response:
        study = owned_study(request, study_id)
        if status_to == StudyStatus.CLOSED:
            study = recruitment.study_close(study=study, reason=f"closed by {request.user.get_username()}").study
        else:
            study = studies.study_set_status(study=study, status=StudyStatus(status_to))
        return Response(StudyOutput(study).data)


class StudyCloneApi(APIView):
    """A new draft of the owner's study: design, texts, questions, debrief, conditions and exclusion
    rules; no participants. It starts closed, at version 1."""

    @extend_schema(request=None, responses={201: StudyOutput})
    def post(self, request: Request, study_id: int) -> Response:
        copy = scoring.study_clone(study=owned_study(request, study_id), owner=request.user)
        return Response(StudyOutput(copy).data, status=status.HTTP_201_CREATED)


class StudyVersionOutput(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.get_username", allow_null=True, default=None)
    participants = serializers.IntegerField(source="participant_count", read_only=True)

    class Meta:
        model = StudyVersion
        fields = ["number", "created_at", "created_by", "participants", *STUDY_TEXTS, "design"]


class StudyVersionsApi(APIView):
    @extend_schema(responses=StudyVersionOutput(many=True),
                   description="Every version of the study, newest first: what its participants read and the "
                               "design they took, as recorded; a version never changes.")
    def get(self, request: Request, study_id: int) -> Response:
        versions = studies_selectors.study_versions(study=owned_study(request, study_id))
        return Response(StudyVersionOutput(versions, many=True).data)


# --- participants and their responses (read only) ------------------------------------------------

class ParticipantOutput(serializers.ModelSerializer):
    trials = serializers.IntegerField(source="trial_count", read_only=True)
    answered = serializers.IntegerField(read_only=True)
    study_version = serializers.IntegerField(source="study_version.number", allow_null=True, default=None,
                                             read_only=True, help_text="The version of the study they were shown.")

    class Meta:
        model = Participant
        fields = ["id", "recruitment_id", "source", "status", "is_pilot", "study_version", "design_row", "trials",
                  "answered", "created_at", "consented_at", "completed_at"]


class AnswerOutput(serializers.ModelSerializer):
    trial = serializers.CharField(source="trial.public_id")
    index = serializers.IntegerField(source="trial.index")
    kind = serializers.CharField(source="trial.kind")
    condition = serializers.IntegerField(source="trial.condition_id", allow_null=True)
    stimulus = serializers.IntegerField(source="trial.item.stimulus_id", allow_null=True, default=None)

    class Meta:
        model = Answer
        fields = ["id", "trial", "index", "kind", "condition", "stimulus", "choice", "rating", "chose_target",
                  "correct", "rt_ms", "created_at"]


class ParticipantDetailOutput(ParticipantOutput):
    responses = serializers.SerializerMethodField()

    class Meta(ParticipantOutput.Meta):
        fields = [*ParticipantOutput.Meta.fields, "answers", "responses"]

    @extend_schema_field(AnswerOutput(many=True))
    def get_responses(self, participant: Participant) -> list[dict]:
        return AnswerOutput(trials.responses_of(participant=participant), many=True).data


class ParticipantListApi(APIView):
    @extend_schema(responses=ParticipantOutput(many=True))
    def get(self, request: Request, study_id: int) -> Response:
        participants = trials.participants_of(study=owned_study(request, study_id))
        return Response(ParticipantOutput(participants, many=True).data)


class ParticipantDetailApi(APIView):
    @extend_schema(responses=ParticipantDetailOutput)
    def get(self, request: Request, study_id: int, participant_id: int) -> Response:
        participants = trials.participants_of(study=owned_study(request, study_id))
        return Response(ParticipantDetailOutput(get_object_or_404(participants, pk=participant_id)).data)


# --- erasure on request, and the record of withdrawals and erasures (docs/data-protection.md) ----

class ErasureOutput(serializers.ModelSerializer):
    author = serializers.CharField(source="author.get_username", allow_null=True, default=None)

    class Meta:
        model = DataErasure
        fields = ["id", "reference", "actor", "author", "scope", "reason", "participants", "responses", "created_at"]


class ErasureInput(Strict, serializers.Serializer):
    reason = serializers.CharField(max_length=withdrawal.MAX_REASON_LENGTH,
                                   help_text="Why (e.g. the participant's request by email of a date); "
                                             "must not name the participant.")


class ParticipantEraseApi(APIView):
    """Erase one participant of the researcher's own study: the session and every answer are deleted
    (they leave the scores, the report and the CSVs); the record of it names nobody."""

    @extend_schema(request=ErasureInput, responses={201: ErasureOutput})
    def post(self, request: Request, study_id: int, participant_id: int) -> Response:
        study = owned_study(request, study_id)
        participant = get_object_or_404(Participant.objects.select_related("study"), study=study, pk=participant_id)
        data = ErasureInput(data=request.data)
        data.is_valid(raise_exception=True)
        entry = withdrawal.participant_erase(participant=participant, author=request.user,
                                             reason=data.validated_data["reason"])
        return Response(ErasureOutput(entry).data, status=status.HTTP_201_CREATED)


class StudyErasuresApi(APIView):
    @extend_schema(responses=ErasureOutput(many=True),
                   description="Every withdrawal, erasure and retention run of the study, oldest first.")
    def get(self, request: Request, study_id: int) -> Response:
        entries = trials.erasures_of(study=owned_study(request, study_id))
        return Response(ErasureOutput(entries, many=True).data)


# --- exclusions: rules, each participant's decision, and the researcher's overrides --------------

RULE_HELP = "null switches the rule off"


class RulesSerializer(Strict, serializers.ModelSerializer):
    class Meta:
        model = ExclusionRules
        fields = ["catch_min_accuracy", "min_median_rt_ms", "max_one_sided_share", "qualification_min_correct",
                  "target_ci_width", "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {name: {"required": False, "help_text": RULE_HELP} for name in fields[:-1]}


class ExclusionRulesApi(APIView):
    """A study's exclusion rules. PUT sets every rule (one left out is switched off), PATCH only those
    sent; DELETE drops them (only the design's gate applies until rules are set again)."""

    @extend_schema(responses=RulesSerializer)
    def get(self, request: Request, study_id: int) -> Response:
        rules = exclusion_rules_of(study=owned_study(request, study_id))
        if rules is None:
            raise NotFound("This study has no exclusion rules; PUT some.")
        return Response(RulesSerializer(rules).data)

    @extend_schema(request=RulesSerializer, responses=RulesSerializer)
    def put(self, request: Request, study_id: int) -> Response:
        return self.save(request, study_id, partial=False)

    @extend_schema(request=RulesSerializer, responses=RulesSerializer)
    def patch(self, request: Request, study_id: int) -> Response:
        return self.save(request, study_id, partial=True)

    def save(self, request: Request, study_id: int, *, partial: bool) -> Response:
        study = owned_study(request, study_id)
        data = RulesSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        values = data.validated_data if partial else {name: None for name in scoring.RULE_FIELDS}
        values = {**values, **data.validated_data}
        return Response(RulesSerializer(scoring.exclusion_rules_set(study=study, **values)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, study_id: int) -> Response:
        scoring.exclusion_rules_delete(study=owned_study(request, study_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExclusionOutput(serializers.Serializer):
    participant_id = serializers.IntegerField()
    recruitment_id = serializers.CharField()
    excluded = serializers.BooleanField()
    reason = serializers.CharField(help_text="What the rules found, whatever an override decided.")
    source = serializers.ChoiceField(choices=DecisionSource.choices)
    note = serializers.CharField()


class StudyExclusionsApi(APIView):
    @extend_schema(responses=ExclusionOutput(many=True),
                   description="Each completed, non-pilot participant's decision: the latest override, else the rules.")
    def get(self, request: Request, study_id: int) -> Response:
        decisions = study_exclusions(study=owned_study(request, study_id))
        return Response(ExclusionOutput(decisions, many=True).data)


class OverrideOutput(serializers.ModelSerializer):
    author = serializers.CharField(source="author.get_username", allow_null=True, default=None)

    class Meta:
        model = ExclusionDecision
        fields = ["id", "participant", "excluded", "note", "author", "created_at"]


class StudyOverridesApi(StudyExclusionOverrideApi):
    """The researcher's overrides: POST adds one (with its note), GET lists them all, oldest first. The
    trail is append-only, so an override is reversed by a later one, never edited or deleted."""

    @extend_schema(responses=OverrideOutput(many=True))
    def get(self, request: Request, study_id: int) -> Response:
        overrides = exclusion_overrides(study=owned_study(request, study_id))
        return Response(OverrideOutput(overrides, many=True).data)
