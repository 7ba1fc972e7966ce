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


def test_the_report_is_rebuilt_unchanged_from_the_committed_results():
    """docs/reproduction.md is what benchmarks/reproduce.py makes of the raw results in
    benchmarks/results/reproduction: every table and every number in a sentence."""
    from benchmarks.reproduce import RESULTS, ROOT, render_report

    assert render_report(RESULTS) == (ROOT / "docs" / "reproduction.md").read_text()


def test_the_ablation_reading_follows_the_numbers():
    from benchmarks.reproduce import ablation_reading

    def runs(*top1, params=1000):
        return {
            str(i): {"top1": t / 100, "seconds": 60.0, "params": params} for i, t in enumerate(top1)
        }

    text = " ".join(
        ablation_reading(
            {
                "space_only": runs(30, 35),
                "joint_space_time": runs(80, 90),
                "axial": runs(60, 95, params=2000),
            }
        )
    )
    assert "ends at 30.0-35.0%" in text and "below the 50%" in text
    assert "at least 60.0% (axial's lowest seed)" in text
    assert "the steadiest is joint_space_time (spread 10.0), the least steady axial" in text
    assert "The best mean is joint_space_time's (85.0%, 1k parameters)" in text
