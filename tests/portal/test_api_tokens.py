from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import ApiToken, hash_token

pytestmark = pytest.mark.django_db


def bearer(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_token_created_on_page_is_shown_once_and_works(owner_client, owner):
    response = owner_client.post("/account/tokens/", {"name": "laptop"})
    raw = response.context["new_token"]
    assert raw.startswith("ep_")
    assert raw in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(owner=owner, name="laptop")
    assert token.digest == hash_token(raw) and raw not in (token.prefix, token.digest)
    assert raw not in owner_client.get("/account/tokens/").content.decode()
    assert bearer(raw).get("/api/providers/").status_code == 200


def test_revoked_token_is_refused(owner_client, owner):
    token, raw = ApiToken.issue(owner, "ci")
    owner_client.post(f"/account/tokens/{token.pk}/revoke/")
    response = bearer(raw).get("/api/providers/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_expired_token_is_refused(owner):
    _, raw = ApiToken.issue(owner, "old", expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(raw).get("/api/providers/").status_code == 401


def test_cannot_revoke_someone_elses_token(outsider_client, owner):
    token, raw = ApiToken.issue(owner, "mine")
    assert outsider_client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert bearer(raw).get("/api/providers/").status_code == 200


def test_tokens_page_lists_only_own_tokens(owner_client, owner, outsider):
    ApiToken.issue(owner, "own-token")
    ApiToken.issue(outsider, "their-token")
    html = owner_client.get("/account/tokens/").content.decode()
    assert "own-token" in html and "their-token" not in html


def test_anonymous_api_is_refused(client):
    assert APIClient().get("/api/providers/").status_code in (401, 403)


def test_login_and_logout_pages(client, owner):
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302
