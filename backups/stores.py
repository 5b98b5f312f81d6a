"""Backup stores: set up once, checked once. A store is kept only when its endpoint answered,
the key and secret were accepted and the bucket could be written to and read back; otherwise
the error says which of those failed and nothing is kept (like a provider's test-connection).
"""

import re
import secrets as random
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from backups.models import BackupStore
from core import crypto, outbound
from core.lookup import find
from core.names import check_name
from core.tenancy import CHANGE, check_change
from providers.models import Provider

FIELDS = ("name", "endpoint", "region", "bucket", "access_key", "secret_key", "provider")
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
REGION = re.compile(r"[a-z0-9-]{2,32}")
PROBE_KEY = "edge-portal/.portal-check"


def _client(endpoint: str, region: str, key: str, secret: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=20),
    )


def check_access(endpoint: str, region: str, bucket: str, key: str, secret: str) -> None:
    """Write, read back and delete a small object in the bucket; a ValidationError naming what
    failed (the endpoint, the key, the bucket) otherwise."""
    client = _client(endpoint, region, key, secret)
    body = random.token_hex(16).encode()
    try:
        client.put_object(Bucket=bucket, Key=PROBE_KEY, Body=body)
        read = client.get_object(Bucket=bucket, Key=PROBE_KEY)["Body"].read()
        client.delete_object(Bucket=bucket, Key=PROBE_KEY)
    except EndpointConnectionError:
        raise ValidationError(
            {"endpoint": f"cannot connect to {endpoint}: check the URL and that it is reachable"}
        ) from None
    except ClientError as exc:
        raise ValidationError(_refusal(exc, bucket)) from None
    except BotoCoreError as exc:
        raise ValidationError(
            {"endpoint": f"{endpoint} did not answer as S3 does: {exc}"}
        ) from None
    if read != body:
        raise ValidationError({"bucket": f"bucket {bucket} gave back other data than written"})


def _refusal(exc: ClientError, bucket: str) -> dict:
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", "") or code
    if code in ("InvalidAccessKeyId",):
        return {"access_key": f"the store does not know this access key ({message})"}
    if code in ("SignatureDoesNotMatch",):
        return {"secret_key": f"the secret key does not match the access key ({message})"}
    if code in ("NoSuchBucket",):
        return {"bucket": f"there is no bucket {bucket} at this endpoint: create it first"}
    if code in ("AccessDenied", "403", "Forbidden"):
        return {
            "access_key": f"access denied to bucket {bucket}: the key, the secret or the key's "
            f"permissions are wrong ({message})"
        }
    return {"endpoint": f"the store refused: {code} {message}".strip()}


def _cleaned(user, data: dict) -> dict:
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(sorted(unknown))}; use {FIELDS}")
    errors = {}
    values = {"name": check_name(data.get("name"), kind="backup store name")}
    for field in ("endpoint", "region", "bucket", "access_key", "secret_key"):
        value = str(data.get(field) or "").strip()
        if not value:
            errors[field] = f"{field} is required"
        values[field] = value
    if errors:
        raise ValidationError(errors)
    try:
        target = outbound.pin(values["endpoint"])
    except outbound.URLRefused as exc:
        raise ValidationError({"endpoint": f"endpoint refused: {exc.message}"}) from None
    if urlsplit(target.url).path not in ("", "/") or urlsplit(target.url).query:
        raise ValidationError(
            {
                "endpoint": "give the endpoint without a path, e.g. https://fra1.digitaloceanspaces.com"
            }
        )
    values["endpoint"] = target.url.rstrip("/")
    if not BUCKET.fullmatch(values["bucket"]):
        raise ValidationError(
            {"bucket": "a bucket name is 3-63 lower-case letters, digits, dots and dashes"}
        )
    if not REGION.fullmatch(values["region"]):
        raise ValidationError({"region": "a region is like fra1 or us-east-1"})
    values["provider"] = None
    if data.get("provider") not in (None, ""):
        values["provider"] = find(
            Provider.objects.for_user(user, CHANGE), data["provider"], "provider"
        )
    return values


def create(user, data: dict) -> BackupStore:
    """A store from `data` (FIELDS), kept once checked (check_access)."""
    values = _cleaned(user, data)
    check_access(
        values["endpoint"],
        values["region"],
        values["bucket"],
        values["access_key"],
        values["secret_key"],
    )
    secret = values.pop("secret_key")
    try:
        with transaction.atomic():
            return BackupStore.objects.create(
                owner=user,
                secret_encrypted=crypto.encrypt(secret),
                secret_hint=crypto.mask(secret)[-8:],
                password_encrypted=crypto.encrypt(random.token_urlsafe(32)),
                checked_at=timezone.now(),
                **values,
            )
    except IntegrityError:
        raise ValidationError(_conflict(user, values)) from None


def _conflict(user, values: dict) -> dict:
    if BackupStore.objects.filter(owner=user, name=values["name"]).exists():
        return {"name": f"you already have a backup store named {values['name']!r}"}
    if values["provider"] is not None:
        return {"provider": f"provider {values['provider'].name} has a backup store already"}
    return {"provider": "you have a default backup store already (one without a provider)"}


def delete_repository(store: BackupStore, repository_key: str) -> int:
    """Remove one VM's whole restic repository from the store (every object under its
    prefix), through the S3 API: no host needed. How many objects went."""
    client = _client(store.endpoint, store.region, store.access_key, store.secret())
    prefix = f"edge-portal/{repository_key}/"
    removed = 0
    try:
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=store.bucket, Prefix=prefix
        ):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=store.bucket, Delete={"Objects": keys})
                removed += len(keys)
    except EndpointConnectionError:
        raise ValidationError(f"cannot connect to {store.endpoint}: nothing deleted") from None
    except ClientError as exc:
        raise ValidationError(_refusal(exc, store.bucket)) from None
    return removed


def check(user, store: BackupStore) -> BackupStore:
    """Check a kept store again (its key may have been revoked since)."""
    store = _mine(user, store)
    check_access(store.endpoint, store.region, store.bucket, store.access_key, store.secret())
    store.checked_at = timezone.now()
    store.save(update_fields=["checked_at"])
    return store


def delete(user, store: BackupStore) -> None:
    """Forget a store. Refused while backups in it are listed: they would be left unreachable
    (the repository password is the portal's)."""
    store = _mine(user, store)
    count = store.backups.count()
    if count:
        raise ValidationError(
            f"backup store {store.name} holds {count} backup(s): delete them first "
            "(onevm backup-delete), or keep the store"
        )
    store.delete()


def _mine(user, store: BackupStore) -> BackupStore:
    # Stores are never shared: what a user may see, they may change.
    check_change(user, store)
    return store
