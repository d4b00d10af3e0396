"""Checking uploaded images on the web side, before anything is stored: the engine's own decoder
(torch-free), so an image the web accepts is one a worker can read.

Memory stays bounded whatever the upload claims: a zip's directory is sized from its end record
before it is parsed, each member's size is checked on its header and again while it is streamed
(a header can lie), and images are spooled to temporary files, never held whole in memory beyond
one image's decoding.
"""

import hashlib
import io
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError

from iri_engine.decode import InvalidImageError, open_image

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_ZIP_MEMBERS = 5000  # images in one zip
# The zip's central directory, read whole by zipfile: 8 MiB holds the entries of 5000 images with
# long names twice over (macOS adds a __MACOSX twin per file); a bomb of a million entries does not fit.
MAX_ZIP_DIRECTORY_BYTES = 8 * 1024 * 1024
MAX_IMAGE_BYTES = 64 * 1024 * 1024  # one image file, uploaded alone or once unzipped
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024  # all the images of one upload together, once unzipped
MAX_NAME_CHARS = 200  # TargetImage.name
MAX_CATEGORY_CHARS = 100  # TargetImage.category: the folder an image sits in
CHUNK_BYTES = 1024 * 1024  # read this much of a zip member at a time
SPOOL_BYTES = 2 * 1024 * 1024  # an image larger than this waits on disk, not in memory


@dataclass(frozen=True)
class UploadedImage:
    """A checked image: ``file`` is a temporary file at its start, closed by whoever stores it."""

    name: str
    file: BinaryIO
    sha256: str


class _Budget:
    """Bytes unzipped so far across one upload; refuses past MAX_UNZIPPED_BYTES."""

    def __init__(self) -> None:
        self.used = 0

    def take(self, count: int, *, name: str) -> None:
        self.used += count
        if self.used > MAX_UNZIPPED_BYTES:
            raise ValidationError(f"{name}: the upload holds more than {MAX_UNZIPPED_BYTES // 2**20} MiB of images "
                                  "once unzipped; split it into several target sets.")


def images_from_uploads(*, uploads) -> list[UploadedImage]:
    """Every image of several uploaded files, each (name, bytes or a binary file); the first bad one
    raises ValidationError naming it, and nothing is left open."""
    budget, images = _Budget(), []
    try:
        for name, data in uploads:
            images.extend(images_from_upload(name=name, data=data, budget=budget))
    except BaseException:
        images_close(images=images)
        raise
    return images


def images_close(*, images: list[UploadedImage]) -> None:
    for image in images:
        image.file.close()


def images_from_upload(*, name: str, data: bytes | BinaryIO, budget: _Budget | None = None) -> list[UploadedImage]:
    """One uploaded file: an image, or a zip of images (folders name categories: cat/01.png)."""
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    size = source.seek(0, io.SEEK_END)
    source.seek(0)
    if size > settings.IRIS_MAX_UPLOAD_BYTES:
        raise ValidationError(f"{name}: {size // 2**20} MiB is more than the {settings.IRIS_MAX_UPLOAD_BYTES // 2**20} "
                              "MiB an upload may be (IRIS_MAX_UPLOAD_BYTES).")
    budget = budget or _Budget()
    if zipfile.is_zipfile(source):
        source.seek(0)
        return _images_from_zip(name=name, source=source, budget=budget)
    source.seek(0)
    return [_image_checked(name=name, stream=source, declared=size, budget=budget)]


def _images_from_zip(*, name: str, source: BinaryIO, budget: _Budget) -> list[UploadedImage]:
    _zip_directory_check(name=name, source=source)
    images = []
    try:
        with zipfile.ZipFile(source) as archive:
            for member in _zip_image_members(name=name, archive=archive):
                with archive.open(member) as stream:
                    images.append(_image_checked(name=member.filename, stream=stream, declared=member.file_size,
                                                 budget=budget))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        images_close(images=images)
        raise ValidationError(f"{name}: not a readable zip ({error}).") from None
    except BaseException:
        images_close(images=images)
        raise
    if not images:
        raise ValidationError(f"{name}: the zip holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    return images


def _zip_directory_check(*, name: str, source: BinaryIO) -> None:
    """Refuse a zip whose central directory is too large to parse, from the same end record that
    zipfile itself reads (its _EndRecData, so the size checked is the size it would read)."""
    end = zipfile._EndRecData(source)  # noqa: SLF001
    source.seek(0)
    if end is None:
        raise ValidationError(f"{name}: not a readable zip (no end of central directory).")
    if end[zipfile._ECD_SIZE] > MAX_ZIP_DIRECTORY_BYTES:  # noqa: SLF001
        raise ValidationError(f"{name}: the zip's directory lists too many files "
                              f"(more than {MAX_ZIP_DIRECTORY_BYTES // 2**20} MiB of entries).")


def _zip_image_members(*, name: str, archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The image members, their number and their declared sizes checked before any is read."""
    members = [m for m in archive.infolist() if _is_image_member(m.filename) and not m.is_dir()]
    if len(members) > MAX_ZIP_MEMBERS:
        raise ValidationError(f"{name}: more than {MAX_ZIP_MEMBERS} images in one zip.")
    for member in members:
        if member.file_size > MAX_IMAGE_BYTES:
            raise ValidationError(f"{member.filename}: {member.file_size // 2**20} MiB once unzipped, more than "
                                  f"the {MAX_IMAGE_BYTES // 2**20} MiB an image may be.")
    if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
        raise ValidationError(f"{name}: more than {MAX_UNZIPPED_BYTES // 2**20} MiB of images once unzipped; "
                              "split it into several target sets.")
    return members


def _image_checked(*, name: str, stream: BinaryIO, declared: int, budget: _Budget) -> UploadedImage:
    """Copy one image into a temporary file, counting its bytes as they come (the declared size
    may be a lie), then decode it fully; a bad, oversized or unnamed image raises ValidationError."""
    _name_check(name)
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by images_close)
    try:
        digest, copied = hashlib.sha256(), 0
        while chunk := stream.read(CHUNK_BYTES):
            copied += len(chunk)
            if copied > MAX_IMAGE_BYTES:
                raise ValidationError(f"{name}: more than {MAX_IMAGE_BYTES // 2**20} MiB "
                                      f"(its header said {declared} bytes).")
            budget.take(len(chunk), name=name)
            digest.update(chunk)
            spooled.write(chunk)
        spooled.seek(0)
        try:
            # Not closed: Image.close() would close the temporary file too.
            open_image(spooled)
        except InvalidImageError as error:
            raise ValidationError(f"{name}: not a readable image ({error}).") from None
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return UploadedImage(name=name, file=spooled, sha256=digest.hexdigest())


def _name_check(name: str) -> None:
    if len(name) > MAX_NAME_CHARS:
        raise ValidationError(f"{name[:60]}...: a file name longer than {MAX_NAME_CHARS} characters.")
    if len(category_of(name)) > MAX_CATEGORY_CHARS:
        raise ValidationError(f"{name}: a folder name longer than {MAX_CATEGORY_CHARS} characters.")
    if any(ord(character) < 32 for character in name):
        raise ValidationError(f"{name!r}: a file name with control characters.")


def _is_image_member(filename: str) -> bool:
    path = PurePosixPath(filename)
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in path.parts)
    return not hidden and path.suffix.lower() in IMAGE_SUFFIXES


def category_of(name: str) -> str:
    """The folder an image sat in inside a zip names its category (Feather's 16-way design)."""
    parts = PurePosixPath(name).parts
    return parts[-2] if len(parts) >= 2 else ""
