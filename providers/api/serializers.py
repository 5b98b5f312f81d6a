from rest_framework import serializers

from providers.choices import DIGITALOCEAN_REGIONS, ProviderType
from providers.models import Provider


class ConnectionSerializer(serializers.Serializer):
    region = serializers.ChoiceField(choices=list(DIGITALOCEAN_REGIONS.items()))
    token = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="DigitalOcean API token. Never shown: responses carry its mask (****last4), "
        "or an empty string when none is set; sending the mask back keeps the stored token.",
        style={"input_type": "password"},
    )


class ProviderSerializer(serializers.ModelSerializer):
    """The document's provider fields. Validation lives in providers.services."""

    provider = serializers.ChoiceField(choices=ProviderType.choices, source="provider_type")
    connection = ConnectionSerializer()
    owner = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="the owner's username; null for a shared provider (operators manage those)",
    )
    url = serializers.HyperlinkedIdentityField(view_name="api:provider-detail")

    class Meta:
        model = Provider
        fields = [
            "id",
            "url",
            "name",
            "description",
            "provider",
            "plain",
            "connection",
            "inputs",
            "has_token",
            "token_hint",
            "predefined",
            "owner",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["has_token", "token_hint", "predefined", "created_at", "updated_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["connection"] = {"region": instance.region, "token": instance.token_hint}
        return data


class ProviderYAMLSerializer(serializers.Serializer):
    yaml = serializers.CharField(help_text="Provider template in the document's YAML format.")
    source = serializers.CharField(required=False, default="provider.yaml")


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    email = serializers.CharField(required=False)
    status = serializers.CharField(required=False)
    droplet_limit = serializers.IntegerField(required=False, allow_null=True)
    error = serializers.CharField(required=False)


class ExportedConnectionSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="the token's mask (****last4), or empty: none set")
    region = serializers.CharField()


class ProviderDocumentSerializer(serializers.Serializer):
    """The provider file `GET /api/providers/ID/yaml/` answers, as the document writes it."""

    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    provider = serializers.CharField()
    plain = serializers.DictField()
    connection = ExportedConnectionSerializer()
    inputs = serializers.ListField(child=serializers.DictField())
