"""The admin's security groups: edited through the service, so a save checks the rules as the
API does and starts the firewall job; the defaults are never listed, so never editable."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from provisions.choices import ProvisionState
from provisions.secgroups import services as secgroup_services
from provisions.secgroups.models import SecurityGroup
from provisions.secgroups.rules import check_rules


class SecurityGroupForm(forms.ModelForm):
    class Meta:
        model = SecurityGroup
        fields = ["provision", "name", "description", "rules"]
        help_texts = {
            "rules": 'a JSON list: [{"protocol": "tcp", "ports": "8080", '
            '"sources": ["203.0.113.0/24"]}]'
        }

    def clean_rules(self):
        # The same checks the service runs, here so a bad rule is shown on the form.
        return check_rules(self.cleaned_data["rules"])

    def clean(self):
        data = super().clean()
        provision = data.get("provision") or getattr(self.instance, "provision", None)
        if provision is not None and provision.state != ProvisionState.RUNNING:
            raise ValidationError(
                f"provision {provision.name} is {provision.state}; security groups change on "
                "a RUNNING provision"
            )
        return data


@admin.register(SecurityGroup)
class SecurityGroupAdmin(admin.ModelAdmin):
    form = SecurityGroupForm
    list_display = ["name", "provision", "rule_count", "updated_at"]
    list_select_related = ["provision"]
    search_fields = ["name", "provision__name"]
    actions = ["reconcile_firewall"]

    def get_readonly_fields(self, request, obj=None):
        return ["provision"] if obj is not None else []

    @admin.display(description="rules")
    def rule_count(self, group):
        return len(group.rules)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                saved = secgroup_services.update_group(
                    request.user,
                    SecurityGroup.objects.get(pk=obj.pk),
                    name=data["name"],
                    rules=data["rules"],
                    description=data["description"],
                )
            else:
                saved = secgroup_services.create_group(
                    request.user,
                    data["provision"],
                    name=data["name"],
                    rules=data["rules"],
                    description=data["description"],
                )
        except ValidationError as exc:
            # Refused after the form checked (a job started meanwhile): nothing was saved.
            self.message_user(request, f"not saved: {'; '.join(exc.messages)}", messages.ERROR)
            return
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        try:
            secgroup_services.delete_group(request.user, obj)
        except ValidationError as exc:
            self.message_user(request, f"not deleted: {'; '.join(exc.messages)}", messages.ERROR)

    def delete_queryset(self, request, queryset):
        for group in queryset.select_related("provision"):
            self.delete_model(request, group)

    @admin.action(description="Reconcile the provisions' cloud firewalls")
    def reconcile_firewall(self, request, queryset):
        provisions = {group.provision_id: group.provision for group in queryset}
        for provision in provisions.values():
            try:
                job = secgroup_services.reconcile(request.user, provision)
                self.message_user(request, f"{provision.name}: firewall job {job.pk} started")
            except ValidationError as exc:
                self.message_user(request, f"{provision.name}: {exc.messages[0]}", messages.ERROR)
