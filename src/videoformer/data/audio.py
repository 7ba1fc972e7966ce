"""Audio from the same files as the video, through PyAV: decode, resample, log-mel.

``read_audio(path, sample_rate)`` returns mono float32 samples in [-1, 1] resampled by
FFmpeg's resampler; ``audio_window`` cuts (or zero-pads) a fixed-length window at a
time; ``log_mel`` turns samples into log mel-band energies (HTK mel scale, Hann STFT).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .decode import VideoDecodeError
from .pyav import av


def read_audio(path: str | Path, sample_rate: int = 48_000) -> Tensor:
    """All audio of a file as mono float32 samples (S,) at ``sample_rate``."""
    path = Path(path)
    if not path.is_file():
        raise VideoDecodeError(path, "file not found")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise VideoDecodeError(path, "no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            chunks = []
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as e:
        raise VideoDecodeError(path, f"corrupt audio stream ({e})") from e
    if not chunks:
        raise VideoDecodeError(path, "the audio stream has no samples")
    return torch.from_numpy(np.concatenate(chunks).astype(np.float32))


def audio_window(samples: Tensor, start: int, length: int) -> Tensor:
    """``length`` samples from ``start``, zero-padded past the end."""
    window = samples[max(start, 0) : max(start, 0) + length]
    return torch.nn.functional.pad(window, (0, length - len(window)))


@lru_cache(maxsize=8)
def mel_filterbank(
    n_fft: int, n_mels: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None
) -> Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters on the HTK mel scale."""
    f_max = f_max or sample_rate / 2

    def hz_to_mel(f):
        return 2595.0 * math.log10(1.0 + f / 700.0)

    mels = torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lower, center, upper = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    rising = (bins - lower) / (center - lower)
    falling = (upper - bins) / (upper - center)
    return torch.clamp(torch.minimum(rising, falling), min=0.0)


def log_mel(
    samples: Tensor, sample_rate: int, n_mels: int = 64, n_fft: int = 1024, hop: int | None = None
) -> Tensor:
    """(S,) samples -> (frames, n_mels) log(mel energy + 1e-6)."""
    hop = hop or n_fft // 4
    spec = (
        torch.stft(samples, n_fft, hop, window=torch.hann_window(n_fft), return_complex=True)
        .abs()
        .pow(2)
    )
    mel = mel_filterbank(n_fft, n_mels, sample_rate) @ spec  # (n_mels, frames)
    return torch.log(mel + 1e-6).T
