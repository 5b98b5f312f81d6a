"""`/api/webhooks/`: a group's webhooks (`onehook`). The secret is in the answer to a create
and to a rotate-secret only; afterwards only its last characters (`secret_hint`)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.api.errors import ErrorSerializer
from core.ids import is_id
from webhooks import services
from webhooks.choices import DeliveryState, WebhookEvent
from webhooks.models import Delivery, Webhook


class WebhookSerializer(serializers.ModelSerializer):
    group = serializers.CharField(source="group.name", read_only=True)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices))
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Webhook
        fields = ["id", "group", "url", "events", "active", "secret_hint", "created_by"]
        fields += ["created_at"]


class WebhookSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="signs every delivery (HMAC-SHA256); shown in this answer only, never again",
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class WebhookCreateSerializer(serializers.Serializer):
    group = serializers.CharField(
        required=False, allow_blank=True, help_text="ID or name; default: your primary group"
    )
    url = serializers.CharField(help_text="https://... where the events are POSTed")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), min_length=1
    )
    active = serializers.BooleanField(default=True)


class WebhookChangeSerializer(serializers.Serializer):
    url = serializers.CharField(required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), min_length=1, required=False
    )
    active = serializers.BooleanField(required=False)


class DeliverySerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(choices=DeliveryState.choices, read_only=True)
    payload = serializers.JSONField(read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook",
            "event",
            "key",
            "state",
            "attempts",
            "next_attempt_at",
            "last_status",
            "last_error",
            "created_at",
            "last_attempt_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields


def _with_secret(hook, secret) -> dict:
    hook.secret = secret
    return WebhookSecretSerializer(hook).data


# The delivery log shown: the newest, as a whole list.
DELIVERIES_SHOWN = 200


class WebhookViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = WebhookSerializer
    queryset = Webhook.objects.none()  # the schema's model; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Webhook.objects.none()
        hooks = services.visible(self.request.user)
        group = self.request.query_params.get("group") if self.action == "list" else None
        if group:
            if "\x00" in group:  # PostgreSQL refuses NUL in text: a 400, not its error
                raise ValidationError({"group": ["contains a NUL character"]})
            key = "group_id" if is_id(group) else "group__name"
            hooks = hooks.filter(**{key: group})
        return hooks

    @extend_schema(
        parameters=[OpenApiParameter("group", str, description="a group's webhooks (ID or name)")]
    )
    def list(self, request, *args, **kwargs):
        """The webhooks of the groups you admin (operators: all)."""
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=WebhookCreateSerializer,
        responses={201: WebhookSecretSerializer, 400: ErrorSerializer},
    )
    def create(self, request):
        """A webhook for a group you admin; the answer holds its secret, shown only here."""
        body = WebhookCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        hook, secret = services.create(
            request.user,
            data["url"],
            data["events"],
            group=data.get("group") or None,
            active=data["active"],
        )
        return Response(_with_secret(hook, secret), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=WebhookChangeSerializer, responses={200: WebhookSerializer, 400: ErrorSerializer}
    )
    def partial_update(self, request, pk=None):
        """Change the URL, the events or whether it is active."""
        body = WebhookChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hook = services.update(request.user, self.get_object(), **body.validated_data)
        return Response(WebhookSerializer(hook).data)

    @extend_schema(responses={204: None, 400: ErrorSerializer})
    def destroy(self, request, pk=None):
        services.delete(request.user, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: WebhookSecretSerializer, 400: ErrorSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new secret, shown in this answer only; the old one signs nothing from now on."""
        hook = self.get_object()
        secret = services.rotate_secret(request.user, hook)
        return Response(_with_secret(hook, secret))

    @extend_schema(request=None, responses={202: DeliverySerializer, 400: ErrorSerializer})
    @action(detail=True, methods=["post"])
    def ping(self, request, pk=None):
        """Send a `ping` event to this webhook now (its delivery is in the log)."""
        delivery = services.ping(request.user, self.get_object())
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={200: DeliverySerializer(many=True)},
        parameters=[
            OpenApiParameter("state", str, enum=DeliveryState.values, description="only these")
        ],
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def deliveries(self, request, pk=None):
        """The delivery log, newest first (the latest 200): each event, its tries and how the
        last one went."""
        rows = services.deliveries(request.user, self.get_object())
        state = request.query_params.get("state")
        if state:
            rows = rows.filter(state=state)
        return Response(DeliverySerializer(rows[:DELIVERIES_SHOWN], many=True).data)
