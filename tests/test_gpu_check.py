"""benchmarks/gpu_check.py runs end to end on the CPU at tiny sizes, without PyAV (as on
the GPU machine), and what it writes holds: every section ran, bf16 stays near float32,
the window attention's gradients are within 1e-5 of float64, SDPA ran its fused kernel,
the compiled model matches eager, the one-process DDP step equals the plain one, and an
absent peer is skipped with its reason."""

import json
import subprocess
import sys
from pathlib import Path

from tests.test_without_av import HIDE_AV

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def test_the_gpu_check_runs_on_the_cpu_and_its_figures_hold(tmp_path):
    out_json, out_md = tmp_path / "check.json", tmp_path / "check.md"
    argv = [str(SCRIPT), "--device", "cpu", "--json", str(out_json), "--md", str(out_md)]
    code = (
        HIDE_AV
        + "import runpy\nsys.argv = sys.argv[1:]\nrunpy.run_path(sys.argv[0], run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out_json.read_text())
    assert result["failed"] == []
    env = result["environment"]
    assert env["tiny"] and env["versions"]["av"].startswith("absent")
    assert all(v > 0 for v in env["ceiling_tflops"].values())
    families = {r["case"]: r for r in result["families"]}
    assert set(families) == {
        "timesformer_divided",
        "timesformer_joint",
        "swin_tiny",
        "video_swin_tiny",
        "perceiver_io_fourier",
    }
    for case, row in families.items():
        assert row["bf16_vs_fp32_rel"] < 0.05, case
        assert row["sdpa_kernels"] == ["flash (cpu)"], case
        assert row["train_loss_finite"] and row["clips_per_s_bf16"] > 0, case
    for row in result["window_attention"]:
        assert row["within_1e-5"] and max(row["max_abs_error"].values()) < 1e-5, row
    assert result["compile"]["rel_diff_bf16"] < 0.05
    assert result["ddp"]["backend"] == "gloo" and result["ddp"]["max_grad_diff"] < 1e-6
    assert all(r["skipped"] for r in result["peers"])
    text = out_md.read_text()
    for title in ("## Families", "## Window attention", "## torch.compile", "## Peers", "## DDP"):
        assert title in text
