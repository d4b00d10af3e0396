"""Checking uploaded images on the web side, before anything is stored: the engine's own decoder
(torch-free), so an image the web accepts is one a worker can read.

Memory stays bounded whatever the upload claims: a zip's directory is sized from its end record
before it is parsed, each member's size is checked on its header and again while it is streamed
(a header can lie), and images are spooled to temporary files, never held whole in memory beyond
one image's decoding.
"""

import contextlib
import hashlib
import io
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError

from iri_engine.decode import InvalidImageError, open_image, to_rgb

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
    """A checked image: ``file`` is a temporary file at its start, closed by whoever stores it;
    ``size`` is its (width, height) in pixels."""

    name: str
    file: BinaryIO
    sha256: str
    size: tuple[int, int]


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
    source, size = _upload_source(name=name, data=data)
    budget = budget or _Budget()
    if zipfile.is_zipfile(source):
        source.seek(0)
        return _images_from_zip(name=name, source=source, budget=budget)
    source.seek(0)
    return [_image_checked(name=name, stream=source, declared=size, budget=budget)]


def _upload_source(*, name: str, data: bytes | BinaryIO) -> tuple[BinaryIO, int]:
    """The upload as a seekable file at its start, and its size; refused past IRIS_MAX_UPLOAD_BYTES."""
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    size = source.seek(0, io.SEEK_END)
    source.seek(0)
    if size > settings.IRIS_MAX_UPLOAD_BYTES:
        raise ValidationError(f"{name}: {size // 2**20} MiB is more than the {settings.IRIS_MAX_UPLOAD_BYTES // 2**20} "
                              "MiB an upload may be (IRIS_MAX_UPLOAD_BYTES).")
    return source, size


@contextlib.contextmanager
def _zip_read(*, name: str, source: BinaryIO) -> Iterator[zipfile.ZipFile]:
    """The zip, its directory's size checked before it is parsed; a zip found broken while the block
    reads it raises ValidationError naming it."""
    _zip_directory_check(name=name, source=source)
    try:
        with zipfile.ZipFile(source) as archive:
            yield archive
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        raise ValidationError(f"{name}: not a readable zip ({error}).") from None


@contextlib.contextmanager
def zip_opened(*, name: str, data: bytes | BinaryIO) -> Iterator[zipfile.ZipFile]:
    """An uploaded zip, bounded as any upload is (its size, then its directory, before it is parsed);
    read it inside the block, with zip_text and images_from_zip_members."""
    source, _ = _upload_source(name=name, data=data)
    if not zipfile.is_zipfile(source):
        raise ValidationError(f"{name}: not a zip file.")
    source.seek(0)
    with _zip_read(name=name, source=source) as archive:
        yield archive


def zip_text(*, archive: zipfile.ZipFile, member: str, max_bytes: int) -> str | None:
    """A text member of a zip (UTF-8), None when the zip has none of that name; refused past max_bytes,
    counted as it is unzipped (the header's size may be a lie)."""
    try:
        info = archive.getinfo(member)
    except KeyError:
        return None
    if info.file_size <= max_bytes:
        with archive.open(info) as stream:
            data = stream.read(max_bytes + 1)
    if info.file_size > max_bytes or len(data) > max_bytes:
        raise ValidationError(f"{member}: more than {max_bytes // 2**10} KiB.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValidationError(f"{member}: not UTF-8 text ({error}).") from None


def images_from_zip_members(*, archive: zipfile.ZipFile, wanted: Mapping[str, str]) -> dict[str, UploadedImage]:
    """The members a list names, checked as any uploaded image is: ``wanted`` maps each member's name to
    who named it, which a refusal names first ("items[3].iri"). Every member is looked up, and the
    declared sizes checked, before any is read; the first missing or bad one raises ValidationError."""
    infos = {info.filename: info for info in archive.infolist() if not info.is_dir()}
    for member, who in wanted.items():
        if member not in infos:
            raise ValidationError(f"{who}: {member!r} is not in the zip.")
    members = [infos[member] for member in wanted]
    _declared_sizes_check(name="The zip", members=members, who=wanted)
    images, budget = {}, _Budget()
    try:
        for member in members:
            with archive.open(member) as stream:
                images[member.filename] = _image_copied(
                    name=member.filename, label=f"{wanted[member.filename]} ({member.filename})", stream=stream,
                    declared=member.file_size, budget=budget)
    except BaseException:
        images_close(images=list(images.values()))
        raise
    return images


def png_of(image: UploadedImage) -> bytes:
    """A checked image in the form IRIS stores the images participants see: 8-bit RGB PNG, upright,
    with no metadata chunks (nothing in the file says what it is)."""
    image.file.seek(0)
    rgb = to_rgb(open_image(image.file))
    rgb.info = {}  # Pillow would write a colour profile it found in the original
    buffer = io.BytesIO()
    rgb.save(buffer, format="PNG", compress_level=6)
    image.file.seek(0)
    return buffer.getvalue()


def _images_from_zip(*, name: str, source: BinaryIO, budget: _Budget) -> list[UploadedImage]:
    images = []
    try:
        with _zip_read(name=name, source=source) as archive:
            for member in _zip_image_members(name=name, archive=archive):
                with archive.open(member) as stream:
                    images.append(_image_checked(name=member.filename, stream=stream, declared=member.file_size,
                                                 budget=budget))
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
    _declared_sizes_check(name=name, members=members)
    return members


def _declared_sizes_check(*, name: str, members: list[zipfile.ZipInfo], who: Mapping[str, str] | None = None) -> None:
    """Their number and their sizes as the zip's headers declare them; ``who`` names each member's
    mention in a refusal (by default, the member's own name)."""
    if len(members) > MAX_ZIP_MEMBERS:
        raise ValidationError(f"{name}: more than {MAX_ZIP_MEMBERS} images in one zip.")
    for member in members:
        if member.file_size > MAX_IMAGE_BYTES:
            mention = f"{who[member.filename]} ({member.filename})" if who else member.filename
            raise ValidationError(f"{mention}: {member.file_size // 2**20} MiB once unzipped, more than "
                                  f"the {MAX_IMAGE_BYTES // 2**20} MiB an image may be.")
    if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
        raise ValidationError(f"{name}: more than {MAX_UNZIPPED_BYTES // 2**20} MiB of images once unzipped; "
                              "split it into several uploads.")


def _image_checked(*, name: str, stream: BinaryIO, declared: int, budget: _Budget) -> UploadedImage:
    """One uploaded image, its name checked as a target's name, then copied (_image_copied)."""
    _name_check(name)
    return _image_copied(name=name, label=name, stream=stream, declared=declared, budget=budget)


def _image_copied(*, name: str, label: str, stream: BinaryIO, declared: int, budget: _Budget) -> UploadedImage:
    """Copy one image into a temporary file, counting its bytes as they come (the declared size
    may be a lie), then decode it fully; a bad or oversized image raises ValidationError naming
    ``label``."""
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by images_close)
    try:
        digest, copied = hashlib.sha256(), 0
        while chunk := stream.read(CHUNK_BYTES):
            copied += len(chunk)
            if copied > MAX_IMAGE_BYTES:
                raise ValidationError(f"{label}: more than {MAX_IMAGE_BYTES // 2**20} MiB "
                                      f"(its header said {declared} bytes).")
            budget.take(len(chunk), name=label)
            digest.update(chunk)
            spooled.write(chunk)
        spooled.seek(0)
        try:
            # Not closed: Image.close() would close the temporary file too.
            size = open_image(spooled).size
        except InvalidImageError as error:
            raise ValidationError(f"{label}: not a readable image ({error}).") from None
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return UploadedImage(name=name, file=spooled, sha256=digest.hexdigest(), size=size)


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
