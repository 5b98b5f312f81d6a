"""The API's one body encoding, JSON, with the text checks every endpoint needs.

Refused at parse time, before any view or service sees them (400, the error shape):
- text no database can store: a lone surrogate (`"\\ud800"` is valid JSON, not valid Unicode;
  SQLite and PostgreSQL fail to encode it) and NUL (PostgreSQL refuses it in text);
- nesting deeper than any document needs (Python's json gives up with RecursionError, which
  DRF's parser does not catch).
A body past DATA_UPLOAD_MAX_MEMORY_SIZE is refused by Django itself (core.api.errors).
"""

from rest_framework import exceptions, parsers, renderers

MAX_DEPTH = 20


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (\\ud800-\\udfff), which is not valid Unicode"
    return None


def check_text(data) -> None:
    """Raise ParseError for the first bad string (key or value) or too deep a nesting."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise exceptions.ParseError(f"JSON nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                problem = _bad_text(key)
                if problem:
                    raise exceptions.ParseError(f"a key {problem}")
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            problem = _bad_text(value)
            if problem:
                raise exceptions.ParseError(f"a string {problem}")


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
        check_text(data)
        return data


class JSONRenderer(renderers.JSONRenderer):
    """Never fails on text it cannot encode as UTF-8 (a lone surrogate from a YAML escape, say):
    such a response is sent with every non-ASCII character escaped, which JSON allows."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            self.ensure_ascii = True  # a renderer serves one response
            return super().render(data, accepted_media_type, renderer_context)
