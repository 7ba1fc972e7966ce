"""The dataset kinds a recipe's ``data.dataset`` names, in one table: where each keeps
its files, how its annotation is read, which dataset class serves its samples. The
recipe's choices, the checks before a run and the dataset builders all read it.

A split is read by ``kind.read(split_path, root, labels_path, names)`` -> (items, label
names or None), where ``split_path`` is the annotation file (``root/<train or val file>``)
or, for class folders, the split's folder (``root/train``, ``root/val``) (prepared shards,
whose root may be a URL: the split's name, and the root as given), and ``names`` the label
names the training split gave (None when reading it): the validation split is indexed by
the same names, and a class one split has and the other lacks is an error naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .datasets import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    Item,
    check_same_classes,
    read_audioset_csv,
    read_class_folders,
    read_kinetics_csv,
    read_label_names,
    read_list_file,
    read_ssv2,
)

Reader = Callable[[Path, Path, Path, list[str] | None], tuple[list[Item], list[str] | None]]


@dataclass(frozen=True)
class DatasetKind:
    name: str
    description: str
    read: Reader
    class_folders: bool = False  # root/{train,val}/<class>/<file> instead of annotation files
    extensions: tuple[str, ...] = VIDEO_EXTENSIONS
    labels_file: str = ""  # "optional" | "required": data.labels is read ("": not used)
    sample: str = "video"  # "video" | "image" | "audiovisual" | "shard": the dataset class
    generated: bool = False  # written under data.root when missing (the synthetic set)
    remote: bool = False  # data.root may be a URL (prepared shards)

    def split_path(self, root: Path, split: str, annotation: str) -> Path | str:
        """Where a split is: its class folder, or its annotation file (shards: its name)."""
        if self.remote:
            return split
        return root / split if self.class_folders else root / annotation

    def required_paths(self, root: Path, annotations: tuple[str, str], labels: str) -> list[Path]:
        """The files and folders a run reads (none for a set written when missing; a shard
        folder's manifest is checked by reading it, wherever it is)."""
        if self.generated or self.remote:
            return []
        paths = [self.split_path(root, s, a) for s, a in zip(("train", "val"), annotations)]
        return paths + ([root / labels] if self.labels_file == "required" else [])


def _list_file(annotation: Path, root: Path, labels: Path, names: list[str] | None):
    names = read_label_names(labels) if labels.is_file() else None
    return read_list_file(annotation, root, names), names


def _kinetics(annotation: Path, root: Path, labels: Path, names: list[str] | None):
    """One label list for both splits: data.labels when it exists, else the training
    split's names."""
    if names is None and labels.is_file():
        names = read_label_names(labels)
    return read_kinetics_csv(annotation, root, label_names=names)


def _shards(split: str, root, labels: Path, names: list[str] | None):
    from .shards import read_split

    return read_split(str(root), split, names)


def _folders(extensions: tuple[str, ...]) -> Reader:
    def read(folder: Path, root: Path, labels: Path, names: list[str] | None):
        items, found = read_class_folders(folder, extensions)
        if names is not None:
            check_same_classes(names, found, f"{root / 'train'}/", f"{folder}/")
        return items, found

    return read


KINDS = (
    DatasetKind(
        "synthetic",
        "the synthetic motion set (written under data.root when missing)",
        _list_file,
        labels_file="optional",
        generated=True,
    ),
    DatasetKind(
        "list",
        "list files: 'path label' per line (labels: indices, or names from data.labels)",
        _list_file,
        labels_file="optional",
    ),
    DatasetKind(
        "kinetics",
        "the official Kinetics annotation CSVs",
        _kinetics,
        labels_file="optional",
    ),
    DatasetKind(
        "ssv2",
        "Something-Something v2: labels.json and the split JSON files",
        lambda annotation, root, labels, names: read_ssv2(labels, annotation, root),
        labels_file="required",
    ),
    DatasetKind(
        "folders",
        "class folders of videos: root/{train,val}/<class>/<file>",
        _folders(VIDEO_EXTENSIONS),
        class_folders=True,
    ),
    DatasetKind(
        "images",
        "class folders of images: root/{train,val}/<class>/<image>",
        _folders(IMAGE_EXTENSIONS),
        class_folders=True,
        extensions=IMAGE_EXTENSIONS,
        sample="image",
    ),
    DatasetKind(
        "shards",
        "prepared shards (videoformer prepare): a folder or an fsspec URL",
        _shards,
        sample="shard",
        remote=True,
    ),
    DatasetKind(
        "audioset",
        "AudioSet-style segments with audio, multi-label",
        lambda annotation, root, labels, names: read_audioset_csv(annotation, labels, root),
        labels_file="required",
        sample="audiovisual",
    ),
)
DATASET_KINDS: dict[str, DatasetKind] = {kind.name: kind for kind in KINDS}
DEFAULT_KIND = KINDS[0].name
PREPARED = DATASET_KINDS["shards"]  # the kind `videoformer prepare` writes
