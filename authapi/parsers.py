"""Request-body parsers for the API: DRF's, refusing bodies that are valid JSON but that nothing
downstream can handle (contract §7: bad input gets a clear 4xx, never a 500)."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from participants.validators import MAX_JSON_DEPTH, json_problem


class StrictJSONParser(JSONParser):
    """JSON as DRF parses it, refusing what `participants.validators.json_problem` names (the parser
    itself would overflow Python's stack at about a thousand levels)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.") from None
        if problem := json_problem(data):
            raise ParseError(f"JSON parse error - {problem}.")
        return data
