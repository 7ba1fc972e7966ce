"""Bad settings are refused before a run writes anything: exit code 2, the message names
the field, the value and what is allowed, and the run folder and data root stay absent."""

import pytest

from videoformer.cli import main
from videoformer.data.sampling import ClipSampler
from videoformer.engine.config import RECIPES, load_config


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
            "model_overrides.num_frames=8",
            "data.clip = '4x4x1' gives clips of 4 frames, but the model (timesformer) takes 8",
        ),
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


def _class_folders(root, train, val, suffix=".mp4"):
    for split, classes in (("train", train), ("val", val)):
        for cls in classes:
            (root / split / cls).mkdir(parents=True)
            (root / split / cls / f"x{suffix}").write_bytes(b"")
    return root


@pytest.mark.parametrize(
    ("val", "message"),
    [
        (["a", "c"], "val/ lacks 1 classes ('b')"),
        (["a", "b", "c", "d"], "train/ lacks 1 classes ('d')"),
    ],
)
@pytest.mark.parametrize(("kind", "suffix"), [("folders", ".mp4"), ("images", ".png")])
def test_class_folders_that_differ_between_splits_are_refused(
    tmp_path, capsys, val, message, kind, suffix
):
    root = _class_folders(tmp_path / "data", ["a", "b", "c"], val, suffix)
    out = tmp_path / "run"
    argv = [
        "train",
        "--config",
        "demo",
        "--set",
        f"data.root={root}",
        "--set",
        f"data.dataset={kind}",
        "--out",
        str(out),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "the splits must have the same classes" in err and message in err
    assert not out.exists()


def test_kinetics_splits_share_one_label_list(tmp_path):
    from videoformer.data.datasets import read_kinetics_csv

    root = tmp_path / "k"
    root.mkdir()
    header = "label,youtube_id,time_start,time_end,split\n"
    (root / "train.csv").write_text(header + "a,x1,0,10,train\nb,x2,0,10,train\n")
    (root / "val.csv").write_text(header + "b,x3,0,10,val\n")
    for stem in ("x1_000000_000010", "x2_000000_000010", "x3_000000_000010"):
        (root / f"{stem}.mp4").write_bytes(b"")
    _, names = read_kinetics_csv(root / "train.csv", root)
    items, _ = read_kinetics_csv(root / "val.csv", root, label_names=names)
    assert names == ["a", "b"] and [it.label for it in items] == [1]  # b is 1, as in train
    (root / "val.csv").write_text(header + "c,x3,0,10,val\n")
    with pytest.raises(ValueError, match=r"val.csv: 1 classes \('c'\) that the label list lacks"):
        read_kinetics_csv(root / "val.csv", root, label_names=names)


@pytest.mark.parametrize("recipe", sorted(p.stem for p in RECIPES.glob("*.yaml")))
def test_every_packaged_recipe_loads_and_its_clips_fit_its_model(recipe):
    import torch

    from videoformer.data.kinds import DATASET_KINDS
    from videoformer.engine.builders import model_frames
    from videoformer.models.registry import resolve_weights

    cfg = load_config(recipe)
    entry, spec = resolve_weights(cfg.model)
    with torch.device("meta"):
        model = entry.build(**{**(spec.config if spec else {}), **cfg.model_overrides})
    frames = model_frames(model)
    if DATASET_KINDS[cfg.data.dataset].sample != "image":
        assert frames == ClipSampler.parse(cfg.data.clip).clip_len


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["batch_size=true"], "batch_size: expected int, got True"),
        (["data.size=100000"], "data.size = 100000: must be from 1 to 4096 pixels"),
        (["data.mean=[0.5, 0.5]"], "data.mean = (0.5, 0.5): must be three values"),
        (["data.std=[0.2, 0.0, 0.2]"], "must be three positive values"),
        (["data.rand_augment=[2]"], "data.rand_augment = (2,): must be null or [num_ops"),
        (["optim.lr=.inf"], "optim.lr: expected a finite number, got inf"),
        (["model_overrides.num_heads=0"], "model = 'timesformer'"),
        (
            [
                "model_overrides.embed_dim=16384",
                "model_overrides.num_heads=16",
                "model_overrides.depth=48",
            ],
            "GiB free",
        ),
        (
            ["data.flip_map=missing.json", "data.dataset=list", "data.root=DATA"],
            "data.flip_map = 'missing.json': no such file",
        ),
    ],
)
def test_values_that_used_to_pass_are_refused_before_anything_is_written(
    tmp_path, capsys, tiny_data, settings, message
):
    out, root = tmp_path / "run", tmp_path / "data"
    sets = [s.replace("DATA", str(tiny_data)) for s in settings]
    argv = ["train", "--config", "demo", "--set", f"data.root={root}", "--out", str(out)]
    code = main([*argv, *sum((["--set", s] for s in sets), [])])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert not out.exists() and not root.exists()


def test_resume_into_an_empty_folder_writes_nothing(tmp_path, capsys):
    out, root = tmp_path / "run", tmp_path / "data"
    out.mkdir()
    argv = [
        "train",
        "--config",
        "demo",
        "--set",
        f"data.root={root}",
        "--out",
        str(out),
        "--resume",
    ]
    assert main(argv) == 2
    assert "--resume: no checkpoint in" in capsys.readouterr().err
    assert list(out.iterdir()) == [] and not root.exists()


def test_a_run_folder_inside_a_class_folder_split_is_refused(tmp_path, capsys):
    root = _class_folders(tmp_path / "videos", ["a", "b"], ["a", "b"])
    argv = [
        "train",
        "--config",
        "demo",
        "--set",
        f"data.root={root}",
        "--set",
        "data.dataset=folders",
        "--set",
        "data.flip_map=''",
        "--out",
        str(root / "train" / "runs"),
    ]
    assert main(argv) == 2
    assert "it would become a class folder" in capsys.readouterr().err
    assert sorted(p.name for p in (root / "train").iterdir()) == ["a", "b"]
