"""benchmarks/reproduce.py: the cost table's claim (every variant with a paper figure
matches it), and the ablation verdicts' logic on made-up summaries."""

import pytest

from benchmarks.reproduce import ablation_verdicts, part_cost


def test_every_variant_matches_its_papers_size_and_cost():
    rows = part_cost()  # meta device: counts, no weights
    checked = [r for r in rows if r["paper_params"] or r["paper_cost"]]
    assert len(checked) >= 15
    for r in checked:
        name = r["variant"] + (f" ({r['attention']})" if r["attention"] else "")
        if r["paper_params"]:  # the papers give 3 significant digits
            assert r["params"] / r["paper_params"] == pytest.approx(1, abs=0.011), name
        if r["paper_cost"]:
            assert r["ours_cost"] / r["paper_cost"] == pytest.approx(1, abs=0.006), name


@pytest.mark.parametrize(
    "summary, expected",
    [
        # (mean, min, max) over seeds
        (
            {
                "space_only": (36, 34, 38),
                "divided_space_time": (90, 88, 92),
                "joint_space_time": (89, 87, 91),
            },
            ["holds", "holds"],
        ),
        (
            {
                "space_only": (60, 40, 89),
                "divided_space_time": (90, 88, 92),
                "joint_space_time": (95, 94, 96),
            },
            ["does not hold", "does not hold: every"],
        ),
        (
            {
                "space_only": (36, 34, 38),
                "divided_space_time": (90, 86, 92),
                "joint_space_time": (91, 88, 93),
            },
            ["holds", "not shown: a lower mean"],
        ),
    ],
)
def test_ablation_verdicts(summary, expected):
    lines = ablation_verdicts(summary)
    assert len(lines) == 2
    for line, verdict in zip(lines, expected, strict=True):
        assert f"({verdict}" in line, line
