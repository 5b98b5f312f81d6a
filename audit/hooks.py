"""audit's side of Django's login signals, core.signals.token_used, post_save (the object a
request created) and monitoring.cyclehooks (retention), connected in ready()."""

from django.contrib.auth import signals as auth_signals
from django.db.models.signals import post_save

from audit import receivers, retention
from audit.models import TokenAddress
from core import signals
from monitoring import cyclehooks


def register() -> None:
    auth_signals.user_logged_in.connect(receivers.logged_in, dispatch_uid="audit-login")
    auth_signals.user_logged_out.connect(receivers.logged_out, dispatch_uid="audit-logout")
    auth_signals.user_login_failed.connect(receivers.login_failed, dispatch_uid="audit-failed")
    signals.token_used.connect(receivers.token_used, dispatch_uid="audit-token-used")
    post_save.connect(receivers.created, dispatch_uid="audit-created")
    post_save.connect(receivers.address_seen, sender=TokenAddress, dispatch_uid="audit-seen")
    cyclehooks.cycle_ended.register(retention.cycle_ended)
