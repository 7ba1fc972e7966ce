"""Peak memory of a Perceiver forward as the byte array grows (it should grow linearly in M).

Each size runs in its own process; reported is how much the forward raises the
process's peak resident memory (model built and input allocated before). Usage:

    python benchmarks/perceiver_memory.py [--sides 32 64 128 224]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, torch
from videoformer import create_model
from videoformer.models.perceiver import ByteArray
side = int(sys.argv[1])
torch.manual_seed(0)
model = create_model(
    "perceiver", inputs=(ByteArray("image", "BCS", 3, (1, 1), 64, (side, side)),), num_latents=256,
    latent_dim=256, num_cross_attends=2, latent_blocks_per_cross_attend=2, num_classes=10,
).eval()
x = torch.randn(1, 3, side, side)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with torch.no_grad():
    model(x)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"side": side, "M": side * side, "forward_MiB": (peak - before) / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sides", type=int, nargs="+", default=[32, 64, 128, 224])
    args = parser.parse_args()
    print("| image side | M (bytes) | M x M float32 would be | peak RSS of the forward |")
    print("|---|---|---|---|")
    for side in args.sides:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(side)], capture_output=True, text=True, check=True
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        M = row["M"]
        print(f"| {side} | {M:,} | {M * M * 4 / 2**20:,.0f} MiB | {row['forward_MiB']:,.1f} MiB |")


if __name__ == "__main__":
    main()
