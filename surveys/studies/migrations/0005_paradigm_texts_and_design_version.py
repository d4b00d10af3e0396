from django.db import migrations, models

# The texts each paradigm's studies start with, as they stood when this migration was written (a migration
# keeps its own copy: later edits to surveys/studies/paradigms.py must not change what it did).
PROMPTS = {
    "2afc": "Which of the two images below is more similar to the image on top?",
    "similarity": "How similar are these two images?",
    "matching": "Which of the images below does the image on top resemble most?",
    "classification": "What did you see?",
}


def prompts_fill(apps, schema_editor):
    """Existing studies keep showing the question and scale they showed before."""
    study_model = apps.get_model("studies", "Study")
    for paradigm, prompt in PROMPTS.items():
        study_model.objects.filter(paradigm=paradigm).update(prompt=prompt)
    study_model.objects.filter(paradigm="similarity").update(scale_low_label="very different",
                                                             scale_high_label="identical")


class Migration(migrations.Migration):

    dependencies = [
        ("studies", "0004_study_includes_failing_iris"),
    ]

    operations = [
        migrations.AddField(
            model_name="study",
            name="prompt",
            field=models.CharField(default="", help_text="The question on every trial screen.", max_length=300),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="study",
            name="scale_low_label",
            field=models.CharField(blank=True, help_text="Similarity: what a rating of 1 means.", max_length=60),
        ),
        migrations.AddField(
            model_name="study",
            name="scale_high_label",
            field=models.CharField(blank=True, help_text="Similarity: what a rating of 7 means.", max_length=60),
        ),
        migrations.AddField(
            model_name="study",
            name="design_version",
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
        migrations.AlterField(
            model_name="study",
            name="consent_text",
            field=models.TextField(help_text="Shown before anything else; plain text."),
        ),
        migrations.AlterField(
            model_name="study",
            name="instructions_html",
            field=models.TextField(help_text="Shown once, before the first trial; plain text (Markdown-compatible).",
                                   verbose_name="instructions"),
        ),
        migrations.RunPython(prompts_fill, migrations.RunPython.noop),
    ]
