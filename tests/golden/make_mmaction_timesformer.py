"""Generate tests/golden/timesformer_mmaction_{divided,joint}.pt from mmaction2's own code.

Not run by the tests (they read the files it wrote). Made as ../shared/golden/README.md
made the other references: the official model files run unchanged, every parameter
randomised (Linear/Conv weights N(0,1)/sqrt(fan_in), biases and LayerNorm offsets
0.05 N(0,1), LayerNorm gains 1 + 0.1 N(0,1), embeddings 0.2 N(0,1)), logits in eval mode.

Environment: Python 3.11, torch 2.13.0+cpu, mmaction2 1.2.0, mmcv-lite 2.1.0, mmengine
0.10.7 (pip install --no-deps), with addict termcolor yapf rich pyyaml packaging regex
opencv-python-headless pillow matplotlib scipy importlib_metadata:

    python tests/golden/make_mmaction_timesformer.py OUT_DIR

The wheel lacks ``mmaction/models/localizers/drn``; a stand-in module takes its place so
that ``mmaction.models`` imports (the DRN localizer is not on the TimeSformer's path).
"""

import sys
import types
from pathlib import Path

import torch

sys.modules["mmaction.models.localizers.drn"] = types.ModuleType("drn")
sys.modules["mmaction.models.localizers.drn.drn"] = types.SimpleNamespace(DRN=None)

import mmaction  # noqa: E402
from mmaction.models.backbones.timesformer import TimeSformer  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

KWARGS = dict(
    num_frames=4,
    img_size=32,
    patch_size=8,
    embed_dims=48,
    num_heads=3,
    num_transformer_layers=3,
    in_channels=3,
)
NUM_CLASSES = 6


def randomise(model: torch.nn.Module) -> None:
    for name, p in model.named_parameters():
        with torch.no_grad():
            if name.endswith(("cls_token", "pos_embed", "time_embed")):
                p.copy_(0.2 * torch.randn_like(p))
            elif p.ndim >= 2:  # Linear, Conv, in_proj_weight: fan_in is everything but dim 0
                p.copy_(torch.randn_like(p) / p[0].numel() ** 0.5)
            elif name.endswith("weight") and (".norm" in name or "norms." in name):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:  # biases, LayerNorm offsets
                p.copy_(0.05 * torch.randn_like(p))


def main(out: Path) -> None:
    init_default_scope("mmaction")  # mmcv builds the divided attentions from mmaction's registry
    for seed, attention in ((11, "divided_space_time"), (12, "joint_space_time")):
        torch.manual_seed(seed)
        backbone = TimeSformer(attention_type=attention, **KWARGS)
        model = torch.nn.Module()
        model.backbone = backbone
        model.cls_head = torch.nn.Module()
        model.cls_head.fc_cls = torch.nn.Linear(
            KWARGS["embed_dims"], NUM_CLASSES
        )  # TimeSformerHead
        randomise(model)
        model.eval()
        x = torch.randn(2, 3, KWARGS["num_frames"], KWARGS["img_size"], KWARGS["img_size"])
        with torch.no_grad():
            logits = model.cls_head.fc_cls(model.backbone(x))
        name = attention.split("_")[0]
        torch.save(
            {
                "source": f"mmaction2 {mmaction.__version__}: mmaction/models/backbones/"
                "timesformer.py, models/common/transformer.py, TimeSformerHead (fc_cls)",
                "class": "TimeSformer + TimeSformerHead",
                "kwargs": {**KWARGS, "attention_type": attention, "num_classes": NUM_CLASSES},
                "state_dict": {k: v.contiguous() for k, v in model.state_dict().items()},
                "input": x,
                "output": logits,
                "notes": f"torch.manual_seed({seed}); parameters randomised as the docstring says",
            },
            out / f"timesformer_mmaction_{name}.pt",
        )
        print(name, tuple(logits.shape), float(logits.std()))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
