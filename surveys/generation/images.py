"""Checking uploaded images on the web side, before anything is stored: the engine's own decoder
(torch-free), so an image the web accepts is one a worker can read."""

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError

from iri_engine.decode import InvalidImageError, open_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_ZIP_MEMBERS = 5000


@dataclass(frozen=True)
class UploadedImage:
    name: str
    data: bytes
    sha256: str


def image_check(*, name: str, data: bytes) -> UploadedImage:
    """Decode the image fully; a corrupt, truncated or oversized one raises ValidationError."""
    try:
        open_image(data).close()
    except InvalidImageError as error:
        raise ValidationError(f"{name}: not a readable image ({error}).") from None
    return UploadedImage(name=name, data=data, sha256=hashlib.sha256(data).hexdigest())


def images_from_upload(*, name: str, data: bytes) -> list[UploadedImage]:
    """One uploaded file: an image, or a zip of images (folders name categories: cat/01.png)."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        return _images_from_zip(name=name, data=data)
    return [image_check(name=name, data=data)]


def _images_from_zip(*, name: str, data: bytes) -> list[UploadedImage]:
    images = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [m for m in archive.infolist() if _is_image_member(m.filename) and not m.is_dir()]
        if len(members) > MAX_ZIP_MEMBERS:
            raise ValidationError(f"{name}: more than {MAX_ZIP_MEMBERS} images in one zip.")
        for member in members:
            # Names are kept as labels only; nothing is ever extracted to a path.
            images.append(image_check(name=member.filename, data=archive.read(member)))
    if not images:
        raise ValidationError(f"{name}: the zip holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    return images


def _is_image_member(filename: str) -> bool:
    path = PurePosixPath(filename)
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in path.parts)
    return not hidden and path.suffix.lower() in IMAGE_SUFFIXES


def category_of(name: str) -> str:
    """The folder an image sat in inside a zip names its category (Feather's 16-way design)."""
    parts = PurePosixPath(name).parts
    return parts[-2] if len(parts) >= 2 else ""
