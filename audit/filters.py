import django_filters

from audit.choices import Channel, Outcome
from audit.models import AuditEntry


class AuditEntryFilterSet(django_filters.FilterSet):
    """One filter set for the API and the admin's searches alike."""

    user = django_filters.CharFilter(field_name="username", help_text="username")
    group = django_filters.CharFilter(field_name="group_name", help_text="group name")
    action = django_filters.CharFilter(help_text="create, update, delete, action:NAME, login...")
    object_type = django_filters.CharFilter(help_text="e.g. vms.vm, provisions.provision")
    object_id = django_filters.CharFilter()
    outcome = django_filters.ChoiceFilter(choices=Outcome.choices)
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEntry
        fields = []
