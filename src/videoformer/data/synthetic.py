"""The built-in dataset: synthetic motion, written as real encoded video files.

Ten classes in five pairs that differ only in the order of frames: moving left/right,
moving up/down, growing/shrinking, rotating clockwise/counter-clockwise,
appearing/disappearing. Each clip of the second class of a pair is drawn as a clip of
the first class played backwards, so within a pair a single frame — or any order-free
summary of the frames — has the same distribution for both classes. Shapes, colours,
positions, speeds, backgrounds and per-frame noise are random. Rotation classes use
only shapes without rotational symmetry (no circles or squares), drawn larger and with a
contrasting disc at their tip so that their orientation stays readable at low resolution;
they turn 2-6 degrees per frame, so that between frames a few apart an arm stays in
view of the same patch (docs/data.md).

Files: ``videos/<class>/<class>_<i>.mp4`` (H.264 through PyAV, single-threaded, no
creation time, no lookahead: the same seed gives byte-identical files in any process, see
``x264``), ``train.csv`` and ``val.csv`` (``path,label``), ``labels.txt``, ``boxes.json``
(per-frame bounding box of the shape, null when invisible), ``flip_map.json`` (label
pairs a horizontal flip swaps).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..progress import Progress
from .pyav import av
from .x264 import BITEXACT, REPRODUCIBLE

CLASSES = (
    "moving_left",
    "moving_right",
    "moving_up",
    "moving_down",
    "growing",
    "shrinking",
    "rotating_clockwise",
    "rotating_counterclockwise",
    "appearing",
    "disappearing",
)
# the second of each pair is the first played backwards
REVERSED = {
    "moving_left": "moving_right",
    "moving_up": "moving_down",
    "shrinking": "growing",
    "rotating_counterclockwise": "rotating_clockwise",
    "disappearing": "appearing",
}
FLIP_SWAPS = (("moving_left", "moving_right"), ("rotating_clockwise", "rotating_counterclockwise"))

# shapes as unions of convex polygons in a unit box (y down)
_SQUARE = [[(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)]]
_TRIANGLE = [[(0.0, -1.0), (0.9, 0.7), (-0.9, 0.7)]]
_L = [
    [(-0.8, -1.0), (-0.3, -1.0), (-0.3, 1.0), (-0.8, 1.0)],
    [(-0.3, 0.5), (0.8, 0.5), (0.8, 1.0), (-0.3, 1.0)],
]
_ARROW = [
    [(-1.0, -0.25), (0.2, -0.25), (0.2, 0.25), (-1.0, 0.25)],
    [(0.2, -0.7), (1.0, 0.0), (0.2, 0.7)],
]
_CROSS = [
    [(-1.0, -0.3), (1.0, -0.3), (1.0, 0.3), (-1.0, 0.3)],
    [(-0.3, -1.0), (0.3, -1.0), (0.3, 1.0), (-0.3, 1.0)],
]
SHAPES = {
    "circle": None,
    "square": _SQUARE,
    "triangle": _TRIANGLE,
    "L": _L,
    "arrow": _ARROW,
    "cross": _CROSS,
}
ROTATION_SHAPES = ("L", "arrow")  # no rotational symmetry: any speed is unambiguous
ROTATION_DEGREES_PER_FRAME = (2.0, 6.0)
SUPERSAMPLE = 2


def _coverage(
    shape: str, size: int, cx: float, cy: float, scale: float, angle: float
) -> np.ndarray:
    """Fraction of each pixel inside the shape (supersampled), (size, size) float32."""
    n = size * SUPERSAMPLE
    coords = (np.arange(n) + 0.5) / SUPERSAMPLE
    y, x = np.meshgrid(coords, coords, indexing="ij")
    c, s = math.cos(-angle), math.sin(-angle)
    u = (c * (x - cx) - s * (y - cy)) / scale  # pixel -> shape frame
    v = (s * (x - cx) + c * (y - cy)) / scale
    if shape == "marker":  # a disc at the shape's tip: makes the orientation easy to see
        inside = (u - 0.75) ** 2 + v**2 <= 0.35**2
    elif SHAPES[shape] is None:
        inside = u * u + v * v <= 1.0
    else:
        inside = np.zeros_like(u, dtype=bool)
        for poly in SHAPES[shape]:
            part = np.ones_like(inside)
            for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1]):
                part &= (x1 - x0) * (v - y0) - (y1 - y0) * (
                    u - x0
                ) >= 0  # left of each edge (clockwise on screen)
            inside |= part
    return inside.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3)).astype(np.float32)


def _trajectory(
    cls: str, frames: int, size: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per-frame centre, scale, angle and opacity of the first class of a pair."""
    t = np.arange(frames, dtype=np.float64)
    scale = np.full(frames, rng.uniform(0.12, 0.2) * size)
    angle = np.full(frames, rng.uniform(0, 2 * math.pi))
    alpha = np.ones(frames)
    margin = scale[0] * 1.1
    cx = np.full(frames, rng.uniform(margin, size - margin))
    cy = np.full(frames, rng.uniform(margin, size - margin))
    if cls in ("moving_right", "moving_down"):
        speed = rng.uniform(0.5, 1.0) * (size - 2 * margin) / (frames - 1)
        start = rng.uniform(margin, size - margin - speed * (frames - 1))
        path = start + speed * t
        if cls == "moving_right":
            cx = path
        else:
            cy = path
    elif cls == "growing":
        end = rng.uniform(0.18, 0.26) * size
        begin = end * rng.uniform(0.3, 0.5)
        scale = begin * (end / begin) ** (t / (frames - 1))
        margin = end * 1.1
        cx[:], cy[:] = rng.uniform(margin, size - margin, 2)
    elif cls == "rotating_clockwise":
        scale[:] = (
            rng.uniform(0.2, 0.28) * size
        )  # larger shapes: their orientation stays readable at low resolution
        margin = scale[0] * 1.1
        cx[:], cy[:] = rng.uniform(margin, size - margin, 2)
        angle = (
            angle[0] + math.radians(rng.uniform(*ROTATION_DEGREES_PER_FRAME)) * t
        )  # y points down: positive is clockwise
    elif cls == "appearing":
        start = rng.integers(
            frames // 4, frames // 2
        )  # hidden in the first quarter, shown in the second half
        ramp = rng.integers(1, max(2, frames // 4))
        alpha = np.clip((t - start + 1) / ramp, 0, 1)
    return {"cx": cx, "cy": cy, "scale": scale, "angle": angle, "alpha": alpha}


def render_clip(
    cls: str, frames: int, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, list]:
    """One clip of ``cls``: uint8 (T, H, W, 3) frames and per-frame boxes
    [x0, y0, x1, y1] or None."""
    base = REVERSED.get(cls, cls)
    pool = ROTATION_SHAPES if base == "rotating_clockwise" else tuple(SHAPES)
    shape = pool[rng.integers(len(pool))]
    traj = _trajectory(base, frames, size, rng)
    background = rng.uniform(0, 110, 3)  # darker backgrounds, brighter shapes: always visible
    colour = rng.uniform(150, 255, 3)
    noise = rng.uniform(2, 10)
    marker_colour = 255 - colour  # rotating shapes carry a contrasting tip marker
    video = np.empty((frames, size, size, 3), dtype=np.uint8)
    boxes = []
    for i in range(frames):
        pose = (traj["cx"][i], traj["cy"][i], traj["scale"][i], traj["angle"][i])
        cover = _coverage(shape, size, *pose) * traj["alpha"][i]
        img = background * (1 - cover[..., None]) + colour * cover[..., None]
        if base == "rotating_clockwise":
            mark = _coverage("marker", size, *pose)
            img = img * (1 - mark[..., None]) + marker_colour * mark[..., None]
        img += rng.normal(0, noise, img.shape)
        video[i] = np.clip(img, 0, 255).round().astype(np.uint8)
        ys, xs = np.nonzero(cover >= 0.5)
        boxes.append(
            [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
            if len(xs)
            else None
        )
    if cls in REVERSED:
        return video[::-1].copy(), boxes[::-1]
    return video, boxes


def write_video(
    path: str | Path, frames: np.ndarray, fps: int = 16, codec: str = "libx264"
) -> None:
    """Encode uint8 (T, H, W, 3) frames deterministically: the same bytes in any process
    (see ``x264``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options=BITEXACT) as container:
        options = (
            {"threads": "1", "crf": "18", "g": "16", "x264-params": REPRODUCIBLE}
            if codec == "libx264"
            else {"threads": "1"}
        )
        stream = container.add_stream(codec, rate=fps, options=options)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def make_motion_dataset(
    root: str | Path,
    num_per_class: int = 20,
    size: int = 64,
    frames: int = 16,
    seed: int = 0,
    val_fraction: float = 0.2,
    fps: int = 16,
    progress: bool = False,
) -> Path:
    """Write the synthetic motion dataset under ``root`` and return ``root`` (``progress``:
    a bar, or a line every 10 s off a terminal)."""
    root = Path(root)
    rows: dict[str, list[str]] = {"train": [], "val": []}
    boxes: dict[str, list] = {}
    num_val = max(1, round(num_per_class * val_fraction)) if num_per_class > 1 else 0
    clips = [(label, cls, i) for label, cls in enumerate(CLASSES) for i in range(num_per_class)]
    bar = Progress(clips, len(clips), "writing the synthetic set", enabled=progress, interval=10.0)
    for label, cls, i in bar:
        rng = np.random.default_rng([seed, label, i])
        video, clip_boxes = render_clip(cls, frames, size, rng)
        rel = f"videos/{cls}/{cls}_{i:04d}.mp4"
        write_video(root / rel, video, fps)
        boxes[rel] = clip_boxes
        rows["val" if i >= num_per_class - num_val else "train"].append(f"{rel},{label}")
    bar.close()
    for split, lines in rows.items():
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
    (root / "labels.txt").write_text("\n".join(CLASSES) + "\n")
    (root / "boxes.json").write_text(json.dumps(boxes))
    (root / "flip_map.json").write_text(json.dumps(flip_map(), indent=1))
    return root


def flip_map() -> dict[str, str]:
    """Class names a horizontal flip turns into each other (both directions)."""
    return {a: b for a, b in FLIP_SWAPS} | {b: a for a, b in FLIP_SWAPS}
