"""Attack: a researcher registers a checkpoint named weights.html holding a script, then gets an
admin to open its link. The file must come back as a download of opaque bytes, never as a page of
our origin; images stay viewable inline (admin's thumbnails)."""

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from tests.surveys import factories

pytestmark = pytest.mark.django_db


def fetched(user, name: str):
    client = Client()
    client.force_login(user)
    return client.get(reverse("researcher-file", args=[name]))


@pytest.mark.parametrize("file_name", ["weights.html", "weights.svg", "weights.xhtml"])
def test_a_checkpoint_that_looks_like_a_page_is_an_attachment(researcher_a, superuser, file_name):
    model = factories.registered_model(researcher_a)
    model.weights.save(file_name, ContentFile(b"<script>fetch('/admin/')</script>"))

    response = fetched(superuser, model.weights.name)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_stored_image_still_shows_inline(researcher_a):
    stimulus = factories.finished_job(researcher_a, n_items=1).stimuli.get()

    response = fetched(researcher_a, stimulus.iri_png.name)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert not response.get("Content-Disposition", "").startswith("attachment")
