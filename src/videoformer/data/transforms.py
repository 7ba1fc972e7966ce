"""Video-consistent transforms on uint8 tensors: one set of random parameters per clip.

A sample is a dict with ``video`` — uint8 ``(T, C, H, W)`` until ``ToModelInput`` turns
it into float ``(C, T, H, W)`` — and ``label``. Every random transform draws its
parameters once from the ``random.Random`` it is given and applies them to all frames.
No PIL round-trips: resizing is ``F.interpolate`` on uint8 (bilinear, antialiased).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

Sample = dict


class Compose:
    def __init__(self, transforms: Sequence[Callable[[Sample, random.Random], Sample]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Sample, rng: random.Random) -> Sample:
        for t in self.transforms:
            sample = t(sample, rng)
        return sample

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(type(t).__name__ for t in self.transforms) + ")"


def resize(video: Tensor, size: tuple[int, int]) -> Tensor:
    """uint8/float (T, C, H, W) -> (T, C, *size), bilinear with antialiasing."""
    if tuple(video.shape[-2:]) == tuple(size):
        return video
    return F.interpolate(video, size=size, mode="bilinear", antialias=True, align_corners=False)


def short_side_size(h: int, w: int, short: int) -> tuple[int, int]:
    if h <= w:
        return short, max(1, round(w * short / h))
    return max(1, round(h * short / w)), short


class ShortSideResize:
    """Resize so the short side is ``size``, or a random int in ``size=(lo, hi)`` (scale jitter)."""

    def __init__(self, size: int | tuple[int, int]) -> None:
        self.range = (size, size) if isinstance(size, int) else tuple(size)

    def __call__(self, sample: Sample, rng: random.Random) -> Sample:
        short = rng.randint(*self.range) if self.range[0] != self.range[1] else self.range[0]
        v = sample["video"]
        return {**sample, "video": resize(v, short_side_size(*v.shape[-2:], short))}


def _crop(sample: Sample, top: int, left: int, h: int, w: int) -> Sample:
    return {**sample, "video": sample["video"][..., top : top + h, left : left + w]}


def _check_size(video: Tensor, size: int) -> None:
    if min(video.shape[-2:]) < size:
        raise ValueError(
            f"cannot crop {size}x{size} from frames of {tuple(video.shape[-2:])}; resize first"
        )


class RandomCrop:
    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, sample: Sample, rng: random.Random) -> Sample:
        _check_size(sample["video"], self.size)
        H, W = sample["video"].shape[-2:]
        return _crop(
            sample,
            rng.randint(0, H - self.size),
            rng.randint(0, W - self.size),
            self.size,
            self.size,
        )


class SpatialCrop:
    """A deterministic ``size`` crop: ``position`` 0, 1, 2 = start, centre, end of the long side
    (three-crop testing takes all three; centre crop is position 1)."""

    def __init__(self, size: int, position: int = 1) -> None:
        if position not in (0, 1, 2):
            raise ValueError(f"crop position {position} is not 0, 1 or 2")
        self.size, self.position = size, position

    def __call__(self, sample: Sample, rng: random.Random | None = None) -> Sample:
        _check_size(sample["video"], self.size)
        top, left = crop_position(*sample["video"].shape[-2:], self.size, self.position)
        return _crop(sample, top, left, self.size, self.size)


def crop_position(height: int, width: int, size: int, position: int) -> tuple[int, int]:
    """(top, left) of ``SpatialCrop``: the centre at floor((L - size) / 2), positions 0 and
    2 at the ends of the long side."""
    top, left = (height - size) // 2, (width - size) // 2
    if position != 1:
        end = position == 2
        if height > width:
            top = height - size if end else 0
        else:
            left = width - size if end else 0
    return top, left


class RandomResizedCrop:
    """Crop a random area fraction ``scale`` and aspect ``ratio``, resize to ``size``
    (Inception)."""

    def __init__(self, size: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)) -> None:
        self.size, self.scale, self.ratio = size, scale, ratio

    def __call__(self, sample: Sample, rng: random.Random) -> Sample:
        H, W = sample["video"].shape[-2:]
        for _ in range(10):
            area = H * W * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
            w, h = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if 0 < w <= W and 0 < h <= H:
                top, left = rng.randint(0, H - h), rng.randint(0, W - w)
                break
        else:  # fall back to a central crop with the ratio clamped
            side = min(H, W)
            h, w, top, left = side, side, (H - side) // 2, (W - side) // 2
        cropped = _crop(sample, top, left, h, w)
        return {**cropped, "video": resize(cropped["video"], (self.size, self.size))}


class RandomHorizontalFlip:
    """Flip all frames with probability ``p``; ``swap`` maps labels that change meaning
    (SSv2 "left"/"right": swap them, or do not flip such data at all)."""

    def __init__(self, p: float = 0.5, swap: dict[int, int] | None = None) -> None:
        self.p, self.swap = p, dict(swap or {})
        self.swap.update({b: a for a, b in list(self.swap.items())})

    def __call__(self, sample: Sample, rng: random.Random) -> Sample:
        if rng.random() >= self.p:
            return sample
        label = sample.get("label")
        if isinstance(label, int):
            label = self.swap.get(label, label)
        return {**sample, "video": sample["video"].flip(-1), "label": label}


# --- RandAugment ---------------------------------------------------------------------


def _blend(a: Tensor, b: Tensor, factor: float) -> Tensor:
    return (b + (a - b) * factor).clamp(0, 255)


def _gray(v: Tensor) -> Tensor:
    r, g, b = v.unbind(-3)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(-3)


def _affine(v: Tensor, matrix: list[float]) -> Tensor:
    """Apply a 2x3 affine (normalised coordinates) to float frames, zero fill."""
    theta = torch.tensor(matrix, dtype=v.dtype).view(1, 2, 3).expand(v.shape[0], -1, -1)
    grid = F.affine_grid(theta, list(v.shape), align_corners=False)
    return F.grid_sample(v, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _rand_sign(rng: random.Random) -> float:
    return 1.0 if rng.random() < 0.5 else -1.0


# op name -> fn(float video in [0, 255], magnitude in [0, 1], rng) -> float video
RAND_AUGMENT_OPS: dict[str, Callable[[Tensor, float, random.Random], Tensor]] = {
    "identity": lambda v, m, rng: v,
    "autocontrast": lambda v, m, rng: (
        (v - v.amin((0, 2, 3), keepdim=True))
        * 255
        / (v.amax((0, 2, 3), keepdim=True) - v.amin((0, 2, 3), keepdim=True)).clamp(min=1)
    ),
    "brightness": lambda v, m, rng: _blend(v, torch.zeros_like(v), 1 + _rand_sign(rng) * 0.9 * m),
    "contrast": lambda v, m, rng: _blend(
        v, _gray(v).mean().expand_as(v), 1 + _rand_sign(rng) * 0.9 * m
    ),
    "color": lambda v, m, rng: _blend(v, _gray(v).expand_as(v), 1 + _rand_sign(rng) * 0.9 * m),
    "posterize": lambda v, m, rng: (v.to(torch.uint8) & (0xFF << int(4 * m)) & 0xFF).float(),
    "solarize": lambda v, m, rng: torch.where(v >= 255 * (1 - m), 255 - v, v),
    "rotate": lambda v, m, rng: _affine(v, _rotation(_rand_sign(rng) * 30 * m)),
    "shear_x": lambda v, m, rng: _affine(v, [1, _rand_sign(rng) * 0.3 * m, 0, 0, 1, 0]),
    "shear_y": lambda v, m, rng: _affine(v, [1, 0, 0, _rand_sign(rng) * 0.3 * m, 1, 0]),
    "translate_x": lambda v, m, rng: _affine(v, [1, 0, _rand_sign(rng) * 0.9 * m, 0, 1, 0]),
    "translate_y": lambda v, m, rng: _affine(v, [1, 0, 0, 0, 1, _rand_sign(rng) * 0.9 * m]),
}


def _rotation(degrees: float) -> list[float]:
    a = math.radians(degrees)
    return [math.cos(a), -math.sin(a), 0, math.sin(a), math.cos(a), 0]


class RandAugment:
    """``num_ops`` random ops at ``magnitude`` (0..10, as timm's ``rand-m{M}-n{N}``), the same
    ops and parameters for every frame."""

    def __init__(
        self, num_ops: int = 2, magnitude: float = 9, ops: Sequence[str] = tuple(RAND_AUGMENT_OPS)
    ) -> None:
        unknown = set(ops) - set(RAND_AUGMENT_OPS)
        if unknown:
            raise ValueError(
                f"unknown RandAugment ops {sorted(unknown)}; known: {', '.join(RAND_AUGMENT_OPS)}"
            )
        self.num_ops, self.magnitude, self.ops = num_ops, magnitude / 10, list(ops)

    def __call__(self, sample: Sample, rng: random.Random) -> Sample:
        v = sample["video"].float()
        for name in (rng.choice(self.ops) for _ in range(self.num_ops)):
            v = RAND_AUGMENT_OPS[name](v, self.magnitude, rng)
        return {**sample, "video": v.round().clamp(0, 255).to(torch.uint8)}


class ToModelInput:
    """uint8 (T, C, H, W) -> float (C, T, H, W), scaled to [0, 1] and normalised."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = torch.tensor(mean).view(-1, 1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1, 1)

    def __call__(self, sample: Sample, rng: random.Random | None = None) -> Sample:
        v = sample["video"].permute(1, 0, 2, 3).float().div_(255)
        return {**sample, "video": (v - self.mean) / self.std}


class RandomErasing:
    """With probability ``p`` replace one random box (the same in every frame) of a
    normalised float (C, T, H, W) clip by normal noise (timm's 'pixel' mode)."""

    def __init__(self, p: float = 0.25, area=(0.02, 1 / 3), ratio=(0.3, 3.3)) -> None:
        self.p, self.area, self.ratio = p, area, ratio

    def __call__(self, sample: Sample, rng: random.Random) -> Sample:
        if rng.random() >= self.p:
            return sample
        v = sample["video"]
        H, W = v.shape[-2:]
        for _ in range(10):
            target = H * W * rng.uniform(*self.area)
            aspect = math.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
            h, w = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
            if h < H and w < W:
                top, left = rng.randint(0, H - h), rng.randint(0, W - w)
                g = torch.Generator().manual_seed(rng.getrandbits(63))
                v = v.clone()
                v[..., top : top + h, left : left + w] = torch.randn(
                    v.shape[0], 1, h, w, generator=g
                )
                return {**sample, "video": v}
        return sample


# --- batch transforms ---------------------------------------------------------------


def one_hot(labels: Tensor, num_classes: int, smoothing: float = 0.0) -> Tensor:
    off = smoothing / num_classes
    return torch.full((labels.shape[0], num_classes), off).scatter_(
        1, labels.view(-1, 1), 1.0 - smoothing + off
    )


class MixupCutmix:
    """Batch mixup / cutmix with soft targets (timm's rules): per batch, with probability
    ``prob``, cutmix (with ``switch_prob``) or mixup; the cutmix box is the same for
    every frame and lambda is corrected to the box's true area."""

    def __init__(
        self,
        num_classes: int,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.1,
    ) -> None:
        self.num_classes, self.mixup_alpha, self.cutmix_alpha = (
            num_classes,
            mixup_alpha,
            cutmix_alpha,
        )
        self.prob, self.switch_prob, self.smoothing = prob, switch_prob, label_smoothing

    def __call__(self, x: Tensor, y: Tensor, rng: random.Random) -> tuple[Tensor, Tensor]:
        """x: (B, C, T, H, W); y: (B,) int -> mixed x, targets (B, num_classes)."""
        targets = one_hot(y, self.num_classes, self.smoothing)
        if rng.random() >= self.prob:
            return x, targets
        use_cutmix = self.cutmix_alpha > 0 and (
            self.mixup_alpha == 0 or rng.random() < self.switch_prob
        )
        lam = (
            rng.betavariate(self.cutmix_alpha, self.cutmix_alpha)
            if use_cutmix
            else rng.betavariate(self.mixup_alpha, self.mixup_alpha)
        )
        flipped = x.flip(0)
        if use_cutmix:
            H, W = x.shape[-2:]
            cut = math.sqrt(1 - lam)
            ch, cw = int(H * cut), int(W * cut)
            cy, cx = rng.randint(0, H - 1), rng.randint(0, W - 1)
            top, bottom = max(cy - ch // 2, 0), min(cy + ch // 2, H)
            left, right = max(cx - cw // 2, 0), min(cx + cw // 2, W)
            x = x.clone()
            x[..., top:bottom, left:right] = flipped[..., top:bottom, left:right]
            lam = 1 - (bottom - top) * (right - left) / (H * W)
        else:
            x = x * lam + flipped * (1 - lam)
        return x, targets * lam + targets.flip(0) * (1 - lam)


class ViewCrop:
    """Test-time crop of the view the dataset asks for (``sample["crop"]``): with
    ``num_crops`` 1 the centre, with 3 the start, centre and end of the long side."""

    def __init__(self, size: int, num_crops: int = 1) -> None:
        if num_crops not in (1, 3):
            raise ValueError(f"num_crops {num_crops} is not 1 or 3")
        self.size, self.num_crops = size, num_crops

    def __call__(self, sample: Sample, rng: random.Random | None = None) -> Sample:
        position = 1 if self.num_crops == 1 else sample.get("crop", 1)
        return SpatialCrop(self.size, position)(sample)


def video_train_transform(
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    short_side: int | tuple[int, int] | None = None,
    random_resized_crop: bool = False,
    flip: bool = True,
    flip_swap: dict[int, int] | None = None,
    rand_augment: tuple[int, float] | None = None,
    erase_prob: float = 0.0,
) -> Compose:
    """The papers' training recipes: short-side jitter + random crop (TimeSformer) or random
    resized crop (Video Swin); flip (with label swaps); RandAugment; normalise; erase."""
    steps: list = []
    if random_resized_crop:
        steps.append(RandomResizedCrop(size))
    else:
        steps += [ShortSideResize(short_side or size), RandomCrop(size)]
    if flip:
        steps.append(RandomHorizontalFlip(0.5, flip_swap))
    if rand_augment:
        steps.append(RandAugment(*rand_augment))
    steps.append(ToModelInput(mean, std))
    if erase_prob:
        steps.append(RandomErasing(erase_prob))
    return Compose(steps)


def video_test_transform(
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    short_side: int | None = None,
    num_crops: int = 1,
) -> Compose:
    """Short side to ``short_side`` (default ``size``), then centre or three crops, normalise."""
    return Compose(
        [ShortSideResize(short_side or size), ViewCrop(size, num_crops), ToModelInput(mean, std)]
    )
