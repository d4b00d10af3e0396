"""Studies in admin: create one from jobs (paradigm and design), the participant link, a pilot
preview, live progress, scores, open/close."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from surveys.generation.admin import OwnedAdmin
from surveys.generation.models import GenerationJob, JobStatus
from surveys.scoring.admin import results_link
from surveys.scoring.selectors import study_scores
from surveys.studies import services
from surveys.studies.design import PARADIGM_DEFAULTS
from surveys.studies.models import Condition, Study, StudyStatus
from surveys.studies.selectors import ENDED_EARLY, study_progress
from surveys.trials.models import ParticipantStatus


def participant_link(study: Study) -> str:
    return settings.SITE_URL + reverse("trials:start", args=[study.public_id])


class StudyCreateForm(forms.ModelForm):
    """The researcher's choices; the study itself is made by services.study_create."""

    jobs = forms.ModelMultipleChoiceField(queryset=GenerationJob.objects.none(),
                                          help_text="Finished generation jobs; one condition per job and layer.")
    k = forms.IntegerField(required=False, min_value=2,
                           help_text="Matching: targets per trial (3). Classification: categories shown (all).")
    foils = forms.ChoiceField(choices=[("seed", "the seed (Nanda)"), ("other_target", "another target")],
                              initial="seed", help_text="2AFC: the option beside the target.")
    practice = forms.BooleanField(required=False, initial=True, help_text="Practice trials with feedback.")
    practice_trials = forms.IntegerField(min_value=1, initial=3)
    gate_trials = forms.IntegerField(required=False, min_value=1,
                                     help_text="Qualification gate: trials (Feather: 12). Empty: no gate.")
    gate_pass = forms.IntegerField(required=False, min_value=0, help_text="Right answers needed (Feather: 7).")
    catch_every = forms.IntegerField(min_value=0, initial=25, help_text="One catch trial per this many; 0 = none.")
    participants_per_condition = forms.IntegerField(required=False, min_value=1,
                                                    help_text="Stop admitting at this many. Empty: no cap.")
    once_per_target = forms.BooleanField(required=False, help_text="Each participant sees each target once, "
                                                                   "conditions assigned by Latin square.")
    fixation_ms = forms.IntegerField(min_value=0, initial=300, help_text="Classification only.")
    stimulus_ms = forms.IntegerField(min_value=1, initial=300, help_text="Classification only.")
    mask_ms = forms.IntegerField(min_value=0, initial=300, help_text="Classification only.")
    fullscreen = forms.BooleanField(required=False)

    completion_url = forms.URLField(required=False, assume_scheme="https", max_length=500,
                                    help_text="Where participants go at the end; {code} is replaced by the code "
                                              "for how they finished (e.g. Prolific's ...complete?cc={code}).")

    class Meta:
        model = Study
        fields = ["name", "paradigm", "completion_url"]

    def __init__(self, *args, owner=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.fields["jobs"].queryset = GenerationJob.objects.filter(owner=owner, status=JobStatus.DONE)
        self.created = None

    def design(self) -> dict:
        data, paradigm = self.cleaned_data, self.cleaned_data["paradigm"]
        design = {key: data[key] for key in ("practice", "practice_trials", "catch_every",
                                             "participants_per_condition", "once_per_target", "fullscreen")}
        if data.get("gate_trials"):
            design["gate"] = {"trials": data["gate_trials"], "pass": data.get("gate_pass") or 0}
        for key in PARADIGM_DEFAULTS[paradigm]:
            if key == "k" and data.get("k") is None:
                continue
            design[key] = data[key]
        return design

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:  # made here so that any refusal shows on the form, not as a server error
            self.created = services.study_create(owner=self.owner, name=data["name"], jobs=list(data["jobs"]),
                                                 paradigm=data["paradigm"], design=self.design(),
                                                 completion_url=data.get("completion_url", ""))
        except ValidationError as refused:
            raise forms.ValidationError(refused.messages) from None
        return data


class ConditionInline(admin.TabularInline):
    model = Condition
    fields = ["label", "job", "layer", "item_count"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="IRIs")
    def item_count(self, obj):
        return obj.items.count()


@admin.register(Study)
class StudyAdmin(OwnedAdmin):
    list_display = ["name", "paradigm", "status", "link", "participation", "created_at"]
    list_filter = ["status", "paradigm"]
    fields = ["name", "paradigm", "status", "link", "preview", "participation", "progress", "design", "scores",
              "results", "completion_code", "code_no_consent", "code_failed_gate", "code_incompatible", "completion_url",
              "consent_text", "instructions_html"]
    readonly_fields = ["paradigm", "status", "link", "preview", "participation", "progress", "design", "scores",
                       "results"]
    inlines = [ConditionInline]
    actions = ["close_studies", "open_studies"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, **kwargs)

        class OwnedCreateForm(StudyCreateForm):
            def __init__(self, *args, **inner):
                super().__init__(*args, owner=request.user, **inner)

        return OwnedCreateForm

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "jobs", "paradigm", "k", "foils", "practice", "practice_trials", "gate_trials",
                    "gate_pass", "catch_every", "participants_per_condition", "once_per_target", "fixation_ms",
                    "stimulus_ms", "mask_ms", "fullscreen", "completion_url"]
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        obj.pk = form.created.pk  # made by the service in the form's clean

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    @admin.display(description="results")
    def results(self, obj):
        return results_link(obj)

    @admin.display(description="participant link")
    def link(self, obj):
        url = participant_link(obj)
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    @admin.display(description="preview")
    def preview(self, obj):
        url = reverse("trials:preview", args=[obj.public_id])
        return format_html('<a href="{}" target="_blank" rel="noopener">Take it as a participant</a> '
                           "(a pilot session: flagged, never scored)", url)

    @admin.display(description="participants")
    def participation(self, obj):
        counts = obj.participants.filter(is_pilot=False).aggregate(
            started=Count("pk"), completed=Count("pk", filter=Q(status=ParticipantStatus.COMPLETED)),
            excluded=Count("pk", filter=Q(status__in=ENDED_EARLY)))
        return (f"{counts['completed']} completed of {counts['started']} started; "
                f"{counts['excluded']} ended early (declined, failed the gate, incompatible, timed out)")

    @admin.display(description="progress per condition")
    def progress(self, obj):
        rows = [(p.label, p.started, p.active, p.completed, p.excluded) for p in study_progress(study=obj)]
        header = ("<tr><th>condition</th><th>started</th><th>in progress</th><th>completed</th>"
                  "<th>ended early</th></tr>")
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html('<table id="iris-progress">{}{}</table>', mark_safe(header), body)  # noqa: S308 constant

    @admin.display(description="alignment (share choosing the target, 95% bootstrap CI)")
    def scores(self, obj):
        rows = [(s.label, s.participants, s.trials,
                 "-" if s.alignment is None else f"{s.alignment:.3f}",
                 "-" if s.ci_low is None else f"[{s.ci_low:.3f}, {s.ci_high:.3f}]")
                for s in study_scores(study=obj)]
        header = "<tr><th>condition</th><th>participants</th><th>trials</th><th>alignment</th><th>95% CI</th></tr>"
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html('<table id="iris-scores">{}{}</table>', mark_safe(header), body)  # noqa: S308 constant

    @admin.action(description="Close selected studies (admit nobody new)")
    def close_studies(self, request, queryset):
        for study in queryset:
            services.study_set_status(study=study, status=StudyStatus.CLOSED)

    @admin.action(description="Open selected studies")
    def open_studies(self, request, queryset):
        for study in queryset:
            services.study_set_status(study=study, status=StudyStatus.OPEN)
