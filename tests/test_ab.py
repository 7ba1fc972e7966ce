"""benchmarks/ab.py: a git revision's package imported beside the working tree's, the
two built with the same weights and measured in one process."""

import json
import subprocess
from pathlib import Path

import pytest

from benchmarks import ab

ROOT = Path(__file__).resolve().parents[1]
TINY_SWIN = ["img_size=56", "embed_dim=24", "depths=(2, 2)", "num_heads=(2, 4)"]


@pytest.fixture(scope="module")
def head_export():
    if subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True).returncode:
        pytest.skip("not a git checkout")
    return ab.export_revision("HEAD")


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_one_run_measures_both_sides_on_the_same_weights(head_export, mode):
    row = ab.measure(head_export, "swin_tiny", mode, 2, 2, ab.parse_overrides(TINY_SWIN))
    import videoformer_base

    import videoformer

    # two packages: the revision's classes are not the working tree's
    assert videoformer_base.create_model is not videoformer.create_model
    assert row["base_s"] > 0 and row["head_s"] > 0 and row["base_over_head"] > 0
    assert row["overrides"]["depths"] == (2, 2)
    # HEAD and the working tree agree up to float rounding for any change that keeps
    # the model's numerics
    assert row["max_abs_diff"] < 1e-4


def test_a_run_from_the_command_line_writes_its_rows(head_export, tmp_path):
    out = tmp_path / "ab.json"
    args = ["HEAD", "--cases", "swin_tiny", "--reps", "1", "--runs", "1", "--json", str(out)]
    ab.main(args + [f"--set={pair}" for pair in TINY_SWIN])
    result = json.loads(out.read_text())
    assert result["base"] == "HEAD" and len(result["rows"]) == 1
    assert result["rows"][0]["case"] == "swin_tiny" and result["rows"][0]["reps"] == 1
    assert all(c > 0 for c in result["ceiling_gflops_before_after"])


def test_an_override_without_a_value_is_refused():
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        ab.parse_overrides(["depths"])
