"""Attack: researcher B, given admin's token permissions (or none), lists API tokens to steal another
user's key (the superuser's included), mints a token for researcher A to act as A, or deletes A's.
A non-staff account holding a token calls the API. Each must fail."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.surveys import factories

pytestmark = pytest.mark.django_db
TOKENS = "/admin/authtoken/tokenproxy/"


@pytest.fixture
def b_with_token_permissions(researcher_b) -> Client:
    researcher_b.user_permissions.add(*Permission.objects.filter(content_type__app_label="authtoken"))
    client = Client()
    client.force_login(researcher_b)
    return client


def test_a_researcher_sees_only_their_own_key(b_with_token_permissions, researcher_a, researcher_b, superuser):
    keys = {user: Token.objects.create(user=user).key for user in (researcher_a, researcher_b, superuser)}

    listing = b_with_token_permissions.get(TOKENS)

    assert listing.status_code == 200
    page = listing.content.decode()
    assert keys[researcher_b] in page
    assert keys[researcher_a] not in page
    assert keys[superuser] not in page
    assert b_with_token_permissions.get(f"{TOKENS}{researcher_a.pk}/change/").status_code == 302  # "does not exist"
    assert b_with_token_permissions.get(f"{TOKENS}{superuser.pk}/delete/").status_code == 302


def test_a_researcher_cannot_mint_a_token_for_someone_else(b_with_token_permissions, researcher_a, researcher_b,
                                                          superuser):
    for victim in (researcher_a, superuser):
        b_with_token_permissions.post(f"{TOKENS}add/", {"user": victim.pk})

    assert not Token.objects.filter(user__in=[researcher_a, superuser]).exists()
    assert Token.objects.filter(user=researcher_b).count() == 1  # what B made is B's own


def test_a_researcher_cannot_delete_someone_elses_token(b_with_token_permissions, researcher_a):
    token = Token.objects.create(user=researcher_a)

    b_with_token_permissions.post(f"{TOKENS}{researcher_a.pk}/delete/", {"post": "yes"})

    assert Token.objects.filter(key=token.key).exists()


def test_a_researcher_without_permissions_manages_their_own_token(researcher_b):
    client = Client()
    client.force_login(researcher_b)

    assert client.post(f"{TOKENS}add/", {}).status_code == 302
    key = Token.objects.get(user=researcher_b).key
    assert key in client.get(TOKENS).content.decode()
    client.post(f"{TOKENS}{researcher_b.pk}/delete/", {"post": "yes"})
    assert not Token.objects.filter(user=researcher_b).exists()


def test_a_superuser_may_mint_a_token_for_a_researcher(superuser, researcher_a):
    client = Client()
    client.force_login(superuser)

    client.post(f"{TOKENS}add/", {"user": researcher_a.pk})

    assert Token.objects.filter(user=researcher_a).exists()


def test_a_non_staff_account_with_a_token_gets_nothing_from_the_api(non_staff, researcher_a, api_as):
    factories.study(researcher_a, n_items=4)
    api = api_as(non_staff)

    assert api.get("/api/jobs/").status_code == 403
    assert api.get("/api/models/").status_code == 403
    assert api.post("/api/models/", {"name": "x", "architecture": "resnet18", "input_size": 32,
                                     "mean": [0, 0, 0], "std": [1, 1, 1]}, format="json").status_code == 403
    assert api.get("/api/schema/").status_code == 403
    assert api_as(researcher_a).get("/api/jobs/").status_code == 200
