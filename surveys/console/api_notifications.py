"""The REST API's notification settings (docs/notifications.md): the caller's own, read and replaced
through the same service as admin's form. A webhook secret is in the answer only of the call that made it."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from surveys.console.api_inputs import Strict
from surveys.generation.models import NotificationEvent, NotificationSettings
from surveys.generation.notifications import notification_settings_set
from surveys.generation.selectors import notification_settings_of


class NotificationSettingsOutput(serializers.ModelSerializer):
    email_address = serializers.EmailField(source="owner.email", help_text="Where email goes; empty: none is sent.")
    has_webhook_secret = serializers.SerializerMethodField()

    class Meta:
        model = NotificationSettings
        fields = ["events", "email", "email_address", "webhook_url", "has_webhook_secret"]

    def get_has_webhook_secret(self, row: NotificationSettings) -> bool:
        return bool(row.webhook_secret)


class NotificationSettingsAnswer(NotificationSettingsOutput):
    webhook_secret = serializers.SerializerMethodField(
        help_text="The webhook's signing secret, when this call made one (a first webhook, or new_secret); "
                  "otherwise empty. Keep it: it is not shown again.")

    class Meta(NotificationSettingsOutput.Meta):
        fields = [*NotificationSettingsOutput.Meta.fields, "webhook_secret"]

    def get_webhook_secret(self, row: NotificationSettings) -> str:
        return self.context["secret"]


class NotificationSettingsInput(Strict, serializers.Serializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=NotificationEvent.values),
                                   help_text="What to be told of.")
    email = serializers.BooleanField(help_text="Email me, at my account's address.")
    webhook_url = serializers.URLField(max_length=500, allow_blank=True,
                                       help_text="An https URL called with each event as signed JSON; empty: none.")
    new_secret = serializers.BooleanField(default=False, help_text="Make a new webhook secret (the old one stops "
                                                                   "working at once).")


class NotificationSettingsApi(APIView):
    """How the caller is told of their jobs and studies: by email, and by a webhook."""

    @extend_schema(responses=NotificationSettingsOutput)
    def get(self, request: Request) -> Response:
        return Response(NotificationSettingsOutput(notification_settings_of(owner=request.user)).data)

    @extend_schema(request=NotificationSettingsInput, responses=NotificationSettingsAnswer)
    def put(self, request: Request) -> Response:
        data = NotificationSettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        row, secret = notification_settings_set(owner=request.user, **data.validated_data)
        return Response(NotificationSettingsAnswer(row, context={"secret": secret}).data)
