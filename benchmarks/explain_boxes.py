"""Does a trained model's map follow the moving shape? On the synthetic motion dataset
(whose generator writes each clip's per-frame bounding boxes), the map's mass inside the
boxes over the boxes' share of the view (``videoformer.inference.explanation.region_ratio``; 1 is
no better than uniform), over every n-th validation clip of a trained run.

    python -m benchmarks.explain_boxes RUN_DIR [--every 5] [--method gradient_rollout]

RUN_DIR is a demo output (``videoformer demo --out RUN_DIR``): its model.safetensors and
dataset/.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import av
import numpy as np
import torch

from videoformer import Predictor, explain
from videoformer.inference.explanation import region_ratio


def box_ratios(run: Path, every: int = 5, method: str | None = None) -> dict[str, list[float]]:
    """{class folder: the ratios of its clips} over every n-th validation clip."""
    root = Path(run) / "dataset"
    boxes = json.loads((root / "boxes.json").read_text())
    predictor = Predictor(Path(run) / "model.safetensors", views="1x1")
    ratios: dict[str, list[float]] = {}
    for line in (root / "val.csv").read_text().split()[::every]:
        path = line.split(",")[0]
        with av.open(str(root / path)) as container:
            frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
        region = np.zeros(frames.shape[:3], dtype=bool)
        for t, box in enumerate(boxes[path]):
            if box is not None:
                x0, y0, x1, y1 = box
                region[t, y0 : y1 + 1, x0 : x1 + 1] = True
        explanation = explain(predictor.model, torch.from_numpy(frames), method=method)
        ratio = region_ratio(explanation, predictor, region)
        if ratio is not None:
            ratios.setdefault(Path(path).parent.name, []).append(ratio)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=["gradient_rollout", "rollout"])
    args = parser.parse_args()
    by_method = {m: box_ratios(args.run, args.every, m) for m in args.methods}
    print("| method | clips | mean ratio | median | lowest | below 1 |\n|---|---|---|---|---|---|")
    for method, by_class in by_method.items():
        r = [x for values in by_class.values() for x in values]
        print(
            f"| {method} | {len(r)} | {statistics.mean(r):.2f} | {statistics.median(r):.2f} "
            f"| {min(r):.2f} | {sum(x < 1 for x in r)} |"
        )
    print("\n| class | " + " | ".join(f"{m} mean (lowest)" for m in by_method) + " |")
    print("|---|" + "---|" * len(by_method))
    for name in sorted(next(iter(by_method.values()))):
        cells = [f"{statistics.mean(b[name]):.2f} ({min(b[name]):.2f})" for b in by_method.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
