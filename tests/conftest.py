"""Helpers the test modules share (fixtures, golden data, media writers)."""

import io
import lzma
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from videoformer.data.synthetic import make_motion_dataset

GOLDEN = Path(__file__).parent / "golden"
PIPELINES = GOLDEN / "pipelines"


def load_golden(name: str) -> dict:
    """A reference file from tests/golden (copied from the official implementations).

    A missing file fails the test: the suite must not silently shrink."""
    path = GOLDEN / f"{name}.pt"
    if not path.is_file():
        pytest.fail(f"golden file {path} is missing (copy it from ../shared/golden)")
    return torch.load(path, weights_only=True)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    yield
    # a test that leaves the process on other torch threads makes the in-process runs of
    # later tests differ (bitwise) from their subprocess runs: seen, hence checked
    assert torch.get_num_threads() == threads, "the test changed torch's thread count"


def saved_bytes(fn):
    """Bytes autograd keeps for backward while ``fn()`` runs, and what it returned."""
    saved = 0

    def pack(t):
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return saved, result


def grads(modules, x, forward):
    """forward(x)'s value and the gradients of x and of every parameter of ``modules``,
    for a loss that weighs every output differently."""
    x = x.detach().requires_grad_()
    for m in modules:
        m.zero_grad(set_to_none=True)
    out = forward(x)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    return out.detach(), [x.grad] + [p.grad for m in modules for p in m.parameters()]


def assert_bf16_autocast_matches(ours, reference) -> None:
    """``(out, grads)`` of a fused path and its plain reference, both run under bf16
    autocast: the same bf16 forward, float32 gradients within bf16's precision."""
    (out, grads), (ref_out, ref_grads) = ours, reference
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out, ref_out, rtol=0, atol=0)
    for got, want in zip(grads, ref_grads, strict=True):
        assert got.dtype == want.dtype == torch.float32
        torch.testing.assert_close(got, want, rtol=2e-2, atol=2e-2)


def assert_checkpointing_keeps_gradients(model, x) -> None:
    """Gradient checkpointing recomputes activations: the gradients must not change, and
    the forward must keep less for backward (it really checkpoints)."""
    model.train()
    plain_bytes, loss = saved_bytes(lambda: model(x).square().sum())
    loss.backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.set_grad_checkpointing(True)
    checkpointed_bytes, loss = saved_bytes(lambda: model(x).square().sum())
    loss.backward()
    assert checkpointed_bytes < plain_bytes / 2, (checkpointed_bytes, plain_bytes)
    for expected, p in zip(plain, model.parameters()):
        torch.testing.assert_close(p.grad, expected)


CONFIG_FIELDS = (
    "img_size",
    "patch_size",
    "in_chans",
    "num_classes",
    "embed_dim",
    "depth",
    "num_heads",
    "mlp_ratio",
    "qkv_bias",
    "num_frames",
    "attention_type",
    "drop_path_rate",
)


def build_from_golden(g: dict, **overrides):
    """The TimeSformer a golden reference was made with (its kwargs), in eval mode."""
    from videoformer import create_model

    fields = {k: g["kwargs"][k] for k in CONFIG_FIELDS}
    return create_model("timesformer", **{**fields, **overrides}).eval()


def golden(name: str) -> dict:
    """What an official test pipeline produced on a shared clip (tests/golden/pipelines)."""
    path = PIPELINES / f"{name}.pt.xz"  # xz-compressed: the same bytes as the shared .pt
    if not path.is_file():
        pytest.fail(f"golden file {path} is missing (xz ../shared/golden/pipelines/{name}.pt)")
    return torch.load(io.BytesIO(lzma.decompress(path.read_bytes())), weights_only=True)


def write_av(path, seconds=2.0, tone_hz=440.0, fps=16, rate=44_100, size=32):
    """A video with a grey ramp and a mono sine tone of ``tone_hz`` (AAC)."""
    with av.open(str(path), "w") as c:
        vs = c.add_stream("mpeg4", rate=fps)
        vs.width = vs.height = size
        vs.pix_fmt = "yuv420p"
        aus = c.add_stream("aac", rate=rate)
        aus.layout = "mono"
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(
                np.full((size, size, 3), (i * 9) % 250, np.uint8), format="rgb24"
            )
            frame.pts = i
            c.mux(vs.encode(frame))
        t = np.arange(int(seconds * rate)) / rate
        wave = (0.5 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)
        for start in range(0, len(wave), 1024):
            chunk = wave[start : start + 1024]
            af = av.AudioFrame.from_ndarray(chunk[None], format="flt", layout="mono")
            af.sample_rate, af.pts, af.time_base = rate, start, Fraction(1, rate)
            c.mux(aus.encode(af))
        c.mux(vs.encode())
        c.mux(aus.encode())
    return path


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    return make_motion_dataset(
        tmp_path_factory.mktemp("tiny"), num_per_class=4, size=32, frames=8, seed=1
    )
