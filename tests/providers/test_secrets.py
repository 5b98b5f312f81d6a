import logging
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from core import crypto
from providers.models import Provider
from tests.factories import make_provider, provider_body

pytestmark = pytest.mark.django_db


def test_token_never_in_logs(api, caplog, do_token, settings):
    from lab.docsim import start_in_thread

    caplog.set_level(logging.DEBUG)
    with start_in_thread(port=0) as sim:
        settings.DIGITALOCEAN_API_URL = sim.url + "/v2/"
        created = api.post("/api/providers/", provider_body(do_token), format="json").json()
        api.get(f"/api/providers/{created['id']}/")
        api.get(f"/api/providers/{created['id']}/yaml/")
        # The simulator refuses the token (401): the error path logs too, never the token.
        answer = api.post(f"/api/providers/{created['id']}/test-connection/").json()
    assert "401" in str(answer) or "Unable to authenticate" in str(answer), answer
    assert caplog.records
    assert do_token not in caplog.text


def test_rotation_reencrypts_with_new_key(settings, owner, do_token):
    provider = make_provider(owner, token=do_token)
    old_ciphertext = provider.token_encrypted
    new_key = Fernet.generate_key().decode()
    settings.FERNET_KEYS = [new_key, *settings.FERNET_KEYS]
    call_command("rotate_secrets")
    provider.refresh_from_db()
    assert provider.token_encrypted != old_ciphertext
    settings.FERNET_KEYS = [new_key]  # old key dropped: still readable
    assert Provider.objects.get(pk=provider.pk).get_token() == do_token


def test_unknown_key_gives_clear_error(settings, owner, do_token):
    provider = make_provider(owner, token=do_token)
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.SecretUnreadable, match="FERNET_KEYS no longer holds"):
        provider.get_token()


def test_mask_shows_at_most_last_four():
    assert crypto.mask("dop_v1_abcdefgh1234") == "****1234"
    assert crypto.mask("short") == "****"
    assert crypto.mask("") == ""


def test_rotation_reencrypts_the_provisions_keys_too(settings, owner, do_token):
    from provisions.models import Provision

    provider = make_provider(owner, token=do_token)
    provision = Provision.objects.create(
        owner=owner,
        provider=provider,
        name="rotated",
        ssh_private_key_encrypted=crypto.encrypt("ssh-private"),
        host_key_private_encrypted=crypto.encrypt("host-private"),
    )
    new_key = Fernet.generate_key().decode()
    settings.FERNET_KEYS = [new_key, *settings.FERNET_KEYS]
    call_command("rotate_secrets", stdout=StringIO())
    settings.FERNET_KEYS = [new_key]  # old key dropped: every secret still readable
    provision = Provision.objects.get(pk=provision.pk)
    assert crypto.decrypt(provision.ssh_private_key_encrypted) == "ssh-private"
    assert crypto.decrypt(provision.host_key_private_encrypted) == "host-private"
    assert Provider.objects.get(pk=provider.pk).get_token() == do_token
