"""Models, target sets, generation jobs and IRIs in admin. Every write goes through a service."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from surveys.console.admin.base import OwnedAdmin, ReadOnlyInline, ReadOnlyOwnedAdmin, ServiceCreateAdmin, thumbnail
from surveys.console.forms import JobSubmitForm, ModelRegistrationForm, StimulusImportForm, TargetSetUploadForm
from surveys.generation import services
from surveys.generation.models import (
    GenerationBatch,
    GenerationJob,
    ImportedStimulusSet,
    JobKind,
    ModelStatus,
    RegisteredModel,
    Stimulus,
    TargetImage,
    TargetSet,
)
from surveys.generation.selectors import job_progress, job_verdicts
from surveys.scoring.selectors import job_recognition
from surveys.scoring.services import study_create
from surveys.studies.paradigms import PARADIGMS


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ServiceCreateAdmin):
    create_form = ModelRegistrationForm
    list_display = ["name", "status", "architecture", "input_size", "is_classifier", "layer_count", "short_sha",
                    "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "architecture"]
    readonly_fields = ["status", "error", "architecture", "weights", "input_size", "mean", "std", "num_classes",
                       "init_seed", "checkpoint_sha256", "is_classifier", "num_outputs", "layers", "owner"]

    def response_add(self, request, obj, post_url_continue=None):
        if obj.status == ModelStatus.INSPECTING:
            self.message_user(request, f"{obj.name} is being inspected by a worker: refresh this page in a moment "
                                       "to see it ready, or refused with the reason.", messages.INFO)
        return super().response_add(request, obj, post_url_continue)

    @admin.display(description="layers")
    def layer_count(self, obj):
        return len(obj.layer_names)

    @admin.display(description="SHA-256")
    def short_sha(self, obj):
        return obj.checkpoint_sha256[:12]

    @admin.display(description="layer names")
    def layers(self, obj):
        return ", ".join(obj.layer_names)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "architecture", "weights", "input_size", "mean_text", "std_text", "num_classes",
                    "init_seed"]
        return ["name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []


class TargetImageInline(ReadOnlyInline):
    model = TargetImage
    fields = ["preview", "name", "category", "sha256"]
    readonly_fields = fields

    @admin.display(description="image")
    def preview(self, obj):
        return thumbnail(obj.image)


@admin.register(TargetSet)
class TargetSetAdmin(ServiceCreateAdmin):
    create_form = TargetSetUploadForm
    list_display = ["name", "image_count", "created_at"]
    inlines = [TargetImageInline]

    @admin.display(description="images")
    def image_count(self, obj):
        return obj.images.count()

    def get_fields(self, request, obj=None):
        return ["name", "files"] if obj is None else ["name"]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []


def progress_bar(job: GenerationJob) -> str:
    state = job_progress(job=job)
    percent = round(100 * state["fraction"])
    loss = "" if state["current_loss"] is None else f" · loss {state['current_loss']:.4f}"
    return format_html(
        '<div class="iris-progress" data-progress-url="{}" title="{} of {} steps">'
        '<progress max="100" value="{}"></progress> <span>{}% · {} IRIs{}</span></div>',
        reverse("researcher-job-progress", args=[job.pk]), state["steps_done"], state["steps_total"],
        percent, percent, state["iris"], loss,
    )


class BatchInline(ReadOnlyInline):
    model = GenerationBatch
    fields = ["index", "layer", "status", "attempts", "claimed_by", "steps_done", "steps_total", "current_loss", "error"]
    readonly_fields = fields


def _study_action(paradigm: str):
    def create(modeladmin, request, queryset):
        return modeladmin.study_from_jobs(request, queryset, paradigm=paradigm)

    create.__name__ = f"create_{paradigm}_study"
    return admin.action(description=f"Create a {PARADIGMS[paradigm].title} study from the selected jobs")(create)


class StudyFromJobs:
    """The actions "Create a ... study from the selected jobs", one per paradigm (_study_action)."""

    def study_from_jobs(self, request, queryset, *, paradigm: str):
        """The selected jobs as a new study of this paradigm, with the design a published study would
        use; its change page, where the design and texts can be edited, comes next."""
        try:
            study = study_create(owner=request.user, jobs=list(queryset.order_by("pk")), paradigm=paradigm)
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), level=messages.ERROR)
            return None
        # As the change page's "editable?" says it: only the design freezes; a text change is a new version.
        self.message_user(request, f"Created study {study.name}. Check its design and texts below: the design can "
                                   "be changed until the first participant (not a pilot) starts, the texts at any "
                                   "time (each change a new version).")
        return redirect("admin:studies_study_change", study.pk)


@admin.register(GenerationJob)
class GenerationJobAdmin(StudyFromJobs, OwnedAdmin):
    list_display = ["id", "model", "layer_list", "loss", "target_set", "status", "progress", "iris_failing",
                    "created_at"]
    list_filter = ["status"]
    readonly_fields = ["owner", "model", "target_set", "config", "criterion", "verdict_counts", "perceptual", "proxies",
                       "recognizers", "status", "progress", "recognition", "error", "cancel_requested", "created_at",
                       "started_at", "finished_at"]
    inlines = [BatchInline]
    actions = ["cancel_jobs", *(_study_action(paradigm) for paradigm in PARADIGMS)]

    class Media:
        js = ["iris/admin-progress.js"]

    @admin.display(description="layers")
    def layer_list(self, obj):
        return ", ".join(obj.layers)

    @admin.display(description="loss")
    def loss(self, obj):
        return "(imported)" if obj.kind == JobKind.IMPORTED else obj.spec.loss

    @admin.display(description="model-to-model recognition")
    def recognition(self, obj):
        rows = [(name, f"{r.accuracy:.3f} ± {r.sem:.3f}", r.n) for name, r in job_recognition(job=obj).items()]
        if not rows:
            return "-"
        return format_html("<table>{}</table>", format_html_join(
            "", "<tr><th>{}</th><td>accuracy {}</td><td>n = {}</td></tr>", rows))

    @admin.display(description="IRIs failing the criterion")
    def iris_failing(self, obj):
        counts = job_verdicts(job=obj)
        return f"{counts['failed']} of {counts['passed'] + counts['failed'] + counts['unjudged']}"

    @admin.display(description="IRI criterion")
    def criterion(self, obj):
        verdicts = job_verdicts(job=obj)
        naturals = verdicts["null_images"]
        return criterion_text(verdicts["criterion"], null_images=naturals and naturals["name"])

    @admin.display(description="IRIs passing / failing / never judged")
    def verdict_counts(self, obj):
        rows = [(layer, c["passed"], c["failed"], c["unjudged"]) for layer, c in job_verdicts(job=obj)["per_layer"].items()]
        if not rows:
            return "-"
        return format_html('<table id="iris-verdicts"><tr><th>layer</th><th>pass</th><th>fail</th>'
                           "<th>never judged</th></tr>{}</table>", format_html_join(
                               "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows))

    @admin.display(description="progress")
    def progress(self, obj):
        return progress_bar(obj)

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [path("submit/", self.admin_site.admin_view(self.submit_view), name="generation_job_submit"),
                *super().get_urls()]

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:generation_job_submit")

    def submit_view(self, request: HttpRequest):
        form = JobSubmitForm(request.POST or None, owner=request.user)
        if request.method == "POST" and form.is_valid():
            messages.success(request, f"Job {form.created.pk} is queued.")
            return redirect("admin:generation_generationjob_change", form.created.pk)
        context = {**self.admin_site.each_context(request), "form": form, "title": "Generate IRIs",
                   "opts": self.model._meta}
        return TemplateResponse(request, "admin/generation/job_submit.html", context)

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            services.job_cancel(job=job)
        self.message_user(request, f"Asked {queryset.count()} job(s) to stop.")


def criterion_text(criterion: dict | None, *, null_images: str | None) -> str:
    """A criterion (IriCriterion JSON) in words, with the natural images its null was made of; None:
    an imported set's, judged by its maker."""
    if criterion is None:
        return "judged where the set was made (its manifest's passes)"
    bound = criterion["max_rep_loss"]
    parts = ["L_rep no bound" if bound is None else f"L_rep \u2264 {bound:g}"]
    if criterion["validity"]:
        parts.append(f"validity against the {criterion['null']} null of {null_images!r}")
    if criterion["class_agreement"]:
        parts.append("class kept")
    return "; ".join(parts)


@admin.register(ImportedStimulusSet)
class ImportedStimulusSetAdmin(StudyFromJobs, ServiceCreateAdmin):
    """Stimulus sets made elsewhere: added as a zip with its manifest, then looked at, and surveyed with
    the same actions as generated jobs (they are listed among those too)."""

    create_form = StimulusImportForm
    list_display = ["id", "name", "condition_list", "stimulus_count", "created_at"]
    readonly_fields = ["name", "target_set", "conditions", "stimulus_count", "created_at"]
    actions = [_study_action(paradigm) for paradigm in PARADIGMS]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(kind=JobKind.IMPORTED)

    def get_fields(self, request, obj=None):
        return ["name", "file"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return False  # what was imported stays as it was; a new import makes a new set

    def has_delete_permission(self, request, obj=None):
        return False  # a set is deleted as the job it is, from the jobs' list

    @admin.display(description="name")
    def name(self, obj):
        return obj.target_set.name

    @admin.display(description="conditions")
    def condition_list(self, obj):
        return ", ".join(obj.layers)

    @admin.display(description="conditions (name: model / layer, IRIs passing / failing)")
    def conditions(self, obj):
        counts = job_verdicts(job=obj)["per_layer"]
        rows = [(c.name, c.model, c.layer, counts[c.name]["passed"], counts[c.name]["failed"])
                for c in obj.imported.conditions]
        return format_html("<table>{}</table>", format_html_join(
            "", "<tr><th>{}</th><td>{} / {}</td><td>{} passing</td><td>{} failing</td></tr>", rows))

    @admin.display(description="IRIs")
    def stimulus_count(self, obj):
        url = reverse("admin:generation_stimulus_changelist") + f"?job__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.stimuli.count())


@admin.register(Stimulus)
class StimulusAdmin(ReadOnlyOwnedAdmin):
    owner_path = "job__owner"
    list_display = ["images", "target", "layer", "rep_loss", "passes", "verdict_summary", "job"]
    list_display_links = ["images", "target"]
    list_filter = ["passes", "layer", "optimizer"]
    readonly_fields = ["job", "target", "layer", "target_image", "seed_image", "iri_image", "final_rep_loss",
                       "passes", "verdict_summary", "verdict_criterion", "loss_curve_points", "validity_table",
                       "wall_seconds", "optimizer", "config", "code_version", "checkpoint_sha256"]
    fields = readonly_fields

    @admin.display(description="target | seed | IRI")
    def images(self, obj):
        return format_html('<span style="white-space:nowrap">{} {} {}</span>', thumbnail(obj.target_png, 48),
                           thumbnail(obj.seed_png, 48), thumbnail(obj.iri_png, 48))

    @admin.display(description="final L_rep", ordering="final_rep_loss")
    def rep_loss(self, obj):
        return "-" if obj.final_rep_loss is None else f"{obj.final_rep_loss:.4f}"

    @admin.display(description="verdict")
    def verdict_summary(self, obj):
        """Why it fails (each part of the criterion it misses), or what it passed."""
        if obj.job.kind == JobKind.IMPORTED:
            return f"imported: {'passes' if obj.passes else 'fails'} by its maker's criterion"
        if not obj.verdict:
            return "never judged (stored before IRIs were judged)"
        if obj.verdict["reasons"]:
            return "; ".join(obj.verdict["reasons"])
        return f"passes: L_rep {obj.final_rep_loss:.4g}"

    @admin.display(description="judged against")
    def verdict_criterion(self, obj):
        if not obj.verdict:
            return "-"
        null = obj.verdict["null"]
        null_text = "no null" if null is None else (f"{null['kind']} null: {null['pairs']} pairs of {null['images']} "
                                                    f"images (maxima rho {null['spearman']:.3g}, r {null['pearson']:.3g},"
                                                    f" dB-SNR {null['db_snr']:.3g})")
        bound = obj.verdict["criterion"]["max_rep_loss"]
        return (f"L_rep bound {'none' if bound is None else f'{bound:g}'}; validity "
                f"{'required' if obj.verdict['criterion']['validity'] else 'not required'}; {null_text}")

    @admin.display(description="target")
    def target_image(self, obj):
        return thumbnail(obj.target_png)

    @admin.display(description="seed")
    def seed_image(self, obj):
        return thumbnail(obj.seed_png)

    @admin.display(description="IRI")
    def iri_image(self, obj):
        return thumbnail(obj.iri_png)

    @admin.display(description="loss curve")
    def loss_curve_points(self, obj):
        curve = obj.loss_curve
        return f"{len(curve)} points; first {curve[0]:.4f}, last {curve[-1]:.4f}" if curve else "-"

    @admin.display(description="validity")
    def validity_table(self, obj):
        if not obj.validity:
            return "-"
        return format_html("<table>{}</table>", format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", sorted(obj.validity.items())))
