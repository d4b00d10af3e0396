"""Researcher-only views the admin lacks: live job progress and stored images."""

import mimetypes

from django.contrib.admin.views.decorators import staff_member_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect

from surveys.generation import selectors
from surveys.generation.models import GenerationJob


@staff_member_required
def job_progress(request: HttpRequest, job_id: int) -> JsonResponse:
    job = get_object_or_404(selectors.jobs_visible_to(user=request.user), pk=job_id)
    return JsonResponse(selectors.job_progress(job=job))


@staff_member_required
def stored_file(request: HttpRequest, name: str) -> HttpResponse:
    """A stored file for a researcher's own eyes (thumbnails in admin); participants never use this."""
    if not selectors.file_visible_to(user=request.user, name=name):
        raise Http404("No such file.")
    try:
        return FileResponse(default_storage.open(name, "rb"), content_type=mimetypes.guess_type(name)[0])
    except NotImplementedError:
        return redirect(default_storage.url(name))
    except FileNotFoundError:
        raise Http404("No such file.") from None


def job_visible(user, job_id: int) -> GenerationJob:
    return get_object_or_404(selectors.jobs_visible_to(user=user), pk=job_id)
