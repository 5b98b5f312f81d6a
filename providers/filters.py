import django_filters

from providers.models import Provider


class ProviderFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")

    class Meta:
        model = Provider
        fields = ["name", "region", "provider_type", "predefined"]

    def search(self, queryset, name, value):
        return queryset.filter(name__icontains=value) | queryset.filter(
            description__icontains=value
        )
