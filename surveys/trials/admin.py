from django.contrib import admin

from surveys.generation.admin import OwnedAdmin
from surveys.trials.models import Participant, Response


class ReadOnlyOwnedAdmin(OwnedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyOwnedAdmin):
    owner_path = "study__owner"
    list_display = ["recruitment_id", "study", "source", "status", "is_pilot", "created_at", "completed_at"]
    list_filter = ["status", "source", "is_pilot", "study"]
    search_fields = ["recruitment_id"]
    exclude = ["token"]


@admin.register(Response)
class ResponseAdmin(ReadOnlyOwnedAdmin):
    owner_path = "trial__participant__study__owner"
    list_display = ["trial_id", "participant", "choice", "chose_target", "rt_ms", "created_at"]
    list_select_related = ["trial__participant"]

    @admin.display(description="participant")
    def participant(self, obj):
        return obj.trial.participant
