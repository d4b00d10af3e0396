"""What a participant posts, as typed specs: each survives a JSON round trip, and each refusal names
its field (docs/conventions.md §8). The attacks themselves are in tests/security/test_participants.py."""

import json

import pytest

from surveys.common.specs import SpecError
from surveys.trials.payloads import MAX_RT_MS, AnswerPost, DevicePost


def test_an_answer_survives_a_json_round_trip():
    answer = AnswerPost.from_dict({"trial": "abc_DEF-123", "idempotency_key": "abc_DEF-123", "rt_ms": 512,
                                   "choice": 1, "client_data": {"interactions": [{"event": "blur", "time": 3}]}})

    assert AnswerPost.from_dict(json.loads(json.dumps(answer.to_dict()))) == answer
    assert answer.rt_ms == 512.0 and answer.rating is None


def test_a_device_check_survives_a_json_round_trip():
    check = DevicePost.from_dict({"compatible": False, "data": {"width": 640, "height": 480}})

    assert DevicePost.from_dict(json.loads(json.dumps(check.to_dict()))) == check


@pytest.mark.parametrize(("changes", "field"), [
    ({"rt_ms": MAX_RT_MS + 1}, "rt_ms"), ({"trial": "has space"}, "trial"), ({"choice": -1}, "choice"),
    ({"rating": 2.5}, "rating"), ({"idempotency_key": ""}, "idempotency_key"), ({"client_data": [1]}, "client_data"),
])
def test_a_refused_answer_names_its_field(changes, field):
    body = {"trial": "t1", "idempotency_key": "t1", "rt_ms": 100, "choice": 0, **changes}

    with pytest.raises(SpecError, match=field):
        AnswerPost.from_dict(body)


def test_an_answer_without_client_data_has_none():
    assert AnswerPost.from_dict({"trial": "t1", "idempotency_key": "t1", "rt_ms": 0}).client_data == {}
