"""Participants and their responses in admin: read-only, and only those of a researcher's own studies."""

from django.contrib import admin

from surveys.console.admin.base import ReadOnlyOwnedAdmin
from surveys.trials.models import Participant, Response


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyOwnedAdmin):
    owner_path = "study__owner"
    list_display = ["recruitment_id", "study", "source", "status", "is_pilot", "version", "created_at",
                    "completed_at"]
    list_select_related = ["study", "study_version"]
    # Only the studies among the researcher's own participants: a plain filter would list everyone's.
    list_filter = ["status", "source", "is_pilot", ("study", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["recruitment_id"]
    exclude = ["token"]

    @admin.display(description="study version", ordering="study_version__number")
    def version(self, obj):
        """The version they were shown (its texts are on the study's page, under Versions)."""
        return "-" if obj.study_version is None else obj.study_version.number


@admin.register(Response)
class ResponseAdmin(ReadOnlyOwnedAdmin):
    owner_path = "trial__participant__study__owner"
    list_display = ["trial_id", "participant", "choice", "chose_target", "rt_ms", "created_at"]
    list_select_related = ["trial__participant"]

    @admin.display(description="participant")
    def participant(self, obj):
        return obj.trial.participant
