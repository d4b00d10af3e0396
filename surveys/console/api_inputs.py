"""What every input serializer of the REST API shares."""

from rest_framework import serializers


class Strict:
    """Mixed into an input serializer: a field it does not know is refused (400) rather than dropped,
    so a misspelt option ("catch_min_acuracy", "desing") never goes unnoticed."""

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(f"Unknown fields: {', '.join(unknown)}. "
                                              f"Known: {', '.join(sorted(self.fields))}.")
        return super().validate(attrs)
