"""videoformer against the implementations people use, in one run, on the same weights.

Five kinds of rows, each case in its own process (``benchmarks/peers.py`` builds the pairs):

- ``infer``: eager float32 forward, batch 1; ours and the peer alternate in one process
  (ours, peer, ours, peer...) so that drift of this shared machine hits both; with
  ``--separate`` each model runs alone in its own processes instead, alternated
  (--rounds), the lower of its per-process medians kept (the two can disagree: one
  process shares its allocator and caches between the models).
- ``compile``: ``videoformer.compile_model`` against our eager model and the peer's,
  the three alternated in one process; the first call (the compile) is timed apart.
- ``onnx``: our ``export_onnx`` file run by onnxruntime, alternated with our eager model
  and the peer's.
- ``train``: one step of forward + cross-entropy + backward + AdamW, batch 2; ours and the
  peer each in their own processes, alternated (--rounds), so that each peak memory is
  its own (RSS on the CPU, ``torch.cuda.max_memory_allocated`` on a GPU).
- ``long``: TimeSformer-B on long clips, ours only: joint attention over 96 frames
  (forward), and training steps with gradient checkpointing (joint 32 frames, divided 96).

The float32 matmul ceiling (2048^3 ``torch.mm``) is measured before and after. Reported:
medians, ratios peer / ours (above 1: videoformer is faster), targets from issue 21, the
largest logit difference. Writes a JSON of every row and, with matplotlib, a bar chart.

    bash benchmarks/install_peers.sh
    .venv-peers/bin/python -m benchmarks.compare [--kinds infer train ...] [--reps 7]
        [--separate] [--threads 2] [--device cpu|cuda] [--json FILE] [--chart FILE.png]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

KINDS = ("infer", "compile", "onnx", "train", "long")
CASES_OF = {
    "infer": (
        "timesformer_divided",
        "timesformer_joint",
        "swin_tiny",
        "video_swin_tiny",
        "perceiver_io_fourier",
    ),
    "compile": ("timesformer_divided", "swin_tiny", "video_swin_tiny"),
    "onnx": ("timesformer_divided", "swin_tiny", "video_swin_tiny"),
    "train": ("timesformer_divided", "video_swin_tiny", "swin_tiny"),
    "long": ("joint_96_forward", "joint_32_train_checkpointed", "divided_96_train_checkpointed"),
}
# issue 21 (14 before it): the least ratio peer / ours; for compiled TimeSformer the fraction of the
# ceiling; for the training step's memory the most ours / peer; long clips: GiB at most
TARGETS = {
    ("infer", "timesformer_divided"): 1.1,
    ("infer", "timesformer_joint"): 1.6,
    ("infer", "swin_tiny"): 1.3,
    ("infer", "video_swin_tiny"): 2.0,
    ("infer", "perceiver_io_fourier"): 1.15,
    ("compile", "timesformer_divided"): 0.95,  # of the matmul ceiling
    ("compile", "video_swin_tiny"): 2.5,
    ("compile_vs_eager", "swin_tiny"): 1.0,  # no slower than our eager model
    ("compile_vs_eager", "video_swin_tiny"): 1.0,
    ("train", "timesformer_divided"): 1.2,
    ("train", "video_swin_tiny"): 1.5,
    ("train", "swin_tiny"): 1.3,
    ("train_memory", "timesformer_divided"): 0.75,
    ("train_memory", "video_swin_tiny"): 0.8,
    ("long", "joint_32_train_checkpointed"): 6.0,
    ("long", "divided_96_train_checkpointed"): 6.0,
}
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- measuring, in a child


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def alternate(runs: dict[str, Callable[[], object]], reps: int, device) -> dict[str, float]:
    """Median seconds of each run, the runs interleaved ``reps`` times."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            _sync(device)
            start = time.perf_counter()
            run()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def peak_memory_gib(device: torch.device) -> float:
    """This process's high-water mark: RSS on the CPU, allocated memory on a GPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    diff = (a.float() - b.float()).abs().max().item()
    return {"max_abs_diff": diff, "rel_diff": diff / max(b.abs().max().item(), 1e-12)}


def _gflop(model, shape: tuple[int, ...]) -> float:
    from videoformer.flops import count_flops

    return count_flops(model, shape) / 1e9


def child_infer(case: str, reps: int, device: torch.device, impl: str = "both") -> dict:
    """Both models alternated in this process (``impl`` "both"), or one alone: "ours"
    (also the logit difference, params and FLOPs) or "peer", the other model deleted
    before the timing."""
    from benchmarks.peers import build

    pair = build(case)
    ours = pair.ours.to(device)
    pair.peer.to(device)
    x = torch.randn(1, *pair.input_shape, device=device)
    result = {"peer": pair.label}
    with torch.no_grad():
        if impl != "peer":
            result |= _max_diff(ours(x), pair.run_peer(x))  # also the warm-up of both
            result["params"] = sum(p.numel() for p in ours.parameters())
            result["gflop"] = _gflop(ours, (1, *pair.input_shape))
        runs = {"ours": lambda: ours(x), "peer": lambda: pair.run_peer(x)}
        if impl != "both":
            if impl == "ours":
                pair.peer = None
            else:
                del ours
            gc.collect()
            runs = {impl: runs[impl]}
            runs[impl]()  # warm-up
        times = alternate(runs, reps, device)
    return result | {f"{name}_s": t for name, t in times.items()}


def child_compile(case: str, reps: int, device: torch.device) -> dict:
    from benchmarks.peers import build
    from videoformer import compile_model

    pair = build(case)
    ours = pair.ours.to(device)
    pair.peer.to(device)
    compiled = compile_model(ours)
    x = torch.randn(1, *pair.input_shape, device=device)
    with torch.no_grad():
        start = time.perf_counter()
        out = compiled(x)
        _sync(device)
        compile_s = time.perf_counter() - start
        result = _max_diff(out, ours(x))  # against our eager model
        pair.run_peer(x)
        times = alternate(
            {
                "ours": lambda: compiled(x),
                "eager": lambda: ours(x),
                "peer": lambda: pair.run_peer(x),
            },
            reps,
            device,
        )
    return {
        "peer": pair.label + " (eager)",
        "gflop": _gflop(ours, (1, *pair.input_shape)),
        "compile_s": compile_s,
        "ours_s": times["ours"],
        "eager_s": times["eager"],
        "peer_s": times["peer"],
        **result,
    }


def child_onnx(case: str, reps: int, device: torch.device) -> dict:
    import onnxruntime

    from benchmarks.peers import build
    from videoformer.inference.export import export_onnx

    pair = build(case)  # on the CPU: onnxruntime's CPU provider
    ours = pair.ours
    with tempfile.TemporaryDirectory() as tmp:
        report = export_onnx(ours, Path(tmp) / f"{case}.onnx")
        session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
        x = torch.randn(1, *pair.input_shape)
        name = session.get_inputs()[0].name
        run_ort = lambda: session.run(None, {name: x.numpy()})[0]  # noqa: E731
        with torch.no_grad():
            ours(x)
            pair.run_peer(x)
            run_ort()
            times = alternate(
                {"ort": run_ort, "ours": lambda: ours(x), "peer": lambda: pair.run_peer(x)},
                reps,
                torch.device("cpu"),
            )
    return {
        "peer": pair.label,
        "export_s": report.export_seconds,
        "megabytes": report.megabytes,
        "max_abs_diff": report.max_abs_diff,
        "rel_diff": report.relative_diff,
        "ort_s": times["ort"],
        "ours_s": times["ours"],
        "peer_s": times["peer"],
    }


def _train_steps(model, logits_of, shape, steps: int, device) -> list[float]:
    """Seconds of each of ``steps`` training steps after one warm-up step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(shape, device=device)
    y = torch.randint(0, 400, (shape[0],), device=device)
    times = []
    for i in range(steps + 1):
        _sync(device)
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(logits_of(model, x), y).backward()
        optimizer.step()
        _sync(device)
        if i:
            times.append(time.perf_counter() - start)
    return times


def child_train(case: str, impl: str, reps: int, device: torch.device) -> dict:
    """One implementation only, so that the peak memory is its own."""
    from benchmarks.peers import build

    pair = build(case, training=True)
    if impl == "ours":
        model, logits_of = pair.ours, lambda m, x: m(x)
    else:
        model, logits_of = pair.peer, pair.peer_logits
    shape = (2, *pair.input_shape)
    del pair  # the other model goes before the steps
    gc.collect()
    model.to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = _train_steps(model, logits_of, shape, reps, device)
    return {"step_s": times, "peak_gib": peak_memory_gib(device)}


def child_long(case: str, reps: int, device: torch.device) -> dict:
    from videoformer import create_model

    attention, frames, mode = case.split("_")[:3]  # e.g. joint_96_forward
    build = lambda: create_model(  # noqa: E731
        "timesformer_base",
        attention_type=f"{attention}_space_time",
        num_frames=int(frames),
        drop_path_rate=0.0,
    )
    shape = (1, 3, int(frames), 224, 224)
    with torch.device("meta"):  # counts without memory or time
        gflop = _gflop(build(), shape)
    model = build().to(device)
    if mode == "forward":
        x = torch.randn(shape, device=device)
        with torch.no_grad():
            _sync(device)
            start = time.perf_counter()
            model.eval()(x)
            _sync(device)
            times = [time.perf_counter() - start]
    else:
        model.set_grad_checkpointing(True)
        model.train()
        times = _train_steps(model, lambda m, x: m(x), shape, 1, device)
    return {"seconds": times[0], "gflop": gflop, "peak_gib": peak_memory_gib(device)}


def child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("case")
    parser.add_argument("--impl", choices=("ours", "peer", "both"), default="both")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    if args.kind == "train":
        result = child_train(args.case, args.impl, args.reps, device)
    elif args.kind == "infer" and args.impl != "both":
        result = child_infer(args.case, args.reps, device, args.impl)
    else:
        run = {
            "infer": child_infer,
            "compile": child_compile,
            "onnx": child_onnx,
            "long": child_long,
        }[args.kind]
        result = run(args.case, args.reps, device)
    print(json.dumps(result))


# ------------------------------------------------------------------------ the parent


def matmul_ceiling(threads: int, device: torch.device, n: int = 2048, reps: int = 5) -> float:
    """Best-of-``reps`` float32 ``torch.mm`` rate in GFLOP/s."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        _sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_child(args, kind: str, case: str, impl: str = "both") -> dict | None:
    command = [
        sys.executable,
        "-m",
        "benchmarks.compare",
        "--child",
        kind,
        case,
        "--impl",
        impl,
        "--reps",
        str(args.reps if kind != "train" else args.steps),
        "--threads",
        str(args.threads),
        "--device",
        args.device,
    ]
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    print(
        f"  {kind} {case} {impl}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True
    )
    if out.returncode:
        print(f"{kind} {case} {impl} failed:\n{out.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(args, kind: str, case: str) -> dict | None:
    if kind == "infer" and args.separate:
        return measure_apart(args, case)
    if kind != "train":
        return run_child(args, kind, case)
    runs = {"ours": [], "peer": []}
    for _ in range(args.rounds):  # processes alternate: ours, peer, ours, peer...
        for impl in runs:
            result = run_child(args, kind, case, impl)
            if result is None:
                return None
            runs[impl].append(result)
    return {
        **{
            f"{impl}_s": statistics.median(t for r in rs for t in r["step_s"])
            for impl, rs in runs.items()
        },
        **{f"{impl}_peak_gib": max(r["peak_gib"] for r in rs) for impl, rs in runs.items()},
        "steps": sum(len(r["step_s"]) for r in runs["ours"]),
    }


def measure_apart(args, case: str) -> dict | None:
    """Inference with each model in its own processes, alternated (ours, peer, ours,
    peer...): the lower of each model's per-process medians."""
    runs = {"ours": [], "peer": []}
    for _ in range(args.rounds):
        for impl in runs:
            result = run_child(args, "infer", case, impl)
            if result is None:
                return None
            runs[impl].append(result)
    return {
        **runs["ours"][0],
        "ours_s": min(r["ours_s"] for r in runs["ours"]),
        "peer_s": min(r["peer_s"] for r in runs["peer"]),
        "ours_s_per_process": [r["ours_s"] for r in runs["ours"]],
        "peer_s_per_process": [r["peer_s"] for r in runs["peer"]],
        "separate_processes": True,
    }


def _verdict(kind: str, case: str, value: float, at_most: bool = False) -> str:
    target = TARGETS.get((kind, case))
    if target is None:
        return "—"
    met = value <= target if at_most else value >= target
    sign = "≤" if at_most else "≥"
    return f"{sign} {target:g}: {'met' if met else 'missed'}"


def hf_joint_attention_gib(frames: int, heads: int = 12, patches: int = 196) -> float:
    """HF's explicit attention keeps the scores and their softmax, heads x N x N floats
    each, for one layer at a time (batch 1)."""
    tokens = frames * patches + 1
    return 2 * heads * tokens**2 * 4 / 2**30


def report(results: dict, ceiling: float) -> list[str]:
    """Markdown tables of every kind that ran; ``ratios`` collects (label, ratio, target)."""
    lines = []

    def table(title, header, rows):
        if rows:
            lines.extend(
                [
                    "",
                    f"### {title}",
                    "",
                    "| " + " | ".join(header) + " |",
                    "|" + "---|" * len(header),
                ]
            )
            lines.extend("| " + " | ".join(row) + " |" for row in rows)

    rows = []
    for case, r in results.get("infer", {}).items():
        rate = r["gflop"] / r["ours_s"]
        ratio = r["peer_s"] / r["ours_s"]
        rows.append(
            [
                case,
                r["peer"],
                f"{r['params'] / 1e6:.2f}M",
                f"{r['gflop']:.1f}",
                f"{r['ours_s']:.3f}",
                f"{r['peer_s']:.3f}",
                f"**{ratio:.2f}**",
                _verdict("infer", case, ratio),
                f"{rate:.0f} ({rate / ceiling:.0%})",
                f"{r['max_abs_diff']:.1e} ({r['rel_diff']:.0e})",
            ]
        )
    table(
        "Inference, eager float32, batch 1",
        [
            "model",
            "peer",
            "params",
            "GFLOP",
            "videoformer s",
            "peer s",
            "peer / ours",
            "target",
            "videoformer GFLOP/s (of ceiling)",
            "max abs logit diff (relative)",
        ],
        rows,
    )

    rows = []
    for case, r in results.get("compile", {}).items():
        rate = r["gflop"] / r["ours_s"]
        ratio = r["peer_s"] / r["ours_s"]
        target = (
            _verdict("compile", case, rate / ceiling)
            if case == "timesformer_divided"
            else _verdict("compile", case, ratio)
        )
        eager = r.get("eager_s")  # absent from runs before 2026-12-04
        vs_eager = (
            ["—"] * 3
            if eager is None
            else [
                f"{eager:.3f}",
                f"**{eager / r['ours_s']:.2f}**",
                _verdict("compile_vs_eager", case, eager / r["ours_s"]),
            ]
        )
        rows.append(
            [
                case,
                r["peer"],
                f"{r['compile_s']:.0f}",
                f"{r['ours_s']:.3f}",
                *vs_eager,
                f"{r['peer_s']:.3f}",
                f"**{ratio:.2f}**",
                f"{rate:.0f} ({rate / ceiling:.0%})",
                target,
                f"{r['max_abs_diff']:.1e}",
            ]
        )
    table(
        "Compiled (`compile_model`), against the peer in eager mode",
        [
            "model",
            "peer",
            "compile s (first call)",
            "compiled s",
            "our eager s",
            "eager / compiled",
            "target",
            "peer s",
            "peer / ours",
            "compiled GFLOP/s (of ceiling)",
            "target",
            "max abs diff to eager",
        ],
        rows,
    )

    rows = []
    for case, r in results.get("onnx", {}).items():
        rows.append(
            [
                case,
                f"{r['export_s']:.0f}",
                f"{r['megabytes']:.0f}",
                f"{r['ort_s']:.3f}",
                f"{r['ours_s']:.3f}",
                f"{r['peer_s']:.3f}",
                f"**{r['peer_s'] / r['ort_s']:.2f}**",
                f"{r['ours_s'] / r['ort_s']:.2f}",
                f"{r['max_abs_diff']:.1e} ({r['rel_diff']:.0e})",
            ]
        )
    table(
        "ONNX (`videoformer export`), onnxruntime on the CPU",
        [
            "model",
            "export s",
            "MB",
            "onnxruntime s",
            "videoformer eager s",
            "peer eager s",
            "peer / onnxruntime",
            "videoformer eager / onnxruntime",
            "max abs diff to PyTorch (relative)",
        ],
        rows,
    )

    rows = []
    for case, r in results.get("train", {}).items():
        ratio = r["peer_s"] / r["ours_s"]
        memory = r["ours_peak_gib"] / r["peer_peak_gib"]
        rows.append(
            [
                case,
                f"{r['ours_s']:.2f}",
                f"{r['peer_s']:.2f}",
                f"**{ratio:.2f}**",
                _verdict("train", case, ratio),
                f"{r['ours_peak_gib']:.2f}",
                f"{r['peer_peak_gib']:.2f}",
                f"**{memory:.2f}**",
                _verdict("train_memory", case, memory, at_most=True),
            ]
        )
    table(
        "Training step (forward + cross-entropy + backward + AdamW, batch 2, float32; "
        "median of the steps of all rounds)",
        [
            "model",
            "videoformer s/step",
            "peer s/step",
            "peer / ours",
            "target",
            "videoformer peak GiB",
            "peer peak GiB",
            "ours / peer memory",
            "target",
        ],
        rows,
    )

    rows = []
    for case, r in results.get("long", {}).items():
        what = "forward, no grad" if "forward" in case else "train step, checkpointed"
        note = ""
        if case == "joint_96_forward":
            note = (
                f"HF's explicit attention: {hf_joint_attention_gib(96):.0f} GiB for one "
                "layer's scores and softmax (computed, not run)"
            )
        rows.append(
            [
                case,
                what,
                f"{r['gflop'] / 1e3:.1f}",
                f"{r['seconds']:.1f}",
                f"{r['peak_gib']:.2f}",
                _verdict("long", case, r["peak_gib"], at_most=True),
                note,
            ]
        )
    table(
        "Long clips (TimeSformer-B, batch 1, videoformer only)",
        ["case", "what", "TFLOP (forward)", "s", "peak GiB", "target GiB", "note"],
        rows,
    )
    return lines


def ratios(results: dict) -> list[tuple[str, float, float | None]]:
    """(label, value, target) for the chart: speed ratios peer / ours, memory peer / ours."""
    out = []
    for kind in ("infer", "compile", "train"):
        for case, r in results.get(kind, {}).items():
            target = TARGETS.get((kind, case))
            if kind == "compile" and case == "timesformer_divided":
                target = None  # its target is a fraction of the ceiling, not a ratio
            out.append((f"{kind}: {case}", r["peer_s"] / r["ours_s"], target))
    for case, r in results.get("onnx", {}).items():
        out.append((f"onnx: {case}", r["peer_s"] / r["ort_s"], None))
    for case, r in results.get("train", {}).items():
        target = TARGETS.get(("train_memory", case))
        out.append(
            (
                f"train memory: {case}",
                r["peer_peak_gib"] / r["ours_peak_gib"],
                1 / target if target else None,
            )
        )
    return out


def chart(points: list[tuple[str, float, float | None]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.4 * len(points) + 1.2))
    labels = [p[0] for p in points][::-1]
    values = [p[1] for p in points][::-1]
    colours = ["tab:green" if p[2] is None or p[1] >= p[2] else "tab:red" for p in points][::-1]
    ax.barh(labels, values, color=colours)
    for i, p in enumerate(points[::-1]):
        ax.text(p[1], i, f" {p[1]:.2f}", va="center", fontsize=8)
        if p[2] is not None:
            ax.plot([p[2], p[2]], [i - 0.4, i + 0.4], color="black", linewidth=2)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("peer / videoformer (above 1: videoformer faster or smaller; bar: target)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child_main(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--only", nargs="+", help="cases to run (default: all of each kind)")
    parser.add_argument("--reps", type=int, default=7, help="timed calls per model")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per training process")
    parser.add_argument(
        "--rounds", type=int, default=2, help="processes per model (training, --separate)"
    )
    parser.add_argument(
        "--separate",
        action="store_true",
        help="inference: each model in its own processes, alternated, instead of one process",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda where there is one")
    parser.add_argument("--json", type=Path, help="write every measured row here")
    parser.add_argument("--chart", type=Path, help="write a PNG bar chart of the ratios here")
    parser.add_argument("--from-json", type=Path, help="print (and chart) a saved run instead")
    args = parser.parse_args()
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        return publish(saved, args.chart)
    device = torch.device(args.device)
    before = matmul_ceiling(args.threads, device)
    results: dict[str, dict] = {}
    for kind in args.kinds:
        for case in CASES_OF[kind]:
            if args.only and case not in args.only:
                continue
            print(f"running {kind} {case} ...", file=sys.stderr, flush=True)
            result = measure(args, kind, case)
            if result is not None:
                results.setdefault(kind, {})[case] = result
    after = matmul_ceiling(args.threads, device)
    machine = f"{cpu_name()}, torch {torch.__version__}, {args.device}, {args.threads} threads"
    saved = {
        "machine": machine,
        "ceiling_before": before,
        "ceiling_after": after,
        "results": results,
        "date": time.strftime("%Y-%m-%d"),
        "command": "python -m benchmarks.compare " + " ".join(sys.argv[1:]),
    }
    if args.json:
        args.json.write_text(json.dumps(saved, indent=1))
    publish(saved, args.chart)


def publish(saved: dict, chart_path: Path | None) -> None:
    """The tables of a run (the ceiling: the larger of before and after) and its chart."""
    before, after = saved["ceiling_before"], saved["ceiling_after"]
    lines = [
        f"Machine: {saved['machine']}; {saved['date']}.",
        f"float32 matmul ceiling: {before:.0f} GFLOP/s before, {after:.0f} after.",
    ]
    lines += report(saved["results"], max(before, after))
    print("\n".join(lines))
    if chart_path:
        chart(
            ratios(saved["results"]),
            chart_path,
            f"videoformer against peers, {saved['date']}\n{saved['machine']}",
        )


if __name__ == "__main__":
    main()
