"""What every input serializer of the REST API shares."""

import re

from rest_framework import serializers

# DRF's own spelling of a list in a form or multipart body ("mean[0]", "mean[1]"; rest_framework.utils.html):
# such a key belongs to the field before the brackets.
FORM_LIST_ITEM = re.compile(r"(?P<field>[^\[\]]+)\[\d+\].*")


def field_named_by(key: str) -> str:
    item = FORM_LIST_ITEM.fullmatch(key)
    return item["field"] if item else key


class Strict:
    """Mixed into an input serializer: a field it does not know is refused (400) rather than dropped,
    so a misspelt option ("catch_min_acuracy", "desing") never goes unnoticed."""

    def validate(self, attrs):
        unknown = sorted(key for key in self.initial_data if field_named_by(key) not in self.fields)
        if unknown:
            raise serializers.ValidationError(f"Unknown fields: {', '.join(unknown)}. "
                                              f"Known: {', '.join(sorted(self.fields))}.")
        return super().validate(attrs)
