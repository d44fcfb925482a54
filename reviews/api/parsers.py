"""JSON parsing with Lamina's limits: body size (413), nesting depth, and clear 400s."""

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from reviews.api.errors import PayloadTooLarge
from reviews.http import LONE_SURROGATE, has_lone_surrogate


def _depth(value, limit: int, level: int = 0) -> int:
    if level > limit:
        return level
    if isinstance(value, dict):
        return max([_depth(v, limit, level + 1) for v in value.values()] or [level + 1])
    if isinstance(value, list):
        return max([_depth(v, limit, level + 1) for v in value] or [level + 1])
    return level


class LaminaJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.MAX_BODY_BYTES
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        if length and length.isdigit() and int(length) > limit:
            raise PayloadTooLarge()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge()
        if not raw:
            raise ParseError("The request body is empty; send a JSON object.")
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ParseError(f"Malformed JSON: {exc}") from exc
        except RecursionError as exc:
            # Thousands of nested brackets exhaust the decoder's stack before the depth check runs.
            raise ParseError(f"JSON nested deeper than {settings.MAX_JSON_DEPTH} levels.") from exc
        if _depth(data, settings.MAX_JSON_DEPTH) > settings.MAX_JSON_DEPTH:
            raise ParseError(f"JSON nested deeper than {settings.MAX_JSON_DEPTH} levels.")
        if has_lone_surrogate(data):
            raise ParseError(LONE_SURROGATE)
        return data


def _reject_constant(name: str):
    # NaN and Infinity are not JSON and would poison numeric criteria.
    raise ValueError(f"{name} is not valid JSON")
