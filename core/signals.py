"""What happened, told to whoever listens, without the floor that tells importing the one that
listens: webhooks (and anything else above) connect to these in their AppConfig.ready().

All are sent once the transaction that made the change has committed, so a listener never hears
of a change that was rolled back.
"""

from django.dispatch import Signal

# A provision, host or VM changed state (core.transitions.transition).
# Arguments: obj, from_state, to_state, source, actor (a user or None), reason.
state_changed = Signal()

# A reservation took a group's or a user's use of a quota to its warning level
# (settings.QUOTA_WARN_PERCENT) or past it (core.quotas). Arguments: group (or None), user
# (or None), resource (a core.quotas name), used, limit, text (the sentence shown to people).
quota_warning = Signal()

# A group's month (projected spend) crossed its budget's warning level or its budget
# (costs.budgets). Arguments: group, level ("warning" or "exceeded"), projected, budget, text.
budget_warning = Signal()

# An API token authenticated a request (core.api.auth), sent on every such request, at once
# (a read commits nothing): listeners must be cheap. Arguments: token (its owner and group
# loaded), request.
token_used = Signal()
