"""Studies in admin: create one from jobs (paradigm and design), the participant link, a pilot
preview, live progress, scores, open/close."""

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from surveys.console.admin.base import ReadOnlyInline, ServiceCreateAdmin
from surveys.console.admin.prolific import ProlificStudyActions
from surveys.console.forms import StudyCreateForm
from surveys.console.links import participant_link, results_link
from surveys.scoring.selectors import study_scores
from surveys.studies import services
from surveys.studies.models import Condition, Study, StudyStatus
from surveys.trials.selectors import study_participation, study_progress

ROW = "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"


def _table(table_id: str, header: str, rows: list[tuple]) -> str:
    """A five-column HTML table; the header is a constant of this module, the cells are escaped."""
    return format_html('<table id="{}">{}{}</table>', table_id, mark_safe(header),  # noqa: S308 - constant
                       format_html_join("", ROW, rows))


class ConditionInline(ReadOnlyInline):
    model = Condition
    fields = ["label", "job", "layer", "item_count"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(iris=Count("items"))

    @admin.display(description="IRIs")
    def item_count(self, obj):
        return obj.iris


@admin.register(Study)
class StudyAdmin(ProlificStudyActions, ServiceCreateAdmin):
    create_form = StudyCreateForm
    list_display = ["name", "paradigm", "status", "link", "participation", "created_at"]
    list_filter = ["status", "paradigm"]
    fields = ["name", "paradigm", "status", "link", "preview", "participation", "progress", "design", "scores",
              "results", "completion_code", "code_no_consent", "code_failed_gate", "code_incompatible", "completion_url",
              "consent_text", "instructions_html"]
    readonly_fields = ["paradigm", "status", "link", "preview", "participation", "progress", "design", "scores",
                       "results"]
    inlines = [ConditionInline]
    actions = ["close_studies", "open_studies", *ProlificStudyActions.prolific_actions]

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
        counts = study_participation(study=obj)
        return (f"{counts['completed']} completed of {counts['started']} started; "
                f"{counts['ended_early']} ended early (declined, failed the gate, incompatible, timed out)")

    @admin.display(description="progress per condition")
    def progress(self, obj):
        rows = [(p.label, p.started, p.active, p.completed, p.ended_early) for p in study_progress(study=obj)]
        return _table("iris-progress", "<tr><th>condition</th><th>started</th><th>in progress</th>"
                                       "<th>completed</th><th>ended early</th></tr>", rows)

    @admin.display(description="alignment (share choosing the target, 95% bootstrap CI)")
    def scores(self, obj):
        rows = [(s.label, s.participants, s.trials,
                 "-" if s.alignment is None else f"{s.alignment:.3f}",
                 "-" if s.ci_low is None else f"[{s.ci_low:.3f}, {s.ci_high:.3f}]")
                for s in study_scores(study=obj)]
        return _table("iris-scores", "<tr><th>condition</th><th>participants</th><th>trials</th>"
                                     "<th>alignment</th><th>95% CI</th></tr>", rows)

    @admin.action(description="Close selected studies (admit nobody new)")
    def close_studies(self, request, queryset):
        for study in queryset:
            services.study_set_status(study=study, status=StudyStatus.CLOSED)

    @admin.action(description="Open selected studies")
    def open_studies(self, request, queryset):
        for study in queryset:
            services.study_set_status(study=study, status=StudyStatus.OPEN)
