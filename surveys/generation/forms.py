"""Admin forms for the generation app. They parse input and call one service each."""

from django import forms
from django.core.exceptions import ValidationError

from iri_engine import spec as engine_spec
from surveys.generation import services
from surveys.generation.models import RegisteredModel, TargetSet


def _floats(text: str, *, field: str) -> list[float]:
    try:
        return [float(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise ValidationError(f"{field}: write three numbers separated by commas.") from None


class ModelRegistrationForm(forms.ModelForm):
    """Register a network: the checkpoint is inspected (layers, SHA-256) before anything is saved."""

    mean_text = forms.CharField(label="Mean (R, G, B)", initial=", ".join(map(str, engine_spec.IMAGENET_MEAN)))
    std_text = forms.CharField(label="Std (R, G, B)", initial=", ".join(map(str, engine_spec.IMAGENET_STD)))

    class Meta:
        model = RegisteredModel
        fields = ["name", "architecture", "weights", "input_size", "num_classes", "init_seed"]

    def __init__(self, *args, owner=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.registered = None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        self.registered = services.model_register(
            owner=self.owner, name=data["name"], architecture=data["architecture"],
            weights=data.get("weights") or None, input_size=data["input_size"],
            mean=_floats(data["mean_text"], field="Mean"), std=_floats(data["std_text"], field="Std"),
            num_classes=data.get("num_classes"), init_seed=data.get("init_seed") or 0,
        )
        return data

    def validate_unique(self):
        pass  # the service checks names per owner


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files if item]


class TargetSetUploadForm(forms.ModelForm):
    files = MultipleFileField(help_text="Several images, or a zip (folders inside it name categories).")

    class Meta:
        model = TargetSet
        fields = ["name"]

    def __init__(self, *args, owner=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.created = None

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        uploads = [(upload.name, upload.read()) for upload in data["files"]]
        self.created = services.target_set_create(owner=self.owner, name=data["name"], uploads=uploads)
        return data

    def validate_unique(self):
        pass


def _choices(values) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


class JobSubmitForm(forms.Form):
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
        help_text="One registered model and its layers, e.g. <code>vgg16: features.3, features.8</code>.")
    proxies = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Proxy distances",
        help_text="One per line, same form. Each IRI is scored D(IRI, target) &le; D(IRI, seed) under each.")

    recognizers = forms.ModelMultipleChoiceField(
        queryset=RegisteredModel.objects.none(), required=False, label="Recognizers (model-to-model)",
        help_text="Other classifiers asked whether they see each IRI as they see its target.")

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.job = None
        self.fields["recognizers"].queryset = RegisteredModel.objects.filter(owner=owner, is_classifier=True)
        models = RegisteredModel.objects.filter(owner=owner).order_by("name")
        self.fields["layers"].choices = [
            (model.name, [(f"{model.pk}|{layer}", layer) for layer in model.layer_names]) for model in models
        ]
        self.fields["target_set"].queryset = TargetSet.objects.filter(owner=owner).order_by("name")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        picked = [value.split("|", 1) for value in data["layers"]]
        model_ids = {model_id for model_id, _ in picked}
        if len(model_ids) != 1:
            raise ValidationError("Pick layers of one model per job.")
        model = RegisteredModel.objects.get(pk=int(model_ids.pop()), owner=self.owner)
        config = {key: data[key] for key in ("loss", "seed_type", "seed_shared", "optimizer", "iterations",
                                             "step_size", "keep", "parameterization", "transforms",
                                             "fake_relu", "precision", "random_seed")}
        config["layers"] = [layer for _, layer in picked]
        perceptual = _distances(data["perceptual"], owner=self.owner)
        if len(perceptual) > 1:
            raise ValidationError("Give one perceptual distance.")
        self.job = services.job_submit(owner=self.owner, model=model, target_set=data["target_set"], config=config,
                                       perceptual=perceptual[0] if perceptual else None,
                                       proxies=_distances(data["proxies"], owner=self.owner),
                                       recognizers=[m.pk for m in data.get("recognizers") or []])
        return data


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
