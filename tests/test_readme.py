"""README's "Use" section, run as it is written: its Python block (default run) and its
command lines (slow: one trains the demo recipe), in a folder holding files under the
names the examples use."""

import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import videoformer
from tests.conftest import GOLDEN
from videoformer.cli import main
from videoformer.data.synthetic import write_video
from videoformer.weights.hub import cached_path
from videoformer.weights.source import resolve_source

README = Path(__file__).resolve().parents[1] / "README.md"
OFFICIAL = "TimeSformer_divST_8x32_224_K400.pyth"


def use_blocks(language: str) -> list[str]:
    section = README.read_text().split("\n## Use\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """The files the examples name: a random full-size official-layout K400 file (also
    in the weights cache, under the tag's URL), a tiny HF folder, a tiny run, clips."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    full = videoformer.create_model("timesformer_base")
    state = {f"model.{k}": v for k, v in full.state_dict().items()}
    torch.save({"model_state": state}, tmp_path / OFFICIAL)  # the official container
    cache = cached_path(resolve_source("timesformer_base.k400", fetch=False).weights.url)
    cache.parent.mkdir(parents=True)
    shutil.copy(tmp_path / OFFICIAL, cache)
    shutil.copytree(GOLDEN / "hf_timesformer", tmp_path / "path/to/hf-timesformer-dir")
    tiny = videoformer.create_model(
        "timesformer",
        img_size=32,
        patch_size=8,
        num_frames=4,
        embed_dim=32,
        depth=1,
        num_heads=2,
        num_classes=3,
    )
    tiny.label_names = ["left", "right", "still"]
    tiny.data_spec = videoformer.DataSpec(32, "4x4x1", (0.45,) * 3, (0.225,) * 3)
    videoformer.save_model(tiny.eval(), tmp_path / "runs/demo/model.safetensors")
    frames = np.random.default_rng(0).integers(0, 255, (48, 40, 48, 3), dtype=np.uint8)
    write_video(tmp_path / "clip.mp4", frames[:20])
    write_video(tmp_path / "long.mp4", frames)
    (tmp_path / "videos").mkdir()
    for i in range(2):
        write_video(tmp_path / "videos" / f"v{i}.mp4", frames[i * 10 : i * 10 + 20])
    return tmp_path


def test_the_python_examples_run_as_written(workdir, capsys):
    (block,) = use_blocks("python")
    scope: dict = {}
    exec(compile(block, str(README), "exec"), scope)
    assert scope["official"].config.num_classes == 400  # the tag, from the cache
    assert scope["model"].label_names == ["left", "right", "still"]
    assert (workdir / "my-model" / "model.safetensors").is_file()
    assert scope["e"].tokens.shape == (4, 4, 4)
    assert "layout timesformer_hf" in capsys.readouterr().out  # print(model.load_report)


@pytest.mark.slow
def test_the_command_lines_run_as_written(workdir, capsys):
    (block,) = use_blocks("bash")
    (workdir / "runs").rename(workdir / "given_runs")  # the first line trains runs/demo
    for line in block.strip().splitlines():
        argv = shlex.split(line, comments=True)
        assert argv[0] == "videoformer", line
        assert main(argv[1:]) == 0, line
    for path in (
        "runs/demo/model.safetensors",
        "embeddings.npy",
        "k400.safetensors",
        "model.onnx",
        "explain_out/explain.png",
        "eval_out/eval.json",
        "data/motion-shards/manifest.json",
    ):
        assert (workdir / path).is_file(), path
