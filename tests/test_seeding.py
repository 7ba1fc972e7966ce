"""derive_seed: the same seed in every process, distinct seeds for distinct parts."""

import subprocess
import sys

import pytest

from videoformer.seeding import derive_seed

PARTS = [
    (0,),
    (1,),
    (0, 1),
    (1, 0),
    (0, 2),
    (0, "order", 3),
    (0, "mix", 3),
    (7, "sample", 2, 11, 0),
    ("1",),
]


def test_same_seed_in_another_process():
    """Python's ``hash`` of a string differs between processes; derive_seed must not."""
    code = (
        f"from videoformer.seeding import derive_seed; print([derive_seed(*p) for p in {PARTS!r}])"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    )
    assert other.stdout.strip() == str([derive_seed(*p) for p in PARTS])


def test_distinct_parts_give_distinct_63_bit_seeds():
    seeds = [derive_seed(*p) for p in PARTS]
    assert len(set(seeds)) == len(seeds)  # order, tags and str vs int all matter
    assert all(0 <= s < 2**63 for s in seeds)
    many = {derive_seed(0, "sample", epoch, i) for epoch in range(10) for i in range(1000)}
    assert len(many) == 10_000


def test_other_types_are_refused():
    with pytest.raises(TypeError, match="derive_seed takes ints and strings, got float 1.5"):
        derive_seed(0, 1.5)
