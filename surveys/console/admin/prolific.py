"""Prolific in admin (docs/prolific.md): each researcher's own token (write-only), the study actions
that create, publish and review a study's Prolific counterpart, and what was done, read-only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from surveys.common.prolific import ProlificError
from surveys.console.admin.base import OwnedAdmin, ReadOnlyOwnedAdmin
from surveys.console.links import participant_link
from surveys.scoring import prolific_services as services
from surveys.scoring.models import ProlificAccount, ProlificReview, ProlificStudy


class ProlificTokenForm(forms.ModelForm):
    """The token goes in, never out: the field is blank on every page and the service encrypts it."""

    token = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=True,
                            help_text="Your Prolific API token (Prolific: Settings > Go to API token page). "
                                      "Stored encrypted; nobody, you included, sees it again here.")

    class Meta:
        model = ProlificAccount
        fields = []

    owner = None

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                self.instance = services.prolific_token_set(owner=self.owner, token=data["token"])
            except ValidationError as error:
                self.add_error("token", error)
        return data


@admin.register(ProlificAccount)
class ProlificAccountAdmin(OwnedAdmin):
    """Everyone, a superuser too, sees and sets only their own token."""

    list_display = ["owner", "updated_at"]
    readonly_fields = ["updated_at"]

    def get_queryset(self, request):
        return admin.ModelAdmin.get_queryset(self, request).filter(owner=request.user)

    def has_add_permission(self, request):
        return (super().has_add_permission(request)
                and not ProlificAccount.objects.filter(owner=request.user).exists())

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = type("OwnTokenForm", (ProlificTokenForm,), {"owner": request.user})
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        pass  # the form's service saved it while validating


class ProlificPlacesForm(forms.ModelForm):
    """Places change on Prolific first (through the service); a refusal stays on the form."""

    class Meta:
        model = ProlificStudy
        fields = ["places"]

    def clean(self):
        data = super().clean()
        if not self.errors and "places" in self.changed_data:
            try:
                services.prolific_places_set(study=self.instance.study, places=data["places"])
            except (ValidationError, ProlificError) as error:
                self.add_error("places", str(error) if isinstance(error, ProlificError) else error)
        return data


@admin.register(ProlificStudy)
class ProlificStudyAdmin(OwnedAdmin):
    """What IRIS asked of Prolific; only the places change here (recruiting more, or fewer)."""

    owner_path = "study__owner"
    form = ProlificPlacesForm
    list_display = ["study", "prolific_id", "status", "places", "reward_cents", "minutes", "published_at"]
    readonly_fields = ["study", "prolific_id", "status", "reward_cents", "minutes", "created_at", "published_at"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        pass  # the form's service changed the places on Prolific and here


@admin.register(ProlificReview)
class ProlificReviewAdmin(ReadOnlyOwnedAdmin):
    owner_path = "study__owner"
    list_display = ["created_at", "study", "participant", "submission_id", "verdict", "rejection_category", "author"]
    list_filter = ["verdict"]


class ProlificStudyActions:
    """The study list's Prolific actions; each reports per study and never stops at a failure."""

    prolific_actions = ["prolific_draft", "prolific_publish", "prolific_review"]

    def _each(self, request, queryset, run) -> None:
        for study in queryset:
            try:
                self.message_user(request, f"{study}: {run(study)}", messages.SUCCESS)
            except ValidationError as error:
                self.message_user(request, f"{study}: {' '.join(error.messages)}", messages.ERROR)
            except ProlificError as error:
                self.message_user(request, f"{study}: {error}", messages.ERROR)

    @admin.action(description="Create Prolific draft")
    def prolific_draft(self, request, queryset):
        def run(study):
            made = services.prolific_draft_create(study=study, study_url=participant_link(study))
            return f"Prolific draft {made.prolific_id} created with {made.places} places."
        self._each(request, queryset, run)

    @admin.action(description="Publish on Prolific")
    def prolific_publish(self, request, queryset):
        self._each(request, queryset, lambda study: (
            f"published on Prolific as {services.prolific_publish(study=study).prolific_id}."))

    @admin.action(description="Review Prolific submissions (approve kept, reject excluded)")
    def prolific_review(self, request, queryset):
        def run(study):
            done = services.prolific_review(study=study, author=request.user)
            return (f"{done.approved} approved, {done.rejected} rejected on Prolific; "
                    f"{done.left} submissions left as they were.")
        self._each(request, queryset, run)
