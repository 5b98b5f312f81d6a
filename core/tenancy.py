"""Who may see and change what: the one place every page, endpoint and CLI path asks.

Objects belong to an owner. Operators (staff) see and change everything; a self-service user
sees their own objects plus shared ones (owner NULL, e.g. the predefined providers) and changes
only their own. Anything else does not exist for them (404, never 403, so IDs leak nothing).
"""

from django.db import models

VIEW = "view"
CHANGE = "change"


class OwnedQuerySet(models.QuerySet):
    shared_visible = True

    def for_user(self, user, action: str = VIEW):
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_staff:
            return self
        owned = models.Q(owner=user)
        if action == VIEW and self.shared_visible:
            owned |= models.Q(owner__isnull=True)
        return self.filter(owned)
