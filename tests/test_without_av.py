"""The package imports and runs models without PyAV (a GPU node has tensors, no FFmpeg);
reading video then says what to install."""

import subprocess
import sys

HIDE_AV = """
import importlib.abc, sys
class NoAV(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "av" or name.startswith("av."):
            raise ModuleNotFoundError("No module named 'av'")
sys.meta_path.insert(0, NoAV())
"""

USE = """
import torch, videoformer
model = videoformer.create_model("swin_tiny", num_classes=3, depths=(1, 1, 1, 1))
assert model(torch.randn(1, 3, 224, 224)).shape == (1, 3)
assert "av" not in sys.modules
try:
    videoformer.data.decode.read_frames("clip.mp4", [0])
except ImportError as e:
    print("ERROR", e)
"""


def test_videoformer_imports_and_runs_models_without_pyav(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"\\0" * 100)
    result = subprocess.run(
        [sys.executable, "-c", HIDE_AV + USE], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ERROR reading or writing video needs PyAV" in result.stdout
    assert "pip install av" in result.stdout
