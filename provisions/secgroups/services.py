"""Security group operations, for every face (pages, API, admin, CLI).

Each change is checked whole (provisions.secgroups.rules), saved, and a firewall job started in the
same transaction: a bad rule, a provision not RUNNING or a job already running is a
ValidationError and nothing is saved. The job then applies the rules to the cloud firewall.
"""

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404

from core.names import name_error
from provisions import firewall_rules, services
from provisions.choices import JobKind, ProvisionState
from provisions.models import Job, Provision
from provisions.secgroups.models import SecurityGroup
from provisions.secgroups.rules import DEFAULT_GROUP, check_rules, check_total, desired

log = logging.getLogger(__name__)


def groups_for(user):
    """The security groups of the provisions the user may see."""
    visible = Provision.objects.for_user(user).exclude(state=ProvisionState.DONE)
    return SecurityGroup.objects.filter(provision__in=visible).select_related("provision")


def _apply(user, provision: Provision, groups, why: str) -> Job:
    if provision.state != ProvisionState.RUNNING:
        raise ValidationError(
            f"provision {provision.name} is {provision.state}; security groups change on a "
            "RUNNING provision"
        )
    try:
        check_total(desired(provision, groups))
    except firewall_rules.UnknownVPCRange as exc:
        raise ValidationError(str(exc)) from exc
    return services.start_job(provision, JobKind.FIREWALL, user, change=why)


def _check_name(name) -> str:
    problem = name_error(name, "security group name")
    if problem:
        raise ValidationError(problem)
    if name == DEFAULT_GROUP:
        raise ValidationError(
            f"{DEFAULT_GROUP!r} is the provision's default rules (the portal's SSH, "
            "BGP and VXLAN): they cannot be changed or removed"
        )
    return name


def create_group(user, provision: Provision, *, name, rules, description: str = ""):
    services.changeable(user, provision)
    name = _check_name(name)
    checked = check_rules(rules)
    others = list(provision.security_groups.all())
    try:
        with transaction.atomic():
            group = SecurityGroup.objects.create(
                provision=provision, name=name, description=description, rules=checked
            )
            _apply(user, provision, [*others, group], f"security group {name} created")
    except IntegrityError as exc:
        raise ValidationError(f"provision {provision.name} already has a group {name}") from exc
    log.info("security group %s (%s) created on provision %s", group.pk, name, provision.pk)
    return group


def update_group(user, group: SecurityGroup, *, name=None, rules=None, description=None):
    """Change what is given; `rules` replaces the group's rules."""
    provision = group.provision
    services.changeable(user, provision)
    if name is not None and name != group.name:
        group.name = _check_name(name)
    if rules is not None:
        group.rules = check_rules(rules)
    if description is not None:
        group.description = description
    others = list(provision.security_groups.exclude(pk=group.pk))
    try:
        with transaction.atomic():
            group.save()
            _apply(user, provision, [*others, group], f"security group {group.name} updated")
    except IntegrityError as exc:
        raise ValidationError(
            f"provision {provision.name} already has a group {group.name}"
        ) from exc
    return group


def delete_group(user, group: SecurityGroup) -> Job:
    provision = group.provision
    services.changeable(user, provision)
    others = list(provision.security_groups.exclude(pk=group.pk))
    with transaction.atomic():
        SecurityGroup.objects.filter(pk=group.pk).delete()
        job = _apply(user, provision, others, f"security group {group.name} deleted")
    log.info("security group %s (%s) deleted from provision %s", group.pk, group.name, provision.pk)
    return job


def reconcile(user, provision: Provision) -> Job:
    """Check the cloud firewall against the portal's rules and put them back if they differ."""
    services.changeable(user, provision)
    return _apply(user, provision, list(provision.security_groups.all()), "reconcile")


def find_group(user, ref) -> SecurityGroup:
    group = groups_for(user).filter(pk=ref).first() if str(ref).isdigit() else None
    if group is None:
        raise Http404(f"security group {str(ref)[:40]!r} not found")
    return group
