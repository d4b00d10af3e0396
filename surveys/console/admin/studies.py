"""Studies in admin: create one from jobs (paradigm and design), the participant link, a pilot
preview, live progress, scores, how it recruits (the stopping rule), open/close."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from surveys.console.admin.base import ReadOnlyInline, ServiceCreateAdmin
from surveys.console.admin.prolific import ProlificStudyActions
from surveys.console.forms import DESIGN_FIELDS, PRESENTATION_DESIGN_FIELDS, StudyCreateForm, StudyEditForm
from surveys.console.links import participant_link, results_link
from surveys.scoring import services as scoring
from surveys.scoring.recruitment_services import recruitment_check, study_close
from surveys.scoring.selectors import exclusion_rules_of, recruitment_of, study_scores
from surveys.studies import services
from surveys.studies.models import STUDY_TEXTS, Condition, Study, StudyStatus, StudyVersion
from surveys.studies.selectors import study_iri_verdicts
from surveys.trials.selectors import study_participation, study_places, study_progress, study_viewing

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


class StudyVersionInline(ReadOnlyInline):
    """Every version of the study, newest first, each with what its participants read and the design
    they took; versions are on record and never change."""

    model = StudyVersion
    template = "admin/edit_inline/stacked.html"  # one block per version: the texts are long
    fields = ["number", "created_at", "created_by", "participant_count", *STUDY_TEXTS, "design"]
    readonly_fields = fields
    verbose_name = "version"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by").annotate(shown=Count("participants"))

    @admin.display(description="participants shown it")
    def participant_count(self, obj):
        return obj.shown


@admin.register(Study)
class StudyAdmin(ProlificStudyActions, ServiceCreateAdmin):
    create_form = StudyCreateForm
    change_form = StudyEditForm
    list_display = ["name", "paradigm", "status", "closed_reason", "link", "participation", "created_at"]
    list_filter = ["status", "paradigm"]
    readonly_fields = ["paradigm", "status", "link", "preview", "participation", "progress", "viewing", "iri_verdicts", "includes_failing_iris", "scores", "results",
                       "design_state", "closed_reason", "closed_at", "stopping_rule"]
    inlines = [ConditionInline, StudyVersionInline]
    actions = ["close_studies", "open_studies", "check_recruitment", "clone_studies",
               *ProlificStudyActions.prolific_actions]

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["name", "jobs", "paradigm", "language", "completion_url"]}),
                    ("Design (the defaults are those of a study one would publish)", {"fields": DESIGN_FIELDS}),
                    ("Presentation", {"fields": PRESENTATION_DESIGN_FIELDS}),
                    ("IRIs", {"fields": ["include_failing_iris"]})]
        return [
            (None, {"fields": ["name", "paradigm", "status", "link", "preview", "participation", "progress",
                               "iri_verdicts", "includes_failing_iris", "scores", "results"]}),
            ("Recruitment: the stopping rule (docs/method.md §3)", {"fields": ["stopping_rule", "closed_reason",
                                                                                "closed_at"]}),
            ("Design", {"fields": ["design_state", *DESIGN_FIELDS]}),
            ("Presentation", {"fields": ["viewing", *PRESENTATION_DESIGN_FIELDS]}),
            ("What participants read (plain text; Markdown-compatible)", {"fields": STUDY_TEXTS}),
            ("Recruitment platform", {"fields": ["completion_url", "completion_code", "code_no_consent",
                                                 "code_failed_gate", "code_incompatible"]}),
            ("Data protection (withdrawals and erasures: Trials → Data erasures)", {"fields": ["retention_days"]}),
        ]

    @admin.display(description="editable?")
    def design_state(self, obj):
        since = services.study_frozen_since(study=obj)
        if since is None:
            return (f"Version {obj.design_version}. The design can be changed until the first participant (not a "
                    "pilot) starts; each change to it or to the texts below is saved as a new version.")
        return (f"Version {obj.design_version}. The design is frozen since {since:%Y-%m-%d %H:%M} UTC, when the "
                "first participant started: everyone who counts takes the same study. The texts below can still "
                "change: each change is a new version, which new participants are shown, while everyone before "
                "keeps the one they saw (Versions, below). For another design, clone the study into a new draft.")

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

    @admin.display(description="how it recruits")
    def stopping_rule(self, obj):
        rules = exclusion_rules_of(study=obj)
        target = rules.target_ci_width if rules else None
        places = study_places(study=obj)
        state = recruitment_of(study=obj)
        checked = (f"Last checked {state.checked_at:%Y-%m-%d %H:%M} UTC: {state.verdict}."
                   if state and state.checked_at else "Not checked yet: a check follows each completed participant.")
        return format_html(
            "Target 95% CI width: {} (set it on the study's <a href=\"{}\">exclusion rules</a>); cap: {}. "
            "Excluded participants are replaced.<br>{}",
            "not set" if target is None else f"{target:.3f}",
            reverse("admin:scoring_exclusionrules_change", args=[rules.pk]) if rules
            else reverse("admin:scoring_exclusionrules_add"),
            "none" if places is None else f"{places} usable participants", checked)

    @admin.display(description="scores (95% bootstrap CI; its width, and the part only more IRIs narrow)")
    def scores(self, obj):
        rows = [(s.label, s.participants, s.trials,
                 "-" if s.alignment is None else f"{s.alignment:.3f}",
                 "-" if s.ci_low is None else f"[{s.ci_low:.3f}, {s.ci_high:.3f}] width {s.ci_high - s.ci_low:.3f}"
                                              + ("" if s.item_part_width is None else
                                                 f" (items {s.item_part_width:.3f})"))
                for s in study_scores(study=obj)]
        header = format_html("<tr><th>condition</th><th>participants</th><th>trials</th><th>{}</th><th>95% CI</th></tr>",
                             obj.design_spec.traits.measure)
        return _table("iris-scores", header, rows)

    @admin.action(description="Close selected studies (admit nobody new; stops their Prolific study)")
    def close_studies(self, request, queryset):
        for study in queryset:
            closure = study_close(study=study, reason=f"closed by {request.user.get_username()}")
            if closure.prolific:
                self.message_user(request, f"{study}: closed; {closure.prolific}.", messages.INFO)

    @admin.action(description="Open selected studies")
    def open_studies(self, request, queryset):
        for study in queryset:
            services.study_set_status(study=study, status=StudyStatus.OPEN)

    @admin.action(description="Check the stopping rule now (closes a study whose rule is met)")
    def check_recruitment(self, request, queryset):
        for study in queryset:
            self.message_user(request, f"{study}: {recruitment_check(study=study).verdict}", messages.INFO)

    @admin.action(description="Clone into a new draft")
    def clone_studies(self, request, queryset):
        """Each selected study copied, with its design, texts and rules, into a closed draft of the
        researcher's; participants and responses stay with the original."""
        for study in queryset.order_by("pk"):
            try:
                copy = scoring.study_clone(study=study, owner=request.user)
            except ValidationError as error:
                self.message_user(request, f"{study}: {' '.join(error.messages)}", messages.ERROR)
                continue
            url = reverse("admin:studies_study_change", args=[copy.pk])
            self.message_user(request, format_html(
                '{} cloned into <a href="{}">{}</a>: closed until you open it, and editable until its first '
                "participant starts.", study, url, copy), messages.SUCCESS)
