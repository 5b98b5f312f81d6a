from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from providers import services, yaml_format
from providers.drivers import CloudError
from providers.models import Provider


class ProviderAdminForm(forms.ModelForm):
    token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only. Leave blank to keep the stored token.",
    )

    class Meta:
        model = Provider
        fields = ["name", "description", "provider_type", "region", "plain", "inputs", "owner"]

    def clean(self):
        # The same checks as every other face (providers.yaml_format): the admin is no way
        # around the name rule, the field types or the size limits.
        data = super().clean()
        if self.errors:
            return data
        token = (data.get("token") or "").strip()
        try:
            clean = yaml_format.validate(
                {
                    "name": data.get("name"),
                    "description": data.get("description"),
                    "provider": data.get("provider_type"),
                    "plain": data.get("plain") or None,
                    "connection": {"region": data.get("region"), "token": token or None},
                    "inputs": data.get("inputs") or None,
                },
                require_token=False,
            )
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        data.update(
            name=clean["name"],
            description=clean["description"],
            plain=clean["plain"],
            inputs=clean["inputs"],
        )
        return data

    def save(self, commit=True):
        provider = super().save(commit=False)
        if self.cleaned_data.get("token"):
            provider.set_token(self.cleaned_data["token"].strip())
        if commit:
            provider.save()
        return provider


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderAdminForm
    list_display = [
        "id",
        "name",
        "region",
        "provider_type",
        "token_hint",
        "owner",
        "predefined",
        "updated_at",
    ]
    list_filter = ["region", "provider_type", "predefined"]
    search_fields = ["name", "description", "owner__username"]
    readonly_fields = ["token_hint", "predefined", "created_at", "updated_at"]
    list_select_related = ["owner"]
    actions = ["test_connection"]

    def delete_model(self, request, obj):
        try:
            services.delete_provider(request.user, obj)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)

    def delete_queryset(self, request, queryset):
        for provider in queryset:
            try:
                services.delete_provider(request.user, provider)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)

    @admin.action(description="Test connection to DigitalOcean")
    def test_connection(self, request, queryset):
        for provider in queryset:
            try:
                account = services.test_connection(provider)
            except (CloudError, ValidationError) as exc:
                text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{provider.name}: {text}", messages.ERROR)
            else:
                self.message_user(request, f"{provider.name}: OK ({account['email']})")
