"""The public Python API as the README shows it, at tiny scale and offline."""

import pytest
import torch

import videoformer
from videoformer import create_model

TINY = dict(
    img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=1, num_heads=2, num_classes=3
)
LABELS = ["left", "right", "still"]


@pytest.fixture
def model():
    m = create_model("timesformer", **TINY).eval()
    m.label_names = LABELS
    return m


@pytest.mark.parametrize("name", ["my-model", "my-model.safetensors"])
def test_save_then_load_and_create(model, tmp_path, name):
    path = videoformer.save_model(model, tmp_path / name)
    loaded = videoformer.load_model(path)
    x = torch.randn(2, 3, 4, 32, 32)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert loaded.label_names == LABELS and loaded.data_spec == videoformer.data_config(model)
    again = create_model(
        "timesformer", pretrained=path
    ).eval()  # the saved config, not the defaults
    assert again.config == model.config
    torch.testing.assert_close(again(x), model(x), rtol=0, atol=0)
    if path.is_dir():
        assert sorted(p.name for p in path.iterdir()) == [
            "labels.txt",
            "model.safetensors",
            "videoformer.json",
        ]


def test_predictor_on_a_model_object_frames_and_views(model):
    predictor = videoformer.Predictor(model)
    frames = torch.randint(0, 256, (16, 40, 48, 3), dtype=torch.uint8)
    by_frames = predictor.predict(frames, topk=2)
    views = predictor.views(frames)
    assert views.shape == (1, 3, 4, 32, 32)  # the model's defaults: one clip, one crop
    assert predictor.predict(views, topk=2).topk == by_frames.topk
    assert {label for label, _ in by_frames.topk} <= set(LABELS)
    per_view, per_video = predictor.embed(frames)
    assert per_view.shape == (1, 32) and per_video.shape == (32,)


def test_unresolvable_sources_name_what_was_tried(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found: .*nothing-here"):
        videoformer.load_model(tmp_path / "nothing-here")
    with pytest.raises(
        ValueError, match="carries no videoformer metadata: name its variant or tag"
    ):
        torch.save({"w": torch.zeros(1)}, tmp_path / "foreign.pt")
        videoformer.load_model(tmp_path / "foreign.pt")
    with pytest.raises(TypeError, match="Predictor takes a path, a tag or a model, got int"):
        videoformer.Predictor(42)


def test_a_saved_model_keeps_how_its_views_combine(model, tmp_path):
    """The aggregation is a DataSpec field: the protocol's by default, a recipe's choice
    kept through save and load, and what Predictor combines views with."""
    assert videoformer.DataSpec(32, "4x2x1", (0.5,) * 3, (0.5,) * 3).aggregate == "mean_softmax"
    official = videoformer.DataSpec(32, "4x2x1", (0.5,) * 3, (0.5,) * 3, protocol="timesformer")
    assert official.aggregate == "sum_logits"
    spec = videoformer.DataSpec(32, "4x4x2", (0.5,) * 3, (0.5,) * 3, aggregate="sum_logits")
    path = videoformer.save_model(model, tmp_path / "m.safetensors", data=spec)
    loaded = videoformer.load_model(path)
    assert loaded.data_spec.aggregate == "sum_logits"
    predictor = videoformer.Predictor(loaded)
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 4.0]])  # sum: class 2; mean softmax: 0
    assert int(predictor.probabilities(logits).argmax()) == 2
    with pytest.raises(ValueError, match="aggregate 'max' is not one of"):
        videoformer.DataSpec(32, "4x2x1", (0.5,) * 3, (0.5,) * 3, aggregate="max")


def test_resolve_source_decides_once(model, tmp_path):
    tag = videoformer.resolve_source("timesformer_base.k600", fetch=False)
    assert (tag.kind, tag.variant, tag.weights.num_classes, tag.path) == (
        "tag",
        "timesformer_base",
        600,
        None,
    )
    assert len(tag.labels) == 600 and tag.data.protocol == "timesformer"
    saved = videoformer.resolve_source(videoformer.save_model(model, tmp_path / "m"))
    assert (saved.kind, saved.variant, saved.labels) == (
        "model_file",
        "timesformer_base",
        tuple(LABELS),
    )
    assert saved.config["num_frames"] == 4
    torch.save({"w": torch.zeros(1)}, tmp_path / "foreign.pt")
    foreign = videoformer.resolve_source(tmp_path / "foreign.pt", model="timesformer_base")
    assert (foreign.kind, foreign.variant) == ("foreign", "timesformer_base")
