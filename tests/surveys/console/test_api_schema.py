"""The OpenAPI schema names every endpoint of the researcher's journey, and generates without a warning."""

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db
JOURNEY = ["/api/models/", "/api/models/{model_id}/", "/api/target-sets/", "/api/target-sets/{target_set_id}/",
           "/api/jobs/", "/api/jobs/{job_id}/", "/api/jobs/{job_id}/stimuli/", "/api/stimuli/{stimulus_id}/",
           "/api/stimuli/{stimulus_id}/{role}.png", "/api/studies/", "/api/studies/{study_id}/",
           "/api/studies/{study_id}/open/", "/api/studies/{study_id}/close/",
           "/api/studies/{study_id}/participants/", "/api/studies/{study_id}/participants/{participant_id}/",
           "/api/studies/{study_id}/exclusions/", "/api/studies/{study_id}/exclusions/rules/",
           "/api/studies/{study_id}/exclusions/overrides/", "/api/studies/{study_id}/scores/",
           "/api/studies/{study_id}/responses.csv"]


def test_it_describes_every_step_of_the_journey(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    paths = yaml.safe_load((tmp_path / "schema.yaml").read_text())["paths"]
    assert [path for path in JOURNEY if path not in paths] == []
    assert set(paths["/api/studies/{study_id}/exclusions/rules/"]) == {"get", "put", "patch", "delete"}
    assert "multipart/form-data" in paths["/api/target-sets/"]["post"]["requestBody"]["content"]
