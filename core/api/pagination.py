"""The API's pages: `?limit=` and `?offset=`, with a ceiling on `limit`.

Without one, `?limit=99999999999999999999` on any non-empty list asks the database for a slice
it cannot express (SQLite: "Python int too large") and the request fails with 500. A larger
limit is served as MAX_LIMIT; the CLI's `list_all` asks for 500 a page.
"""

from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 1000


class Pagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT
