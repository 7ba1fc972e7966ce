"""View aggregation and metrics against hand-computed numbers."""

import math

import pytest
import torch

from videoformer import create_model
from videoformer.engine.config import OptimConfig, ScheduleConfig
from videoformer.engine.evaluate import aggregate_views, average_precision, classification_metrics
from videoformer.engine.optim import lr_factor, param_groups


def test_mean_softmax_and_sum_logits():
    views = {7: [torch.tensor([0.0, math.log(3.0)]), torch.tensor([math.log(3.0), 0.0])]}
    torch.testing.assert_close(aggregate_views(views, "mean_softmax")[7], torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(
        aggregate_views(views, "sum_logits")[7], torch.tensor([math.log(3.0)] * 2)
    )


def test_metrics_by_hand():
    scores = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.1, 0.3, 0.6]])
    labels = torch.tensor([0, 1, 1, 1])
    m = classification_metrics(scores, labels, 3)
    assert m["top1"] == 0.5  # rows 0 and 1 right; row 2 predicts 0; row 3 predicts 2
    assert m["per_class_accuracy"][0] == 1.0 and m["per_class_accuracy"][1] == 1 / 3
    assert math.isnan(m["per_class_accuracy"][2])  # no video of class 2
    assert m["mean_class_accuracy"] == (1.0 + 1 / 3) / 2
    assert m["confusion"] == [[1, 0, 0], [1, 1, 1], [0, 0, 0]]
    assert m["top5"] == 1.0


def test_average_precision_by_hand():
    # ranking: pos, neg, pos -> precisions at positives 1/1 and 2/3
    ap = average_precision(torch.tensor([0.9, 0.5, 0.3]), torch.tensor([1, 0, 1]))
    assert abs(ap - (1 + 2 / 3) / 2) < 1e-6


def test_tied_scores_are_one_threshold_whatever_their_order():
    for labels in ([0, 1], [1, 0]):
        assert average_precision(torch.tensor([0.5, 0.5]), torch.tensor(labels)) == 0.5
    # thresholds 0.9 (1 pos of 1), 0.5 (3 more: 1 pos; 2 of 4), 0.1 (1 neg): recall 1/2 at
    # precision 1, then 1/2 more at precision 2/4
    scores, labels = torch.tensor([0.5, 0.9, 0.5, 0.1, 0.5]), torch.tensor([0, 1, 0, 0, 1])
    assert average_precision(scores, labels) == pytest.approx(0.5 * 1 + 0.5 * 2 / 4)
    assert average_precision(scores, torch.zeros(5)) != average_precision(scores, torch.zeros(5))


def test_average_precision_equals_scikit_learn():
    """Dev-only: where scikit-learn is installed, on random scores with many ties."""
    metrics = pytest.importorskip("sklearn.metrics")
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        scores = torch.randint(0, 6, (40,), generator=g).float() / 5  # six values: ties
        labels = torch.randint(0, 2, (40,), generator=g)
        if labels.sum() == 0:
            continue
        expected = metrics.average_precision_score(labels.numpy(), scores.numpy())
        assert average_precision(scores, labels) == pytest.approx(expected, abs=1e-6)


def test_no_weight_decay_on_norms_biases_embeddings():
    model = create_model(
        "timesformer", img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=2, num_heads=2
    )
    groups = param_groups(
        model, OptimConfig(weight_decay=0.05, backbone_lr_mult=0.1, embed_lr_mult=10.0)
    )
    no_decay = {n for g in groups if g["weight_decay"] == 0 for n in g["names"]}
    assert {
        "pos_embed",
        "time_embed",
        "cls_token",
        "blocks.0.norm1.weight",
        "head.bias",
    } <= no_decay
    assert "blocks.0.attn.qkv.weight" not in no_decay
    mult = {n: g["lr_mult"] for g in groups for n in g["names"]}
    assert mult["head.weight"] == 1.0 and mult["blocks.1.mlp.fc1.weight"] == 0.1
    assert (
        mult["time_embed"] == mult["pos_embed"] == mult["cls_token"] == pytest.approx(1.0)
    )  # 0.1 x 10


def test_schedules():
    cos = ScheduleConfig(epochs=10, warmup_epochs=1)
    assert lr_factor(0, 100, cos) == 0.01 and lr_factor(99, 100, cos) == 1.0
    assert abs(lr_factor(550, 100, cos) - 0.5) < 1e-9  # half way through the cosine
    step = ScheduleConfig(epochs=15, kind="step", milestones=(11, 14))
    assert [lr_factor(e * 10, 10, step) for e in (10, 11, 14)] == [1.0, 0.1, 0.1**2]
