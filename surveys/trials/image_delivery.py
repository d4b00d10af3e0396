"""How a trial's image reaches the participant once its view has found the session, the trial and the
slot: the bytes from Django, or, behind a front server, only the answer's headers and an
X-Accel-Redirect that the front server follows itself (docker/nginx.conf, "/_iris_media/").

Where the front server checks signed links itself (IRIS_IMAGE_LINK_SECRET, image_links.py), the trial
fetch gives those instead and no image request comes here; this view serves the rest: every image
without the secret, and a file whose stored name cannot be linked.

Every image is checked by Django either way (the session's token, its trial, the slot); what the front
server takes over is the copying of the bytes, which otherwise holds a Python worker for each of the
two or three images of every trial. The redirect target is an internal location, which no client
can request: the stored name never reaches the participant.

Where the redirect goes depends on the storage. A local folder (FileSystemStorage): the stored name
under the prefix, which the front server maps onto MEDIA_ROOT. S3 (django-storages): the object's
short-lived signed URL written as <scheme>/<host>/<path>?<query> under the prefix, which the front
server proxies to that host; signing is computed locally, with no request to S3.
"""

from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import HttpResponse

# Private: the image belongs to one session. An hour outlasts any session's use of it.
IMAGE_CACHE_CONTROL = "private, max-age=3600"


def image_response(name: str) -> HttpResponse:
    """The answer to an image request for the stored file ``name``, already owner-checked."""
    prefix = settings.IRIS_IMAGE_ACCEL_PREFIX
    if prefix:
        response = HttpResponse(content_type="image/png")
        response["X-Accel-Redirect"] = prefix + _accel_path(name)
    else:
        with default_storage.open(name, "rb") as stored:
            response = HttpResponse(stored.read(), content_type="image/png")
    response["Cache-Control"] = IMAGE_CACHE_CONTROL
    return response


def _accel_path(name: str) -> str:
    """The part after the prefix: the stored name (a local folder), or the signed URL (S3)."""
    if isinstance(default_storage, FileSystemStorage):
        return quote(name)
    signed = urlsplit(default_storage.url(name))
    return f"{signed.scheme}/{signed.netloc}{signed.path}" + (f"?{signed.query}" if signed.query else "")
