"""The user's SSH public key: set on a page or through the API, checked, and given to VMs."""

import pytest

from core import sshkeys
from core.models import UserProfile
from tests.factories import new_key

pytestmark = pytest.mark.django_db


def test_page_saves_a_key_and_shows_it_back(owner_client, owner):
    public, _ = new_key()
    response = owner_client.post("/account/ssh-key/", {"ssh_public_key": f"  {public} me@laptop\n"})
    assert response.status_code == 302
    assert sshkeys.public_key_of(owner) == f"{public} me@laptop"
    assert f"{public} me@laptop" in owner_client.get("/account/ssh-key/").content.decode()
    owner_client.post("/account/ssh-key/", {"ssh_public_key": ""})
    assert sshkeys.public_key_of(owner) == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("private", "this is a private key: it is not saved"),
        ("two", "one public key on one line"),
        ("ssh-ed25519 AAAAnotbase64!!", "does not parse"),
        ("hello world", "not an OpenSSH public key"),
    ],
)
def test_bad_keys_are_refused_clearly_and_change_nothing(owner_client, owner, text, message):
    public, private = new_key()
    sshkeys.set_public_key(owner, public)
    text = {"private": private, "two": f"{public}\n{public}"}.get(text, text)
    page = owner_client.post("/account/ssh-key/", {"ssh_public_key": text}).content.decode()
    assert message in page.replace("&#x27;", "'")
    assert sshkeys.public_key_of(owner) == public


def test_api_reads_and_sets_only_the_callers_key(api, outsider_api, owner):
    public, private = new_key()
    assert api.put("/api/account/ssh-key/", {"ssh_public_key": public}).status_code == 200
    assert api.get("/api/account/ssh-key/").json() == {"ssh_public_key": public}
    assert outsider_api.get("/api/account/ssh-key/").json() == {"ssh_public_key": ""}
    bad = api.put("/api/account/ssh-key/", {"ssh_public_key": private})
    assert bad.status_code == 400 and "this is a private key" in str(bad.json())
    assert UserProfile.objects.get(user=owner).ssh_public_key == public


def test_vms_get_their_owners_key_when_the_template_asks(owner, outsider):
    from types import SimpleNamespace

    from vms.jobs import context_ssh_key

    public, _ = new_key()
    sshkeys.set_public_key(owner, public)
    logged = []

    def vm(context, user=owner):
        return SimpleNamespace(template=SimpleNamespace(context=context), owner=user, pk=0)

    assert context_ssh_key(vm({"ssh_public_key": True})) == public
    assert context_ssh_key(vm({"ssh_public_key": True}, outsider)) == ""
    assert context_ssh_key(vm({})) == ""
    other, _ = new_key()
    assert context_ssh_key(vm({"ssh_public_key": other})) == other
    import vms.jobs

    original = vms.jobs.vm_log
    vms.jobs.vm_log = lambda _vm, message, level="info": logged.append(message)
    try:
        assert context_ssh_key(vm({"ssh_public_key": "x\nssh-rsa AAAA"})) == ""
    finally:
        vms.jobs.vm_log = original
    assert "ignored" in logged[0]
