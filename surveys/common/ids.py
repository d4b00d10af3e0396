"""Random identifiers for URLs and exports."""

import secrets


def url_token(nbytes: int) -> str:
    """A URL-safe random token (``secrets.token_urlsafe``) that starts with a letter or digit, so that
    no id IRIS mints is read as a formula by a spreadsheet opening an export (which would prefix it
    with an apostrophe: surveys/scoring/exports.py) or as an option by a command line."""
    while True:
        token = secrets.token_urlsafe(nbytes)
        if token[0].isalnum():  # "-" or "_" one time in 32: draw again
            return token
