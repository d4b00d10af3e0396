"""Exclusion rules (with the stopping rule's target) and the exclusion audit trail in admin."""

from django.contrib import admin

from surveys.console.admin.base import OwnedAdmin
from surveys.console.links import results_link
from surveys.scoring import services
from surveys.scoring.models import ExclusionDecision, ExclusionRules


class OwnStudyAdmin(OwnedAdmin):
    """A researcher sees only rows of their own studies; a superuser sees everything."""

    owner_path = "study__owner"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "study" and not request.user.is_superuser:
            kwargs["queryset"] = db_field.remote_field.model.objects.filter(owner=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ExclusionRules)
class ExclusionRulesAdmin(OwnStudyAdmin):
    list_display = ["study", "catch_min_accuracy", "min_median_rt_ms", "max_one_sided_share",
                    "qualification_min_correct", "max_focus_lost_share", "target_ci_width", "results"]
    fieldsets = [
        (None, {"fields": ["study"]}),
        ("Exclusion rules (a completed participant caught by any is excluded, and replaced)", {"fields": [
            "catch_min_accuracy", "min_median_rt_ms", "max_one_sided_share", "qualification_min_correct",
            "max_focus_lost_share"]}),
        ("Stopping rule (docs/method.md §3): when the study has enough participants", {"fields": ["target_ci_width"]}),
    ]

    @admin.display(description="results")
    def results(self, obj):
        return results_link(obj.study)

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data.get(name) for name in services.RULE_FIELDS}
        saved = services.exclusion_rules_set(study=form.cleaned_data["study"], **values)
        obj.pk = saved.pk


@admin.register(ExclusionDecision)
class ExclusionDecisionAdmin(OwnStudyAdmin):
    """The audit trail: read-only; overrides are made on the results page (with a note)."""

    list_display = ["created_at", "study", "participant", "excluded", "source", "reason", "note", "author"]
    list_filter = ["source", "excluded"]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
