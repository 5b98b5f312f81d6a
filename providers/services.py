"""Provider operations: the only code that creates, changes or deletes providers.

Pages, the API, the admin and the CLI (through the API) all call these functions, so a rule
(validation, permissions, the delete guard) exists once.
"""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from core.tenancy import CHANGE
from providers import yaml_format
from providers.drivers import DigitalOceanDriver
from providers.models import Provider

log = logging.getLogger(__name__)


def _check_can_change(user, provider: Provider) -> None:
    if not Provider.objects.for_user(user, CHANGE).filter(pk=provider.pk).exists():
        raise PermissionDenied(
            f"provider {provider.name!r} is shared; only an operator can change it"
        )


def _check_name_free(user, name: str, exclude_pk=None) -> None:
    clash = Provider.objects.for_user(user).filter(name=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": f"a provider named {name!r} already exists; pick another"})


def _save(provider: Provider) -> Provider:
    try:
        with transaction.atomic():
            provider.save()
    except IntegrityError:
        raise ValidationError(
            {"name": f"a provider named {provider.name!r} already exists; pick another"}
        ) from None
    return provider


def create_provider(user, data: dict) -> Provider:
    """Create a provider from raw data (YAML mapping, form or API fields)."""
    clean = yaml_format.validate(data)
    _check_name_free(user, clean["name"])
    provider = Provider(
        name=clean["name"],
        description=clean["description"],
        provider_type=clean["provider_type"],
        plain=clean["plain"],
        region=clean["region"],
        inputs=clean["inputs"],
        owner=user,
    )
    provider.set_token(clean["token"])
    _save(provider)
    log.info("provider %s (%s) created by %s", provider.pk, provider.name, user)
    return provider


def import_yaml(user, text: str, source: str = "provider.yaml") -> Provider:
    return create_provider(user, yaml_format.load(text, source))


def update_provider(user, provider: Provider, data: dict) -> Provider:
    """Replace a provider's fields. An empty or masked token keeps the stored one."""
    _check_can_change(user, provider)
    if not isinstance(data, dict):
        raise ValidationError(f"expected a mapping of provider fields, not {type(data).__name__}")
    connection = data.get("connection")
    if connection is not None and not isinstance(connection, dict):
        raise ValidationError({"connection": "must be a mapping with token and region"})
    data = {**data, "connection": dict(connection or {})}
    token = data["connection"].get("token")
    keep_token = not token or token == provider.token_hint or str(token).startswith("****")
    if keep_token:
        data["connection"].pop("token", None)
    clean = yaml_format.validate(data, require_token=keep_token is False and not provider.has_token)
    _check_name_free(user, clean["name"], exclude_pk=provider.pk)
    provider.name = clean["name"]
    provider.description = clean["description"]
    provider.provider_type = clean["provider_type"]
    provider.plain = clean["plain"]
    provider.region = clean["region"]
    provider.inputs = clean["inputs"]
    if not keep_token:
        provider.set_token(clean["token"])
    _save(provider)
    log.info("provider %s (%s) updated by %s", provider.pk, provider.name, user)
    return provider


def update_from_yaml(user, provider: Provider, text: str, source: str = "provider.yaml"):
    return update_provider(user, provider, yaml_format.load(text, source))


def set_token(user, provider: Provider, token: str) -> Provider:
    _check_can_change(user, provider)
    token = (token or "").strip()
    if not token or token.startswith("****"):
        raise ValidationError({"token": "paste the DigitalOcean API token"})
    provider.set_token(token)
    _save(provider)
    return provider


def delete_provider(user, provider: Provider) -> None:
    _check_can_change(user, provider)
    in_use = provider.provisions.exclude(state="DONE")
    if in_use.exists():
        names = ", ".join(in_use.values_list("name", flat=True)[:5])
        raise ValidationError(
            f"provider {provider.name!r} is used by provision(s) {names}; delete them first"
        )
    provider.delete()
    log.info("provider %s (%s) deleted by %s", provider.pk, provider.name, user)


def driver_for(provider: Provider) -> DigitalOceanDriver:
    if not provider.has_token:
        raise ValidationError(
            f"provider {provider.name!r} has no token yet; set its DigitalOcean token first"
        )
    return DigitalOceanDriver(provider.get_token())


def test_connection(provider: Provider) -> dict:
    """Ask DigitalOcean who the token belongs to (GET /v2/account).

    Returns the account (email, status, droplet_limit); raises a driver `CloudError` with
    DigitalOcean's message on failure.
    """
    account = driver_for(provider).account()
    return {
        "email": account.get("email", ""),
        "status": account.get("status", ""),
        "droplet_limit": account.get("droplet_limit"),
    }
