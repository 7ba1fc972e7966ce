"""End-to-end evaluation throughput: decode + official test views + model, 1 clip x 3 crops.

Long videos (10 s at 25 fps, 320x240, H.264, generated and cached under --work) through
a test-mode ``VideoDataset`` with the TimeSformer protocol (8x32, three 224 crops) and a
small TimeSformer at 224 px (so that the data side, which this measures, is not hidden by
a large model), with ``evaluate`` as ``videoformer eval`` runs it. Prints videos/s.

    python benchmarks/eval_pipeline.py [--videos 8] [--workers 0] [--reps 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from benchmarks.decode import long_videos
from videoformer import create_model
from videoformer.data.datasets import VideoDataset
from videoformer.data.protocols import TimeSformerProtocol
from videoformer.data.sampling import ClipSampler
from videoformer.engine.evaluate import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--work", default="benchmarks/.work")
    args = parser.parse_args()
    items = long_videos(Path(args.work) / "long", args.videos, 10)
    protocol = TimeSformerProtocol(8, 32, 1, 3, 224, 256, (0.45,) * 3, (0.225,) * 3)
    model = create_model("timesformer", embed_dim=64, depth=2, num_heads=2, num_classes=10).eval()
    torch.set_num_threads(2)
    times = []
    for _ in range(args.reps):
        dataset = VideoDataset(items, ClipSampler(8, 32), None, train=False, protocol=protocol)
        start = time.perf_counter()
        result = evaluate(model, dataset, 3, num_workers=args.workers, progress=False)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(
        f"{result['num_videos']} videos x {result['views_per_video']} views, "
        f"{args.workers} workers: {median:.2f} s median of {args.reps}, "
        f"{args.videos / median:.2f} videos/s"
    )


if __name__ == "__main__":
    main()
