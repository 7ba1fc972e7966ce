"""One prepared run on a GPU: every family in bf16 and float32, the attention kernels used,
the biased window attention, torch.compile, the peers present, a one-process DDP step.

    python benchmarks/gpu_check.py [--device cuda] [--json gpu.json] [--md gpu.md]
    python benchmarks/gpu_check.py --device cpu        # tiny sizes: what CI runs

Needs torch and videoformer only (no PyAV, nothing fetched): inputs are random tensors,
a peer that does not import is skipped with the reason, versions are recorded. On the
CPU the models are tiny (the check runs end to end in well under a minute there) and the
peers, which come full size only, are skipped. On one H100/H200-class GPU it is sized for
about 4 minutes. Sections, each in the JSON and as a Markdown table:

- ``environment``: versions, the device, the matmul ceiling in float32 and bf16
  (``torch.mm`` of square matrices);
- ``families``: each model's forward in float32 and under bf16 autocast (largest logit
  difference, relative to the largest logit), clips/s in bf16, model FLOP/s against the
  bf16 ceiling (MFU), a bf16 training step (forward, cross-entropy, backward, AdamW) with
  its peak memory, and the SDPA kernels the forward ran (read from the profiler);
- ``window_attention``: the window attention with a learned bias (``biased_attention``
  on the CPU, SDPA on CUDA) against attention written out in float64, forward and every
  gradient;
- ``compile``: ``compile_model`` on TimeSformer: compile seconds, speed-up, difference;
- ``peers``: ours and each present peer on the same weights in bf16, clips/s, ratio;
- ``ddp``: one DDP step in one process (NCCL on CUDA, gloo on the CPU) against the same
  step without DDP.

A section that fails is recorded with its error and the others still run; the exit
status is 1 when any did.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.compare import alternate, cpu_name  # noqa: E402
from videoformer import compile_model, create_model  # noqa: E402
from videoformer.flops import count_flops  # noqa: E402

# name -> (model, input shape of one sample, overrides): full size on a GPU, tiny on the CPU
FULL = {
    "timesformer_divided": ("timesformer_base", (3, 8, 224, 224), {}),
    "timesformer_joint": (
        "timesformer_base",
        (3, 8, 224, 224),
        {"attention_type": "joint_space_time"},
    ),
    "swin_tiny": ("swin_tiny", (3, 224, 224), {}),
    "video_swin_tiny": ("video_swin_tiny", (3, 32, 224, 224), {}),
    "perceiver_io_fourier": ("perceiver_io_imagenet_fourier", (3, 224, 224), {}),
}
TINY_TIMESFORMER = dict(img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=2, num_heads=2)
TINY_SWIN = dict(embed_dim=16, depths=(2, 2), num_heads=(1, 2))
TINY = {
    "timesformer_divided": ("timesformer_base", (3, 4, 32, 32), TINY_TIMESFORMER),
    "timesformer_joint": (
        "timesformer_base",
        (3, 4, 32, 32),
        {**TINY_TIMESFORMER, "attention_type": "joint_space_time"},
    ),
    "swin_tiny": ("swin_tiny", (3, 56, 56), {**TINY_SWIN, "img_size": 56, "window_size": 7}),
    "video_swin_tiny": ("video_swin_tiny", (3, 4, 56, 56), {**TINY_SWIN, "window_size": (2, 7, 7)}),
    "perceiver_io_fourier": (
        "perceiver_io_imagenet_fourier",
        (3, 32, 32),
        dict(
            num_latents=16, d_latents=32, num_blocks=1, num_self_attends_per_block=1, image_size=32
        ),
    ),
}
SDPA_OPS = {  # profiler op name -> the kernel
    "aten::_scaled_dot_product_flash_attention": "flash",
    "aten::_scaled_dot_product_flash_attention_for_cpu": "flash (cpu)",
    "aten::_scaled_dot_product_efficient_attention": "efficient",
    "aten::_scaled_dot_product_cudnn_attention": "cudnn",
    "aten::_scaled_dot_product_attention_math": "math",
}
PEER_PACKAGES = ("transformers", "timm", "mmaction", "onnxruntime", "av")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[], object], reps: int, device: torch.device) -> float:
    """Median of ``reps`` synchronised calls after one warm-up call."""
    fn()
    return alternate({"fn": fn}, reps, device)["fn"]


def autocast(device: torch.device, enabled: bool = True):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def relative_diff(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    diff = (a.float() - b.float()).abs().max().item()
    return diff, diff / max(b.float().abs().max().item(), 1e-12)


# ---------------------------------------------------------------- sections


def environment(device: torch.device, tiny: bool) -> dict:
    n = 512 if tiny else 8192
    ceilings = {}
    for dtype in (torch.float32, torch.bfloat16):
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        seconds = median_seconds(lambda a=a, b=b: a @ b, 3 if tiny else 10, device)
        ceilings[str(dtype).removeprefix("torch.")] = 2 * n**3 / seconds / 1e12
    versions = {"python": platform.python_version(), "torch": torch.__version__}
    for name in PEER_PACKAGES:
        try:
            versions[name] = getattr(importlib.import_module(name), "__version__", "present")
        except Exception as e:  # noqa: BLE001 - a peer that does not import is recorded
            versions[name] = f"absent ({type(e).__name__})"
    info = {
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "tiny": tiny,
        "matmul_n": n,
        "ceiling_tflops": ceilings,
        "versions": versions,
    }
    if device.type == "cpu":
        info["device_name"] = cpu_name()
    return info


def sdpa_kernels(model, x, device) -> list[str]:
    """The SDPA kernels one forward ran, from the profiler's op names."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.no_grad(), autocast(device), torch.profiler.profile(activities=activities) as prof:
        model(x)
    names = {event.key for event in prof.key_averages()}
    return sorted({kernel for op, kernel in SDPA_OPS.items() if op in names})


def families(
    device: torch.device, sizes: dict, batch: int, reps: int, ceiling: float
) -> list[dict]:
    rows = []
    for case, (name, shape, overrides) in sizes.items():
        rows.append(family(case, name, shape, overrides, device, batch, reps, ceiling))
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def family(case, name, shape, overrides, device, batch, reps, ceiling) -> dict:
    torch.manual_seed(0)
    model = create_model(name, **overrides).to(device).eval()
    x = torch.randn(batch, *shape, device=device)
    row = {"case": case, "model": name, "batch": batch, "input": list(shape)}

    def forward():
        with autocast(device):
            return model(x)

    with torch.no_grad():
        fp32 = model(x)
        row["bf16_vs_fp32_max_abs"], row["bf16_vs_fp32_rel"] = relative_diff(forward(), fp32)
        seconds = median_seconds(forward, reps, device)
    flops = count_flops(model, (1, *shape))
    row["gflop"] = flops / 1e9
    row["clips_per_s_bf16"] = batch / seconds
    row["mfu_bf16"] = flops * batch / seconds / 1e12 / ceiling if ceiling else None
    row["sdpa_kernels"] = sdpa_kernels(model, x, device)
    row.update(train_step(model, shape, batch, reps, device))
    return row


def train_step(model, shape, batch, reps, device) -> dict:
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, *shape, device=device)
    y = torch.randint(0, 2, (batch,), device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with autocast(device):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    reset_peak(device)
    seconds = median_seconds(step, max(2, reps // 2), device)
    finite = bool(torch.isfinite(step()).item())
    return {
        "train_step_s_bf16": seconds,
        "train_loss_finite": finite,
        "train_peak_gib": peak_gib(device),
    }


def window_attention(device: torch.device, tiny: bool) -> list[dict]:
    """Forward and gradients of attention with a learned bias in float32, against float64."""
    shapes = {  # Video Swin-T's first stage (batch 2, the windows in the batch), and Swin-T's
        "video_swin_stage1": (2 * 128, 3, 392, 32) if not tiny else (2 * 2, 3, 98, 16),
        "swin_stage1_unshifted": (2 * 64, 3, 49, 32) if not tiny else (8, 3, 64, 16),
    }
    return [window_case(label, shape, device) for label, shape in shapes.items()]


def window_case(label: str, shape: tuple[int, int, int, int], device: torch.device) -> dict:
    from videoformer.layers.attention import dot_product_attention

    B, H, N, hd = shape
    torch.manual_seed(0)
    q, k, v = (torch.randn(B, H, N, hd, device=device, requires_grad=True) for _ in range(3))
    bias = (torch.randn(1, H, N, N, device=device) * 2).requires_grad_()
    d_out = torch.randn(B, H, N, hd, device=device)

    def run():
        out = dot_product_attention(q, k, v, bias, scale=hd**-0.5)
        return out, torch.autograd.grad(out, (q, k, v, bias), d_out)

    out, grads = run()
    ref_in = [t.detach().double().requires_grad_() for t in (q, k, v, bias)]
    scores = (ref_in[0] @ ref_in[1].transpose(-2, -1)) * hd**-0.5 + ref_in[3]
    ref = scores.softmax(-1) @ ref_in[2]
    ref_grads = torch.autograd.grad(ref, ref_in, d_out.double())
    errors = {"out": (out.double() - ref).abs().max().item()}
    for name, g, r in zip(("q", "k", "v", "bias"), grads, ref_grads):
        errors[f"d_{name}"] = (g.double() - r).abs().max().item()
    return {
        "case": label,
        "shape": [B, H, N, hd],
        "max_abs_error": errors,
        "within_1e-5": all(e <= 1e-5 for e in errors.values()),
        "fwd_bwd_s": median_seconds(run, 3, device),
    }


def compile_check(device: torch.device, sizes: dict, batch: int, reps: int) -> dict:
    name, shape, overrides = sizes["timesformer_divided"]
    torch.manual_seed(0)
    model = create_model(name, **overrides).to(device).eval()
    x = torch.randn(batch, *shape, device=device)
    compiled = compile_model(model)
    with torch.no_grad(), autocast(device):
        start = time.perf_counter()
        out = compiled(x)
        sync(device)
        compile_s = time.perf_counter() - start
        eager_out = model(x)
        eager = median_seconds(lambda: model(x), reps, device)
        fast = median_seconds(lambda: compiled(x), reps, device)
    diff, rel = relative_diff(out, eager_out)
    return {
        "model": name,
        "compile_s": compile_s,
        "eager_s": eager,
        "compiled_s": fast,
        "speedup": eager / fast,
        "max_abs_diff_bf16": diff,
        "rel_diff_bf16": rel,
    }


def peers(device: torch.device, tiny: bool, batch: int, reps: int) -> list[dict]:
    from benchmarks.peers import CASES, build

    rows = []
    for case in CASES:
        if tiny:
            rows.append({"case": case, "skipped": "tiny mode: the peers come full size only"})
            continue
        try:
            pair = build(case)
        except Exception as e:  # noqa: BLE001 - a missing peer is skipped with its reason
            rows.append({"case": case, "skipped": f"{type(e).__name__}: {e}"[:300]})
            continue
        rows.append({"case": case, **peer_row(pair, device, batch, reps)})
        del pair
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return rows


def peer_row(pair, device: torch.device, batch: int, reps: int) -> dict:
    ours, peer = pair.ours.to(device), pair.peer.to(device)
    x = torch.randn(batch, *pair.input_shape, device=device)
    with torch.no_grad(), autocast(device):
        diff, rel = relative_diff(ours(x), pair.peer_logits(peer, x))
        ours_s = median_seconds(lambda: ours(x), reps, device)
        peer_s = median_seconds(lambda: pair.peer_logits(peer, x), reps, device)
    return {
        "peer": pair.label,
        "ours_clips_per_s": batch / ours_s,
        "peer_clips_per_s": batch / peer_s,
        "peer_over_ours": peer_s / ours_s,
        "max_abs_diff_bf16": diff,
        "rel_diff_bf16": rel,
    }


def ddp_step(device: torch.device, sizes: dict) -> dict:
    """One DDP step in a world of one against the same step without DDP."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    backend = "nccl" if device.type == "cuda" else "gloo"
    name, shape, overrides = sizes["timesformer_divided"]
    torch.manual_seed(0)
    plain = create_model(name, **overrides).to(device).eval()  # eval: no dropout to differ
    torch.manual_seed(0)
    wrapped = create_model(name, **overrides).to(device).eval()
    x = torch.randn(2, *shape, device=device)
    y = torch.tensor([0, 1], device=device)
    with tempfile.TemporaryDirectory() as tmp:
        dist.init_process_group(backend, init_method=f"file://{tmp}/store", rank=0, world_size=1)
        try:
            ddp = DistributedDataParallel(
                wrapped, device_ids=[device.index or 0] if device.type == "cuda" else None
            )
            for model in (plain, ddp):
                F.cross_entropy(model(x), y).backward()
            sync(device)
            diff = max(
                (a.grad - b.grad).abs().max().item()
                for a, b in zip(plain.parameters(), wrapped.parameters())
                if a.grad is not None
            )
            seconds = median_seconds(lambda: F.cross_entropy(ddp(x), y).backward(), 3, device)
        finally:
            dist.destroy_process_group()
    return {"backend": backend, "max_grad_diff": diff, "step_s": seconds}


# ---------------------------------------------------------------- report


def _family_cells(r: dict) -> list:
    step = f"{r['train_step_s_bf16']:.3f}" + ("" if r["train_loss_finite"] else " (not finite)")
    return [
        r["case"],
        r["batch"],
        f"{r['gflop']:.3g}",
        f"{r['clips_per_s_bf16']:.1f}",
        "—" if r["mfu_bf16"] is None else f"{r['mfu_bf16']:.0%}",
        f"{r['bf16_vs_fp32_max_abs']:.2e} ({r['bf16_vs_fp32_rel']:.1e})",
        ", ".join(r["sdpa_kernels"]) or "none",
        step,
        "—" if r["train_peak_gib"] is None else f"{r['train_peak_gib']:.2f}",
    ]


def _peer_cells(r: dict) -> list:
    if "skipped" in r:
        return [r["case"], f"skipped: {r['skipped']}", "", "", "", ""]
    return [
        r["case"],
        r["peer"],
        f"{r['ours_clips_per_s']:.1f}",
        f"{r['peer_clips_per_s']:.1f}",
        f"**{r['peer_over_ours']:.2f}**",
        f"{r['max_abs_diff_bf16']:.1e} ({r['rel_diff_bf16']:.1e})",
    ]


def markdown(result: dict) -> str:
    env = result["environment"]
    versions = env["versions"]
    others = ", ".join(f"{k} {v}" for k, v in versions.items() if k not in ("torch", "python"))
    lines = [
        f"# GPU check: {env['device_name']} ({env['device']}"
        + (", tiny sizes)" if env["tiny"] else ")"),
        "",
        f"torch {versions['torch']}, CUDA {env['cuda']}, Python {versions['python']}; {others}",
        "",
        f"matmul ceiling ({env['matmul_n']}³ torch.mm): "
        + ", ".join(f"{k} {v:.3g} TFLOP/s" for k, v in env["ceiling_tflops"].items()),
        "",
    ]

    def table(title: str, header: list[str], rows: list[list]) -> None:
        lines.extend(
            [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        )
        lines.extend("| " + " | ".join(str(c) for c in row) + " |" for row in rows)
        lines.append("")

    def section(name: str):
        value = result.get(name)
        if isinstance(value, dict) and "error" in value:
            lines.extend([f"## {name}: failed", "", f"`{value['error']}`", ""])
            return None
        return value

    if (rows := section("families")) is not None:
        table(
            "Families (bf16 autocast; differences against float32)",
            ["model", "batch", "GFLOP/clip", "clips/s", "MFU", "bf16 vs fp32 (rel)",
             "SDPA kernels", "train step s", "train peak GiB"],
            [_family_cells(r) for r in rows],
        )  # fmt: skip
    if (rows := section("window_attention")) is not None:
        table(
            "Window attention with a learned bias, float32 against float64",
            ["case", "shape", "out", "dq", "dk", "dv", "dbias", "≤ 1e-5", "fwd+bwd s"],
            [
                [r["case"], "x".join(map(str, r["shape"]))]
                + [f"{r['max_abs_error'][k]:.1e}" for k in ("out", "d_q", "d_k", "d_v", "d_bias")]
                + ["yes" if r["within_1e-5"] else "**no**", f"{r['fwd_bwd_s']:.4f}"]
                for r in rows
            ],
        )
    if (c := section("compile")) is not None:
        table(
            "torch.compile (compile_model), bf16 autocast",
            ["model", "compile s", "eager s", "compiled s", "speed-up", "max diff (rel)"],
            [[c["model"], f"{c['compile_s']:.1f}", f"{c['eager_s']:.4f}", f"{c['compiled_s']:.4f}",
              f"{c['speedup']:.2f}x", f"{c['max_abs_diff_bf16']:.1e} ({c['rel_diff_bf16']:.1e})"]],
        )  # fmt: skip
    if (rows := section("peers")) is not None:
        table(
            "Peers on the same weights, bf16 autocast",
            ["case", "peer", "ours clips/s", "peer clips/s", "peer / ours time", "max diff (rel)"],
            [_peer_cells(r) for r in rows],
        )
    if (d := section("ddp")) is not None:
        table(
            "DDP, one process",
            ["backend", "max grad diff to no DDP", "step s"],
            [[d["backend"], f"{d['max_grad_diff']:.1e}", f"{d['step_s']:.4f}"]],
        )
    lines.append(f"Total {result['seconds']:.0f} s.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--md", type=Path, default=Path("gpu_check.md"))
    parser.add_argument("--reps", type=int, help="timed calls (default: 10 on a GPU, 2 on the CPU)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is visible")
    tiny = device.type == "cpu"
    sizes, batch = (TINY, 2) if tiny else (FULL, 8)
    reps = args.reps or (2 if tiny else 10)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 references stay float32
        torch.backends.cudnn.allow_tf32 = False
    start = time.perf_counter()
    result: dict = {"environment": environment(device, tiny)}
    # MFU against the bf16 ceiling; tiny models on the CPU say nothing about it
    ceiling = None if tiny else result["environment"]["ceiling_tflops"]["bfloat16"]
    sections = {
        "families": lambda: families(device, sizes, batch, reps, ceiling),
        "window_attention": lambda: window_attention(device, tiny),
        "compile": lambda: compile_check(device, sizes, batch, reps),
        "peers": lambda: peers(device, tiny, batch, reps),
        "ddp": lambda: ddp_step(device, sizes),
    }
    failed = []
    for name, run in sections.items():
        print(f"gpu_check: {name}...", file=sys.stderr, flush=True)
        try:
            result[name] = run()
        except Exception as e:  # noqa: BLE001 - recorded; the other sections still run
            traceback.print_exc()
            result[name] = {"error": f"{type(e).__name__}: {e}"[:1000]}
            failed.append(name)
    result["seconds"] = time.perf_counter() - start
    result["failed"] = failed
    args.json.write_text(json.dumps(result, indent=1))
    args.md.write_text(markdown(result))
    print(markdown(result))
    print(f"gpu_check: wrote {args.json} and {args.md}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
