from django.db import models


class SecurityGroup(models.Model):
    """A named set of inbound rules (OpenNebula's security group) added to the provision's
    firewall on top of its defaults. `rules` holds them already checked (secgroups.rules) and
    in DigitalOcean's shape ({"protocol", "ports", "sources": {"addresses": [...]}}), so
    the reconcile job hands them over as they are."""

    provision = models.ForeignKey(
        "provisions.Provision", on_delete=models.CASCADE, related_name="security_groups"
    )
    name = models.CharField(max_length=64)
    description = models.CharField(max_length=200, blank=True)
    rules = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["provision", "name"], name="secgroup_name_unique"),
        ]

    def __str__(self):
        return self.name
