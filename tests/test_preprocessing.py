"""The input tensor of released and foreign weights: test_views against the official
pipelines' goldens, and what convert / predict / eval keep of a foreign checkpoint."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import videoformer
from tests.conftest import GOLDEN, PIPELINES, golden, write_av
from videoformer import create_model, data_config
from videoformer.cli import main
from videoformer.data.decode import probe
from videoformer.inference.predictor import Predictor
from videoformer.labels import label_names
from videoformer.weights.model_file import model_metadata, write_model_file

CLIP_A = PIPELINES / "synth_a_320x240_25fps.mp4"
CLIP_B = PIPELINES / "synth_b_136x180_29.97fps.mp4"
TINY = ["img_size=32", "patch_size=8", "num_frames=4", "embed_dim=32", "depth=1", "num_heads=2"]


def test_tag_gives_the_official_timesformer_views():
    g = golden("P1__synth_a_320x240_25fps")
    for model in ("timesformer_base.k400", "timesformer_base", "timesformer_base.k600"):
        views = videoformer.test_views(CLIP_A, model)
        assert views.shape == (3, 3, 8, 224, 224)
        torch.testing.assert_close(
            views[:, :, :1].half().float(), g["views"][:, :, :1].float(), atol=2e-3, rtol=0
        )
    one_crop = videoformer.test_views(CLIP_A, "timesformer_base.k400", views="2x1")
    assert one_crop.shape == (2, 3, 8, 224, 224)
    four = golden("P1x4__synth_a_320x240_25fps")  # 4 clips x 3 crops: frame 0 of every view
    views = videoformer.test_views(CLIP_A, "timesformer_base.k400", views="4x3")
    stored = views[:, :, :1].half().float()
    torch.testing.assert_close(stored, four["views"].float(), atol=2e-3, rtol=0)
    torch.testing.assert_close(
        views.mean(dim=(3, 4)), four["per_view_channel_frame_mean"], atol=1e-5, rtol=0
    )


def test_video_swin_tag_gives_mmaction2_views_clip_major():
    g = golden("P2__synth_b_136x180_29.97fps")
    views = videoformer.test_views(CLIP_B, "video_swin_tiny.k400_in1k", views="4x3")
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1, 1)
    official = [crop * 4 + clip for clip in range(4) for crop in range(3)]
    assert torch.equal(views[:, :, [0, 31]], ((g["views_uint8"].float() - mean) / std)[official])


def hf_directory(path: Path, frames: int = 8, size: int = 224) -> Path:
    """config.json and preprocessor_config.json as the HF TimeSformer checkpoints have them."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(
        json.dumps(
            {
                "model_type": "timesformer",
                "num_frames": frames,
                "image_size": size,
                "patch_size": 8,
                "hidden_size": 32,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "intermediate_size": 128,
                "id2label": {"0": "left", "1": "right"},
            }
        )
    )
    (path / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "image_processor_type": "VideoMAEImageProcessor",
                "do_resize": True,
                "size": {"shortest_edge": size},
                "resample": 2,
                "do_center_crop": True,
                "crop_size": {"height": size, "width": size},
                "do_rescale": True,
                "rescale_factor": 1 / 255,
                "do_normalize": True,
                "image_mean": [0.45] * 3,
                "image_std": [0.225] * 3,
            }
        )
    )
    return path


def test_hf_directory_gives_the_videomae_processor_views(tmp_path):
    g = golden("P3__synth_a_320x240_25fps")
    views = videoformer.test_views(CLIP_A, hf_directory(tmp_path / "hf"))
    m = torch.tensor([0.45] * 3) * (1.0 / (1 / 255.0))
    s = torch.tensor([0.225] * 3) * (1.0 / (1 / 255.0))
    assert torch.equal(
        views, (g["views_uint8"].float() - m.view(1, 3, 1, 1, 1)) / s.view(1, 3, 1, 1, 1)
    )


def test_hf_directory_predicts_at_its_own_size_and_frames(tmp_path):
    """The golden HF directory is a 32-pixel, 4-frame model; its views must be too."""
    predictor = Predictor(GOLDEN / "hf_timesformer")
    assert predictor.data.protocol == "hf_videomae" and predictor.data.size == 32
    views = predictor.views(CLIP_B)
    assert views.shape == (1, 3, 4, 32, 32)
    pred = predictor.predict(CLIP_B, topk=2)
    assert {label for label, _ in pred.topk} <= {"left", "right", "up", "down", "grow", "shrink"}


def official_pyth(path: Path, num_classes: int, **config) -> torch.nn.Module:
    fields = dict(item.split("=") for item in TINY)
    model = create_model(
        "timesformer", num_classes=num_classes, **{k: int(v) for k, v in fields.items()}, **config
    ).eval()
    torch.save({"model_state": {f"model.{k}": v for k, v in model.state_dict().items()}}, path)
    return model


def convert_tiny(tmp_path: Path, classes: int, tag: str):
    """A tiny official .pyth with ``classes`` outputs converted for ``tag``: (model, Predictor)."""
    trained = official_pyth(tmp_path / "official.pyth", classes)
    out = tmp_path / "converted.safetensors"
    args = ["convert", str(tmp_path / "official.pyth"), "--model", tag, "--out", str(out)]
    assert main(args + [a for s in TINY for a in ("--set", s)]) == 0
    return trained, Predictor(out)


def test_converted_k400_checkpoint_keeps_names_size_and_protocol(tmp_path):
    trained, predictor = convert_tiny(tmp_path, 400, "timesformer_base.k400")
    assert predictor.labels == list(label_names("kinetics400"))
    data = predictor.data
    assert (data.size, data.clip, data.protocol) == (32, "4x32x1", "timesformer")
    assert predictor.protocol.num_views == 3
    x = predictor.views(CLIP_B)
    torch.testing.assert_close(predictor.model(x), trained(x), rtol=0, atol=0)
    assert predictor.predict(CLIP_B, topk=1).topk[0][0] in label_names("kinetics400")


def test_ssv2_weights_get_segments_bgr_and_ssv2_names(tmp_path):
    spec = data_config("timesformer_base.ssv2")
    assert (spec.protocol, spec.labels, spec.num_crops) == ("timesformer_ssv2", "ssv2", 3)
    _, predictor = convert_tiny(tmp_path, 174, "timesformer_base.ssv2")
    assert predictor.labels == list(label_names("ssv2"))
    # 120 frames, 4 segments of 29.75: middles (0+30)//2, (30+60)//2, (60+89)//2, (89+119)//2
    assert predictor.protocol.clip_indices(probe(CLIP_B)) == [[15, 45, 74, 104]]


def test_multi_label_models_predict_with_sigmoid(tmp_path):
    from videoformer.models.perceiver import ByteArray

    video = ByteArray(
        "video", "BCS", 3, patch_size=(2, 8, 8), num_bands=4, max_resolution=(2, 4, 4)
    )
    model = create_model(
        "perceiver",
        inputs=(video,),
        num_latents=8,
        latent_dim=32,
        num_cross_attends=1,
        latent_blocks_per_cross_attend=1,
        latent_heads=2,
        num_classes=5,
        multi_label=True,
    ).eval()
    write_model_file(
        model,
        model_metadata("perceiver", model, list("abcde"), model.default_data_config()),
        tmp_path / "ml.safetensors",
    )
    predictor = Predictor(tmp_path / "ml.safetensors")
    frames = torch.randint(0, 256, (8, 40, 48, 3), dtype=torch.uint8)
    logits = predictor.logits(frames)
    probs = dict(predictor.predict(frames, topk=5).topk)
    expected = logits.sigmoid().mean(0)
    assert sorted(probs.values(), reverse=True) == pytest.approx(
        sorted(expected.tolist(), reverse=True)
    )
    assert sum(probs.values()) != pytest.approx(1.0)


def test_checkpoint_without_metadata_names_what_to_pass(tmp_path):
    save_file({"x": torch.zeros(1)}, tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="carries no preprocessing .* e.g. timesformer_base.k400"):
        data_config(tmp_path / "w.safetensors")


def test_audio_visual_models_get_each_clips_audio(tmp_path):
    """predict/extract feed an audio+video Perceiver the audio of each clip's window."""
    from videoformer.data.audio import audio_window, read_audio
    from videoformer.models.perceiver import ByteArray

    path = write_av(tmp_path / "av.mp4", seconds=2.0, tone_hz=440.0, fps=16, size=32)
    video = ByteArray("video", "BCS", 3, (2, 8, 8), num_bands=4, max_resolution=(2, 4, 4))
    audio = ByteArray("audio", "BS", 1, patch_size=(64,), num_bands=4, max_resolution=(32,))
    model = create_model(
        "perceiver",
        inputs=(video, audio),
        num_latents=8,
        latent_dim=32,
        num_cross_attends=1,
        latent_blocks_per_cross_attend=1,
        latent_heads=2,
        num_classes=3,
        multi_label=True,
    ).eval()
    data = videoformer.DataSpec(32, "4x2x2", (0.45,) * 3, (0.225,) * 3, audio_rate=16_000)
    write_model_file(
        model,
        model_metadata("perceiver", model, ["a", "b", "c"], data),
        tmp_path / "av.safetensors",
    )
    predictor = Predictor(tmp_path / "av.safetensors")
    x = predictor.inputs(path)
    assert x["video"].shape == (2, 3, 4, 32, 32) and x["audio"].shape == (2, 2048)
    samples = read_audio(path, 16_000)
    first = predictor.protocol.clip_indices(probe(path))[1][0]  # the second clip's first frame
    assert torch.equal(x["audio"][1], audio_window(samples, round(first / 16 * 16_000), 2048))
    assert len(predictor.predict(path, topk=3).topk) == 3
    features, mean = predictor.embed(path)
    assert features.shape == (2, 32) and mean.shape == (32,)
    with pytest.raises(ValueError, match="also takes audio: give a video file"):
        predictor.predict(torch.zeros(8, 32, 32, 3, dtype=torch.uint8))


def test_convert_reads_sizes_from_the_checkpoint_and_claims_no_labels(tmp_path, capsys):
    """A foreign file converted for a variant: embed_dim, depth, patch, frames, size and
    classes come from its shapes (heads cannot: --set); no Kinetics names it does not have,
    unless --labels gives names."""
    trained = official_pyth(tmp_path / "official.pyth", 7)
    out = tmp_path / "c.safetensors"
    argv = [
        "convert",
        str(tmp_path / "official.pyth"),
        "--model",
        "timesformer_base",
        "--set",
        "num_heads=2",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    loaded = videoformer.load_model(out)
    assert loaded.config == trained.config
    assert loaded.label_names is None and loaded.data_spec.labels == ""
    (tmp_path / "names.txt").write_text("".join(f"class {i}\n" for i in range(7)))
    assert main([*argv, "--labels", str(tmp_path / "names.txt")]) == 0
    assert videoformer.load_model(out).label_names == [f"class {i}" for i in range(7)]
    (tmp_path / "names.txt").write_text("a\nb\n")
    assert main([*argv, "--labels", str(tmp_path / "names.txt")]) == 2
    assert "2 names for 7 classes" in capsys.readouterr().err


def test_a_checkpoint_that_does_not_fit_says_which_sizes_differ(tmp_path):
    trained = official_pyth(tmp_path / "official.pyth", 7)
    small = create_model(
        "timesformer",
        img_size=32,
        patch_size=8,
        num_frames=4,
        embed_dim=16,
        depth=2,
        num_heads=2,
        num_classes=7,
    )
    with pytest.raises(videoformer.CheckpointError) as error:
        videoformer.load_checkpoint(small, tmp_path / "official.pyth")
    message = str(error.value)
    embed = trained.config.embed_dim
    assert f"sizes differ: embed_dim {embed} in the checkpoint, 16 in the model" in message
    assert "depth 1 in the checkpoint, 2 in the model" in message
    assert "and " in message and len(message) < 1200  # a summary, not every key
