"""``videoformer explain`` and ``videoformer.explain``: files, geometry, and (slow) that a
trained model's map follows the moving shape."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import videoformer
from videoformer import create_model
from videoformer.cli import main
from videoformer.data.synthetic import write_video

TINY = dict(img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=2, num_heads=2,
            num_classes=3)
LABELS = ["left", "right", "still"]


@pytest.fixture
def saved(tmp_path):
    model = create_model("timesformer", **TINY).eval()
    model.label_names = LABELS
    model.data_spec = videoformer.DataSpec(32, "4x4x1", (0.45,) * 3, (0.225,) * 3)
    return videoformer.save_model(model, tmp_path / "tiny.safetensors")


@pytest.fixture
def video(tmp_path):
    """A bright square moving right on black, 16 frames of 40 x 48."""
    frames = np.zeros((16, 40, 48, 3), dtype=np.uint8)
    for t in range(16):
        frames[t, 10:22, 12 + t : 24 + t] = 230
    path = tmp_path / "square.mp4"
    write_video(path, frames)
    return path


def test_explain_returns_maps_on_the_view_and_its_frames(saved, video):
    e = videoformer.explain(saved, video)
    assert e.tokens.shape == (4, 4, 4) and abs(e.tokens.sum() - 1) < 1e-5
    assert e.maps.shape == (4, 32, 32) and e.maps.max() == pytest.approx(1.0)
    assert e.frames.shape == (4, 32, 32, 3) and e.frames.dtype == np.uint8
    # the view is the centre crop of the frames resized: the square stays bright, the rest dark
    assert e.frames.max() > 200 and e.frames[:, 0, 0].max() < 30
    assert e.label in LABELS and 0 < e.probability <= 1
    assert e.method == "gradient-weighted attention rollout"
    plain = videoformer.explain(saved, video, method="rollout", target="right")
    assert plain.label == "right" and plain.method == "attention rollout"


def test_bad_targets_and_methods_are_named(saved, video):
    with pytest.raises(ValueError, match="'up' is not one of the model's labels"):
        videoformer.explain(saved, video, target="up")
    with pytest.raises(ValueError, match="not a class index"):
        videoformer.explain(saved, video, target=7)
    with pytest.raises(ValueError, match="got 'grad_cam'"):
        videoformer.explain(saved, video, method="grad_cam")


@pytest.mark.parametrize("video_format", ["gif", "mp4"])
def test_explain_command_writes_overlay_grid_and_maps(saved, video, tmp_path, capsys,
                                                      video_format):
    out = tmp_path / "out"
    assert main(["explain", str(video), "--checkpoint", str(saved), "--out", str(out),
                 "--format", video_format]) == 0
    printed = capsys.readouterr().out
    assert "gradient-weighted attention rollout on a 4x4x4 token grid" in printed
    assert np.load(out / "tokens.npy").shape == (4, 4, 4)
    assert np.load(out / "maps.npy").shape == (4, 32, 32)
    meta = json.loads((out / "explain.json").read_text())
    assert meta["label"] in LABELS and meta["token_grid"] == [4, 4, 4]
    grid = Image.open(out / "explain.png")
    assert grid.width > grid.height  # frames side by side
    if video_format == "gif":
        gif = Image.open(out / "explain.gif")
        assert gif.n_frames == 4 and min(gif.size) >= 256  # enlarged to be seen
    else:
        import av

        with av.open(str(out / "explain.mp4")) as container:
            assert sum(1 for _ in container.decode(video=0)) == 4


def box_mass_ratio(explanation, mask_view: torch.Tensor) -> float | None:
    """The map's mass inside the shape's boxes over the boxes' share of the clip's area
    (1: no better than uniform); None when the shape is never visible."""
    inside = mask_view.numpy()
    share = inside.mean()
    if share == 0:
        return None
    maps = explanation.maps / explanation.maps.sum()
    return float(maps[inside].sum() / share)


@pytest.mark.slow
def test_the_demo_model_looks_at_the_moving_shape(tmp_path):
    """Train the demo; over every 5th validation clip, the relevance inside the shape's
    bounding boxes (the generator writes them) is on average at least twice the boxes'
    share of the area. The boxes go through the same resize and crop as the frames."""
    import av

    from videoformer.demo import run_demo

    run_demo(tmp_path)
    root = tmp_path / "dataset"
    boxes = json.loads((root / "boxes.json").read_text())
    predictor = videoformer.Predictor(tmp_path / "model.safetensors", views="1x1")
    mean, std = predictor.data_spec.mean[0], predictor.data_spec.std[0]
    ratios = []
    for line in (root / "val.csv").read_text().split()[::5]:
        path = line.split(",")[0]
        with av.open(str(root / path)) as container:
            frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
        mask = np.zeros_like(frames)
        for t, box in enumerate(boxes[path]):
            if box is not None:
                x0, y0, x1, y1 = box
                mask[t, y0 : y1 + 1, x0 : x1 + 1] = 255
        explanation = videoformer.explain(predictor.model, torch.from_numpy(frames))
        mask_view = predictor.views(torch.from_numpy(mask))[0, 0] * std + mean > 0.5
        ratio = box_mass_ratio(explanation, mask_view)
        if ratio is not None:
            ratios.append(ratio)
    assert len(ratios) >= 90
    assert np.mean(ratios) >= 2.0, f"mean box-mass ratio {np.mean(ratios):.2f}"
