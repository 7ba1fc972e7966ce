"""Layout detection: every reference file is claimed by exactly one layout of its family,
whatever order the converters registered in; a dict two layouts claim is refused."""

import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import GOLDEN
from videoformer import CheckpointError, create_model, load_checkpoint
from videoformer.convert import LAYOUTS, Layout, claiming_layouts

# file in tests/golden -> (family of the model it was made for, every layout that claims
# it across all families). A 2D Swin file is also a Video Swin initialisation (inflated).
EXPECTED = {
    "hf_perceiver_conv": ("perceiver_io", {"perceiver_io_hf"}),
    "hf_perceiver_learned": ("perceiver_io", {"perceiver_io_hf"}),
    "hf_timesformer": ("timesformer", {"timesformer_hf"}),
    "perceiver_hf_fourier.pt": ("perceiver_io", {"perceiver_io_hf"}),
    "swin2d.pt": ("swin", {"swin_official", "swin2d_inflated"}),
    "timm_swin.pt": ("swin", {"swin_timm", "swin2d_inflated"}),
    "timesformer_divided.pt": ("timesformer", {"timesformer_official"}),
    "timesformer_divided_resize.pt": ("timesformer", {"timesformer_official"}),
    "timesformer_joint.pt": ("timesformer", {"timesformer_official"}),
    "timesformer_space_only.pt": ("timesformer", {"timesformer_official"}),
    "timesformer_mmaction_divided.pt": ("timesformer", {"timesformer_mmaction"}),
    "timesformer_mmaction_joint.pt": ("timesformer", {"timesformer_mmaction"}),
    "video_swin_pad.pt": ("video_swin", {"video_swin_official"}),
    "video_swin_small.pt": ("video_swin", {"video_swin_official"}),
}


def golden_state_dict(name: str) -> dict[str, torch.Tensor]:
    path = GOLDEN / name
    if path.is_dir():
        return load_file(path / "model.safetensors")
    return torch.load(path, weights_only=True)["state_dict"]


def test_every_golden_file_is_listed():
    on_disk = {p.name for p in GOLDEN.iterdir() if p.suffix == ".pt" or p.is_dir()} - {"pipelines"}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_file_is_claimed_by_exactly_one_layout_of_its_family(name):
    family, claims = EXPECTED[name]
    sd = golden_state_dict(name)
    assert {lay.name for lay in claiming_layouts(sd)} == claims
    own = [lay.name for lay in claiming_layouts(sd, family)]
    assert len(own) == 1 and own[0] in claims


TINY = {
    "timesformer": dict(
        img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=1, num_heads=2
    ),
    "swin": dict(img_size=56, embed_dim=16, depths=(2, 2), num_heads=(2, 4)),
    "video_swin": dict(embed_dim=16, depths=(2, 2), num_heads=(2, 4), window_size=(2, 7, 7)),
    "perceiver": dict(
        num_latents=8,
        latent_dim=32,
        num_cross_attends=2,
        latent_blocks_per_cross_attend=1,
        latent_heads=2,
    ),
    "perceiver_io": dict(
        num_latents=8,
        d_latents=32,
        num_blocks=1,
        num_self_attends_per_block=1,
        num_self_attention_heads=2,
    ),
}
OWN = {
    "timesformer": {"timesformer_videoformer"},
    "swin": {"swin_official", "swin2d_inflated"},  # our Swin keys are the official ones
    "video_swin": {"video_swin_videoformer"},
    "perceiver": {"perceiver_videoformer"},
    "perceiver_io": {"perceiver_io_videoformer"},
}


@pytest.mark.parametrize("family", sorted(TINY))
def test_our_own_state_dicts_are_claimed_once(family):
    with torch.device("meta"):
        sd = create_model(family, **TINY[family]).state_dict()
    assert {lay.name for lay in claiming_layouts(sd)} == OWN[family]


def test_space_only_keys_are_the_vit_keys():
    with torch.device("meta"):
        sd = create_model(
            "timesformer", **TINY["timesformer"], attention_type="space_only"
        ).state_dict()
    assert [lay.name for lay in claiming_layouts(sd)] == ["vit_imagenet"]


def test_a_dict_two_layouts_claim_is_refused_naming_both(monkeypatch):
    greedy = Layout(
        "greedy_timesformer",
        "timesformer",
        lambda sd: "cls_token" in sd,
        lambda sd, c: dict(sd),
        "",
    )
    monkeypatch.setattr("videoformer.convert.layouts.LAYOUTS", [*LAYOUTS, greedy])
    model = create_model("timesformer", **TINY["timesformer"])
    with pytest.raises(
        CheckpointError, match="layouts timesformer_videoformer and greedy_timesformer both claim"
    ):
        load_checkpoint(model, model.state_dict())
