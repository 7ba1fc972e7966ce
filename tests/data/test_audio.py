"""Audio through PyAV from the same files as the video; AudioSet-style multi-label data."""

import math

import numpy as np
import pytest
import torch

from tests.conftest import write_av
from videoformer.data.audio import audio_window, log_mel, mel_filterbank, read_audio
from videoformer.data.datasets import AudioVisualDataset, read_audioset_csv
from videoformer.data.decode import VideoDecodeError
from videoformer.data.sampling import ClipSampler
from videoformer.data.transforms import video_test_transform


def test_audio_is_resampled_and_keeps_its_pitch(tmp_path):
    path = write_av(tmp_path / "tone.mp4", seconds=2.0, tone_hz=440.0)
    samples = read_audio(path, sample_rate=16_000)
    assert abs(len(samples) - 32_000) < 2_000  # 2 s at 16 kHz (encoder priming aside)
    spectrum = torch.fft.rfft(samples[4000:20000]).abs()
    peak_hz = spectrum.argmax().item() * 16_000 / 16_000  # bin width = rate / window = 1 Hz
    assert abs(peak_hz - 440) < 5


def test_window_pads_past_the_end():
    w = audio_window(torch.ones(10), 6, 8)
    assert w.tolist() == [1, 1, 1, 1, 0, 0, 0, 0]


def test_log_mel_shape_and_peak_band():
    sr = 16_000
    tone = torch.sin(2 * math.pi * 1000 * torch.arange(sr) / sr)
    mel = log_mel(tone, sr, n_mels=40)
    assert mel.shape[1] == 40 and mel.shape[0] == 1 + sr // 256
    fb = mel_filterbank(1024, 40, sr)
    band_of_1k = fb[:, round(1000 / (sr / 2) * 512)].argmax().item()
    assert mel.mean(0).argmax().item() == band_of_1k


def test_video_without_audio_is_a_clear_error(tmp_path):
    from videoformer.data.synthetic import write_video

    path = tmp_path / "silent.mp4"
    write_video(path, np.zeros((4, 32, 32, 3), np.uint8))
    with pytest.raises(VideoDecodeError, match="no audio stream"):
        read_audio(path)


def test_audioset_csv_and_audiovisual_samples(tmp_path):
    root = tmp_path / "as"
    root.mkdir()
    write_av(root / "abc_10_20.mp4")
    write_av(root / "xyz.mp4", tone_hz=880)
    (tmp_path / "labels.csv").write_text(
        "index,mid,display_name\n0,/m/a,Speech\n1,/m/b,Music\n2,/m/c,Dog\n"
    )
    (tmp_path / "segments.csv").write_text(
        "# Segments\n# YTID, start_seconds, end_seconds, positive_labels\n"
        'abc, 10.000, 20.000, "/m/a,/m/c"\nxyz, 0.000, 10.000, "/m/b"\ngone, 0.0, 10.0, "/m/b"\n'
    )
    items, names = read_audioset_csv(tmp_path / "segments.csv", tmp_path / "labels.csv", root)
    assert names == ["Speech", "Music", "Dog"] and [it.label for it in items] == [(0, 2), (1,)]
    ds = AudioVisualDataset(
        items,
        ClipSampler(4, 2),
        video_test_transform(32, [0.5] * 3, [0.5] * 3),
        train=False,
        label_names=names,
        num_classes=3,
        audio_samples=4096,
        sample_rate=16_000,
    )
    s = ds[0]
    assert s["video"].shape == (3, 4, 32, 32) and s["audio"].shape == (4096,)
    assert s["label"].tolist() == [1.0, 0.0, 1.0]
    (tmp_path / "bad.csv").write_text('abc, 10, 20, "/m/zzz"\n')
    with pytest.raises(ValueError, match=r"label ids \['/m/zzz'\]"):
        read_audioset_csv(tmp_path / "bad.csv", tmp_path / "labels.csv", root)
