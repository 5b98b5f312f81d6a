from rest_framework import serializers

from providers.models import Provider


class ConnectionSerializer(serializers.Serializer):
    region = serializers.CharField()
    token = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        help_text="DigitalOcean API token. Write-only: responses show token_hint (****last4).",
        style={"input_type": "password"},
    )


class ProviderSerializer(serializers.ModelSerializer):
    """The document's provider fields. Validation lives in providers.services."""

    provider = serializers.CharField(source="provider_type")
    connection = ConnectionSerializer()
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
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
