"""``videoformer explain`` and ``videoformer.explain``: files, geometry, and (slow) that a
trained model's map follows the moving shape."""

import json

import numpy as np
import pytest
from PIL import Image

import videoformer
from videoformer import create_model
from videoformer.cli import main
from videoformer.data.synthetic import write_video
from videoformer.inference.explanation import region_ratio

TINY = dict(
    img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=2, num_heads=2, num_classes=3
)
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
def test_explain_command_writes_overlay_grid_and_maps(saved, video, tmp_path, capsys, video_format):
    out = tmp_path / "out"
    assert (
        main(
            [
                "explain",
                str(video),
                "--checkpoint",
                str(saved),
                "--out",
                str(out),
                "--format",
                video_format,
            ]
        )
        == 0
    )
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


def test_region_ratio_goes_through_the_view(saved, video):
    """A region on the original frames lands where the frames land in the view: a map that
    is exactly the square in the view has all its mass in the square's region."""
    e = videoformer.explain(saved, video)
    predictor = videoformer.Predictor(saved, views="1x1")
    square = np.stack(_decode(video))[..., 0] > 128  # (16, 40, 48) on the original frames
    in_view = e.frames[..., 0] > 128  # (4, 32, 32)
    e.maps = in_view.astype(np.float32)
    assert region_ratio(e, predictor, square) == pytest.approx(1 / in_view.mean(), rel=0.1)
    corner = np.zeros_like(square)
    corner[:, 30:, :8] = True  # dark everywhere
    assert region_ratio(e, predictor, corner) == 0.0
    assert region_ratio(e, predictor, np.zeros_like(square)) is None


def _decode(path):
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.mark.slow
def test_the_demo_model_looks_at_the_moving_shape(tmp_path):
    """Train the demo; over every 5th validation clip, the relevance inside the shape's
    bounding boxes (the generator writes them) is on average at least twice the boxes'
    share of the view (``region_ratio``)."""
    from benchmarks.explain_boxes import box_ratios
    from videoformer.demo import run_demo

    run_demo(tmp_path)
    ratios = [r for by_class in box_ratios(tmp_path, every=5).values() for r in by_class]
    assert len(ratios) >= 90
    assert np.mean(ratios) >= 2.0, f"mean box-mass ratio {np.mean(ratios):.2f}"


def test_a_long_clip_grid_wraps_and_states_its_times_and_range(tmp_path):
    """32 frames: four row pairs of 8, not one 5760-px strip; each frame's time in the
    source (the 4x4 clip of a 16 fps video: 0.25 s apart); the map's range is written."""
    model = create_model("timesformer", **{**TINY, "num_frames": 32, "depth": 1}).eval()
    model.label_names = LABELS
    model.data_spec = videoformer.DataSpec(32, "32x2x1", (0.45,) * 3, (0.225,) * 3)
    saved = videoformer.save_model(model, tmp_path / "long.safetensors")
    frames = np.random.default_rng(0).integers(0, 255, (64, 32, 32, 3), dtype=np.uint8)
    write_video(tmp_path / "long.mp4", frames)  # 16 fps
    e = videoformer.explain(saved, tmp_path / "long.mp4")
    assert e.times.shape == (32,) and np.allclose(np.diff(e.times), 2 / 16)
    low, high = e.relative_range
    assert 0 <= low <= high == pytest.approx(1.0)
    paths = videoformer.save_explanation(e, tmp_path / "out")
    grid = Image.open(tmp_path / "out" / "explain.png")
    assert grid.width < 1700 and grid.height > grid.width / 2  # wrapped into rows
    meta = json.loads((tmp_path / "out" / "explain.json").read_text())
    assert meta["frame_times"] == e.times.tolist() and len(meta["relative_range"]) == 2
    assert len(paths) == 5
