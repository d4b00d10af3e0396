"""Participants' images as signed, expiring links that the front server checks itself (nginx's
secure_link, docker/nginx.conf "/_iris_img/"): no Python request per image, where a trial's two or
three images were otherwise two or three requests through Django for each answer.

The owner check is the issuing: the trial fetch gives links only for the session's own trials. A link
is then a bearer capability until it expires: whoever holds it can fetch that one image, and nothing
else. It says nothing about the image: stored names are random (stimuli/<32 hex>.png, never the job or
the role), and a name of any other form is not signed, its slot keeps Django's checked URL
(image_delivery.py). Two links to one file are the same link; that tells a participant only what the
identical pixels already would.

A link expires at the end of a fixed window, between LINK_WINDOW_S and twice that from its issue: long
enough for a session, and the same URL for every fetch in one window, so the browser's cache keeps it.
Turned on by IRIS_IMAGE_LINK_SECRET, which the front server shares; unset (runserver, tests, `make
demo`), every slot has Django's URL.
"""

import base64
import functools
import hashlib
import re
import time
from collections.abc import Iterable

from django.conf import settings
from django.db import connection

from surveys.generation.models import Stimulus
from surveys.trials.layout import QUERY_SLOT
from surveys.trials.models import Trial
from surveys.trials.selectors import STIMULUS_FILE_FIELDS
from surveys.trials.sql import column, run, table

# The only stored names the front server serves (its location matches the same form): stimuli/ only.
LINKABLE_NAME = re.compile(r"stimuli/(?P<file>[0-9a-f]{32}\.png)")
LINK_WINDOW_S = 3 * 3600


def link_expires(now: float) -> int:
    """The end of the window after the one ``now`` is in (Unix seconds)."""
    return (int(now) // LINK_WINDOW_S + 2) * LINK_WINDOW_S


def link_signature(*, expires: int, uri: str, secret: str) -> str:
    """nginx's secure_link_md5 "$secure_link_expires$uri <secret>": the MD5 of the expiry, the path
    and the secret, base64url without padding. MD5 is what nginx offers; the secret is long and random."""
    digest = hashlib.md5(f"{expires}{uri} {secret}".encode(), usedforsecurity=False).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def image_link(name: str, *, now: float | None = None) -> str | None:
    """The signed link to the stored image ``name``; None when links are off or the name is not one
    the front server serves."""
    secret = settings.IRIS_IMAGE_LINK_SECRET
    stored = LINKABLE_NAME.fullmatch(name)
    if not secret or stored is None:
        return None
    uri = settings.IRIS_IMAGE_LINK_PREFIX + stored["file"]
    expires = link_expires(time.time() if now is None else now)
    return f"{uri}?md5={link_signature(expires=expires, uri=uri, secret=secret)}&expires={expires}"


def trial_image_links(trials: Iterable[Trial]) -> dict[tuple[int, str], str]:
    """Signed links for the slots of these trials (already the session's own), by (trial id, slot):
    one query for all of them. Empty when links are off; a slot without one keeps Django's URL."""
    if not settings.IRIS_IMAGE_LINK_SECRET:
        return {}
    slots = {}
    for trial in trials:
        layout = trial.layout_spec
        if layout.query:
            slots[trial.pk, QUERY_SLOT] = layout.query
        for index, ref in enumerate(layout.options):
            slots[trial.pk, str(index)] = ref
    files = _stimulus_files(sorted({ref.stimulus_id for ref in slots.values()}))
    now = time.time()
    links = {}
    for key, ref in slots.items():
        name = files.get(ref.stimulus_id, {}).get(ref.role)
        link = image_link(name, now=now) if name else None
        if link:
            links[key] = link
    return links


def _stimulus_files(stimulus_ids: list[int]) -> dict[int, dict[str, str]]:
    """{stimulus id: {role: stored name}} for these stimuli, in one prepared statement (sql.run): every
    trial fetch asks, and compiling the same ORM query each time cost more than the read itself."""
    if not stimulus_ids:
        return {}
    roles = list(STIMULUS_FILE_FIELDS)
    with connection.cursor() as cursor:
        run(cursor, f"iris_stimulus_files_{len(stimulus_ids)}", _files_query(len(stimulus_ids)), stimulus_ids)
        return {pk: dict(zip(roles, names, strict=True)) for pk, *names in cursor.fetchall()}


@functools.cache
def _files_query(count: int) -> str:
    files = ", ".join(column(Stimulus, field) for field in STIMULUS_FILE_FIELDS.values())
    ids = ", ".join(["%s"] * count)
    return f"SELECT {column(Stimulus, 'id')}, {files} FROM {table(Stimulus)} WHERE {column(Stimulus, 'id')} IN ({ids})"
