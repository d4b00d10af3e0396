"""Participants and their responses in admin: read-only, and only those of a researcher's own studies.
A participant is erased on request by the list's action, which keeps a record that names nobody
(docs/data-protection.md); the records are listed read-only."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from surveys.console.admin.base import ReadOnlyOwnedAdmin
from surveys.trials import withdrawal
from surveys.trials.models import DataErasure, Participant, Response


class ErasureReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=withdrawal.MAX_REASON_LENGTH,
        help_text="Kept in the record of the erasure, e.g. “withdrawal requested by email on 3 May”. Do not "
                  "name the participant or write their ids: the record must not identify them.")


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
    actions = ["erase_participants"]

    def get_actions(self, request):
        # Only the erasure deletes a participant here: it keeps the record that a plain delete would not.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        self.message_user(request, "Participants are erased with the list's action “Erase selected participants”, "
                                   "which records the erasure.", messages.WARNING)
        return redirect("admin:trials_participant_changelist")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "show_delete": False})

    @admin.action(description="Erase selected participants (on their request; recorded)")
    def erase_participants(self, request, queryset):
        """A page that lists them and asks why; submitted, each is erased through the service."""
        if not queryset.exists():  # admin keeps only rows of the researcher's own studies
            self.message_user(request, "None of the selected participants is in your studies: nothing was erased.",
                              messages.WARNING)
            return None
        form = ErasureReasonForm(request.POST if "erase" in request.POST else None)
        if form.is_bound and form.is_valid():
            for participant in queryset.select_related("study"):
                self._erase_one(request, participant, reason=form.cleaned_data["reason"])
            return None
        context = {**self.admin_site.each_context(request), "title": "Erase participants", "form": form,
                   "participants": queryset.select_related("study"), "opts": self.model._meta,
                   "action_checkbox_name": ACTION_CHECKBOX_NAME}
        return TemplateResponse(request, "admin/trials/participant/erase.html", context)

    def _erase_one(self, request, participant, *, reason: str) -> None:
        try:
            entry = withdrawal.participant_erase(participant=participant, author=request.user, reason=reason)
        except ValidationError as error:
            self.message_user(request, f"{participant}: {' '.join(error.messages)}", messages.ERROR)
            return
        self.message_user(request, f"Erased a participant of {participant.study} with {entry.responses} answers; "
                                   f"recorded as {entry.reference}.", messages.SUCCESS)

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


@admin.register(DataErasure)
class DataErasureAdmin(ReadOnlyOwnedAdmin):
    """The record of withdrawals, erasures and retention: read-only, never deleted here."""

    owner_path = "study__owner"
    list_display = ["created_at", "study", "actor", "author", "scope", "participants", "responses", "reference",
                    "reason"]
    list_filter = ["actor", "scope", ("study", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["reference"]
    readonly_fields = list_display
    fields = readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False
