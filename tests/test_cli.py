"""The videoformer command line, in-process."""

import json

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


def test_unknown_model_lists_closest_names_and_exits_2(capsys):
    assert main(["info", "timesformer-base"]) == 2
    assert "closest: timesformer_base" in capsys.readouterr().err


def test_list_models_pretrained_lists_tags(capsys):
    assert main(["list-models", "video_swin_base", "--pretrained"]) == 0
    tags = capsys.readouterr().out.split()
    assert tags == [
        "video_swin_base.k400_in1k",
        "video_swin_base.k400_in22k",
        "video_swin_base.k600_in22k",
        "video_swin_base.ssv2_k400_in22k",
    ]
