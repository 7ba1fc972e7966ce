"""ONNX export with a dynamic batch, checked against PyTorch with onnxruntime (the onnx
extra; CI installs it)."""

import pytest
import torch

from videoformer import create_model
from videoformer.cli import main

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from videoformer.inference.export import export_onnx  # noqa: E402

TIMESFORMER = dict(
    img_size=32, patch_size=8, num_frames=4, embed_dim=32, depth=1, num_heads=2, num_classes=5
)
MODELS = {
    **{
        f"timesformer_{a}": ("timesformer", {**TIMESFORMER, "attention_type": a})
        for a in (
            "divided_space_time",
            "space_only",
            "joint_space_time",
            "sparse_local_global",
            "axial",
        )
    },
    "swin": (
        "swin",
        dict(img_size=56, embed_dim=16, depths=(2, 2), num_heads=(2, 4), num_classes=5),
    ),
    "video_swin": (
        "video_swin",
        dict(
            embed_dim=16,
            depths=(2, 2),
            num_heads=(2, 4),
            num_classes=5,
            window_size=(2, 7, 7),
            num_frames=4,
            img_size=56,
        ),
    ),
}


@pytest.mark.parametrize(  # Video Swin (20 s) with the slow tests; 2D Swin's windows stay
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n == "video_swin" else n for n in sorted(MODELS)],
)
def test_export_matches_pytorch_at_another_batch_size(name, tmp_path):
    family, config = MODELS[name]
    model = create_model(family, **config).eval()
    report = export_onnx(model, tmp_path / f"{name}.onnx")
    assert report.relative_diff < 1e-4
    assert report.max_abs_diff < 6e-7  # docs/performance.md: 1e-8 to 6e-8 observed
    weight_bytes = sum(p.numel() * 4 for p in model.parameters())
    assert report.files == [report.path] and report.path.stat().st_size > weight_bytes
    x = torch.randn(1, *model.input_shape)  # eager still works after tracing (no fake tensors kept)
    assert model(x).shape == (1, 5)


def test_weights_beyond_the_one_file_limit_go_beside_it(tmp_path, monkeypatch):
    import videoformer.inference.export as export

    monkeypatch.setattr(export, "ONE_FILE_LIMIT", 0)
    family, config = MODELS["swin"]
    report = export_onnx(create_model(family, **config), tmp_path / "m.onnx")
    assert [f.name for f in report.files] == ["m.onnx", "m.onnx.data"]
    assert report.relative_diff < 1e-4  # onnxruntime found the weights beside the file
    assert report.megabytes * 2**20 == sum(f.stat().st_size for f in report.files)


def test_export_command(tmp_path, capsys):
    model = create_model("timesformer", **TIMESFORMER)
    path = tmp_path / "m.safetensors"
    import videoformer

    videoformer.save_model(model, path)
    assert main(["export", str(path), "--out", str(tmp_path / "m.onnx")]) == 0
    assert "onnxruntime vs PyTorch on a batch of 3: max |diff|" in capsys.readouterr().out
    assert main(["export", str(path), "--out", str(tmp_path / "m.bin")]) == 2


def test_the_onnx_file_carries_labels_and_its_test_input(tmp_path):
    """From a video file to top-5 names with onnxruntime alone, as docs/engine.md shows."""
    import json

    import onnxruntime

    import videoformer

    family, config = MODELS["timesformer_divided_space_time"]
    model = create_model(family, **config).eval()
    model.label_names = list("abcde")
    model.data_spec = videoformer.DataSpec(32, "4x2x1", (0.45,) * 3, (0.225,) * 3)
    report = export_onnx(model, tmp_path / "m.onnx")
    assert report.input_shape == (3, 4, 32, 32)
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    meta = {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}
    assert meta["labels"] == list("abcde") and meta["input_shape"] == [3, 4, 32, 32]
    assert (meta["clip"], meta["size"], meta["protocol"]) == ("4x2x1", 32, "videoformer")
    assert meta["mean"] == [0.45] * 3 and meta["aggregate"] == "mean_softmax"
    frames = torch.randint(0, 256, (16, 40, 48, 3), dtype=torch.uint8)
    views = videoformer.test_views(frames, model)  # (V, C, T, H, W) as the metadata says
    logits = session.run(None, {session.get_inputs()[0].name: views.numpy()})[0]
    top = torch.from_numpy(logits).softmax(-1).mean(0).topk(5).indices.tolist()
    expected = model(views).softmax(-1).mean(0).topk(5).indices.tolist()
    assert [meta["labels"][i] for i in top] == [meta["labels"][i] for i in expected]
