"""One table per closed set: dataset kinds, protocols, aggregations, decode backends,
video extensions. The recipe's choices, the CLI's and the dispatch read the table; the
names are written nowhere else."""

import ast

import pytest

from tests.test_structure import PACKAGE
from videoformer.cli import build_parser
from videoformer.data.datasets import VIDEO_EXTENSIONS
from videoformer.data.decode import BACKENDS
from videoformer.data.kinds import DATASET_KINDS
from videoformer.data.protocols import PROTOCOLS
from videoformer.engine.config import CHOICES, DataConfig
from videoformer.layers.attribution import METHODS
from videoformer.specs import AGGREGATES, PROTOCOL_AGGREGATES


def _string_constants(path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    # pieces of f-strings name files being written, not members of a set
    pieces = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings | pieces
    ]


def _written_outside(names: set[str], owners: set[str], skip_dirs: tuple[str, ...] = ()):
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in owners or rel.startswith(skip_dirs):
            continue
        found += [
            f"{rel}:{line} {value!r}" for line, value in _string_constants(path) if value in names
        ]
    return found


def test_dataset_kind_names_are_written_only_in_their_table():
    # models/ names label sets and weights tags ("ssv2"), which are not dataset kinds
    # the shards kind's own modules call a split's tar files its "shards"
    own = {"data/kinds.py", "data/prepare.py", "data/shards.py"}
    found = _written_outside(set(DATASET_KINDS), own, ("models/", "labels/"))
    assert not found, found


def test_video_extensions_are_written_only_in_their_table():
    found = _written_outside(set(VIDEO_EXTENSIONS), {"data/datasets.py"})
    assert not found, found


def test_a_kind_name_written_elsewhere_would_be_found(tmp_path, monkeypatch):
    (tmp_path / "stray.py").write_text("if dataset == 'kinetics':\n    pass\n")
    monkeypatch.setattr("tests.test_tables.PACKAGE", tmp_path)
    assert _written_outside(set(DATASET_KINDS), set()) == ["stray.py:1 'kinetics'"]


@pytest.mark.parametrize(
    ("choice", "table"),
    [
        ("data.dataset", tuple(DATASET_KINDS)),
        ("data.protocol", tuple(PROTOCOL_AGGREGATES)),
        ("data.aggregate", ("", *AGGREGATES)),
        ("data.decode_backend", BACKENDS),
    ],
)
def test_recipe_choices_read_the_tables(choice, table):
    assert CHOICES[choice] == table


def test_every_protocol_is_implemented_and_the_default_kind_is_a_kind():
    assert PROTOCOLS.keys() == PROTOCOL_AGGREGATES.keys()
    assert DataConfig().dataset in DATASET_KINDS


def test_cli_choices_read_the_tables():
    commands = build_parser()._subparsers._group_actions[0].choices
    choices = {
        (name, a.dest): a.choices
        for name, sub in commands.items()
        for a in sub._actions
        if a.choices
    }
    assert tuple(choices[("explain", "method")]) == tuple(METHODS)
    assert tuple(choices[("eval", "aggregate")]) == AGGREGATES
