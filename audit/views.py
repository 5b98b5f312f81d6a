"""The audit log page: the entries the user may read (AuditEntry.objects.for_user), filtered by
the same FilterSet as `/api/audit/`, a page at a time."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from audit.choices import OUTCOME_COLOURS
from audit.filters import AuditEntryFilterSet
from audit.models import AuditEntry

PAGE_SIZE = 50


@login_required
def audit_log(request):
    found = AuditEntryFilterSet(request.GET, queryset=AuditEntry.objects.for_user(request.user))
    entries = found.qs if found.is_valid() else AuditEntry.objects.none()
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.colour = OUTCOME_COLOURS.get(entry.outcome, "grey")
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/log.html",
        {"filter": found, "page": page, "entries": page.object_list, "query": query.urlencode()},
    )
