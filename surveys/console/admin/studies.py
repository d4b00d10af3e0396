"""Studies in admin: create one from jobs (paradigm and design), the participant link, a pilot
preview, live progress, scores, open/close."""

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from surveys.console.admin.base import ReadOnlyInline, ServiceCreateAdmin
from surveys.console.admin.prolific import ProlificStudyActions
from surveys.console.forms import DESIGN_FIELDS, PRESENTATION_DESIGN_FIELDS, StudyCreateForm, StudyEditForm
from surveys.console.links import participant_link, results_link
from surveys.scoring.selectors import study_scores
from surveys.studies import services
from surveys.studies.models import Condition, Study, StudyStatus
from surveys.studies.selectors import study_iri_verdicts
from surveys.studies.services import STUDY_TEXTS
from surveys.trials.selectors import study_participation, study_progress, study_viewing

ROW = "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"


def _table(table_id: str, header: str, rows: list[tuple]) -> str:
    """A five-column HTML table; the header is a constant of this module or built by format_html, the
    cells are escaped."""
    return format_html('<table id="{}">{}{}</table>', table_id, mark_safe(header),  # noqa: S308 - see above
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
    change_form = StudyEditForm
    list_display = ["name", "paradigm", "status", "link", "participation", "created_at"]
    list_filter = ["status", "paradigm"]
    readonly_fields = ["paradigm", "status", "link", "preview", "participation", "progress", "viewing", "iri_verdicts", "includes_failing_iris", "scores", "results",
                       "design_state"]
    inlines = [ConditionInline]
    actions = ["close_studies", "open_studies", *ProlificStudyActions.prolific_actions]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["name", "jobs", "paradigm", "language", "completion_url"]}),
                    ("Design (the defaults are those of a study one would publish)", {"fields": DESIGN_FIELDS}),
                    ("Presentation", {"fields": PRESENTATION_DESIGN_FIELDS}),
                    ("IRIs", {"fields": ["include_failing_iris"]})]
        return [
            (None, {"fields": ["name", "paradigm", "status", "link", "preview", "participation", "progress",
                               "iri_verdicts", "includes_failing_iris", "scores", "results"]}),
            ("Design", {"fields": ["design_state", *DESIGN_FIELDS]}),
            ("Presentation", {"fields": ["viewing", *PRESENTATION_DESIGN_FIELDS]}),
            ("What participants read (plain text; Markdown-compatible)", {"fields": STUDY_TEXTS}),
            ("Recruitment platform", {"fields": ["completion_url", "completion_code", "code_no_consent",
                                                 "code_failed_gate", "code_incompatible"]}),
        ]

    @admin.display(description="editable?")
    def design_state(self, obj):
        since = services.study_frozen_since(study=obj)
        if since is None:
            return (f"Version {obj.design_version}. The design and the texts below can be changed until the first "
                    "participant (not a pilot) starts.")
        return (f"Version {obj.design_version}, frozen since {since:%Y-%m-%d %H:%M} UTC, when the first participant "
                "started: everyone who counts sees the same study. To change it, make a new study from the same jobs.")

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

    @admin.display(description="IRIs per condition: pass / fail / never judged / surveyed")
    def iri_verdicts(self, obj):
        rows = [(v["label"], v["passed"], v["failed"], v["unjudged"], v["surveyed"])
                for v in study_iri_verdicts(study=obj)]
        return _table("iris-verdicts", "<tr><th>condition</th><th>pass</th><th>fail</th><th>never judged</th>"
                                        "<th>surveyed</th></tr>", rows)

    @admin.display(description="viewing geometry (virtual chinrest)")
    def viewing(self, obj):
        summaries, failed = study_viewing(study=obj)
        number = "{:.1f}".format
        rows = [(s.measure, s.participants, "-" if s.low is None else number(s.low),
                 "-" if s.quartiles is None else " / ".join(map(number, s.quartiles)),
                 "-" if s.high is None else number(s.high)) for s in summaries]
        rows.append(("calibration failed or skipped", failed, "-", "-", "-"))
        return _table("iris-viewing", "<tr><th>measure</th><th>participants</th><th>min</th>"
                                      "<th>25% / median / 75%</th><th>max</th></tr>", rows)

    @admin.display(description="scores (95% bootstrap CI)")
    def scores(self, obj):
        rows = [(s.label, s.participants, s.trials,
                 "-" if s.alignment is None else f"{s.alignment:.3f}",
                 "-" if s.ci_low is None else f"[{s.ci_low:.3f}, {s.ci_high:.3f}]")
                for s in study_scores(study=obj)]
        header = format_html("<tr><th>condition</th><th>participants</th><th>trials</th><th>{}</th><th>95% CI</th></tr>",
                             obj.design_spec.traits.measure)
        return _table("iris-scores", header, rows)

    @admin.action(description="Close selected studies (admit nobody new)")
    def close_studies(self, request, queryset):
        for study in queryset:
            services.study_set_status(study=study, status=StudyStatus.CLOSED)

    @admin.action(description="Open selected studies")
    def open_studies(self, request, queryset):
        for study in queryset:
            services.study_set_status(study=study, status=StudyStatus.OPEN)
