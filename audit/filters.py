from datetime import UTC

import django_filters
from rest_framework.exceptions import ValidationError

from audit.choices import Channel, Outcome
from audit.models import AuditEntry


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time compared in UTC: Python reads offsets up to 23:59, PostgreSQL takes at
    most 15:59, so `...+18:15` would be its error (a 500) instead of a time."""

    def __init__(self, *args, param: str, **kwargs):
        self.param = param
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                raise ValidationError({self.param: ["out of range"]}) from None
        return super().filter(qs, value)


class AuditEntryFilterSet(django_filters.FilterSet):
    """One filter set for the API and the admin's searches alike."""

    user = django_filters.CharFilter(field_name="username", help_text="username")
    group = django_filters.CharFilter(field_name="group_name", help_text="group name")
    action = django_filters.CharFilter(help_text="create, update, delete, action:NAME, login...")
    object_type = django_filters.CharFilter(help_text="e.g. vms.vm, provisions.provision")
    object_id = django_filters.CharFilter()
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    since = UtcDateTimeFilter(field_name="at", lookup_expr="gte", param="since")
    until = UtcDateTimeFilter(field_name="at", lookup_expr="lt", param="until")

    class Meta:
        model = AuditEntry
        fields = []
