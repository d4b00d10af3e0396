"""Where Django sends the front server for an image kept in S3 (surveys/trials/image_delivery.py): the
object's signed URL, which docker/nginx.conf's internal location fetches. Signing needs no request to
S3, so this runs without one; `make deploy-check` fetches such images through nginx from MinIO."""

from urllib.parse import parse_qs, urlsplit

from surveys.trials.image_delivery import image_response

S3 = {
    "default": {"BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": "iris", "endpoint_url": "http://minio:9000", "region_name": "us-east-1",
                            "access_key": "key", "secret_key": "secret", "default_acl": "private",
                            "querystring_auth": True}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def test_an_image_in_s3_is_handed_to_the_front_server_as_its_signed_url(settings):
    settings.STORAGES = S3
    settings.IRIS_IMAGE_ACCEL_PREFIX = "/_iris_media/"

    answer = image_response("stimuli/job1/abc-i.png")

    redirect = urlsplit(answer["X-Accel-Redirect"])
    assert redirect.path == "/_iris_media/http/minio:9000/iris/stimuli/job1/abc-i.png"
    assert any(name.endswith("Signature") for name in parse_qs(redirect.query))  # S3's v2 or v4 signing
    assert answer.content == b"" and answer["Cache-Control"] == "private, max-age=3600"


def test_without_a_front_server_django_sends_the_bytes(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "stimuli").mkdir()
    (tmp_path / "stimuli" / "a.png").write_bytes(b"\x89PNG-bytes")
    settings.IRIS_IMAGE_ACCEL_PREFIX = ""

    answer = image_response("stimuli/a.png")

    assert answer.content == b"\x89PNG-bytes" and "X-Accel-Redirect" not in answer
