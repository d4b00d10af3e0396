"""The researcher's forms. Each parses its input and calls one service; a refusal shows on the form."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from iri_engine import spec as engine_spec
from surveys.generation import import_services
from surveys.generation import services as generation
from surveys.generation.models import (
    GenerationJob,
    ImportedStimulusSet,
    JobStatus,
    ModelStatus,
    RegisteredModel,
    TargetSet,
)
from surveys.scoring.services import study_create
from surveys.studies import services as studies
from surveys.studies.design import FOILS, StudyDesign
from surveys.studies.models import DEFAULT_LANGUAGE, STUDY_TEXTS, Study
from surveys.studies.paradigms import PARADIGMS, Paradigm
from surveys.studies.services import STUDY_SETTINGS


class ServiceForm:
    """A form that makes its row through a service while it is validated: a refusal becomes a form
    error and nothing is saved; ``created`` holds what the service made."""

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.created = None

    def clean(self):
        data = super().clean()
        if not self.errors:
            self.created = self.create(data)
        return data

    def create(self, data: dict):
        raise NotImplementedError

    def validate_unique(self):
        pass  # the service checks names per owner


def _floats(text: str, *, field: str) -> list[float]:
    try:
        return [float(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ValidationError(f"{field}: write three numbers separated by commas.") from None


class ModelRegistrationForm(ServiceForm, forms.ModelForm):
    """Register a network: the checkpoint is inspected (layers, SHA-256) before anything is saved, or, with
    IRIS_INSPECT_ON_WORKER, by a worker after the model is saved inspecting."""

    mean_text = forms.CharField(label="Mean (R, G, B)", initial=", ".join(map(str, engine_spec.IMAGENET_MEAN)))
    std_text = forms.CharField(label="Std (R, G, B)", initial=", ".join(map(str, engine_spec.IMAGENET_STD)))

    class Meta:
        model = RegisteredModel
        fields = ["name", "architecture", "weights", "input_size", "num_classes", "init_seed"]

    def create(self, data: dict) -> RegisteredModel:
        return generation.model_register(
            owner=self.owner, name=data["name"], architecture=data["architecture"],
            weights=data.get("weights") or None, input_size=data["input_size"],
            mean=_floats(data["mean_text"], field="Mean"), std=_floats(data["std_text"], field="Std"),
            num_classes=data.get("num_classes"), init_seed=data.get("init_seed") or 0,
        )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files if item]


class TargetSetUploadForm(ServiceForm, forms.ModelForm):
    files = MultipleFileField(help_text="Several images, or a zip (folders inside it name categories).")

    class Meta:
        model = TargetSet
        fields = ["name"]

    def create(self, data: dict) -> TargetSet:
        # The files themselves, not their bytes: a large upload is streamed from its temporary file.
        uploads = [(upload.name, upload) for upload in data["files"]]
        return generation.target_set_create(owner=self.owner, name=data["name"], uploads=uploads)


class StimulusImportForm(ServiceForm, forms.ModelForm):
    """Import a stimulus set made elsewhere: a zip with its manifest (docs/stimulus-import.md)."""

    name = forms.CharField(max_length=100, help_text="Names the set and the target set made of its targets.")
    file = forms.FileField(label="Zip", help_text="manifest.json at its root, and the images it names.")

    class Meta:
        model = ImportedStimulusSet
        fields = []

    def create(self, data: dict) -> ImportedStimulusSet:
        upload = data["file"]  # streamed from its temporary file, never read whole
        made = import_services.stimulus_set_import(owner=self.owner, name=data["name"], filename=upload.name,
                                                   data=upload)
        return ImportedStimulusSet.objects.get(pk=made.pk)


def _choices(values) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


# The engine's options a researcher picks on the job form, copied into the GenerationSpec as given.
ENGINE_OPTIONS = ("loss", "seed_type", "seed_shared", "optimizer", "iterations", "step_size", "keep",
                  "parameterization", "transforms", "fake_relu", "precision", "random_seed")


NULL_LABELS = ("pairs of targets of different categories", "any two targets",
               "pairs from a separate reference set")


class JobSubmitForm(ServiceForm, forms.Form):
    """Ask for IRIs: layers are offered from each registered network's own node names."""

    layers = forms.MultipleChoiceField(help_text="One IRI per target per layer. Grouped by model.")
    target_set = forms.ModelChoiceField(queryset=TargetSet.objects.none())
    loss = forms.ChoiceField(choices=_choices(engine_spec.LOSS_PRESETS), initial="reg_free")
    seed_type = forms.ChoiceField(choices=_choices(engine_spec.SEED_TYPES), initial="super-noise",
                                  label="Starting point")
    seed_shared = forms.BooleanField(initial=True, required=False, label="One starting point for all targets")
    optimizer = forms.ChoiceField(choices=_choices(engine_spec.OPTIMIZERS), initial="ngd")
    iterations = forms.IntegerField(min_value=1, max_value=engine_spec.MAX_ITERATIONS, initial=5000)
    step_size = forms.FloatField(min_value=1e-9, initial=1.0)
    keep = forms.ChoiceField(choices=_choices(engine_spec.KEEP_CHOICES), initial="best")
    parameterization = forms.ChoiceField(choices=_choices(engine_spec.PARAMETERIZATIONS), initial="pixel")
    transforms = forms.BooleanField(required=False, label="Transformation robustness (jitter/scale/rotate)")
    fake_relu = forms.BooleanField(required=False, label="Fake ReLU at the matched layer")
    precision = forms.ChoiceField(choices=_choices(engine_spec.PRECISIONS), initial="auto")
    random_seed = forms.IntegerField(min_value=0, initial=0)
    perceptual = forms.CharField(
        required=False, label="Perceptual distance (adversarial losses)",
        help_text="One registered model and its layers, e.g. vgg16: features.3, features.8")
    proxies = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Proxy distances",
        help_text="One per line, same form. Each IRI is scored D(IRI, target) ≤ D(IRI, seed) under each.")

    recognizers = forms.ModelMultipleChoiceField(
        queryset=RegisteredModel.objects.none(), required=False, label="Recognizers (model-to-model)",
        help_text="Other classifiers asked whether they see each IRI as they see its target.")
    # The IRI criterion (iri_engine.spec.IriCriterion): each stored image is judged against it.
    max_rep_loss = forms.FloatField(
        required=False, min_value=1e-9, initial=engine_spec.DEFAULT_MAX_REP_LOSS, label="Largest L_rep of an IRI",
        help_text="An image whose representation loss ends above this fails (empty: no bound).")
    criterion_validity = forms.BooleanField(
        required=False, initial=True, label="Must pass the validity test",
        help_text="Spearman, Pearson and dB-SNR to the target above the null's maxima (Feather).")
    criterion_class_agreement = forms.BooleanField(
        required=False, initial=True, label="A classifier's IRI must keep the target's class")
    null = forms.ChoiceField(
        choices=list(zip(engine_spec.NULL_KINDS, NULL_LABELS, strict=True)), initial="different_category",
        label="Validity's null", help_text="Which pairs of natural images the validity test compares against.")
    null_reference = forms.ModelChoiceField(
        queryset=TargetSet.objects.none(), required=False, label="Reference set (for the reference null)")

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, owner=owner, **kwargs)
        ready = RegisteredModel.objects.filter(owner=owner, status=ModelStatus.READY)
        self.fields["recognizers"].queryset = ready.filter(is_classifier=True)
        self.fields["null_reference"].queryset = TargetSet.objects.filter(owner=owner).order_by("name")
        models = ready.order_by("name")
        self.fields["layers"].choices = [
            (model.name, [(f"{model.pk}|{layer}", layer) for layer in model.layer_names]) for model in models
        ]
        self.fields["target_set"].queryset = TargetSet.objects.filter(owner=owner).order_by("name")

    def create(self, data: dict):
        picked = [value.split("|", 1) for value in data["layers"]]
        model_ids = {model_id for model_id, _ in picked}
        if len(model_ids) != 1:
            raise ValidationError("Pick layers of one model per job.")
        model = RegisteredModel.objects.get(pk=int(model_ids.pop()), owner=self.owner)
        config = {key: data[key] for key in ENGINE_OPTIONS} | {"layers": [layer for _, layer in picked],
                                                               "criterion": _criterion(data)}
        perceptual = _distances(data["perceptual"], owner=self.owner)
        if len(perceptual) > 1:
            raise ValidationError("Give one perceptual distance.")
        return generation.job_submit(owner=self.owner, model=model, target_set=data["target_set"], config=config,
                                     perceptual=perceptual[0] if perceptual else None,
                                     proxies=_distances(data["proxies"], owner=self.owner),
                                     recognizers=[m.pk for m in data.get("recognizers") or []],
                                     null_reference=data.get("null_reference"))


def _criterion(data: dict) -> dict:
    """The job form's criterion fields as the engine's IriCriterion JSON."""
    return {"max_rep_loss": data.get("max_rep_loss"), "validity": data["criterion_validity"],
            "class_agreement": data["criterion_class_agreement"], "null": data["null"]}


def _distances(text: str, *, owner) -> list[dict]:
    """Lines of "model name: layer, layer" as the service's {"model": id, "layers": [...]}."""
    distances = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        name, _, layers = line.rpartition(":")
        model = RegisteredModel.objects.filter(owner=owner, name=name.strip()).first()
        if model is None:
            raise ValidationError(f"{line!r}: write 'model name: layer, layer' with one of your models' names.")
        distances.append({"model": model.pk, "layers": [layer.strip() for layer in layers.split(",") if layer.strip()]})
    return distances


# Presentation options (docs/method.md §2, "Presentation"): an empty one keeps StudyDesign's default.
PRESENTATION_DESIGN_FIELDS = ("calibrate", "stimulus_deg", "pause_on_leave", "refuse_phones", "min_refresh_hz",
                              "max_frame_jitter_ms")


class PresentationFields(forms.Form):
    """The study form's presentation options (viewing geometry, attention, timing), apart from the paradigm's."""

    calibrate = forms.BooleanField(required=False, help_text="Virtual chinrest (card and blind spot) first.")
    stimulus_deg = forms.FloatField(required=False, min_value=0.1, max_value=60,
                                    help_text="Image width in degrees of visual angle (with calibration). "
                                              "Empty: sized by the window.")
    pause_on_leave = forms.BooleanField(required=False, help_text="Pause when the participant leaves the tab, "
                                                                  "window or full screen.")
    refuse_phones = forms.BooleanField(required=False)
    min_refresh_hz = forms.FloatField(required=False, min_value=1, max_value=1000,
                                      help_text="Turn away slower displays. Empty: any.")
    max_frame_jitter_ms = forms.FloatField(required=False, min_value=0.1, max_value=1000,
                                           help_text="Turn away displays whose frame intervals vary more (SD).")


QUESTIONS_HELP = ('A JSON list of questions, e.g. [{"id": "age", "kind": "number", "prompt": "Your age?", "min": 18, '
                  '"max": 100}]; kinds: choice (options), number (min, max), text (max_length), scale (points, '
                  'low_label, high_label); each may say "required": false. Empty: none.')


class StudyDesignFields(forms.Form):
    """A study's design as form fields; a study's form turns them into StudyDesign's options."""

    k = forms.IntegerField(required=False, min_value=2,
                           help_text="Matching: targets per trial (3). Classification: categories shown (empty: all).")
    foils = forms.ChoiceField(choices=list(zip(FOILS, ("the seed (Nanda)", "another target"), strict=True)),
                              help_text="2AFC: the option beside the target.")
    practice = forms.BooleanField(required=False, help_text="Practice trials with feedback.")
    practice_trials = forms.IntegerField(min_value=1)
    gate_trials = forms.IntegerField(required=False, min_value=1,
                                     help_text="Qualification gate: trials (Feather: 12). Empty: no gate.")
    gate_pass = forms.IntegerField(required=False, min_value=0, help_text="Right answers needed (Feather: 7).")
    catch_every = forms.IntegerField(min_value=0, help_text="One catch trial per this many main trials; 0 = none.")
    participants_per_condition = forms.IntegerField(required=False, min_value=1,
                                                    help_text="Stop admitting at this many. Empty: no cap.")
    once_per_target = forms.BooleanField(required=False, help_text="Each participant sees each target once, "
                                                                   "conditions assigned by Latin square.")
    fixation_ms = forms.IntegerField(min_value=0, help_text="Classification only.")
    stimulus_ms = forms.IntegerField(min_value=1, help_text="Classification only.")
    mask_ms = forms.IntegerField(min_value=0, help_text="Classification only.")
    fullscreen = forms.BooleanField(required=False)
    min_width = forms.IntegerField(min_value=0, help_text="The browser check's smallest window, in CSS pixels.")
    min_height = forms.IntegerField(min_value=0, help_text="The browser check's smallest window, in CSS pixels.")
    questions_before = forms.JSONField(required=False, help_text=QUESTIONS_HELP + " Asked before the first trial.")
    questions_after = forms.JSONField(required=False, help_text=QUESTIONS_HELP + " Asked after the last trial.")


DESIGN_FIELDS = tuple(StudyDesignFields.base_fields)
# Design options every paradigm has (the rest are a paradigm's own, PARADIGMS[...].options).
COMMON_DESIGN_FIELDS = ("practice", "practice_trials", "catch_every", "participants_per_condition", "once_per_target",
                        "fullscreen", "min_width", "min_height")
QUESTION_FIELDS = ("questions_before", "questions_after")


def design_initial(design: StudyDesign) -> dict:
    """The form's starting values for a design; options the paradigm lacks take any paradigm's default."""
    timing = PARADIGMS[Paradigm.CLASSIFICATION].options
    flat = {"foils": FOILS[0], **{key: timing[key] for key in ("fixation_ms", "stimulus_ms", "mask_ms")},
            **design.to_dict()}
    gate = flat.pop("gate")
    return flat | {"gate_trials": gate["trials"] if gate else None, "gate_pass": gate["pass"] if gate else None}


def design_options(data: dict, *, paradigm: str) -> dict:
    """The design options the researcher set on the form, for StudyDesign.from_dict."""
    design = {key: data[key] for key in COMMON_DESIGN_FIELDS}
    design |= {key: data.get(key) or [] for key in QUESTION_FIELDS}  # an empty box: no questions
    design["gate"] = ({"trials": data["gate_trials"], "pass": data.get("gate_pass") or 0}
                      if data.get("gate_trials") else None)
    own = PARADIGMS[paradigm].options
    design |= {key: data[key] for key in PRESENTATION_DESIGN_FIELDS if data.get(key) not in (None, False)}
    return design | {key: data[key] for key in own if data.get(key) is not None}


class StudyCreateForm(ServiceForm, StudyDesignFields, PresentationFields, forms.ModelForm):
    """The researcher's choices; the study itself is made by scoring.services.study_create. The design
    starts at StudyDesign's defaults: those of a study one would publish."""

    jobs = forms.ModelMultipleChoiceField(queryset=GenerationJob.objects.none(),
                                          help_text="Finished generation jobs; one condition per job and layer.")
    completion_url = forms.URLField(required=False, assume_scheme="https", max_length=500,
                                    help_text="Where participants go at the end; {code} is replaced by the code "
                                              "for how they finished (e.g. Prolific's ...complete?cc={code}).")
    language = forms.ChoiceField(
        choices=settings.LANGUAGES, initial=DEFAULT_LANGUAGE, required=False,
        help_text="The language of the participant pages; the study's first texts (consent, instructions, "
                  "the question) are written in it.")
    include_failing_iris = forms.BooleanField(
        required=False, label="Include IRIs that fail their criterion",
        help_text="By default only images that pass their job's IRI criterion are surveyed; failing and "
                  "never-judged ones are not known to be IRIs.")

    class Meta:
        model = Study
        fields = ["name", "paradigm", "language", "completion_url"]

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, owner=owner, **kwargs)
        self.fields["jobs"].queryset = GenerationJob.objects.filter(owner=owner, status=JobStatus.DONE)
        for key, value in design_initial(StudyDesign.from_dict(None, paradigm=Paradigm.TWO_AFC)).items():
            self.fields[key].initial = value

    def create(self, data: dict) -> Study:
        return study_create(owner=self.owner, name=data["name"], jobs=list(data["jobs"]), paradigm=data["paradigm"],
                            design=design_options(data, paradigm=data["paradigm"]),
                            completion_url=data.get("completion_url", ""),
                            include_failing=data.get("include_failing_iris", False),
                            language=data.get("language") or DEFAULT_LANGUAGE)


class StudyEditForm(ServiceForm, StudyDesignFields, PresentationFields, forms.ModelForm):
    """A study's change page: its design and what participants read change through
    studies.services.study_update, each change a new version; the design is refused once a non-pilot
    participant has started, the texts never are."""

    class Meta:
        model = Study
        fields = ["name", *STUDY_TEXTS, *STUDY_SETTINGS]

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, owner=owner, **kwargs)
        self.frozen_since = studies.study_frozen_since(study=self.instance)
        for key, value in design_initial(self.instance.design_spec).items():
            self.fields[key].initial = value
        if self.frozen_since is not None:
            # Shown disabled; a browser never posts a disabled field, so one that comes back was on a
            # page loaded before the design froze, and study_update refuses it if it changed anything.
            for key in (*DESIGN_FIELDS, *PRESENTATION_DESIGN_FIELDS):
                self.fields[key].disabled = not (self.is_bound and key in self.data)

    def create(self, data: dict) -> Study:
        fields = {key: data[key] for key in ("name", *STUDY_TEXTS, *STUDY_SETTINGS)}
        return studies.study_update(study=self.instance, editor=self.owner,
                                    design=design_options(data, paradigm=self.instance.paradigm), **fields)
