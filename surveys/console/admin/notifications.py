"""Notifications in admin (docs/notifications.md): each researcher's own settings (email, webhook,
which events), saved through the service, and what was sent to them, read-only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from surveys.console.admin.base import OwnedAdmin, ReadOnlyInline, ReadOnlyOwnedAdmin
from surveys.generation.models import Notification, NotificationDelivery, NotificationEvent, NotificationSettings
from surveys.generation.notifications import notification_settings_set


class NotificationSettingsForm(forms.ModelForm):
    """Saved by the service while it is validated, so a refused webhook URL stays on the form."""

    events = forms.MultipleChoiceField(choices=NotificationEvent.choices, widget=forms.CheckboxSelectMultiple,
                                       required=False, help_text="What to be told of.")
    webhook_url = forms.URLField(max_length=500, required=False, assume_scheme="https", label="Webhook URL",
                                 help_text=NotificationSettings._meta.get_field("webhook_url").help_text)
    new_secret = forms.BooleanField(
        required=False, label="Make a new webhook secret",
        help_text="The old secret stops working at once; the new one is shown once, after saving.")

    class Meta:
        model = NotificationSettings
        fields = ["events", "email", "webhook_url"]

    owner = None
    secret = ""  # a webhook secret made by this save

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                self.instance, self.secret = notification_settings_set(
                    owner=self.owner, email=data["email"], events=data["events"], webhook_url=data["webhook_url"],
                    new_secret=data["new_secret"])
            except ValidationError as error:
                self.add_error("webhook_url", error)
        return data


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(OwnedAdmin):
    """Everyone, a superuser too, sees and sets only their own; the secret is never shown back."""

    list_display = ["owner", "email", "webhook_url", "updated_at"]
    readonly_fields = ["email_address", "updated_at"]

    @admin.display(description="email address")
    def email_address(self, obj):
        return obj.owner.email or "none: ask an administrator to add one to your account"

    def get_queryset(self, request):
        return admin.ModelAdmin.get_queryset(self, request).filter(owner=request.user)

    def has_add_permission(self, request):
        return (super().has_add_permission(request)
                and not NotificationSettings.objects.filter(owner=request.user).exists())

    def has_delete_permission(self, request, obj=None):
        return False  # switch things off instead: a researcher without a row gets every email

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = type("OwnNotificationSettingsForm", (NotificationSettingsForm,), {"owner": request.user})
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["events", "email", "webhook_url", "new_secret"]
        return ["events", "email", "email_address", "webhook_url", "new_secret", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def save_model(self, request, obj, form, change):
        if form.secret:  # the service saved the row while validating; this is the secret's only showing
            self.message_user(request, f"Your webhook secret is {form.secret} : copy it now, it is not shown "
                                       "again. Receivers check each call's X-IRIS-Signature with it.",
                              messages.WARNING)


class DeliveryInline(ReadOnlyInline):
    model = NotificationDelivery
    fields = ["channel", "status", "attempts", "error", "sent_at"]
    readonly_fields = fields


@admin.register(Notification)
class NotificationAdmin(ReadOnlyOwnedAdmin):
    """What IRIS told a researcher, and how each way out went."""

    list_display = ["summary", "event", "delivered", "created_at"]
    list_filter = ["event"]
    fields = ["event", "about", "summary", "detail", "url", "public_id", "created_at"]
    readonly_fields = fields
    inlines = [DeliveryInline]

    @admin.display(description="deliveries")
    def delivered(self, obj):
        return ", ".join(f"{d.channel} {d.status}" for d in obj.deliveries.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("deliveries")
