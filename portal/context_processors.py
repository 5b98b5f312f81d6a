# Sections of the navigation whose pages have not been built yet: shown greyed out, not linked,
# so the layout is stable and nobody lands on a page that pretends to work.
NAV_PENDING = ()


def navigation(request):
    return {"nav_pending": NAV_PENDING}
