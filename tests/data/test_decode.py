"""Decoding real encoded files: exact frames, seeking, VFR, non-zero start, broken files."""

import pytest
import torch

from tests.data.conftest import encode, frame_value
from videoformer.data.decode import VideoDecodeError, probe, read_frames, read_video


def assert_frames(clip, indices):
    """Each returned frame is the encoded frame of that index (grey levels 20 apart; the
    codec moves them by at most a few levels)."""
    got = clip.frames.float().mean((1, 2, 3))
    assert len(got) == len(indices)
    for value, i in zip(got.tolist(), indices):
        assert abs(value - frame_value(i)) <= 3, (i, value)


def test_probe_counts_frames_without_decoding(cfr_video):
    info = probe(cfr_video)
    assert info.num_frames == 60 and info.fps == 25.0 and (info.width, info.height) == (32, 32)
    assert info.duration == pytest.approx(2.4)


def test_seek_decodes_only_from_the_keyframe_before(cfr_video):
    clip = read_frames(cfr_video, [42, 44, 47])
    assert_frames(clip, (42, 44, 47))
    assert clip.frames.shape == (3, 32, 32, 3) and clip.indices == (42, 44, 47)
    assert clip.decoded <= 10  # keyframe 40 .. 47, not the 48 frames before it


def test_any_order_and_repeats(cfr_video):
    clip = read_frames(cfr_video, [9, 3, 3, 59])
    assert_frames(clip, (9, 3, 3, 59))


def test_whole_video_round_trips(cfr_video):
    assert_frames(read_video(cfr_video), range(60))


def test_variable_frame_rate_and_non_zero_start(vfr_video):
    info = probe(vfr_video)
    assert info.num_frames == 12 and info.pts[0] == 5000
    assert_frames(read_frames(vfr_video, [0, 3, 7, 11], info), (0, 3, 7, 11))


def test_index_outside_the_video_is_an_error(cfr_video):
    with pytest.raises(IndexError, match=r"frame indices \[60\] outside 0..59"):
        read_frames(cfr_video, [0, 60])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "file not found"),
        (b"", "empty file"),
        (b"this is not a video" * 100, "not a readable video container"),
    ],
)
def test_broken_files_name_the_file_and_reason(tmp_path, content, reason):
    path = tmp_path / "broken.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideoDecodeError, match=reason) as e:
        read_frames(path, [0])
    assert e.value.path == str(path)


def test_truncated_file(tmp_path, cfr_video):
    data = cfr_video.read_bytes()
    path = tmp_path / "truncated.mkv"
    encode(path, [40 * i for i in range(60)], fmt="matroska")
    path.write_bytes(path.read_bytes()[: len(data) // 3])
    with pytest.raises(VideoDecodeError, match="truncated|corrupt|could not be decoded"):
        read_frames(path, [55])


def test_zero_frame_video(tmp_path):
    import av

    path = tmp_path / "empty.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width = s.height = 32
        s.pix_fmt = "yuv420p"
        c.start_encoding()  # header and trailer, no frame
    with pytest.raises(VideoDecodeError, match="no frames|no video stream"):
        probe(path)


def test_auto_backend_falls_back_to_pyav_when_torchcodec_is_unusable(cfr_video):
    from videoformer.data.decode import torchcodec_problem

    clip = read_frames(cfr_video, [42, 7], backend="auto")
    assert_frames(clip, (42, 7))
    if torchcodec_problem() is not None:
        with pytest.raises(RuntimeError, match="decode backend 'torchcodec' is not usable here"):
            read_frames(cfr_video, [0], backend="torchcodec")
    with pytest.raises(ValueError, match="decode backend 'ffmpeg' is not one of"):
        read_frames(cfr_video, [0], backend="ffmpeg")


def test_torchcodec_backend_matches_pyav(cfr_video):
    from videoformer.data.decode import torchcodec_problem

    if torchcodec_problem() is not None:
        pytest.skip(f"torchcodec not usable here: {torchcodec_problem()}")
    ours = read_frames(cfr_video, [42, 3, 42], backend="torchcodec")
    assert_frames(ours, (42, 3, 42))


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_a_rotated_video_is_read_upright(tmp_path, degrees):
    """Phones store landscape pixels and a display matrix; the frames come out as shown."""
    import av
    import numpy as np

    from videoformer.data.decode import read_video

    image = np.zeros((16, 32, 3), np.uint8)
    image[:4, :8] = 255  # a bright block in the top-left corner
    path = tmp_path / "rotated.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "yuv444p"
        stream.set_display_rotation(degrees)
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    frames = read_video(path).frames.numpy()
    expected = np.rot90(image, k=round(degrees / 90) % 4)
    assert frames.shape[1:3] == expected.shape[:2]
    bright = frames[0, ..., 0] > 128
    assert (bright == (expected[..., 0] > 128)).mean() > 0.95  # the block where it is shown


@pytest.mark.parametrize(("clip_len", "interval"), [(8, 8), (16, 2), (4, 1)])
def test_skipping_unwanted_nonreference_frames_keeps_the_pixels(tmp_path, clip_len, interval):
    """x264 defaults (B-frames, B-pyramid): frames no other frame refers to are skipped
    unless wanted; the wanted frames are bit-identical to a decode of everything, and
    fewer frames were decoded (counted)."""
    import av
    import numpy as np

    from videoformer.data.decode import probe, read_frames

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    path = tmp_path / "bframes.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)  # x264 defaults: 3 B-frames
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(120):
            frame = av.VideoFrame.from_ndarray(np.roll(base, 3 * i, axis=1), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    info = probe(path)
    indices = list(range(10, 10 + clip_len * interval, interval))
    everything = read_frames(path, indices, info, skip_unwanted=False)
    skipping = read_frames(path, indices, info)
    assert torch.equal(skipping.frames, everything.frames)
    if interval > 1:
        assert skipping.decoded < everything.decoded  # frames were in fact skipped
    assert skipping.decoded >= len(set(indices))


def test_probe_lists_the_keyframes(cfr_video):
    import av

    with av.open(str(cfr_video)) as c:
        keys = sorted(p.pts for p in c.demux(video=0) if p.is_keyframe and p.size)
    info = probe(cfr_video)
    assert [info.pts[k] for k in info.keyframes] == keys and len(keys) > 10  # gop 5


@pytest.mark.parametrize("indices", [[2, 17, 33, 51], [51, 2, 2, 33], [6, 7, 8, 9, 10, 11, 40]])
def test_decoding_seeks_over_keyframes_between_wanted_frames(cfr_video, indices):
    """A keyframe between two wanted frames: decoding seeks to it instead of decoding the
    frames in between; the pixels are those of a decode of everything (bit-identical)."""
    import bisect

    info = probe(cfr_video)
    jumping = read_frames(cfr_video, indices, info)
    everything = read_frames(cfr_video, indices, info, skip_unwanted=False)
    assert torch.equal(jumping.frames, everything.frames)
    assert_frames(jumping, indices)
    keys = info.keyframes
    keyframe_to_frame = sum(i - keys[bisect.bisect_right(keys, i) - 1] + 1 for i in set(indices))
    assert jumping.decoded <= keyframe_to_frame < everything.decoded
