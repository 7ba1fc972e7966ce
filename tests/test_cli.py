"""The videoformer command line, in-process."""

import json

import pytest

from videoformer.cli import main


def test_list_models_with_pattern(capsys):
    assert main(["list-models", "timesformer_h*"]) == 0
    assert capsys.readouterr().out.split() == ["timesformer_hr"]


def test_list_models_without_match_fails(capsys):
    assert main(["list-models", "nothing*"]) == 1
    assert "no model matches" in capsys.readouterr().err


def test_info_prints_official_counts(capsys):
    assert main(["info", "timesformer_base"]) == 0
    out = capsys.readouterr().out
    assert "121,566,352" in out and "391.7 GFLOP" in out and "(B, 3, 8, 224, 224)" in out


def test_info_json(capsys):
    assert main(["info", "timesformer_large", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["params"] == 121_633_936 and info["input_shape"] == [3, 96, 224, 224]


def test_info_takes_a_tag_and_downloads_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: a download would show
    assert main(["info", "timesformer_base.k600", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["config"]["num_classes"] == 600  # the config the tag's weights need
    assert main(["info", "timesformer_base.k600"]) == 0
    out = capsys.readouterr().out
    assert "timesformer_base.k600 https://" in out and "timesformer_base.k400" not in out
    assert not any(tmp_path.rglob("*.pyth"))


def test_unknown_model_lists_closest_names_and_exits_2(capsys):
    assert main(["info", "timesformer-base"]) == 2
    assert "closest: timesformer_base" in capsys.readouterr().err


def test_list_models_pretrained_lists_tags(capsys):
    assert main(["list-models", "video_swin_base", "--pretrained"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:-1]  # a header, a row a tag, a note
    assert [row.split()[0] for row in rows] == [
        "video_swin_base.k400_in1k",
        "video_swin_base.k400_in22k",
        "video_swin_base.k600_in22k",
        "video_swin_base.ssv2_k400_in22k",
    ]
    assert rows[1].split()[1:] == ["400", "82.7", "mmaction", "Apache-2.0"]


def test_info_of_a_tag_says_what_the_release_reports(capsys):
    assert main(["info", "timesformer_base.mmaction_k400_joint"]) == 0
    out = capsys.readouterr().out
    assert "license Apache-2.0; 400 classes (kinetics400); test protocol mmaction" in out
    assert "reported: top-1 76.95, top-5 93.28 (Kinetics-400 val, 1 clip x 3 crops" in out
    assert "attention_type = joint_space_time" in out and "views combined by mean_softmax" in out


def test_a_model_without_names_warns_before_naming_kinetics_classes(caplog):
    import videoformer

    model = videoformer.create_model(
        "timesformer_base",
        img_size=32,
        patch_size=8,
        num_frames=4,
        embed_dim=32,
        depth=1,
        num_heads=2,
    )
    predictor = videoformer.Predictor(model)  # random weights, 400 classes
    assert predictor.labels[0] == "abseiling"
    assert "carries no class names" in caplog.text and "kinetics400" in caplog.text


def test_version_and_help(capsys):
    import pytest

    import videoformer

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert (
        stop.value.code == 0
        and capsys.readouterr().out.strip() == f"videoformer {videoformer.__version__}"
    )
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "Video transformers" in text and text.count("  videoformer ") == 4  # four examples


def test_every_option_has_help():
    import argparse

    from videoformer.cli import build_parser

    missing = []
    parsers = {"videoformer": build_parser()}
    for action in parsers["videoformer"]._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers.update(action.choices)
    for name, parser in parsers.items():
        for action in parser._actions:
            if not isinstance(action, argparse._SubParsersAction) and not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, missing


def test_cuda_without_a_gpu_is_refused(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert (
        main(["predict", "x.mp4", "--checkpoint", "timesformer_base.k400", "--device", "cuda"]) == 2
    )
    assert "no CUDA device is available here" in capsys.readouterr().err


def test_a_full_device_is_one_line_and_a_bug_keeps_its_traceback(monkeypatch, capsys):
    import videoformer.cli as cli

    def full(args):
        raise RuntimeError(
            "unable to resize file </torch_1_2_0> to the right size: File too large (27)"
        )

    def bug(args):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(cli, "_cmd_list_models", full)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with(parser(), full))
    assert cli.main(["list-models"]) == 2
    assert "the disk or shared memory (/dev/shm) is full" in capsys.readouterr().err
    monkeypatch.setattr(cli, "build_parser", lambda: _with(parser(), bug))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        cli.main(["list-models"])


def _with(parser, fn):
    sub = parser._subparsers._group_actions[0].choices["list-models"]
    sub.set_defaults(fn=fn)
    return parser
