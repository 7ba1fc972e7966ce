"""Datasets on generated files: parsing, construction errors, bad files, workers."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from videoformer.data.datasets import (
    ImageFolderDataset,
    Item,
    VideoDataset,
    read_class_folders,
    read_kinetics_csv,
    read_label_names,
    read_list_file,
    read_ssv2,
)
from videoformer.data.decode import VideoDecodeError, probe
from videoformer.data.sampling import ClipSampler, SegmentSampler
from videoformer.data.synthetic import CLASSES, render_clip
from videoformer.data.transforms import ToModelInput, video_test_transform, video_train_transform

MEAN, STD = [0.45] * 3, [0.225] * 3


def train_set(root, **kw):
    items = read_list_file(root / "train.csv", root, read_label_names(root / "labels.txt"))
    return VideoDataset(
        items,
        ClipSampler(4, 2),
        video_train_transform(24, MEAN, STD, short_side=(28, 32)),
        label_names=CLASSES,
        **kw,
    )


def test_synthetic_dataset_is_byte_identical_for_a_seed_across_processes(tmp_path):
    """Three processes write the same set at the same time (load made libx264's lookahead
    vary between processes); every file must come out the same."""
    code = (
        "import sys; from videoformer.data.synthetic import make_motion_dataset; "
        "make_motion_dataset(sys.argv[1], num_per_class=3, size=64, frames=16, seed=7)"
    )
    roots = [tmp_path / f"p{i}" for i in range(3)]
    procs = [subprocess.Popen([sys.executable, "-c", code, str(r)]) for r in roots]
    assert [p.wait() for p in procs] == [0, 0, 0]
    files = sorted(f.relative_to(roots[0]) for f in roots[0].rglob("*") if f.is_file())
    assert len(files) == 35  # 30 clips, 2 splits, labels, boxes, flip map
    for other in roots[1:]:
        different = [f for f in files if (roots[0] / f).read_bytes() != (other / f).read_bytes()]
        assert not different, different


def test_synthetic_dataset_layout(motion_root):
    train = (motion_root / "train.csv").read_text().split()
    val = (motion_root / "val.csv").read_text().split()
    assert len(train) == 20 and len(val) == 10  # 2 + 1 per class
    assert json.loads((motion_root / "flip_map.json").read_text())["moving_left"] == "moving_right"
    boxes = json.loads((motion_root / "boxes.json").read_text())
    appearing = boxes["videos/appearing/appearing_0000.mp4"]
    assert appearing[0] is None and appearing[-1] is not None
    assert probe(motion_root / "videos/appearing/appearing_0000.mp4").num_frames == 8


def test_boxes_follow_the_motion(motion_root):
    """The per-frame boxes track the shape: rightward clips move right, leftward left."""
    boxes = json.loads((motion_root / "boxes.json").read_text())

    def dx(cls):
        out = []
        for i in range(3):
            b = boxes[f"videos/{cls}/{cls}_{i:04d}.mp4"]
            out.append(b[-1][0] - b[0][0])
        return out

    assert all(d > 0 for d in dx("moving_right")) and all(d < 0 for d in dx("moving_left"))


def test_every_appearing_clip_shows_both_states_to_a_spread_out_clip():
    """Hidden for the first quarter, fully shown from the middle on: any clip spanning the
    video sees both (else appearing and disappearing clips could look static)."""
    rng = np.random.default_rng(0)
    for frames in (8, 16):
        for _ in range(50):
            _, boxes = render_clip("appearing", frames, 32, rng)
            assert all(b is None for b in boxes[: frames // 4])
            assert all(b is not None for b in boxes[frames // 2 + 2 :])


def test_video_dataset_samples_and_loads_in_workers(motion_root):
    ds = train_set(motion_root)
    s = ds[3]
    assert s["video"].shape == (3, 4, 24, 24) and s["video"].dtype == torch.float32
    assert s["failed"] == 0 and 0 <= s["label"] < 10
    torch.testing.assert_close(ds[3]["video"], s["video"])  # deterministic per (seed, epoch, index)
    ds.set_epoch(1)
    assert not torch.equal(ds[3]["video"], s["video"])
    batches = list(DataLoader(ds, batch_size=5, num_workers=2, persistent_workers=True))
    assert sum(len(b["label"]) for b in batches) == 20


def test_test_views_multiply_the_length(motion_root):
    items = read_list_file(motion_root / "val.csv", motion_root)
    ds = VideoDataset(
        items,
        ClipSampler(4, 1, num_clips=2),
        video_test_transform(24, MEAN, STD, 28, num_crops=3),
        train=False,
        num_crops=3,
    )
    assert len(ds) == 10 * 6
    views = [ds[k] for k in range(6)]
    assert {v["index"] for v in views} == {0} and [v["view"] for v in views] == list(range(6))


def test_bad_file_is_replaced_and_counted(motion_root, tmp_path, caplog):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"garbage" * 50)
    items = [Item(bad, 0)] + read_list_file(motion_root / "train.csv", motion_root)
    ds = VideoDataset(items, ClipSampler(4, 2), video_train_transform(24, MEAN, STD, short_side=28))
    s = ds[0]
    assert s["failed"] == 1 and s["index"] != 0
    assert str(bad) in caplog.text


def test_all_bad_files_raise(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"garbage")
    ds = VideoDataset([Item(bad, 0)], ClipSampler(4), ToModelInput(MEAN, STD), max_retries=2)
    with pytest.raises(VideoDecodeError, match="2 replacements failed"):
        ds[0]


def test_construction_errors(motion_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        read_list_file(motion_root / "train.csv", tmp_path / "missing")
    lst = tmp_path / "list.txt"
    lst.write_text("a.mp4 12\n")
    with pytest.raises(ValueError, match=r"list.txt:1: label 12 outside the label map \(0..9\)"):
        read_list_file(lst, motion_root, CLASSES)
    lst.write_text("a.mp4 dancing\n")
    with pytest.raises(ValueError, match="'dancing' is not in the label map"):
        read_list_file(lst, motion_root, CLASSES)
    with pytest.raises(ValueError, match="the dataset is empty"):
        VideoDataset([], ClipSampler(4), ToModelInput(MEAN, STD))


def test_list_file_space_separated_with_names(motion_root, tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text(
        "videos/growing/growing_0000.mp4 growing\n# "
        "comment\n\nvideos/shrinking/shrinking_0000.mp4 5\n"
    )
    items = read_list_file(lst, motion_root, CLASSES)
    assert [it.label for it in items] == [4, 5]


def test_kinetics_csv_resolves_files(tmp_path, motion_root):
    root = tmp_path / "k400"
    (root / "abseiling").mkdir(parents=True)
    src = motion_root / "videos/growing/growing_0000.mp4"
    (root / "abseiling" / "abc_000010_000020.mp4").write_bytes(src.read_bytes())
    csv = tmp_path / "train.csv"
    csv.write_text(
        "label,youtube_id,time_start,time_end,split\nabseiling,abc,10,20,train\nzumba,gone,0,10,train\n"
    )
    items, names = read_kinetics_csv(csv, root)
    assert names == ["abseiling", "zumba"] and items == [
        Item(root / "abseiling" / "abc_000010_000020.mp4", 0)
    ]


def test_ssv2_json(tmp_path):
    (tmp_path / "videos").mkdir()
    labels = tmp_path / "labels.json"
    labels.write_text(
        json.dumps({"Pushing something from left to right": "0", "Holding something": "1"})
    )
    split = tmp_path / "train.json"
    split.write_text(
        json.dumps(
            [
                {"id": "17", "template": "Holding [something]"},
                {"id": "4", "template": "Pushing [something] from left to right"},
            ]
        )
    )
    items, names = read_ssv2(labels, split, tmp_path / "videos")
    assert names[1] == "Holding something" and [(it.path.name, it.label) for it in items] == [
        ("17.webm", 1),
        ("4.webm", 0),
    ]


def test_class_folders_and_image_folder(motion_root, tmp_path):
    items, names = read_class_folders(motion_root / "videos")
    assert names == sorted(CLASSES) and len(items) == 30
    from PIL import Image

    for cls in ("cat", "dog"):
        (tmp_path / "img" / cls).mkdir(parents=True)
        Image.new("RGB", (40, 30), (10, 200, 30)).save(tmp_path / "img" / cls / "a.png")
    ds = ImageFolderDataset(tmp_path / "img", video_test_transform(24, MEAN, STD))
    s = ds[1]
    assert s["video"].shape == (3, 24, 24) and s["label"] == 1


def test_segment_sampler_dataset(motion_root):
    items = read_list_file(motion_root / "val.csv", motion_root)
    ds = VideoDataset(
        items, SegmentSampler(4), video_test_transform(24, MEAN, STD, 28), train=False
    )
    assert ds[0]["video"].shape == (3, 4, 24, 24)


def test_cached_decoding_gives_the_same_samples(motion_root):
    plain, cached = train_set(motion_root), train_set(motion_root, cache_decoded=True)
    for i in (0, 5, 5):
        torch.testing.assert_close(cached[i]["video"], plain[i]["video"], rtol=0, atol=0)
    assert len(cached.cache) == 2
