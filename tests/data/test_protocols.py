"""The official test pipelines against what the official code produced on two clips
(tests/golden/pipelines, copied from ../shared/golden/pipelines: its README says how)."""

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import PIPELINES, golden
from videoformer.data.decode import probe
from videoformer.data.protocols import (
    MMActionProtocol,
    TimeSformerProtocol,
    VideoMAEProtocol,
    build_protocol,
    cv2_linear_resize,
    frames_info,
    mmaction_sample_frames,
    mmaction_uniform_sample,
    parse_views,
    ssv2_segment_indices,
)

CLIPS = ["synth_a_320x240_25fps", "synth_b_136x180_29.97fps"]
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
KINETICS = ((0.45,) * 3, (0.225,) * 3)


def video(clip: str) -> Path:
    return PIPELINES / f"{clip}.mp4"


@pytest.mark.parametrize("clip", CLIPS)
@pytest.mark.parametrize(("name", "num_clips"), [("P1", 1), ("P1x4", 4)])
def test_timesformer_kinetics_protocol(clip, name, num_clips):
    """Official TimeSformer test loader: frames, crop boxes exact; pixels within float16
    rounding of the stored frames and 1e-5 of the per-frame means of all frames."""
    g = golden(f"{name}__{clip}")
    p = TimeSformerProtocol(8, 32, num_clips, 3, 224, 256, *KINETICS)
    info = probe(video(clip))
    clips = p.clip_indices(info)
    views = range(3 * num_clips)  # official view v: temporal v // 3, spatial v % 3 = ours
    assert torch.equal(torch.tensor([clips[v // 3] for v in views]), g["frame_indices"])
    resized, boxes = p.geometry(info.height, info.width)
    assert list(resized) == g["resized_hw"]
    assert torch.equal(torch.tensor([boxes[v % 3] for v in views]), g["crop_boxes_xyxy"])
    out = p.views(video(clip))
    assert out.shape == tuple(g["views_full_shape"]) and out.dtype == torch.float32
    stored = out[:, :, g["views_stored_frames"]]
    torch.testing.assert_close(stored.half().float(), g["views"].float(), atol=2e-3, rtol=0)
    torch.testing.assert_close(
        out.mean(dim=(3, 4)), g["per_view_channel_frame_mean"], atol=1e-5, rtol=0
    )
    torch.testing.assert_close(
        out.std(dim=(3, 4), unbiased=False), g["per_view_channel_frame_std"], atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("clip", CLIPS)
def test_mmaction_video_swin_protocol_is_bit_exact(clip):
    """mmaction2's Video Swin test pipeline, cv2 resize emulated: the official float32
    output exactly, views reordered from its crop-major order to clip-major."""
    g = golden(f"P2__{clip}")
    p = MMActionProtocol(32, 2, 4, 3, 224, 224, *IMAGENET)
    info = probe(video(clip))
    official = [crop * 4 + k for k in range(4) for crop in range(3)]  # ours view k*3+crop
    clips = p.clip_indices(info)
    assert torch.equal(
        torch.tensor([clips[v // 3] for v in range(12)]), g["frame_indices"][official]
    )
    resized, boxes = p.geometry(info.height, info.width)
    assert list(resized) == g["resized_hw"]
    assert torch.equal(
        torch.tensor([boxes[v % 3] for v in range(12)]), g["crop_boxes_xyxy"][official]
    )
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1, 1)
    expected = ((g["views_uint8"].float() - mean) / std)[official]
    out = p.views(video(clip))
    assert torch.equal(out[:, :, g["views_stored_frames"]], expected)
    torch.testing.assert_close(
        out.mean(dim=(3, 4)), g["per_view_channel_frame_mean"][official], atol=1e-5, rtol=0
    )


@pytest.mark.parametrize("clip", CLIPS)
def test_hf_videomae_protocol_is_bit_exact(clip):
    g = golden(f"P3__{clip}")
    p = VideoMAEProtocol(8, 1, 1, 1, 224, 224, *KINETICS)
    info = probe(video(clip))
    assert p.clip_indices(info) == g["frame_indices"].tolist()
    resized, boxes = p.geometry(info.height, info.width)
    assert (
        list(resized) == g["resized_hw"]
        and [list(b) for b in boxes] == g["crop_boxes_xyxy"].tolist()
    )
    m = torch.tensor([0.45] * 3) * (1.0 / (1 / 255.0))
    s = torch.tensor([0.225] * 3) * (1.0 / (1 / 255.0))
    expected = (g["views_uint8"].float() - m.view(1, 3, 1, 1, 1)) / s.view(1, 3, 1, 1, 1)
    assert torch.equal(p.views(video(clip)), expected)


def indices_golden() -> dict:
    path = PIPELINES / "P4_indices.json"
    if not path.is_file():
        pytest.fail(f"golden file {path} is missing")
    return json.loads(path.read_text())


def test_timesformer_ssv2_segments():
    cases = indices_golden()["timesformer_ssv2_test"]["by_num_frames"]
    checked = 0
    for num_frames, case in cases.items():
        for length, expected in case["indices_by_length"].items():
            assert ssv2_segment_indices(int(length), int(num_frames)) == expected, (
                num_frames,
                length,
            )
            checked += 1
    assert checked == 21


def _case(key: str) -> dict:
    return dict(item.split("=") for item in key.split(","))


def test_mmaction_sample_frames_and_uniform_sample():
    g = indices_golden()
    checked = 0
    for key, by_length in g["mmaction2_SampleFrames_test_mode"]["cases"].items():
        c = _case(key)
        for length, expected in by_length.items():
            got = mmaction_sample_frames(
                int(length),
                int(c["clip_len"]),
                int(c["frame_interval"]),
                int(c["num_clips"]),
                c["out_of_bound_opt"],
            )
            assert got == expected, (key, length)
            checked += 1
    for key, by_length in g["mmaction2_UniformSample_test_mode"]["cases"].items():
        c = _case(key)
        for length, expected in by_length.items():
            got = mmaction_uniform_sample(int(length), int(c["clip_len"]), int(c["num_clips"]))
            assert [i for clip in got for i in clip] == [i for clip in expected for i in clip], (
                key,
                length,
            )
            checked += 1
    assert checked == 6 * 7 + 9 * 7


def test_cv2_emulation_matches_opencv_when_installed():
    cv2 = pytest.importorskip("cv2")
    g = torch.Generator().manual_seed(0)
    for (h, w), size in [((240, 320), (224, 299)), ((37, 53), (224, 321)), ((100, 77), (50, 38))]:
        frame = torch.randint(0, 256, (1, h, w, 3), dtype=torch.uint8, generator=g)
        expected = cv2.resize(frame[0].numpy(), size[::-1], interpolation=cv2.INTER_LINEAR)
        assert torch.equal(cv2_linear_resize(frame, size)[0], torch.from_numpy(expected))


def test_frames_in_memory_follow_the_same_protocol():
    """A tensor of frames at the clip's own rate gives the file's views."""
    from videoformer.data.decode import read_video

    clip = video(CLIPS[1])
    p = TimeSformerProtocol(8, 32, 2, 3, 224, 256, *KINETICS)
    frames = read_video(clip).frames
    assert torch.equal(p.views(frames, fps=30000 / 1001), p.views(clip))
    assert frames_info(120, 25.0).stream_duration == 120


def test_views_override_and_bad_views():
    class Spec:
        protocol, clip, size, test_short_side, num_crops = "mmaction", "32x2x4", 224, 224, 3
        mean, std = IMAGENET

    p = build_protocol(Spec(), views="2x1")
    assert (p.num_clips, p.num_crops) == (2, 1) and isinstance(p, MMActionProtocol)
    assert parse_views("4x3") == (4, 3)
    with pytest.raises(ValueError, match="CLIPSxCROPS"):
        parse_views("four")
    with pytest.raises(ValueError, match="takes \\(1,\\) crops, not 3"):
        VideoMAEProtocol(8, 1, 1, 3, 224, 224, *KINETICS)


def test_videoformer_protocol_geometry_is_what_its_transform_does():
    class Spec:
        protocol, clip, size, test_short_side, num_crops, sampler = (
            "videoformer",
            "4x2x2",
            32,
            40,
            3,
            "dense",
        )
        mean, std = KINETICS

    p = build_protocol(Spec())
    frames = (
        torch.arange(48 * 64 * 3, dtype=torch.int64)
        .remainder(251)
        .to(torch.uint8)
        .view(1, 48, 64, 3)
    )
    frames = frames.expand(4, -1, -1, -1)
    (h, w), boxes = p.geometry(48, 64)
    assert (h, w) == (40, 53) and [b[0] for b in boxes] == [0, 10, 21]
    out = p.crop_views(frames)
    assert out.shape == (3, 3, 4, 32, 32)
    assert p.clip_indices(frames_info(16, 30.0)) == [
        [2, 4, 6, 8],
        [7, 9, 11, 13],
    ]  # room 10, starts 2.5, 7.5


def test_a_test_dataset_decodes_each_clip_once_for_its_crops(monkeypatch):
    """Views of one clip are consecutive items: decoded and resized once, the same tensors."""
    from videoformer.data import datasets
    from videoformer.data.datasets import Item, VideoDataset
    from videoformer.data.sampling import ClipSampler

    p = TimeSformerProtocol(8, 32, 2, 3, 224, 256, *KINETICS)
    items = [Item(video(CLIPS[0]), 0), Item(video(CLIPS[1]), 1)]
    reads = []
    real = datasets.read_frames

    def counted(path, indices, **kwargs):
        reads.append(path)
        return real(path, indices, **kwargs)

    monkeypatch.setattr(datasets, "read_frames", counted)
    ds = VideoDataset(items, ClipSampler(8, 32), None, train=False, protocol=p)
    views = torch.stack([ds[i]["video"] for i in range(len(ds))])  # 2 videos x 2 clips x 3 crops
    assert len(reads) == 4 and views.shape == (12, 3, 8, 224, 224)
    for k, item in enumerate(items):
        torch.testing.assert_close(views[6 * k : 6 * k + 6], p.views(item.path), rtol=0, atol=0)


@pytest.mark.parametrize(("height", "width"), [(32, 45), (47, 32)])
def test_timesformer_centre_crop_rounds_an_odd_margin_up(height, width):
    """The official ``uniform_crop`` centres at ceil((L - size) / 2): a margin of 13 puts
    the crop at 7, where floor would put it at 6 (no shared clip has an odd margin)."""
    protocol = TimeSformerProtocol(4, 1, 1, 1, 32, 32, *KINETICS)
    (resized, (box,)) = protocol.geometry(height, width)
    assert resized == (height, width)  # the short side is already the crop size
    x0, y0, x1, y1 = box
    assert (x0, y0) == ((7, 0) if width > height else (0, 8))  # ceil(13 / 2), ceil(15 / 2)
    assert (x1 - x0, y1 - y0) == (32, 32)
    frames = torch.arange(height * width, dtype=torch.float32).view(1, height, width, 1)
    frames = (frames % 256).to(torch.uint8).expand(4, height, width, 3).contiguous()
    view = protocol.crop_views(frames)[0]  # (C, T, 32, 32), normalised
    expected = ((frames[..., y0:y1, x0:x1, :].float() / 255 - 0.45) / 0.225).permute(3, 0, 1, 2)
    torch.testing.assert_close(view, expected)
