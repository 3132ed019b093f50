"""Request-body parsers for the API: DRF's, refusing bodies that are valid JSON but that nothing
downstream can handle (contract §7: bad input gets a clear 4xx, never a 500)."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


class StrictJSONParser(JSONParser):
    """JSON as DRF parses it, refusing nesting deeper than MAX_DEPTH (the parser itself would overflow
    Python's stack at about a thousand) and strings with lone surrogates (`"\\ud800"` is valid JSON but
    no UTF-8 text: the database, hashing and signing all refuse it)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        check_json(data)
        return data


def check_json(data) -> None:
    """Raise ParseError if a parsed JSON value nests deeper than MAX_DEPTH or holds a lone surrogate."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                pending.append((key, depth))
                pending.append((item, depth + 1))
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ParseError("JSON parse error - a string holds a lone surrogate (not UTF-8 text).") from None
