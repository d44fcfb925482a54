"""Serializer fields the audit and letter outputs share."""

from rest_framework import serializers


class IsoDateTimeField(serializers.DateTimeField):
    """A datetime as `isoformat()` writes it, offset and all (`2026-03-02T14:05:09.123456+00:00`).

    The audit and letter endpoints have always written their datetimes so; DRF's own field would
    turn `+00:00` into `Z` and move the value to the current time zone, changing what clients
    already parse and compare."""

    def to_representation(self, value):
        return value.isoformat() if value is not None else None


def json_objects(help_text: str, **kwargs) -> serializers.ListField:
    """A list of JSON objects stored as the engine or reviewer wrote them, rendered as stored."""
    return serializers.ListField(child=serializers.DictField(), help_text=help_text, **kwargs)


def strings(help_text: str, **kwargs) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), help_text=help_text, **kwargs)
