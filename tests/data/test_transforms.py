"""Random transforms apply one set of parameters to every frame; batch mixing."""

import random

import pytest
import torch

from videoformer.data.transforms import (
    RAND_AUGMENT_OPS,
    MixupCutmix,
    RandAugment,
    RandomCrop,
    RandomErasing,
    RandomHorizontalFlip,
    RandomResizedCrop,
    ShortSideResize,
    SpatialCrop,
    ToModelInput,
    video_test_transform,
)


def static_clip(T=4, H=40, W=60):
    """Every frame identical: a video-consistent transform keeps them identical."""
    frame = torch.randint(0, 256, (1, 3, H, W), dtype=torch.uint8)
    return {"video": frame.expand(T, -1, -1, -1).clone(), "label": 0}


def frames_identical(video):
    return all(torch.equal(video[0], v) for v in video)


@pytest.mark.parametrize(
    "transform",
    [
        ShortSideResize((20, 30)),
        RandomCrop(24),
        RandomResizedCrop(16),
        RandomHorizontalFlip(1.0),
        *[RandAugment(1, 9, [op]) for op in RAND_AUGMENT_OPS],
    ],
)
def test_random_transforms_apply_the_same_parameters_to_every_frame(transform):
    for seed in range(5):
        out = transform(static_clip(), random.Random(seed))
        assert frames_identical(out["video"])


def test_random_erasing_is_the_same_box_in_every_frame():
    sample = ToModelInput([0.5] * 3, [0.5] * 3)(static_clip())
    out = RandomErasing(p=1.0)(sample, random.Random(3))["video"]  # (C, T, H, W)
    assert not torch.equal(out, sample["video"])
    assert all(torch.equal(out[:, 0], out[:, t]) for t in range(4))


def test_short_side_resize_keeps_aspect():
    out = ShortSideResize(20)(static_clip(H=40, W=60), random.Random(0))
    assert out["video"].shape[-2:] == (20, 30)


def test_three_crops_along_the_long_side():
    clip = {"video": torch.arange(10 * 30).view(1, 1, 10, 30).expand(2, 3, -1, -1), "label": 1}
    lefts = [SpatialCrop(10, p)(clip)["video"][0, 0, 0, 0].item() for p in (0, 1, 2)]
    assert lefts == [0, 10, 20]


def test_flip_swaps_labels():
    flip = RandomHorizontalFlip(1.0, swap={2: 3})
    assert (
        flip({"video": torch.zeros(1, 3, 4, 4, dtype=torch.uint8), "label": 3}, random.Random(0))[
            "label"
        ]
        == 2
    )
    assert (
        flip({"video": torch.zeros(1, 3, 4, 4, dtype=torch.uint8), "label": 5}, random.Random(0))[
            "label"
        ]
        == 5
    )


def test_model_input_layout_and_normalisation():
    clip = {"video": torch.full((4, 3, 8, 8), 255, dtype=torch.uint8), "label": 0}
    out = ToModelInput([0.5, 0.5, 0.5], [0.25, 0.25, 0.25])(clip)["video"]
    assert out.shape == (3, 4, 8, 8) and torch.allclose(out, torch.full_like(out, 2.0))


def test_test_transform_output_size():
    out = video_test_transform(24, [0.5] * 3, [0.5] * 3, short_side=32, num_crops=3)(
        {**static_clip(H=40, W=60), "crop": 2}, random.Random(0)
    )
    assert out["video"].shape == (3, 4, 24, 24)


def test_mixup_cutmix_soft_targets_sum_to_one():
    x = torch.randn(4, 3, 2, 8, 8)
    y = torch.tensor([0, 1, 2, 3])
    for seed in range(10):
        mixed, targets = MixupCutmix(5, label_smoothing=0.1)(x, y, random.Random(seed))
        assert mixed.shape == x.shape and targets.shape == (4, 5)
        torch.testing.assert_close(targets.sum(1), torch.ones(4))
        assert (targets[:, 4] > 0).all()  # smoothing reaches every class


def test_cutmix_box_is_the_same_in_every_frame():
    x = torch.zeros(2, 3, 4, 16, 16)
    x[1] = 1.0
    mixed, targets = MixupCutmix(2, mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.0)(
        x, torch.tensor([0, 1]), random.Random(1)
    )
    assert all(torch.equal(mixed[0, :, 0], mixed[0, :, t]) for t in range(4))
    pasted = mixed[0, 0, 0].mean().item()  # fraction of sample 0 covered by sample 1
    assert targets[0, 1].item() == pytest.approx(pasted)
