"""``explain``: where a trained model looks in a video.

The model's own ``relevance`` gives a map on its token grid (attention rollout for
TimeSformer and the Perceivers, Grad-CAM of the last stage for Swin and Video Swin; see
``layers/attribution.py``). Here the input is built as the model's test protocol builds
it (one clip, the centre crop), the map is brought to the frames' size, and
``save_explanation`` writes an animated overlay (GIF or MP4), a PNG grid of the frames
with their maps, and the raw maps as ``.npy``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .predictor import Predictor, Video


@dataclass
class Explanation:
    source: str
    label: str  # the class the prediction (or ``target``) names
    probability: float  # the model's probability of ``label`` on this view
    method: str
    tokens: np.ndarray  # (T', h, w) relevance on the model's token grid, summing to 1
    maps: np.ndarray  # (T, H, W) the same over the frames (trilinear), scaled to max 1
    frames: np.ndarray  # (T, H, W, 3) uint8: the model's input view, un-normalised, RGB
    times: np.ndarray  # (T,) seconds at which each frame is shown in the source

    @property
    def relative_range(self) -> tuple[float, float]:
        """The map's lowest and highest value over its peak: (0, 1) for a map that
        picks out a region, near (1, 1) for one that is nearly uniform."""
        return float(self.maps.min()), float(self.maps.max())


def explain(
    source: str | Path | nn.Module,
    video: Video,
    model: str | None = None,
    target: str | int | None = None,
    method: str | None = None,
    device: str | torch.device | None = None,
) -> Explanation:
    """Relevance of one centre view of ``video`` (a file or uint8 frames (T, H, W, 3)) for
    the model ``source`` (anything ``Predictor`` takes; ``model`` names the variant of a
    foreign checkpoint). ``target``: a label name or index for class-specific maps
    (default: the predicted class; plain rollout does not depend on it). ``method``: one
    the model's family offers (TimeSformer: gradient_rollout, rollout; Perceivers:
    rollout; Swin, Video Swin: grad_cam); None: the family's default."""
    predictor = Predictor(source, model=model, views="1x1", device=device)
    net = predictor.model.eval()
    x = predictor.views(video)[:1].to(predictor.device)  # (1, C, T, H, W)
    if len(net.input_shape) == 3:  # an image model: the clip's one frame
        x = x[:, :, 0]
    target_index = _target_index(target, predictor.labels)
    relevance = net.relevance(x, target_index, method)
    probabilities = relevance.logits.float().softmax(-1).cpu()
    index = int(probabilities.argmax()) if target_index is None else target_index
    frames = _frames(x.cpu(), predictor)
    times = predictor.frame_times(video)[0][: len(frames)]
    return Explanation(
        source="<tensor>" if isinstance(video, Tensor) else str(video),
        label=predictor.labels[index],
        probability=float(probabilities[index]),
        method=relevance.method,
        tokens=relevance.map.cpu().numpy(),
        maps=_upsample(relevance.map.cpu(), frames.shape[:3]),
        frames=frames,
        times=np.array(times, dtype=np.float64),
    )


def region_ratio(
    explanation: Explanation, predictor: Predictor, region: np.ndarray
) -> float | None:
    """How much of the map lies in a region, over the region's share of the view (1: no
    better than a uniform map). ``region``: bool (T, H, W) on the frames ``explain`` was
    given (an object's boxes, say); it goes through the same view as the frames. None
    when the region is not in the view."""
    mask = torch.from_numpy(np.repeat(region[..., None], 3, axis=-1).astype(np.uint8) * 255)
    spec = predictor.data_spec
    view = predictor.views(mask)[0, 0] * spec.std[0] + spec.mean[0]  # (T, H, W), 0..1 or 255
    inside = (view > (127.5 if max(spec.mean) > 1 else 0.5)).numpy()
    if len(inside) != len(explanation.maps):
        raise ValueError(f"the region gives {len(inside)} frames, the map {len(explanation.maps)}")
    share = inside.mean()
    if share == 0:
        return None
    return float((explanation.maps / explanation.maps.sum())[inside].sum() / share)


def _target_index(target: str | int | None, labels: list[str]) -> int | None:
    if target is None:
        return None
    if isinstance(target, int) or str(target).isdigit():
        index = int(target)
        if not 0 <= index < len(labels):
            raise ValueError(f"target {index} is not a class index (0..{len(labels) - 1})")
        return index
    if target not in labels:
        raise ValueError(
            f"target {target!r} is not one of the model's labels "
            f"({', '.join(labels[:10])}{', ...' if len(labels) > 10 else ''})"
        )
    return labels.index(target)


def _frames(x: Tensor, predictor: Predictor) -> np.ndarray:
    """The normalised view back to uint8 RGB frames (T, H, W, 3)."""
    spec = predictor.data_spec
    mean = torch.tensor(spec.mean).view(3, 1, 1, 1)
    std = torch.tensor(spec.std).view(3, 1, 1, 1)
    clip = x[0] if x.ndim == 5 else x[0][:, None]  # (C, T, H, W)
    clip = clip * std + mean
    if getattr(predictor.protocol, "bgr", False):
        clip = clip.flip(0)
    scale = 1.0 if max(spec.mean) > 1 else 255.0  # pixels in 0..255 (mean 127.5) or 0..1
    return (clip * scale).clamp(0, 255).round().byte().permute(1, 2, 3, 0).numpy()


def _upsample(tokens: Tensor, size: tuple[int, int, int]) -> np.ndarray:
    """(T', h, w) -> (T, H, W), trilinear, scaled so that the largest value is 1."""
    maps = F.interpolate(
        tokens[None, None].float(), size=size, mode="trilinear", align_corners=False
    )[0, 0]
    peak = maps.max()
    return (maps / peak if peak > 0 else maps).numpy()


def overlay(frames: np.ndarray, maps: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 with maps (T, H, W) in [0, 1] as a jet heat map."""
    from matplotlib import colormaps

    heat = colormaps["jet"](maps)[..., :3] * 255  # (T, H, W, 3)
    return (frames * (1 - alpha) + heat * alpha).round().clip(0, 255).astype(np.uint8)


def save_explanation(
    explanation: Explanation, out: str | Path, video_format: str = "gif", min_side: int = 256
) -> list[Path]:
    """Write ``explain.{gif,mp4}``, ``explain.png``, ``tokens.npy``, ``maps.npy`` and
    ``explain.json`` into ``out``; returns the paths. Small clips are enlarged to
    ``min_side`` pixels on the short side so that the overlay can be seen."""
    if video_format not in ("gif", "mp4"):
        raise ValueError(f"video_format must be gif or mp4, got {video_format!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    e = explanation
    frames, maps = _enlarge(e.frames, e.maps, min_side)
    shown = overlay(frames, maps)
    paths = [
        out / f"explain.{video_format}",
        out / "explain.png",
        out / "tokens.npy",
        out / "maps.npy",
        out / "explain.json",
    ]
    if video_format == "gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in shown]
        images[0].save(paths[0], save_all=True, append_images=images[1:], duration=250, loop=0)
    else:
        from ..data.synthetic import write_video

        write_video(paths[0], shown[:, : shown.shape[1] // 2 * 2, : shown.shape[2] // 2 * 2], fps=4)
    _grid(frames, shown, e, paths[1])
    np.save(paths[2], e.tokens)
    np.save(paths[3], e.maps)
    paths[4].write_text(
        json.dumps(
            {
                "source": e.source,
                "label": e.label,
                "probability": e.probability,
                "method": e.method,
                "token_grid": list(e.tokens.shape),
                "frame_times": e.times.tolist(),
                "relative_range": list(e.relative_range),
            },
            indent=2,
        )
    )
    return paths


def _enlarge(frames: np.ndarray, maps: np.ndarray, min_side: int) -> tuple[np.ndarray, np.ndarray]:
    T, H, W, _ = frames.shape
    factor = max(1, -(-min_side // min(H, W)))
    if factor == 1:
        return frames, maps
    big = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    big = F.interpolate(big, scale_factor=factor, mode="nearest")
    big_maps = F.interpolate(
        torch.from_numpy(maps)[:, None], scale_factor=factor, mode="bilinear", align_corners=False
    )[:, 0]
    return big.permute(0, 2, 3, 1).byte().numpy(), big_maps.clamp(0, 1).numpy()


GRID_COLUMNS = 8


def _grid(frames: np.ndarray, shown: np.ndarray, e: Explanation, path: Path) -> None:
    """The frames and, under them, the frames with their maps, ``GRID_COLUMNS`` frames to a
    row pair, each titled with its time in the source; a colour bar gives the scale (the
    map over its peak) and the title its range."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    T = len(frames)
    columns = min(T, GRID_COLUMNS)
    pairs = math.ceil(T / columns)
    fig, axes = plt.subplots(
        2 * pairs, columns, figsize=(1.8 * columns + 1.0, 2.0 * 2 * pairs), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for t in range(T):
        row, column = 2 * (t // columns), t % columns
        axes[row, column].imshow(frames[t])
        axes[row + 1, column].imshow(shown[t])
        axes[row, column].set_title(f"{e.times[t]:.2f} s", fontsize=8)
    low, high = e.relative_range
    flat = " (nearly uniform)" if high > 0 and low / high > 0.8 else ""
    fig.suptitle(
        f"{e.label} ({e.probability:.0%}), {e.method}; map {low:.2f}-{high:.2f} of its peak{flat}",
        fontsize=9,
    )
    bar = fig.colorbar(
        ScalarMappable(Normalize(0, 1), "jet"), ax=axes.ravel().tolist(), fraction=0.02, pad=0.01
    )
    bar.set_label("relevance / its peak", fontsize=8)
    fig.savefig(path, dpi=100)
    plt.close(fig)
