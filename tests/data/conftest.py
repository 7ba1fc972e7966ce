"""Video files encoded by the tests themselves."""

from fractions import Fraction

import av
import numpy as np
import pytest


def frame_value(i: int) -> int:
    return (i * 20) % 250


def encode(path, pts, codec="libx264", size=32, gop=5, fmt=None):
    """Frames of uniform grey ``frame_value(i)`` at presentation times ``pts`` (ms)."""
    with av.open(str(path), "w", format=fmt) as c:
        options = (
            {"threads": "1", "g": str(gop), "bf": "2"} if codec == "libx264" else {"threads": "1"}
        )
        s = c.add_stream(codec, rate=25, options=options)
        s.width = s.height = size
        s.pix_fmt = "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        for i, p in enumerate(pts):
            f = av.VideoFrame.from_ndarray(
                np.full((size, size, 3), frame_value(i), np.uint8), format="rgb24"
            )
            f.pts, f.time_base = p, Fraction(1, 1000)
            c.mux(s.encode(f))
        c.mux(s.encode())
    return path


@pytest.fixture(scope="session")
def cfr_video(tmp_path_factory):
    """60 frames at 25 fps, keyframe every 5."""
    return encode(tmp_path_factory.mktemp("v") / "cfr.mp4", [40 * i for i in range(60)])


@pytest.fixture(scope="session")
def vfr_video(tmp_path_factory):
    """Irregular frame times starting at 5 s, in Matroska."""
    pts = [5000, 5040, 5080, 5200, 5210, 5400, 5440, 5900, 6000, 6040, 6100, 6300]
    return encode(tmp_path_factory.mktemp("v") / "vfr.mkv", pts)


@pytest.fixture(scope="session")
def motion_root(tmp_path_factory):
    from videoformer.data.synthetic import make_motion_dataset

    return make_motion_dataset(
        tmp_path_factory.mktemp("motion"), num_per_class=3, size=32, frames=8, seed=0
    )
