"""Uploading target images: every image is decoded before anything is stored."""

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError

from surveys.generation import services
from surveys.generation.models import TargetSet
from tests.surveys import factories

pytestmark = pytest.mark.django_db


def test_it_rejects_a_corrupt_image_and_keeps_nothing(researcher):
    good = ("good.png", factories.png_bytes((1, 2, 3)))
    corrupt = ("broken.png", factories.png_bytes((1, 2, 3))[:40])

    with pytest.raises(ValidationError, match="broken.png"):
        services.target_set_create(owner=researcher, name="mixed", uploads=[good, corrupt])
    assert not TargetSet.objects.exists()


def test_it_reads_a_zip_with_category_folders(researcher):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("dog/1.png", factories.png_bytes((9, 9, 9)))
        archive.writestr("cat/2.png", factories.png_bytes((5, 5, 5)))
        archive.writestr("__MACOSX/._1.png", b"junk")

    target_set = services.target_set_create(owner=researcher, name="zip", uploads=[("set.zip", buffer.getvalue())])

    assert sorted(target_set.images.values_list("category", flat=True)) == ["cat", "dog"]
