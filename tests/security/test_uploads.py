"""Attacks through uploads: a zip bomb, a zip whose headers lie, an oversized request, names the
database cannot hold, images whose pixels are not 8-bit. Each is the payload, then what must not
happen: memory grows by little, nothing is left in storage, and the researcher reads a clear refusal."""

import io
import multiprocessing
import resource
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from iri_engine.decode import open_image
from surveys.generation.images import images_from_upload
from surveys.generation.models import RegisteredModel, TargetImage, TargetSet
from tests.surveys import factories

pytestmark = pytest.mark.django_db

BOMB_BYTES = 256 * 1024 * 1024  # what the bomb's one member unzips to; the zip itself is ~250 KB
# Refusing it may cost a few chunks of reading and one image's worth of checking, not the bomb.
MEMORY_BOUND_BYTES = 48 * 1024 * 1024
TARGET_SET_ADD = "/admin/generation/targetset/add/"


def stored_files(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """A PNG signature followed by 256 MB of zeros, deflated to a few hundred kilobytes."""
    buffer = io.BytesIO()
    with (zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
          archive.open("cats/bomb.png", "w", force_zip64=True) as member):
        member.write(b"\x89PNG\r\n\x1a\n")
        zeros = bytes(4 * 1024 * 1024)
        for _ in range(BOMB_BYTES // len(zeros)):
            member.write(zeros)
    return buffer.getvalue()


def lying_about_sizes(data: bytes, *, claimed: int) -> bytes:
    """The same zip with every central-directory entry claiming ``claimed`` bytes unzipped."""
    patched = bytearray(data)
    at = patched.find(b"PK\x01\x02")
    while at >= 0:
        struct.pack_into("<L", patched, at + 24, claimed)  # uncompressed size
        name_len, extra_len, comment_len = struct.unpack_from("<3H", patched, at + 28)
        at = patched.find(b"PK\x01\x02", at + 46 + name_len + extra_len + comment_len)
    return bytes(patched)


def _check_in_child(data: bytes, answer) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        images_from_upload(name="upload.zip", data=data)
        outcome = "accepted"
    except ValidationError as error:
        outcome = " ".join(error.messages)
    except Exception as error:  # noqa: BLE001 (the parent reports what the child met)
        outcome = f"crashed: {type(error).__name__}: {error}"
    answer.send((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, outcome))


def checked_in_a_child(data: bytes) -> tuple[int, str]:
    """(growth of the peak resident memory in bytes, the outcome) of checking ``data`` in a fresh
    child process, whose peak is its own."""
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_check_in_child, args=(data, send))
    child.start()
    grown_kb, outcome = receive.recv()
    child.join(timeout=120)
    return grown_kb * 1024, outcome


def post_target_set(client, researcher, files: list[tuple[str, bytes]]):
    client.force_login(researcher)
    return client.post(TARGET_SET_ADD, {"name": "attack", "files": [SimpleUploadedFile(n, d) for n, d in files]})


def test_a_zip_bomb_is_refused_before_it_is_unzipped(zip_bomb):
    grown, outcome = checked_in_a_child(zip_bomb)

    assert "cats/bomb.png" in outcome and "MiB" in outcome
    assert grown < MEMORY_BOUND_BYTES


def test_a_zip_bomb_posted_to_admin_leaves_nothing_and_costs_little_memory(client, researcher, settings, zip_bomb):
    before = stored_files(settings)

    tracemalloc.start()
    response = post_target_set(client, researcher, [("bomb.zip", zip_bomb)])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert response.status_code == 200
    assert "cats/bomb.png" in response.content.decode()
    assert peak < MEMORY_BOUND_BYTES
    assert stored_files(settings) == before
    assert not TargetSet.objects.exists()


def test_a_zip_whose_headers_understate_a_bomb_is_caught_while_streaming(zip_bomb):
    grown, outcome = checked_in_a_child(lying_about_sizes(zip_bomb, claimed=1000))

    assert outcome.startswith("upload.zip: not a readable zip") or "cats/bomb.png" in outcome
    assert grown < MEMORY_BOUND_BYTES


def test_a_zip_of_a_hundred_and_fifty_thousand_entries_is_refused_before_its_directory_is_parsed():
    """Parsing the directory alone made a Python object per entry: memory grows with the entry count."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(150_000):
            archive.writestr(f"d/{index:06d}.png", b"")

    grown, outcome = checked_in_a_child(buffer.getvalue())

    assert grown < MEMORY_BOUND_BYTES / 2
    assert "directory lists too many files" in outcome


def test_a_zip_whose_headers_lie_answers_a_clear_refusal_and_stores_nothing(client, researcher, settings):
    good = zip_bytes({f"dogs/{i}.png": factories.png_bytes((i, 2 * i, 3 * i), size=64) for i in range(3)})
    before = stored_files(settings)

    response = post_target_set(client, researcher, [("liar.zip", lying_about_sizes(good, claimed=10))])

    assert response.status_code == 200
    assert "liar.zip: not a readable zip" in response.content.decode()
    assert stored_files(settings) == before


def test_a_zip_of_names_too_long_for_the_database_leaves_no_files(client, researcher, settings):
    """Every image was stored before the row that named it failed: 5,000 orphans from one zip."""
    members = {f"cats/{i}.png": factories.png_bytes((i, i, i)) for i in range(5)}
    members["cats/" + "x" * 250 + ".png"] = factories.png_bytes((9, 9, 9))
    before = stored_files(settings)

    response = post_target_set(client, researcher, [("names.zip", zip_bytes(members))])

    assert response.status_code == 200
    assert "longer than 200 characters" in response.content.decode()
    assert stored_files(settings) == before
    assert not TargetImage.objects.exists()


def test_a_bad_image_in_a_zip_leaves_nothing(client, researcher, settings):
    members = {f"cats/{i}.png": factories.png_bytes((i, i, i)) for i in range(5)}
    members["cats/broken.png"] = factories.png_bytes((1, 1, 1))[:40]
    before = stored_files(settings)

    response = post_target_set(client, researcher, [("set.zip", zip_bytes(members)),
                                                    ("extra.png", factories.png_bytes((5, 5, 5)))])

    assert response.status_code == 200
    assert "cats/broken.png: not a readable image" in response.content.decode()
    assert stored_files(settings) == before


def test_a_request_over_the_upload_limit_is_refused_unread(client, researcher, settings, api_as):
    settings.IRIS_MAX_UPLOAD_BYTES = 1024 * 1024
    noise = np.random.default_rng(0).integers(0, 256, (800, 800, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    assert len(buffer.getvalue()) > 1024 * 1024  # a real image, just too large
    before = stored_files(settings)

    response = post_target_set(client, researcher, [("big.png", buffer.getvalue())])
    api = api_as(researcher).post("/api/models/", {"name": "big", "weights": SimpleUploadedFile(
        "big.pt", buffer.getvalue()), **factories.DEMO_SPEC}, format="multipart")

    assert response.status_code == 413
    assert "IRIS_MAX_UPLOAD_BYTES" in response.content.decode()
    assert api.status_code == 413
    assert "at most 1 MiB" in api.json()["detail"][0]
    assert stored_files(settings) == before
    assert not TargetSet.objects.exists()


def test_a_failed_model_form_and_a_failed_api_call_leave_nothing(client, researcher, settings, api_as):
    before = stored_files(settings)
    client.force_login(researcher)

    form = client.post("/admin/generation/registeredmodel/add/", {
        "name": "junk", "architecture": "resnet18", "weights": SimpleUploadedFile("junk.pt", b"not a checkpoint"),
        "input_size": 64, "mean_text": "0.5, 0.5, 0.5", "std_text": "0.2, 0.2, 0.2", "num_classes": 16})
    api = api_as(researcher).post("/api/models/", {"name": "junk", "weights": SimpleUploadedFile(
        "junk.pt", b"not a checkpoint"), **factories.DEMO_SPEC}, format="multipart")

    assert form.status_code == 200 and api.status_code == 400
    assert stored_files(settings) == before
    assert not RegisteredModel.objects.exists()


def gif_of_two_frames() -> bytes:
    buffer = io.BytesIO()
    first, second = Image.new("RGB", (16, 16), (255, 0, 0)), Image.new("RGB", (16, 16), (0, 0, 255))
    first.save(buffer, format="GIF", save_all=True, append_images=[second], duration=100, loop=0)
    return buffer.getvalue()


def float_tiff(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(values.astype(np.float32), mode="F").save(buffer, format="TIFF")
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "payload", "message"), [
    ("moving.gif", gif_of_two_frames(), "animated or multi-page"),
    ("radiance.tif", float_tiff(np.linspace(0, 40, 64 * 64).reshape(64, 64)), "outside 0..1"),
    ("nan.tif", float_tiff(np.full((64, 64), np.nan)), "outside 0..1"),
], ids=["animated-gif", "float-tiff-beyond-1", "float-tiff-of-nan"])
def test_an_image_whose_pixels_would_be_guessed_is_refused_by_name(client, researcher, settings, name, payload,
                                                                    message):
    before = stored_files(settings)

    response = post_target_set(client, researcher, [(name, payload)])

    page = response.content.decode()
    assert response.status_code == 200
    assert name in page and message in page
    assert stored_files(settings) == before


def test_a_16_bit_gradient_is_stored_with_its_gradient(client, researcher):
    """Pillow's own conversion clipped every 16-bit value above 255: the target came out white."""
    gradient = np.linspace(0, 65535, 256).astype(np.uint16)[None, :].repeat(32, axis=0)
    buffer = io.BytesIO()
    Image.fromarray(gradient).save(buffer, format="PNG")

    response = post_target_set(client, researcher, [("ramp16.png", buffer.getvalue())])

    assert response.status_code == 302
    stored = np.asarray(open_image(TargetImage.objects.get().image.open("rb").read()).convert("RGB"))[0, :, 0]
    assert stored[0] == 0 and stored[-1] == 255
    assert np.all(np.diff(stored.astype(int)) >= 0) and len(set(stored.tolist())) > 200
