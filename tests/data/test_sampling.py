"""Every sampler's indices against hand-computed expectations."""

import random

import pytest

from videoformer.data.sampling import ClipSampler, SegmentSampler


def test_parse_clip_spec():
    s = ClipSampler.parse("32x2x4")
    assert (s.clip_len, s.frame_interval, s.num_clips, s.span) == (32, 2, 4, 63)
    with pytest.raises(ValueError, match="clip_len x frame_interval x num_clips"):
        ClipSampler.parse("8-32")


def test_dense_test_clips_are_evenly_spaced_and_centred():
    # 100 frames, 4x2x3: span 7, room 94, share 31.33 -> starts int(15.67), int(47), int(78.33)
    assert ClipSampler(4, 2, 3).test(100) == [[15, 17, 19, 21], [47, 49, 51, 53], [78, 80, 82, 84]]


def test_dense_test_single_clip_is_the_centre():
    # span 7 * 32 + 1 = 225, room 300 - 225 + 1 = 76 -> start int(76 / 2) = 38
    assert ClipSampler(8, 32, 1).test(300) == [[38 + 32 * k for k in range(8)]]


def test_dense_train_start_is_random_but_seeded():
    s = ClipSampler(4, 3)
    a = [s.train(50, random.Random(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]  # the same seed, the same frames
    starts = {s.train(50, random.Random(seed))[0] for seed in range(200)}
    assert min(starts) == 0 and max(starts) == 50 - 10 and len(starts) > 30
    clip = s.train(50, random.Random(1))
    assert [b - a for a, b in zip(clip, clip[1:])] == [3, 3, 3]


@pytest.mark.parametrize(
    ("short", "expected"),
    [
        ("loop", [0, 3, 6, 9 % 7]),
        ("clamp", [0, 3, 6, 6]),
    ],
)
def test_short_videos_loop_or_clamp(short, expected):
    assert ClipSampler(4, 3, short=short).test(7) == [expected]
    assert ClipSampler(4, 3, short=short).train(7, random.Random(0)) == expected


def test_segment_test_takes_the_middles():
    # 100 frames, 8 segments of 12.5: middles int(6.25), int(18.75), ...
    assert SegmentSampler(8).test(100) == [[6, 18, 31, 43, 56, 68, 81, 93]]


def test_segment_train_takes_one_frame_per_segment():
    for seed in range(50):
        idx = SegmentSampler(4).train(20, random.Random(seed))
        assert [i // 5 for i in idx] == [0, 1, 2, 3]


def test_segments_of_a_short_video_stay_in_range():
    # edges k * 3/8; middles 0.19, 0.56, 0.94, 1.31, 1.69, 2.06, 2.44, 2.81
    assert SegmentSampler(8).test(3) == [[0, 0, 0, 1, 1, 2, 2, 2]]
    assert all(0 <= i < 3 for i in SegmentSampler(8).train(3, random.Random(0)))
