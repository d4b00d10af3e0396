"""The request-size limit: a body larger than IRIS_MAX_UPLOAD_BYTES is refused from its
Content-Length header, before any middleware or view reads it (the CSRF check parses forms).

Django reads no more of the body than Content-Length says, so the header is the bound; a body
sent without one is read as empty.
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse


class RequestSizeLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refusal(request, "The Content-Length header is not a number.", status=400)
        if length > settings.IRIS_MAX_UPLOAD_BYTES:
            limit = settings.IRIS_MAX_UPLOAD_BYTES // 2**20
            return _refusal(request, f"The request is {length // 2**20} MiB; uploads may be at most {limit} MiB "
                                     "(IRIS_MAX_UPLOAD_BYTES). Split it into several uploads.", status=413)
        return self.get_response(request)


def _refusal(request, message: str, *, status: int) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": [message]}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
