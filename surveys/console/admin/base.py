"""What every researcher-facing admin shares: ownership, read-only pages, and add pages whose form
makes the row through a service."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html


class OwnedAdmin(admin.ModelAdmin):
    """A researcher sees and changes only their own rows; a superuser sees everything."""

    owner_path = "owner"

    # Every staff account is a researcher: it may manage its own rows without per-model permissions.
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        return rows if request.user.is_superuser else rows.filter(**{self.owner_path: request.user})


class ReadOnlyOwnedAdmin(OwnedAdmin):
    """Rows the application writes (IRIs, participants, responses): a researcher looks, never adds or
    edits, and has no bulk delete on their lists: scores, exports and the exclusion audit trail rest on
    them as recorded. They go with their job or study when that is deleted."""

    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ServiceCreateAdmin(OwnedAdmin):
    """An add page whose form (create_form, a console.forms.ServiceForm) makes the row through a
    service while it is validated, so a refusal shows on the form and nothing is saved; admin then
    only records what the service made. With a change_form (a ServiceForm too), the change page
    works the same way; without one, change pages are ordinary."""

    create_form: type
    change_form: type | None = None

    def _through_service(self, obj) -> bool:
        return obj is None or self.change_form is not None

    def get_form(self, request, obj=None, **kwargs):
        if not self._through_service(obj):
            return super().get_form(request, obj, **kwargs)
        service_form, owner = self.create_form if obj is None else self.change_form, request.user

        class OwnedServiceForm(service_form):
            def __init__(self, *args, **inner):
                super().__init__(*args, owner=owner, **inner)

        return OwnedServiceForm

    def save_form(self, request, form, change):
        return form.created if self._through_service(form.instance if change else None) else super().save_form(
            request, form, change)

    def save_model(self, request, obj, form, change):
        if not self._through_service(obj if change else None):
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if not self._through_service(form.instance if change else None):
            super().save_related(request, form, formsets, change)
            return
        # The service saved the row; the page's read-only inline tables are still saved (they change
        # nothing), since admin's change message reads what each formset saved (a 500 otherwise).
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


class ReadOnlyInline(admin.TabularInline):
    """Rows shown under their parent, never added, edited or deleted there."""

    extra = 0
    can_delete = False

    # As on OwnedAdmin, every staff account is a researcher: without this, Django's per-model view
    # permission hid a job's batches and a study's conditions from everyone but superusers.
    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def stored_url(field) -> str:
    return reverse("researcher-file", args=[field.name]) if field else ""


def thumbnail(field, size: int = 64) -> str:
    if not field:
        return "-"
    return format_html('<img src="{}" width="{}" height="{}" style="image-rendering:pixelated" alt="">',
                       stored_url(field), size, size)
