"""Feather's validity test on constructed cases (docs/method.md §1)."""

from __future__ import annotations

import json

import pytest
import torch

from iri_engine.spec import IriCriterion
from iri_engine.validity import (
    DB_SNR_CAP,
    NullDistribution,
    db_snr,
    judge,
    measure,
    null_distribution,
    pearson,
    spearman,
    verdicts,
)

from .conftest import smooth_images


def test_it_computes_rank_and_linear_correlations_and_db_snr_by_hand():
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert torch.allclose(pearson(a, 2 * a + 1), torch.tensor([1.0], dtype=torch.float64))
    assert torch.allclose(spearman(a, a ** 3), torch.tensor([1.0], dtype=torch.float64))  # monotone
    assert torch.allclose(spearman(a, -a), torch.tensor([-1.0], dtype=torch.float64))
    # Ties share their mean rank: [0, 0, 1, 2] ranks as [0.5, 0.5, 2, 3].
    tied = torch.tensor([[0.0, 0.0, 1.0, 2.0]])
    expected = pearson(torch.tensor([[0.5, 0.5, 2.0, 3.0]]), a)
    assert torch.allclose(spearman(tied, a), expected)
    # ||a_t|| = 10, ||a_t - a|| = 1: 10 log10(10) = 10 dB (amplitudes, as Feather).
    target, other = torch.tensor([[6.0, 8.0]]), torch.tensor([[6.0, 7.0]])
    assert torch.allclose(db_snr(target, other), torch.tensor([10.0], dtype=torch.float64))
    assert float(db_snr(target, target)[0]) == DB_SNR_CAP
    assert float(pearson(torch.ones(1, 3), a[:, :3])[0]) == 0.0  # constant row: defined as 0


def test_it_builds_a_null_from_different_images_and_round_trips_it(tiny_model, generator):
    null = null_distribution(tiny_model, "layer3", smooth_images(6, seed=3), generator=generator, pairs=200)
    assert null.pairs == 15 and null.images == 6  # all 6*5/2 pairs of different images
    assert null.pearson < 1.0 and null.db_snr < DB_SNR_CAP
    assert NullDistribution.from_dict(json.loads(json.dumps(null.to_dict()))) == null
    sampled = null_distribution(tiny_model, "layer3", smooth_images(30, seed=3), generator=generator, pairs=50)
    assert sampled.pairs == 50


def test_it_passes_identical_activations_and_fails_random_ones(tiny_model, generator):
    natural = smooth_images(8, seed=4)
    null = null_distribution(tiny_model, "layer3", natural, generator=generator)
    targets = smooth_images(3, seed=5)
    same = measure(tiny_model, "layer3", targets, targets.clone(), null)
    assert all(row["passes"] and row["class_agrees"] for row in same)
    assert all(row["rep_loss"] == 0.0 and row["db_snr"] == DB_SNR_CAP for row in same)
    noise = torch.rand(targets.shape, generator=generator)
    random = measure(tiny_model, "layer3", targets, noise, null)
    assert not any(row["passes"] for row in random)
    assert set(random[0]) == {"spearman", "pearson", "db_snr", "rep_loss", "passes", "target_class",
                              "iri_class", "class_agrees"}
    json.dumps(random)  # JSON-safe


def test_it_leaves_passes_open_without_a_null_and_checks_layers(tiny_model, generator):
    targets = smooth_images(2)
    rows = measure(tiny_model, "layer2", targets, targets, None)
    assert all(row["passes"] is None for row in rows)
    null = NullDistribution("layer3", 0.5, 0.5, 1.0, 10, 5)
    with pytest.raises(ValueError, match="layer3"):
        measure(tiny_model, "layer2", targets, targets, null)


def test_a_different_category_null_ignores_near_identical_members_of_one_category(tiny_model, generator):
    # Two near-copies of one image (a low-diversity set, e.g. two handwritten 1s) raise a null
    # built from any pairs of targets to almost identity; across categories they never pair.
    images = smooth_images(4, seed=6)
    images = torch.cat([images, (images[:1] + 0.002).clamp(0, 1)])
    any_pair = null_distribution(tiny_model, "layer3", images, generator=generator, kind="targets")
    labels = ["a", "b", "c", "d", "a"]
    across = null_distribution(tiny_model, "layer3", images, generator=generator, kind="different_category",
                               labels=labels)
    assert any_pair.pearson > 0.999 and across.pearson < any_pair.pearson - 0.001
    assert (any_pair.kind, across.kind, across.pairs) == ("targets", "different_category", 9)
    unlabelled = null_distribution(tiny_model, "layer3", images, generator=generator, kind="different_category",
                                   labels=[None] * 5)
    assert unlabelled.pairs == 10  # an unlabelled image is a category of its own
    with pytest.raises(ValueError, match="different categories"):
        null_distribution(tiny_model, "layer3", images, generator=generator, kind="different_category",
                          labels=["a"] * 5)


def test_the_verdict_names_every_failed_part_of_the_criterion_and_records_the_null(tiny_model, generator):
    natural = smooth_images(8, seed=4)
    null = null_distribution(tiny_model, "layer3", natural, generator=generator, kind="reference")
    targets = smooth_images(2, seed=5)
    noise = torch.rand(targets.shape, generator=generator)
    good, bad = verdicts(tiny_model, "layer3", targets, torch.cat([targets[:1], noise[1:]]),
                         criterion=IriCriterion(), null=null)
    assert good["verdict"]["passes"] and good["verdict"]["reasons"] == []
    assert good["verdict"]["null"]["kind"] == "reference" and good["verdict"]["criterion"]["max_rep_loss"] == 0.1
    assert not bad["verdict"]["passes"]
    reasons = " | ".join(bad["verdict"]["reasons"])
    assert "L_rep" in reasons and "above the bound 0.1" in reasons and "dB-SNR" in reasons
    json.dumps(bad)
    lenient = judge(bad, criterion=IriCriterion(max_rep_loss=None, validity=False, class_agreement=False), null=None)
    assert lenient == {"passes": True, "reasons": [], "criterion": lenient["criterion"], "null": None}
    assert judge(good, criterion=IriCriterion(), null=None)["reasons"] == ["no null distribution to test validity against"]
