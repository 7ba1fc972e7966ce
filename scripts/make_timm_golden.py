"""Write tests/golden/timm_swin.pt: a small timm 1.0.31 Swin with random weights (timm's
key layout), an input and timm's logits. Run once where timm is installed (timm needs
a torchvision stand-in beside the CPU torch, see benchmarks/install_peers.sh); the file
is fixed test data afterwards.
"""

import sys

import timm
import torch


def main(out: str) -> None:
    torch.manual_seed(2201)
    model = timm.create_model(
        "swin_tiny_patch4_window7_224",
        pretrained=False,
        depths=(2, 2),
        num_heads=(3, 6),
        embed_dim=48,
        img_size=56,
        num_classes=6,
    ).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias") and "relative_position" not in name:
                p.copy_(0.05 * torch.randn_like(p))
            elif "relative_position_bias_table" in name:
                p.copy_(0.2 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p[0].numel() ** 0.5)
        x = torch.randn(2, 3, 56, 56)
        out_logits = model(x)
    torch.save(
        {
            "source": f"timm {timm.__version__} swin_tiny_patch4_window7_224(depths=(2,2), "
            "num_heads=(3,6), embed_dim=48, img_size=56, num_classes=6)",
            "state_dict": {k: v.contiguous() for k, v in model.state_dict().items()},
            "input": x,
            "output": out_logits,
        },
        out,
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/timm_swin.pt")
