"""A code change measured in one process: videoformer at a git revision against the
working tree, on the same weights and input, the two alternated call by call (the
order flipped every round) so that this shared machine's drift hits both.

The revision's package is exported with ``git archive`` into benchmarks/.work/ and
imported beside the working tree's under another name (the package imports itself
relatively). Prints, and with ``--json`` writes, one row per case: median seconds of
each side, their ratio (above 1: the working tree is faster) and the largest
difference of the outputs (0 for a change that keeps the bits).

    python -m benchmarks.ab REV --cases swin_tiny video_swin_tiny [--mode infer|train]
        [--set attention_type=joint_space_time] [--reps 9] [--runs 3] [--batch 1]
        [--threads 2] [--json FILE]

Each case runs ``--runs`` times, each in a fresh process (one process per run: a second
model's allocations can change the first's). Training steps are forward,
cross-entropy, backward and AdamW (lr 0, so that the weights stay the same).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.compare import cpu_name, matmul_ceiling

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
BASE = "videoformer_base"  # the revision's package, imported under this name


def export_revision(rev: str) -> Path:
    """The revision's ``src/videoformer`` as ``benchmarks/.work/ab-<sha>/videoformer_base``."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short=12", rev],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    folder = WORK / f"ab-{sha}"
    if not (folder / BASE).is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", sha, "src/videoformer"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        (folder / "src" / "videoformer").rename(folder / BASE)
    return folder


def parse_overrides(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings as ``create_model`` overrides (VALUE a Python literal or a word)."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE")
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    return overrides


def measure(
    folder: Path, case: str, mode: str, reps: int, batch: int, overrides: dict | None = None
) -> dict:
    """One run in this process: both sides built, checked against each other, alternated."""
    sys.path.insert(0, str(folder))
    base_pkg, head_pkg = importlib.import_module(BASE), importlib.import_module("videoformer")
    torch.manual_seed(0)
    head = head_pkg.create_model(case, **(overrides or {}))
    base = base_pkg.create_model(case, **(overrides or {}))
    base.load_state_dict(head.state_dict())
    x = torch.randn(batch, *head.input_shape)
    y = torch.randint(0, head.config.num_classes, (batch,))
    sides = {"base": base, "head": head}
    if mode == "infer":
        for model in sides.values():
            model.eval()

        def run(model):
            with torch.inference_mode():
                return model(x)
    else:
        optimisers = {id(m): torch.optim.AdamW(m.parameters(), lr=0.0) for m in sides.values()}

        def run(model):
            torch.manual_seed(1)  # the same drop path draws on both sides
            loss = F.cross_entropy(model.train()(x), y)
            loss.backward()
            optimisers[id(model)].step()
            optimisers[id(model)].zero_grad(set_to_none=True)
            return loss.detach()

    outputs = {name: run(model) for name, model in sides.items()}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(reps):
        for name in sorted(sides, reverse=bool(r % 2)):
            start = time.perf_counter()
            run(sides[name])
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(t) for name, t in times.items()}
    return {
        "case": case,
        "overrides": overrides or {},
        "mode": mode,
        "batch": batch,
        "reps": reps,
        "base_s": round(median["base"], 4),
        "head_s": round(median["head"], 4),
        "base_over_head": round(median["base"] / median["head"], 3),
        "max_abs_diff": (outputs["base"] - outputs["head"]).abs().max().item(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="git revision to measure the working tree against")
    parser.add_argument("--cases", nargs="+", required=True, help="registered model names")
    parser.add_argument("--mode", choices=("infer", "train"), default="infer")
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE model override")
    parser.add_argument("--reps", type=int, default=9, help="timed calls per side and run")
    parser.add_argument("--runs", type=int, default=3, help="processes per case")
    parser.add_argument("--batch", type=int, help="default: 1 (infer), 2 (train)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the rows and the machine here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    batch = args.batch or (1 if args.mode == "infer" else 2)
    if args.child:  # one run of one case, in this fresh process
        overrides = parse_overrides(args.set)
        row = measure(args.child, args.cases[0], args.mode, args.reps, batch, overrides)
        print(json.dumps(row))
        return
    folder = export_revision(args.rev)
    ceiling = [matmul_ceiling(args.threads, torch.device("cpu"))]
    rows = []
    for case in args.cases:
        for _ in range(args.runs):
            command = [sys.executable, "-m", "benchmarks.ab", args.rev, "--cases", case]
            command += ["--mode", args.mode, "--reps", str(args.reps), "--batch", str(batch)]
            command += ["--threads", str(args.threads), "--child", str(folder)]
            command += [f"--set={pair}" for pair in args.set]
            out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    ceiling.append(matmul_ceiling(args.threads, torch.device("cpu")))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": f"{cpu_name()}, torch {torch.__version__}, {args.threads} threads",
                    "base": args.rev,
                    "ceiling_gflops_before_after": [round(c) for c in ceiling],
                    "rows": rows,
                },
                indent=1,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
