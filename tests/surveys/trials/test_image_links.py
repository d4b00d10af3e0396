"""Participants' images by signed link (surveys/trials/image_links.py): the trial fetch gives them, and
the front server (real nginx, docker/nginx.conf as bench/loadtest.py runs it) checks and serves them
with nothing behind it, so no image request reaches Python."""

import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from surveys.generation.models import Stimulus
from surveys.trials.image_links import LINK_WINDOW_S, image_link, link_expires, link_signature
from surveys.trials.selectors import STIMULUS_FILE_FIELDS
from tests.surveys import factories

pytestmark = pytest.mark.django_db

SECRET = "test-only-image-link-secret-0123456789"
LINK = re.compile(r"/_iris_img/[0-9a-f]{32}\.png\?md5=[A-Za-z0-9_-]{22}&expires=\d+")


def test_the_signature_is_nginx_secure_link_md5():
    """nginx's own example (ngx_http_secure_link_module): md5 of "2147483647/s/link127.0.0.1 secret",
    base64url without padding."""
    assert link_signature(expires=2147483647, uri="/s/link127.0.0.1", secret="secret") == "_e4Nc3iduzkWRm01TBBNYw"


def test_a_link_is_the_same_all_window_long_and_lasts_at_least_a_window():
    start = 1_700_000_000 // LINK_WINDOW_S * LINK_WINDOW_S
    issued = [start, start + 1, start + LINK_WINDOW_S - 1]

    assert len({link_expires(now) for now in issued}) == 1
    assert all(LINK_WINDOW_S < link_expires(now) - now <= 2 * LINK_WINDOW_S for now in issued)
    assert link_expires(start + LINK_WINDOW_S) == link_expires(start) + LINK_WINDOW_S


@pytest.mark.parametrize("name", ["targets/" + "a" * 32 + ".png", "stimuli/job3/" + "a" * 32 + "-t.png",
                                  "stimuli/../" + "a" * 32 + ".png", "stimuli/" + "a" * 32 + ".png/x",
                                  "stimuli/" + "A" * 32 + ".png", "checkpoints/model.pt"])
def test_only_a_stimulus_name_that_says_nothing_is_signed(settings, name):
    settings.IRIS_IMAGE_LINK_SECRET = SECRET

    assert image_link(name) is None
    assert LINK.fullmatch(image_link("stimuli/" + "a" * 32 + ".png"))


def test_without_a_secret_nothing_is_signed(settings):
    settings.IRIS_IMAGE_LINK_SECRET = ""

    assert image_link("stimuli/" + "a" * 32 + ".png") is None


def consented(client, study):
    entered = client.post(reverse("trials:start", args=[study.public_id]))
    token = entered["Location"].rstrip("/").split("/")[-1]
    client.post(reverse("trials:consent", args=[token]), {"agree": "yes"})
    return token


def fetched_trials(client, token) -> list[dict]:
    answer = client.get(reverse("trials:trials", args=[token]), {"n": 5})
    assert answer.status_code == 200
    return answer.json()["trials"]


def image_urls(trials: list[dict]) -> list[str]:
    return [url for trial in trials for url in [trial["query"], *trial["options"]] if url]


def stored_name(trial_id: str, slot: str) -> str:
    from surveys.trials.models import Trial

    ref = Trial.objects.get(public_id=trial_id).layout_spec.image(slot)
    return getattr(Stimulus.objects.get(pk=ref.stimulus_id), STIMULUS_FILE_FIELDS[ref.role]).name


def test_the_trial_fetch_gives_signed_links_to_the_very_files_and_nothing_about_them(client, settings):
    settings.IRIS_IMAGE_LINK_SECRET = SECRET
    study = factories.study(factories.researcher(), n_items=4)
    token = consented(client, study)

    trials = fetched_trials(client, token)

    # Random hex, an MD5 and a time: no job, role, stimulus, trial or session in them.
    assert trials and all(LINK.fullmatch(url) for url in image_urls(trials))
    for trial in trials:
        for slot, url in enumerate(trial["options"]):
            assert url.split("?")[0] == "/_iris_img/" + stored_name(trial["id"], str(slot)).removeprefix("stimuli/")
            assert trial["id"] not in url and token not in url
            assert not any(stimulus.public_id.hex in url for stimulus in Stimulus.objects.all())


def test_without_a_secret_or_with_an_old_name_the_slot_keeps_djangos_checked_url(client, settings):
    study = factories.study(factories.researcher(), n_items=4)
    token = consented(client, study)
    settings.IRIS_IMAGE_LINK_SECRET = ""
    unsigned = fetched_trials(client, token)
    settings.IRIS_IMAGE_LINK_SECRET = SECRET
    trial = unsigned[0]
    Stimulus.objects.update(iri_png="stimuli/job1/abc-i.png")

    signed = fetched_trials(client, token)

    assert all(url.startswith(f"/p/{token}/img/") for url in image_urls(unsigned))
    assert signed[0]["query"] == trial["query"] == f"/p/{token}/img/{trial['id']}/q"  # the IRI's old name
    assert all(LINK.fullmatch(url) for url in signed[0]["options"])


# --- through the front server ------------------------------------------------------------------------

@pytest.fixture
def front_media(settings):
    """Stored images in a folder nginx's workers (www-data) can read."""
    media = Path(tempfile.mkdtemp(prefix="iris-image-links-"))
    media.chmod(0o755)
    settings.MEDIA_ROOT = media
    yield media
    shutil.rmtree(media, ignore_errors=True)


@pytest.fixture
def front(front_media):
    """docker/nginx.conf as the load test runs it, with nothing listening behind it: whatever it
    serves, it served without a Python request."""
    from bench.loadtest import IMAGE_LINK_SECRET, Front, free_port

    with Front(free_port(), static_root=front_media, media_root=front_media, scratch=front_media) as server:
        server.secret = IMAGE_LINK_SECRET
        yield server


def fetch(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), refused.read()


def test_the_front_server_serves_a_fetched_link_itself_and_refuses_a_tampered_or_expired_one(
        client, settings, front):
    settings.IRIS_IMAGE_LINK_SECRET = front.secret
    study = factories.study(factories.researcher(), n_items=4)
    trial = fetched_trials(client, consented(client, study))[0]
    link = trial["options"][0]
    path, query = link.split("?")
    signature, expires = re.fullmatch(r"md5=([^&]+)&expires=(\d+)", query).groups()
    tampered = ("A" if signature[0] != "A" else "B") + signature[1:]
    past = int(time.time()) - 1

    served = fetch(front.url + link)
    refused = {
        "tampered": fetch(f"{front.url}{path}?md5={tampered}&expires={expires}")[0],
        "later expiry, same signature": fetch(f"{front.url}{path}?md5={signature}&expires={int(expires) + 1}")[0],
        "unsigned": fetch(front.url + path)[0],
        "expired": fetch(f"{front.url}{path}?md5={link_signature(expires=past, uri=path, secret=front.secret)}"
                         f"&expires={past}")[0],
    }

    status, headers, body = served
    assert status == 200 and body == default_storage.open(stored_name(trial["id"], "0")).read()
    assert headers["Content-Type"] == "image/png" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"].startswith("private")
    assert refused == {"tampered": 403, "later expiry, same signature": 403, "unsigned": 403, "expired": 410}


def test_nothing_outside_the_stimuli_folder_is_reached_by_a_link(front, front_media):
    """A file under the media folder but not stimuli/ (a target image, a checkpoint), even signed with
    the secret, or by a path that climbs out: never served."""
    hidden = "b" * 32 + ".png"
    default_storage.save(f"targets/{hidden}", ContentFile(b"\x89PNG target"))
    default_storage.save("checkpoints/model.pt", ContentFile(b"weights"))
    expires = int(time.time()) + 600

    def signed(path: str) -> str:
        return f"{front.url}{path}?md5={link_signature(expires=expires, uri=path, secret=front.secret)}&expires={expires}"

    statuses = [fetch(signed(path))[0] for path in (
        f"/_iris_img/{hidden}", f"/_iris_img/../targets/{hidden}", f"/_iris_img/%2E%2E/targets/{hidden}",
        "/_iris_img/../checkpoints/model.pt", "/_iris_img/..%2Fcheckpoints%2Fmodel.pt")]

    assert 200 not in statuses
    assert statuses[0] == 404  # the right form of name, but no such stimulus
