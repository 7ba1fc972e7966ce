"""Prepared shards: ``videoformer prepare`` (what it writes, resuming, unreadable inputs,
refusals), training and evaluating from them (exact resume, damaged samples, an HTTP
server process with dropped connections), ``extract`` from them."""

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import webdataset as wds

from tests.engine.conftest import STOCHASTIC, tiny_overrides, wait_for_train_steps
from videoformer.cli import main
from videoformer.data import prepare as prepare_module
from videoformer.data import shards
from videoformer.data.datasets import read_label_names
from videoformer.data.decode import probe, read_frames
from videoformer.data.prepare import Encoding, Preparation
from videoformer.data.shards import ShardDataset, load_manifest, read_split, video_info
from videoformer.engine.builders import split_items
from videoformer.engine.checkpointing import load_training_checkpoint
from videoformer.engine.config import load_config
from videoformer.engine.train import Trainer

SHARDS = {"data.dataset": "shards"}


def sets(data, out=None, **extra) -> list[str]:
    args = tiny_overrides(data, out or Path(tempfile.gettempdir()) / "unused", **extra)
    return sum((["--set", a] for a in args), [])


def prepare(data, out, *flags) -> int:
    return main(["prepare", "--out", str(out), "--short-side", "32", *flags, *sets(data)])


def index(root, split="train") -> list[dict]:
    return [json.loads(line) for line in (Path(root) / f"{split}.index.jsonl").open()]


def psnr(a, b) -> float:
    """dB between two uint8 clips."""
    mse = (a.double() - b.double()).square().mean()
    return float(10 * torch.log10(255**2 / mse))


def weights(out):
    return load_training_checkpoint(out / "checkpoint.pt")["model"]


def assert_same_weights(a, b):
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different[:5]


def train(data, out, **extra):
    Trainer(load_config(None, tiny_overrides(data, out, **extra))).fit()
    return weights(out)


@pytest.fixture(scope="module")
def prepared(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "shards"
    assert prepare(tiny_data, out, "--keyint", "3") == 0
    return out


@pytest.fixture(scope="module")
def kept(tiny_data, tmp_path_factory):
    """The sources' own bytes in shards (decoding them gives the files' pixels)."""
    out = tmp_path_factory.mktemp("kept") / "shards"
    assert prepare(tiny_data, out, "--no-reencode") == 0
    return out


# --- prepare -----------------------------------------------------------------------


def test_prepare_packs_every_video_with_what_a_loader_would_probe(prepared, tiny_data):
    manifest = load_manifest(str(prepared))
    cfg = load_config(None, tiny_overrides(tiny_data, "unused"))
    files, names = split_items(cfg.data, "train")
    assert manifest["label_names"] == names == read_label_names(tiny_data / "labels.txt")
    assert manifest["encoding"]["keyint"] == 3 and manifest["encoding"]["short_side"] == 32
    for split in ("train", "val"):
        listed = len((tiny_data / f"{split}.csv").read_text().split())
        info = manifest["splits"][split]
        assert info["samples"] == info["listed"] == listed and info["unreadable"] == 0
    records = index(prepared)
    assert [r["source"] for r in records] == [str(f.path) for f in files]
    for r, f in zip(records, files):
        assert r["sha256"] == hashlib.sha256(Path(f.path).read_bytes()).hexdigest()
        assert r["label"] == f.label
    # any WebDataset pipeline streams the shards: the same keys, labels and videos
    shards = [str(prepared / s) for s in manifest["splits"]["train"]["shards"]]
    samples = list(wds.WebDataset(shards, shardshuffle=False))
    assert [s["__key__"] for s in samples] == [r["key"] for r in records]
    for sample in samples[:6]:
        meta = json.loads(sample["json"])
        with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
            f.write(sample["mp4"])
            f.flush()
            probed = probe(f.name)
        stored = video_info(f.name, meta)
        assert stored == probed  # training needs no probe: the stored info is the probe's
        assert meta["keyframes"] == list(range(0, probed.num_frames, 3))  # --keyint 3
        assert min(probed.width, probed.height) == 32
        source = read_frames(meta["source"], range(probed.num_frames)).frames
        encoded = read_frames(io.BytesIO(sample["mp4"]), range(probed.num_frames), stored)
        assert psnr(encoded.frames, source) > 30  # the same pictures, re-encoded


def test_prepare_without_reencoding_keeps_the_source_bytes(kept, tiny_data):
    items, _ = read_split(str(kept), "train")
    for item, record in zip(items, index(kept)):
        with open(item.shard, "rb") as f:
            f.seek(item.video[0])
            assert f.read(item.video[1]) == Path(record["source"]).read_bytes()
    assert load_manifest(str(kept))["encoding"]["reencode"] is False


def test_an_interrupted_prepare_continues_where_it_stopped(tiny_data, tmp_path, monkeypatch):
    cfg = load_config(None, tiny_overrides(tiny_data, "unused"))
    items, names = split_items(cfg.data, "train")
    splits = {"train": items[:12]}
    encoding = Encoding(short_side=32, keyint=8)

    def preparation(out):
        return Preparation(out, encoding, {"kind": "synthetic"}, names, shard_bytes=10000)

    whole = preparation(tmp_path / "whole").run(splits, report=lambda _: None)
    assert len(whole["splits"]["train"]["shards"]) >= 3  # the interruption falls after some
    encode, calls = prepare_module.prepare_sample, []

    def interrupted_after_9(encoding, path, label):
        calls.append(path)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return encode(encoding, path, label)

    monkeypatch.setattr(prepare_module, "prepare_sample", interrupted_after_9)
    with pytest.raises(KeyboardInterrupt):
        preparation(tmp_path / "part").run(splits, report=lambda _: None)
    state = json.loads((tmp_path / "part" / prepare_module.PROGRESS).read_text())
    kept_samples = sum(s["samples"] for s in state["shards"].values())
    assert 0 < kept_samples < 9 and not (tmp_path / "part" / "manifest.json").exists()
    calls.clear()
    lines = []
    again = preparation(tmp_path / "part").run(splits, report=lines.append)
    assert len(calls) == 12 - kept_samples  # only what no whole shard holds is encoded again
    assert lines == [f"train: {kept_samples} of 12 samples prepared before; continuing"]
    assert again == whole
    assert index(tmp_path / "part") == index(tmp_path / "whole")
    for shard in whole["splits"]["train"]["shards"]:  # the same settings: the same bytes
        assert (tmp_path / "part" / shard).read_bytes() == (tmp_path / "whole" / shard).read_bytes()
    assert not list((tmp_path / "part").glob(".*.tmp"))
    items, _ = read_split(str(tmp_path / "part"), "train")
    dataset = ShardDataset(items, None, None, train=False)
    for item, record in zip(items, index(tmp_path / "part")):  # every sample whole
        frames = read_frames(dataset._source(item), range(8), dataset._info(item)).frames
        assert psnr(frames, read_frames(record["source"], range(8)).frames) > 30


def test_unreadable_inputs_are_reported_and_counted(tiny_data, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    broken = data / (data / "train.csv").read_text().split()[4].split(",")[0]
    broken.write_bytes(b"not a video" * 100)
    assert prepare(data, tmp_path / "out") == 1  # done, but not everything
    err = capsys.readouterr().err
    assert f"cannot read {broken}" in err
    manifest = load_manifest(str(tmp_path / "out"))
    train = manifest["splits"]["train"]
    assert train["unreadable"] == 1 and train["samples"] == train["listed"] - 1
    (unreadable,) = [json.loads(u) for u in (tmp_path / "out" / "unreadable.jsonl").open()]
    assert unreadable["source"] == str(broken) and unreadable["position"] == 4
    assert 4 not in [r["position"] for r in index(tmp_path / "out")]


def test_prepare_refuses_a_folder_it_cannot_continue(tiny_data, prepared, tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert prepare(tiny_data, foreign) == 2
    assert "is not empty and not a preparation videoformer can continue" in capsys.readouterr().err
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]  # nothing written
    before = {p: p.read_bytes() for p in prepared.rglob("*") if p.is_file()}
    assert prepare(tiny_data, prepared, "--keyint", "3", "--crf", "30") == 2
    assert "holds a preparation of other data or settings" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in prepared.rglob("*") if p.is_file()} == before


# --- training and evaluation from shards ---------------------------------------------


def test_training_from_shards_resumes_bitwise_mid_epoch(prepared, tmp_path):
    extra = {**SHARDS, **STOCHASTIC}
    whole = train(prepared, tmp_path / "whole", **extra)
    train(prepared, tmp_path / "part", max_steps=5, **extra)  # 7 steps an epoch
    Trainer(load_config(None, tiny_overrides(prepared, tmp_path / "part", **extra)), True).fit()
    assert_same_weights(whole, weights(tmp_path / "part"))
    first = load_training_checkpoint(tmp_path / "whole" / "checkpoint.pt")
    assert first["step"] == 14 and first["failed_files"] == 0


def test_a_damaged_shard_sample_is_named_skipped_and_counted(prepared, tmp_path, caplog):
    damaged = tmp_path / "damaged"
    shutil.copytree(prepared, damaged)
    records = index(damaged)
    shard = damaged / records[0]["shard"]
    data = bytearray(shard.read_bytes())
    offset, size = records[3]["video"]  # a video that does not decode
    data[offset : offset + size] = bytes(size)
    offset, size = records[7]["meta"]  # metadata that does not parse
    data[offset : offset + size] = b"{" * size
    cut = records[-1]["video"][0] + 10  # the shard cut short inside its last sample
    shard.write_bytes(bytes(data[:cut]))
    with caplog.at_level("WARNING"):
        train(damaged, tmp_path / "run", **SHARDS, **{"schedule.epochs": 1})
    warned = " ".join(r.getMessage() for r in caplog.records)
    damage = ((3, "not a readable video"), (7, "its metadata does not parse"), (-1, "cut short"))
    for r, reason in ((records[k], reason) for k, reason in damage):
        assert f"{r['shard']}:{r['key']}: {reason}" in warned
    assert load_training_checkpoint(tmp_path / "run" / "checkpoint.pt")["failed_files"] >= 3


@pytest.fixture()
def server(tmp_path):
    """``serve(folder, drops)``: the folder over HTTP from a server process, its URL."""
    procs = []

    def serve(folder, drops=0):
        port_file = tmp_path / f"port{len(procs)}"
        cmd = [sys.executable, "-m", "tests.data.range_server", str(folder), str(port_file)]
        procs.append(subprocess.Popen([*cmd, str(drops)]))
        deadline = time.time() + 30
        while not (port_file.is_file() and port_file.read_text()) and time.time() < deadline:
            time.sleep(0.05)
        return f"http://127.0.0.1:{port_file.read_text()}/"

    yield serve
    for p in procs:
        p.kill()
        p.wait()


def test_training_streams_from_an_http_server_and_retries_dropped_connections(
    prepared, tmp_path, server, caplog
):
    one_epoch = {**SHARDS, "schedule.epochs": 1, "data.num_workers": 2}
    local = train(prepared, tmp_path / "local", **one_epoch)
    remote = train(server(prepared), tmp_path / "remote", **one_epoch)
    assert_same_weights(local, remote)
    with caplog.at_level("WARNING"):  # three responses cut halfway: read again
        flaky = train(server(prepared, drops=3), tmp_path / "flaky", **one_epoch)
    assert_same_weights(local, flaky)
    assert load_training_checkpoint(tmp_path / "flaky" / "checkpoint.pt")["failed_files"] == 0


def test_a_server_that_always_drops_or_never_answers_is_one_line(
    prepared, tmp_path, server, capsys, monkeypatch
):
    monkeypatch.setattr(shards, "RETRY_WAIT", 0.05)  # the loader's workers are forked: theirs too
    url = server(prepared, drops=-1)  # the manifest comes whole, every sample is cut
    for root, named in (
        (url, f"{url}train-000000.tar: could not read bytes"),
        ("http://127.0.0.1:9/shards", "http://127.0.0.1:9/shards/manifest.json"),
    ):
        args = sets(root, tmp_path / "run", **SHARDS, **{"data.num_workers": 2})
        assert main(["train", *args, "--overwrite"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        errors = [line for line in err if line.startswith("videoformer train: error: ")]
        assert len(errors) == 1 and named in errors[0] and errors[0] == err[-1], err
        assert not any("Traceback" in line for line in err)


def test_eval_on_shards_gives_the_scores_of_the_files(kept, tiny_data, tmp_path, capsys):
    run = tmp_path / "run"
    train(tiny_data, run, **{"schedule.epochs": 1})
    reports = []
    for data, extra in ((tiny_data, {}), (kept, SHARDS)):
        out = tmp_path / f"eval{len(reports)}"
        args = ["eval", "--checkpoint", str(run / "model.safetensors"), "--views", "2x3"]
        assert main([*args, "--out", str(out), *sets(data, **extra)]) == 0
        reports.append(json.loads((out / "eval.json").read_text()))
    files, shards = reports
    assert shards["views_per_video"] == 6 and shards["num_videos"] == files["num_videos"] == 10
    for key in ("top1", "top5", "per_class_accuracy", "confusion"):
        assert shards.get(key) == files.get(key), key


def test_extract_reads_shard_folders(kept, tiny_data, tmp_path):
    run = tmp_path / "run"
    train(tiny_data, run, **{"schedule.epochs": 1})
    checkpoint = ["--checkpoint", str(run / "model.safetensors")]
    assert main(["extract", str(kept), *checkpoint, "--out", str(tmp_path / "s.npy")]) == 0
    sources = [r["source"] for split in ("train", "val") for r in index(kept, split)]
    assert main(["extract", *sources, *checkpoint, "--out", str(tmp_path / "f.npy")]) == 0
    from_shards, from_files = np.load(tmp_path / "s.npy"), np.load(tmp_path / "f.npy")
    assert from_shards.shape == from_files.shape == (len(sources), 32)
    np.testing.assert_array_equal(from_shards, from_files)


def test_decoding_a_shard_sample_gives_the_files_frames(kept):
    items, _ = read_split(str(kept), "val")
    dataset = ShardDataset(items, None, None, train=False)
    for item, record in zip(items[:4], index(kept, "val")):
        wanted = [0, 2, 5]
        from_shard = read_frames(dataset._source(item), wanted, info=dataset._info(item))
        from_file = read_frames(record["source"], wanted)
        assert torch.equal(from_shard.frames, from_file.frames)


def test_sigterm_while_training_from_shards_resumes_exactly(prepared, tmp_path):
    extra = {**SHARDS, **STOCHASTIC, "schedule.epochs": 3}
    cmd = [sys.executable, "-m", "videoformer", "train", *sets(prepared, tmp_path / "t", **extra)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "t" / "metrics.jsonl"
    wait_for_train_steps(metrics, 3)
    proc.send_signal(15)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "preempted (SIGTERM)" in out, err[-2000:]
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same_weights(train(prepared, tmp_path / "whole", **extra), weights(tmp_path / "t"))


def test_a_server_cannot_make_a_loader_hold_more_than_the_limits(
    prepared, tmp_path, server, capsys, monkeypatch
):
    """A manifest or index larger than MAX_FILE_BYTES, or a sample whose range claims more
    than MAX_SAMPLE_BYTES, is refused in one line before it is held."""
    url = server(prepared)
    monkeypatch.setattr(shards, "MAX_FILE_BYTES", 200)  # the manifest is larger
    assert main(["train", *sets(url, tmp_path / "a", **SHARDS)]) == 2
    assert f"{url}manifest.json: more than 200 bytes; not read further" in capsys.readouterr().err
    monkeypatch.undo()
    greedy = tmp_path / "greedy"
    shutil.copytree(prepared, greedy)
    records = index(greedy)
    records[0]["span"][1] = records[0]["video"][1] = 5 << 30  # a range of 5 GiB
    (greedy / "train.index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    items, _ = read_split(server(greedy), "train")
    with pytest.raises(ValueError, match="5,368,709,120 bytes asked for at .* over 4,294,967,296"):
        ShardDataset(items, None, None, train=False)._info(items[0])
