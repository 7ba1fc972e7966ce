"""Bad settings are refused before a run writes anything: exit code 2, the message names
the field, the value and what is allowed, and the run folder and data root stay absent."""

import pytest

from videoformer.cli import main


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("data.clip=8y2", "data.clip = '8y2'"),
        ("precision=fp16", "precision = 'fp16' needs a GPU"),
        ("precision=half", "precision = 'half' is not one of fp32, bf16, fp16"),
        ("optim.lr=0", "optim.lr = 0.0: must be positive"),
        (
            "schedule.milestones=[14, 11]",
            "schedule.milestones = (14, 11): must be increasing epochs",
        ),
        ("data.test_crops=2", "data.test_crops = 2: must be 1 or 3"),
        (
            "model_overrides={depth_of_field: 3}",
            "unknown TimeSformerConfig field(s) ['depth_of_field']",
        ),
        ("model=timesformer_bass", "unknown model 'timesformer_bass'"),
        (
            "pretrained=/nonexistent/w.pth",
            "pretrained = '/nonexistent/w.pth': no such file, URL, tag",
        ),
        ("data.dataset=kinetics", "data.dataset = 'kinetics' reads"),
        (
            "data.protocol=hf_videomae",
            "data.protocol = 'hf_videomae': the hf_videomae protocol takes (1,) crops",
        ),
    ],
)
def test_bad_settings_touch_nothing(tmp_path, capsys, setting, message):
    out, root = tmp_path / "run", tmp_path / "data"
    extra = ["--set", "data.test_crops=3"] if "protocol" in setting else []
    code = main(
        [
            "train",
            "--config",
            "demo",
            "--set",
            f"data.root={root}",
            *extra,
            "--set",
            setting,
            "--out",
            str(out),
        ]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not root.exists()


def test_other_commands_check_their_arguments_first(tmp_path, capsys):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    assert (
        main(
            [
                "extract",
                str(video),
                "--checkpoint",
                "timesformer_base.k400",
                "--out",
                str(tmp_path / "e.txt"),
            ]
        )
        == 2
    )
    assert "--out must end in .npy or .safetensors" in capsys.readouterr().err
    assert (
        main(
            ["convert", str(video), "--model", "timesformer_base", "--out", str(tmp_path / "c.pt")]
        )
        == 2
    )
    assert "--out must end in .safetensors" in capsys.readouterr().err
    assert (
        main(["predict", str(video), "--checkpoint", "timesformer_base.k400", "--views", "3x2x1"])
        == 2
    )
    assert "views must be CLIPSxCROPS" in capsys.readouterr().err
    assert not (tmp_path / "e.txt").exists() and not (tmp_path / "c.pt").exists()
