"""`/api/audit/`: the audit log, read-only (`oneaudit list`): who changed what, as which
group, from where, and how it ended. What each user may read: AuditEntry.objects.for_user."""

from rest_framework import mixins, serializers, viewsets

from audit.filters import AuditEntryFilterSet
from audit.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="username", help_text="who, as they were named then")
    token = serializers.CharField(
        source="token_name", help_text="the API token's name; empty for a browser session"
    )
    group = serializers.CharField(source="group_name", help_text="the group acted as")

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "user",
            "token",
            "token_prefix",
            "channel",
            "group",
            "address",
            "method",
            "path",
            "action",
            "object_type",
            "object_id",
            "object_name",
            "status",
            "outcome",
            "detail",
        ]
        read_only_fields = fields


class AuditEntryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
    queryset = AuditEntry.objects.none()  # the schema's model; requests use get_queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AuditEntry.objects.none()
        return AuditEntry.objects.for_user(self.request.user)
