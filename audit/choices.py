from django.db import models


class Channel(models.TextChoices):
    """Where a change came from; the CLI speaks the API, so its changes are `api`."""

    API = "api"
    PAGE = "page"
    ADMIN = "admin"


class Outcome(models.TextChoices):
    OK = "ok"
    REFUSED = "refused"  # the portal said no: not allowed, not found, not valid
    FAILED = "failed"  # the portal broke (5xx)


OUTCOME_COLOURS = {Outcome.OK: "green", Outcome.REFUSED: "orange", Outcome.FAILED: "red"}

# Actions besides create, update, delete and `action:<name>` (what a change was is read from
# its URL, so those are open-ended).
CREATE = "create"
UPDATE = "update"
DELETE = "delete"
LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGOUT = "logout"
TOKEN_NEW_ADDRESS = "token_new_address"  # noqa: S105 (an action, not a secret)
