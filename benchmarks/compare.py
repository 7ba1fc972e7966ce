"""videoformer against the implementations people use, in one run, on the same weights.

For each pair the peer model is built with random weights, videoformer's model is built
from the peer's state dict through ``create_model(..., pretrained=state_dict)`` (so the
converters are exercised too), and both forward the same input. Timings alternate
between the two models (ours, peer, ours, peer...) so that drift of this shared machine
hits both; reported are the medians, their ratio, and the largest logit difference. Each
pair runs in its own process. The float32 matmul ceiling (2048^3 ``torch.mm``) is
measured before and after, so GFLOP/s can be read as a fraction of what the machine
does. Needs the peers venv (``bash benchmarks/install_peers.sh``):

    .venv-peers/bin/python benchmarks/compare.py [--reps 7] [--threads 2] [--only swin_tiny]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

# timm imports torchvision at load time; torchvision does not import beside the CPU torch
# 2.13.0, so the child gives timm an empty stand-in (Swin's forward uses none of it).
TORCHVISION_STAND_IN = r"""
import importlib.abc, importlib.machinery, sys, types

class _AnyAttribute(type):  # InterpolationMode.NEAREST and the like: a placeholder string
    def __getattr__(cls, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return f"{cls.__name__}.{attr}"

class _Names(types.ModuleType):
    __path__ = []

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _AnyAttribute(name, (), {"__init__": lambda self, *a, **k: None})
        setattr(self, name, value)
        return value

class _StandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        return _Names(spec.name)

    def exec_module(self, module):
        pass

sys.meta_path.insert(0, _StandIn())
"""

CHILD = r"""
import json, statistics, sys, time
import torch
from videoformer import create_model
from videoformer.flops import count_flops

case, threads, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)


def randomise(model):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.02)
    return model.eval()


if case.startswith("timesformer"):
    from transformers import TimesformerConfig, TimesformerForVideoClassification
    kind = case.split("_", 1)[1]
    attention = {"divided": "divided_space_time", "joint": "joint_space_time"}[kind]
    config = TimesformerConfig(attention_type=attention, num_labels=400)
    peer = randomise(TimesformerForVideoClassification(config))
    ours = create_model("timesformer_base", pretrained=peer.state_dict(), attention_type=attention)
    ours.eval()
    x = torch.randn(1, 3, 8, 224, 224)  # ours: (B, C, T, H, W); HF: (B, T, C, H, W)
    run_peer = lambda: peer(pixel_values=x.transpose(1, 2)).logits
    label = f"HF transformers TimesformerForVideoClassification ({attention})"
elif case == "swin_tiny":
    import timm  # after the torchvision stand-in the parent puts before this script
    peer = randomise(timm.create_model("swin_tiny_patch4_window7_224", pretrained=False))
    ours = create_model("swin_tiny", pretrained=peer.state_dict()).eval()
    x = torch.randn(1, 3, 224, 224)
    run_peer = lambda: peer(x)
    label = f"timm {timm.__version__} swin_tiny_patch4_window7_224"
elif case == "perceiver_io_fourier":
    from transformers import PerceiverConfig, PerceiverForImageClassificationFourier
    config = PerceiverConfig(num_latents=512, d_latents=1024, d_model=261, num_blocks=8,
                             num_self_attends_per_block=6, num_self_attention_heads=8,
                             num_cross_attention_heads=1, image_size=224, num_labels=1000)
    peer = randomise(PerceiverForImageClassificationFourier(config))
    ours = create_model("perceiver_io_imagenet_fourier", pretrained=peer.state_dict()).eval()
    x = torch.randn(1, 3, 224, 224)
    run_peer = lambda: peer(inputs=x).logits
    label = "HF transformers PerceiverForImageClassificationFourier (ImageNet config)"
elif case == "video_swin_tiny":
    # mmaction2's package does not import here; its Video Swin backbone file loads alone
    import importlib.util, os
    import mmaction
    path = os.path.join(os.path.dirname(mmaction.__file__), "models", "backbones", "swin.py")
    spec = importlib.util.spec_from_file_location("mmaction_video_swin", path)
    swin3d = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(swin3d)

    class Recognizer(torch.nn.Module):  # mmaction's Recognizer3D + I3DHead at test time
        def __init__(self):
            super().__init__()
            self.backbone = swin3d.SwinTransformer3D(arch="tiny", pretrained=None)
            self.cls_head = torch.nn.Module()
            self.cls_head.fc_cls = torch.nn.Linear(768, 400)

        def forward(self, x):
            return self.cls_head.fc_cls(self.backbone(x).mean((2, 3, 4)))

    peer = randomise(Recognizer())
    ours = create_model("video_swin_tiny", pretrained=peer.state_dict()).eval()
    x = torch.randn(1, 3, 32, 224, 224)
    run_peer = lambda: peer(x)
    label = f"mmaction2 {mmaction.__version__} SwinTransformer3D (tiny) + mean-pool linear head"
else:
    raise SystemExit(f"unknown case {case}")

run_ours = lambda: ours(x)
with torch.no_grad():
    diff = (run_ours() - run_peer()).abs().max().item()  # also the warm-up of both
    times = {"ours": [], "peer": []}
    for _ in range(reps):
        for name, run in (("ours", run_ours), ("peer", run_peer)):
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    gflop = count_flops(ours, x) / 1e9
print(json.dumps({"case": case, "peer": label, "params": sum(p.numel() for p in ours.parameters()),
                  "gflop": gflop, "ours_s": statistics.median(times["ours"]),
                  "peer_s": statistics.median(times["peer"]), "max_abs_diff": diff}))
"""

CASES = (
    "timesformer_divided",
    "timesformer_joint",
    "swin_tiny",
    "video_swin_tiny",
    "perceiver_io_fourier",
)


def matmul_ceiling(threads: int, n: int = 2048, reps: int = 5) -> float:
    """Best-of-``reps`` float32 ``torch.mm`` rate in GFLOP/s."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=CASES, default=list(CASES))
    args = parser.parse_args()
    before = matmul_ceiling(args.threads)
    rows = []
    for case in args.only:
        print(f"running {case} ...", file=sys.stderr, flush=True)
        # timm gets the torchvision stand-in; transformers checks for the real one, so only timm
        source = TORCHVISION_STAND_IN + CHILD if case == "swin_tiny" else CHILD
        out = subprocess.run(
            [sys.executable, "-c", source, case, str(args.threads), str(args.reps)],
            capture_output=True,
            text=True,
        )
        if out.returncode:
            print(f"{case} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    after = matmul_ceiling(args.threads)
    ceiling = max(before, after)
    print(
        f"float32 matmul ceiling, {args.threads} threads: {before:.0f} GFLOP/s before, "
        f"{after:.0f} after\n"
    )
    print(
        "| model | peer | params | GFLOP | videoformer s | peer s | peer / videoformer | "
        "videoformer GFLOP/s (of ceiling) | max abs logit diff |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        rate = r["gflop"] / r["ours_s"]
        print(
            f"| {r['case']} | {r['peer']} | {r['params'] / 1e6:.2f}M | {r['gflop']:.1f} | "
            f"{r['ours_s']:.3f} | "
            f"{r['peer_s']:.3f} | {r['peer_s'] / r['ours_s']:.2f} | {rate:.0f} "
            f"({rate / ceiling:.0%}) | "
            f"{r['max_abs_diff']:.1e} |"
        )


if __name__ == "__main__":
    main()
