"""train / eval / predict / extract / convert through the command line, on generated data."""

import json

import numpy as np
import pytest
import torch

from tests.conftest import GOLDEN
from tests.engine.conftest import tiny_overrides
from videoformer.cli import main
from videoformer.data.synthetic import CLASSES


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    args = [
        "train",
        *sum((["--set", a] for a in tiny_overrides(tiny_data, out, **{"schedule.epochs": 1})), []),
    ]
    assert main(args) == 0
    return out


def test_train_writes_a_run(trained, capsys):
    assert (trained / "model.safetensors").is_file() and (trained / "config.yaml").is_file()


def test_predict_reports_unreadable_files_and_exits_1(trained, tiny_data, tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    good = sorted((tiny_data / "videos" / "growing").glob("*.mp4"))[0]
    code = main(
        [
            "predict",
            str(good),
            str(bad),
            "--checkpoint",
            str(trained / "model.safetensors"),
            "--topk",
            "3",
            "--json",
            "--views",
            "1x3",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    assert (
        f"cannot read {bad}" in captured.err and "1 of 2 videos could not be read" in captured.err
    )
    out = json.loads(captured.out)
    assert out["failed"] == [str(bad)]
    pred = out["predictions"][0]
    assert pred["views"] == 3 and len(pred["top"]) == 3
    assert sum(t["prob"] for t in pred["top"]) <= 1.0 + 1e-6 and pred["top"][0]["label"] in CLASSES


def test_predict_a_directory(trained, tiny_data, capsys):
    code = main(
        [
            "predict",
            str(tiny_data / "videos" / "appearing"),
            "--checkpoint",
            str(trained / "checkpoint.pt"),
        ]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 4 and all("%" in line for line in lines)


def test_eval_with_views(trained, tiny_data, tmp_path, capsys):
    args = [
        "eval",
        "--checkpoint",
        str(trained / "model.safetensors"),
        "--views",
        "2x3",
        "--out",
        str(tmp_path / "ev"),
        *sum((["--set", a] for a in tiny_overrides(tiny_data, tmp_path / "unused")), []),
    ]
    assert main(args) == 0
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert report["views_per_video"] == 6 and report["num_videos"] == 10
    assert set(report["per_class_accuracy"]) == set(report["labels"])
    assert (tmp_path / "ev" / "eval_confusion.png").is_file()


@pytest.mark.parametrize("suffix", [".npy", ".safetensors"])
def test_extract_embeddings(trained, tiny_data, tmp_path, suffix):
    out = tmp_path / f"emb{suffix}"
    code = main(
        [
            "extract",
            str(tiny_data / "videos" / "growing"),
            "--checkpoint",
            str(trained / "model.safetensors"),
            "--out",
            str(out),
            "--views",
            "2x1",
        ]
    )
    assert code == 0
    if suffix == ".npy":
        videos = np.load(out)
        clips = np.load(tmp_path / "emb_clips.npy")
        assert videos.shape == (4, 32) and clips.shape == (8, 32)
        np.testing.assert_allclose(videos[0], clips[:2].mean(0), rtol=1e-5, atol=1e-6)
    else:
        from safetensors.torch import load_file

        assert load_file(out)["videos"].shape == (4, 32)


def test_convert_official_checkpoint_then_predict_from_it(tmp_path, tiny_data, capsys):
    g = torch.load(GOLDEN / "timesformer_divided.pt", weights_only=True)
    src = tmp_path / "official.pyth"
    torch.save({"model_state": g["state_dict"]}, src)
    kw = g["kwargs"]
    sets = [
        f"{k}={kw[k]}"
        for k in (
            "img_size",
            "patch_size",
            "embed_dim",
            "depth",
            "num_heads",
            "num_frames",
            "num_classes",
        )
    ]
    out = tmp_path / "converted.safetensors"
    assert (
        main(
            [
                "convert",
                str(src),
                "--model",
                "timesformer",
                "--out",
                str(out),
                *sum((["--set", s] for s in sets), []),
            ]
        )
        == 0
    )
    assert "layout timesformer_official" in capsys.readouterr().out
    from videoformer.inference.predictor import Predictor

    predictor = Predictor(out)
    with torch.no_grad():
        torch.testing.assert_close(predictor.model(g["input"]), g["output"], atol=1e-5, rtol=0)


def test_bad_arguments_exit_2(trained, capsys):
    assert (
        main(
            [
                "predict",
                "x.mp4",
                "--checkpoint",
                str(trained / "model.safetensors"),
                "--views",
                "2by3",
            ]
        )
        == 2
    )
    assert "views must be CLIPSxCROPS such as 4x3, got '2by3'" in capsys.readouterr().err
    assert main(["train", "--set", "optim.lr"]) == 2
    assert main(["predict", "x.mp4", "--checkpoint", "/nonexistent.pt"]) == 2


def test_official_k400_weights_predict_named_classes():
    """Foreign checkpoints of a Kinetics-400 variant get the shipped class names and the
    official preprocessing."""
    from videoformer.inference.preprocessing import resolve_data_spec as data_config
    from videoformer.labels import label_names

    names = label_names("kinetics400")
    assert (
        len(names) == 400
        and names[0] == "abseiling"
        and names[-1] == "zumba"
        and list(names) == sorted(names)
    )
    data = data_config("timesformer_base")
    assert data.labels == "kinetics400" and data.clip == "8x32x1" and data.mean == (0.45,) * 3
    assert data.protocol == "timesformer" and data.num_crops == 3


def test_shipped_kinetics_600_700_names():
    """Sorted, unique, the right sizes; a 600- or 700-way head of a Kinetics-400 variant
    (official K600 weights) gets the matching set."""
    from videoformer.inference.preprocessing import resolve_data_spec as data_config
    from videoformer.labels import label_names, label_set_of_size

    k600, k700 = label_names("kinetics600"), label_names("kinetics700")
    for names, size in ((k600, 600), (k700, 700)):
        assert len(names) == len(set(names)) == size and list(names) == sorted(names)
    assert "bull fighting" in k600 and "bull fighting" not in k700 and "arresting" in k700
    assert (
        label_set_of_size("kinetics400", 600) == k600
        and label_set_of_size("kinetics400", 700) == k700
    )
    assert label_set_of_size("kinetics400", 500) is None and label_set_of_size("", 600) is None
    assert data_config("video_swin_base").labels == "kinetics400"
    assert data_config("timesformer_base.k600").labels == "kinetics600"


def test_shipped_ssv2_names_and_flip_map():
    import json
    from pathlib import Path

    import videoformer.labels as labels

    names = labels.label_names("ssv2")
    assert len(names) == 174 and names[0] == "Approaching something with your camera"
    flips = json.loads((Path(labels.__file__).parent / "ssv2_flip_map.json").read_text())
    assert flips["Pushing something from left to right"] == "Pushing something from right to left"
    assert all(flips[b] == a for a, b in flips.items()) and set(flips) <= set(names)


def test_demo_command_writes_its_report(tmp_path, capsys):
    """The README's main job end to end, shrunk with --set (the real run is `make demo`)."""
    out = tmp_path / "demo"
    code = main(
        [
            "demo",
            "--out",
            str(out),
            "--set",
            "data.synthetic_per_class=3",
            "--set",
            "schedule.epochs=1",
            "--set",
            "model_overrides.depth=1",
        ]
    )
    assert code == 0
    report = json.loads((out / "metrics.json").read_text())
    assert (
        0.0 <= report["top1"] <= 1.0
        and report["num_val_videos"] == 10
        and report["views_per_video"] == 3
    )
    assert set(report["per_class_accuracy"]) == set(CLASSES) and len(report["predictions"]) == 5
    for name in (
        "curves.png",
        "confusion.png",
        "model.safetensors",
        "checkpoint.pt",
        "dataset/train.csv",
    ):
        assert (out / name).is_file(), name
    assert f"wrote {out}/" in capsys.readouterr().out
    assert main(["demo", "--out", str(tmp_path / "x"), "--set", "optim.lr"]) == 2


def test_predict_stride_gives_a_timeline_in_json_and_csv(trained, tiny_data, capsys):
    """Sliding windows: each window's span in seconds and its top-k, beside the aggregate."""
    video = sorted((tiny_data / "videos" / "growing").glob("*.mp4"))[0]  # 8 frames at 16 fps
    args = [
        "predict",
        str(video),
        "--checkpoint",
        str(trained / "model.safetensors"),
        "--stride",
        "1",
        "--topk",
        "2",
    ]
    assert main(args + ["--json"]) == 0
    row = json.loads(capsys.readouterr().out)["predictions"][0]
    # clips of 4 frames 2 apart span 7 of the 8 frames: starts 0 (frames 0-6) and 1 (1-7)
    assert [(w["start"], w["end"]) for w in row["windows"]] == [(0.0, 0.4375), (0.0625, 0.5)]
    assert all(len(w["top"]) == 2 for w in row["windows"]) and len(row["top"]) == 2
    assert main(args + ["--csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "video,start,end,rank,label,probability" and len(lines) == 1 + 3 * 2
    assert lines[3].split(",")[1:4] == ["0.0", "0.4375", "1"]


def test_compile_flag_gives_the_eager_answers(trained, tiny_data, tmp_path, capsys, monkeypatch):
    """--compile on predict and extract compiles, and gives eager's probabilities and
    embeddings."""
    compiled = []
    real_compile = torch.compile
    monkeypatch.setattr(
        torch, "compile", lambda m, **kw: compiled.append(m) or real_compile(m, **kw)
    )
    video = str(sorted((tiny_data / "videos" / "growing").glob("*.mp4"))[0])
    checkpoint = ["--checkpoint", str(trained / "model.safetensors")]
    answers = []
    for flags in ([], ["--compile"]):
        assert main(["predict", video, *checkpoint, "--json", *flags]) == 0
        top = json.loads(capsys.readouterr().out)["predictions"][0]["top"]
        out = tmp_path / f"emb{len(flags)}.npy"
        assert main(["extract", video, *checkpoint, "--out", str(out), *flags]) == 0
        capsys.readouterr()
        answers.append(([t["label"] for t in top], [t["prob"] for t in top], np.load(out)))
    assert len(compiled) == 2  # once for predict, once for extract, only with the flag
    (labels, probs, emb), (labels_c, probs_c, emb_c) = answers
    assert labels == labels_c
    np.testing.assert_allclose(probs_c, probs, atol=2e-6)  # printed to 6 decimals
    np.testing.assert_allclose(emb_c, emb, rtol=1e-5, atol=1e-6)


def test_a_used_run_folder_needs_resume_or_overwrite(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", *sum((["--set", o] for o in tiny_overrides(tiny_data, out)), [])]
    argv += ["--set", "max_steps=1", "--set", "schedule.epochs=1"]
    assert main(argv) == 0
    (out / "eval.json").write_text('{"top1": 1.0}')  # what a finished run leaves
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "holds an earlier run" in err and "--resume" in err and "--overwrite" in err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert main([*argv, "--overwrite"]) == 0
    assert not (out / "eval.json").exists()  # the old run's report went with it
    rows = (out / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 1  # one step of the new run, nothing appended to the old log
    assert main([*argv, "--overwrite", "--resume"]) == 2
    assert "choose one" in capsys.readouterr().err


def test_a_run_folder_in_use_is_refused(tiny_data, tmp_path, capsys):
    """A second process on a folder a running run holds is refused before it writes."""
    import subprocess
    import sys

    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; "
            f"lock = FileLock({str(out / 'run.lock')!r}); lock.acquire(); "
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        argv = ["train", *sum((["--set", o] for o in tiny_overrides(tiny_data, out)), [])]
        assert main([*argv, "--overwrite"]) == 2
        assert "in use by another running videoformer train" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == ["run.lock"]
    finally:
        holder.kill()
        holder.wait()


def test_eval_and_resume_use_the_runs_own_recipe(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    sets = tiny_overrides(tiny_data, out, **{"schedule.epochs": 1})
    assert main(["train", *sum((["--set", o] for o in sets), [])]) == 0
    capsys.readouterr()
    for checkpoint in ("model.safetensors", "checkpoint.pt"):  # no --config
        argv = ["eval", "--checkpoint", str(out / checkpoint), "--out", str(tmp_path / "e")]
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out.split("\nreport:")[0])["num_videos"] == 10
    argv = ["train", "--out", str(out), "--resume", "--set", "schedule.epochs=2"]
    assert main(argv) == 0  # the saved recipe, with one field changed
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(r["epoch"] for r in rows if r["kind"] == "eval") == 2
    lonely = tmp_path / "lonely.safetensors"
    lonely.write_bytes((out / "model.safetensors").read_bytes())
    assert main(["eval", "--checkpoint", str(lonely)]) == 2
    assert "eval needs --config" in capsys.readouterr().err


def test_extract_maps_every_row_to_its_video_and_span(trained, tiny_data, tmp_path):
    videos = sorted((tiny_data / "videos" / "growing").glob("*.mp4"))[:2]
    out = tmp_path / "emb" / "e.npy"
    argv = [
        "extract",
        *map(str, videos),
        "--checkpoint",
        str(trained / "model.safetensors"),
        "--views",
        "2x1",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    index = json.loads((tmp_path / "emb" / "e_clips.json").read_text())
    clips = np.load(tmp_path / "emb" / "e_clips.npy")
    assert len(index["clips"]) == len(clips) == 4 and index["videos"] == list(map(str, videos))
    assert [(r["video"], r["view"]) for r in index["clips"]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    first, second = index["clips"][:2]
    assert 0 <= first["start"] < second["start"] and first["end"] > first["start"]
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "e.npy",
        "e_clips.json",
        "e_clips.npy",
        "e_paths.json",
    ]  # nothing half-written or temporary left


def test_prediction_inputs_are_checked_before_the_model_loads(trained, tmp_path, capsys):
    checkpoint = ["--checkpoint", str(trained / "model.safetensors")]
    with pytest.raises(SystemExit):
        main(["predict", "x.mp4", *checkpoint, "--stride", "0"])
    assert "must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["predict", "https://example.com/clip.mp4", *checkpoint]) == 2
    assert "is a URL; videoformer reads video files on this machine" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "folder.mp4").mkdir()  # a folder named like a video is not one
    assert main(["predict", str(tmp_path / "empty"), *checkpoint]) == 2
    assert "holds no video files" in capsys.readouterr().err
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "e.npy").mkdir()
    assert (
        main(["extract", str(trained), *checkpoint, "--out", str(tmp_path / "ro" / "e.npy")]) == 2
    )
    assert "is a folder; give a file name" in capsys.readouterr().err


def test_predict_csv_escapes_and_neutralises_what_a_checkpoint_says(tiny_data, tmp_path, capsys):
    """Labels from a downloaded checkpoint and odd file names stay in their fields; a
    label a spreadsheet would run as a formula is prefixed with '."""
    import csv
    import io
    import shutil

    import videoformer

    labels = ["=cmd|' /C calc'!A0", 'quote "and", comma', "tab\there"]
    model = videoformer.create_model(
        "timesformer",
        img_size=32,
        patch_size=8,
        num_frames=4,
        embed_dim=32,
        depth=1,
        num_heads=2,
        num_classes=3,
    )
    model.label_names = labels
    saved = videoformer.save_model(model.eval(), tmp_path / "m.safetensors")
    video = tmp_path / 'a "quoted", name.mp4'
    shutil.copy(sorted((tiny_data / "videos" / "growing").glob("*.mp4"))[0], video)
    assert main(["predict", str(video), "--checkpoint", str(saved), "--csv", "--topk", "3"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["video", "start", "end", "rank", "label", "probability"]
    assert len(rows) == 4 and all(len(r) == 6 and r[0] == str(video) for r in rows[1:])
    assert {r[4] for r in rows[1:]} == {"'" + labels[0], labels[1], labels[2]}


def test_eval_says_how_many_videos_it_scored_and_fails_above_the_limit(
    trained, tiny_data, tmp_path, capsys
):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(tiny_data, root)
    val = [line.split(",")[0] for line in (root / "val.csv").read_text().splitlines()]
    for rel in val[:3]:
        (root / rel).write_bytes(b"not a video any more")
    argv = [
        "eval",
        "--checkpoint",
        str(trained / "model.safetensors"),
        "--set",
        f"data.root={root}",
        "--out",
        str(tmp_path / "ev"),
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "3 of 10 videos could not be read" in err and "above --max-unreadable 0.01" in err
    assert not (tmp_path / "ev").exists()
    assert main([*argv, "--max-unreadable", "0.5"]) == 0
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert (report["num_videos"], report["videos_listed"], report["failed_files"]) == (7, 10, 3)


def test_outputs_are_whole_or_absent(trained, tiny_data, tmp_path, capsys, monkeypatch):
    """A report whose figure fails leaves no JSON; an output folder where a file should go
    is refused before the work; a full disk leaves nothing half-written; files are 0644."""
    import os
    import stat
    import subprocess
    import sys

    from videoformer.engine import evaluate, plots

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plots, "plot_confusion", broken)
    with pytest.raises(OSError):
        evaluate.write_report({"top1": 1.0, "confusion": [[1]]}, tmp_path / "r", ["a"])
    assert list((tmp_path / "r").iterdir()) == []
    (tmp_path / "taken.safetensors").mkdir()
    argv = [
        "convert",
        str(trained / "model.safetensors"),
        "--model",
        "timesformer",
        "--out",
        str(tmp_path / "taken.safetensors"),
    ]
    assert main(argv) == 2 and "is a folder" in capsys.readouterr().err
    assert list((tmp_path / "taken.safetensors").iterdir()) == []
    out = tmp_path / "emb" / "e.npy"
    script = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600)); "
        "from videoformer.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    video = str(sorted((tiny_data / "videos" / "growing").glob("*.mp4"))[0])
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "extract",
            video,
            "--checkpoint",
            str(trained / "model.safetensors"),
            "--views",
            "8x1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "File too large" in done.stderr, done.stderr[-500:]
    assert "Traceback" not in done.stderr
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    saved = tmp_path / "m.safetensors"
    assert (
        main(
            [
                "convert",
                str(trained / "model.safetensors"),
                "--model",
                "timesformer",
                "--out",
                str(saved),
            ]
        )
        == 0
    )
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask
