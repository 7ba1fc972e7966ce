"""Loader throughput: seek-based clip decoding vs decoding whole videos, 1 and 2 workers.

Two datasets are generated (cached under --work): the synthetic motion set (64 px,
16 frames) and longer videos (default 10 s at 25 fps, 320x240, H.264, keyframe every
2 s). Each is read with the training recipe (random 8x4 clip, short side 128-160, crop
112, flip, normalise) through a DataLoader. "whole" decodes every frame of the video and
then samples, as a naive loader does. Prints a Markdown table of clips/s.

    python benchmarks/decode.py [--videos 8] [--seconds 10] [--clips 48]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from videoformer.data import decode
from videoformer.data.datasets import Item, VideoDataset, read_list_file
from videoformer.data.sampling import ClipSampler
from videoformer.data.synthetic import make_motion_dataset, write_video
from videoformer.data.transforms import video_train_transform


class WholeVideoDataset(VideoDataset):
    """The naive loader: decode every frame, then take the sampled ones."""

    def _load(self, i, item, view, rng):
        clip = decode.read_video(item.path)
        indices = self.sampler.train(clip.info.num_frames, rng)
        sample = {"video": clip.frames[indices].permute(0, 3, 1, 2), "label": item.label, "crop": 0}
        return self.transform(sample, rng)


def long_videos(root: Path, n: int, seconds: int) -> list[Item]:
    items = []
    rng = np.random.default_rng(0)
    for i in range(n):
        path = root / f"long_{seconds}s_{i}.mp4"
        if not path.exists():
            T = 25 * seconds
            base = rng.integers(0, 255, (240, 320, 3)).astype(np.float32)
            frames = np.stack([np.roll(base, 3 * t, axis=1) for t in range(T)]).astype(np.uint8)
            write_video(path, frames, fps=25, codec="libx264")
        items.append(Item(path, 0))
    return items


def clips_per_second(ds: VideoDataset, workers: int, clips: int) -> float:
    loader = DataLoader(
        ds,
        batch_size=4,
        num_workers=workers,
        sampler=range(clips) if len(ds) >= clips else None,
        shuffle=False,
    )
    start = time.perf_counter()
    seen = sum(len(b["label"]) for b in loader)
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", default="benchmarks/.work")
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clips", type=int, default=48)
    args = parser.parse_args()
    work = Path(args.work)
    motion = work / "motion"
    if not (motion / "train.csv").exists():
        make_motion_dataset(motion, num_per_class=10, size=64, frames=16)
    sets = {
        "synthetic motion (64 px, 16 frames)": read_list_file(motion / "train.csv", motion),
        f"long ({args.seconds} s, 320x240, 25 fps)": long_videos(work, args.videos, args.seconds),
    }
    transform = video_train_transform(112, [0.45] * 3, [0.225] * 3, short_side=(128, 160))
    sampler = ClipSampler(8, 4)
    torch.set_num_threads(1)
    print("| dataset | loader | workers | clips/s |\n|---|---|---|---|")
    for name, items in sets.items():
        items = (items * (args.clips // len(items) + 1))[: args.clips]
        for cls, label in (
            (VideoDataset, "seek (videoformer)"),
            (WholeVideoDataset, "whole video"),
        ):
            for workers in (1, 2):
                ds = cls(items, sampler, transform)
                print(
                    f"| {name} | {label} | {workers} | "
                    f"{clips_per_second(ds, workers, args.clips):.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
