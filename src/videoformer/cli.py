"""The ``videoformer`` command line (the library logs; only this module prints).

Exit codes: 0 success, 1 some inputs failed (e.g. unreadable videos in ``predict``),
2 bad arguments or input files.
"""

from __future__ import annotations

import argparse
import csv
import errno
import io
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .layers.attribution import METHODS
from .specs import AGGREGATES


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _cmd_list_models(args: argparse.Namespace) -> int:
    from .models import list_models

    names = list_models(args.pattern, pretrained=args.pretrained)
    if not names:
        print(f"no model matches {args.pattern!r}", file=sys.stderr)
        return 1
    if not args.pretrained:
        print("\n".join(names))
        return 0
    from .models.registry import resolve_weights

    width = max(map(len, names))
    print(f"{'weights':<{width}}  classes  top-1  protocol          license")
    for name in names:
        w = resolve_weights(name)[1]
        top1 = f"{w.top1:5.1f}" if w.top1 is not None else "    —"
        print(f"{name:<{width}}  {w.num_classes:>7}  {top1}  {w.data.protocol:<16}  {w.license}")
    print(
        "(top-1: as the release reports it under its test protocol; videoformer info TAG "
        "says where)"
    )
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .weights.zoo import describe_model

    info = describe_model(args.model)
    if args.json:
        print(
            json.dumps(
                {
                    "name": info.name,
                    "family": info.family,
                    "params": info.params,
                    "flops": info.flops,
                    "input_shape": info.input_shape,
                    "config": info.config,
                },
                indent=2,
                default=str,
            )
        )
        return 0
    print(f"{info.name} (family {info.family})")
    print(f"  parameters : {info.params:,}")
    print(
        f"  FLOPs/clip : {info.flops / 1e9:.1f} GFLOP (2 per multiply-add; "
        f"{info.flops / 2e9:.1f} G multiply-adds)"
    )
    shapes = info.input_shape if isinstance(info.input_shape, dict) else {"": info.input_shape}
    for name, shape in shapes.items():
        print(f"  input {name:<5}: (B, {', '.join(map(str, shape))})")
    print(f"  layouts    : {', '.join(info.layouts)}")
    for w in info.weights:
        print(f"  weights    : {info.name}.{w.tag} {w.url}")
        print(
            f"               license {w.license}; {w.num_classes} classes"
            f"{' (' + w.data.labels + ')' if w.data.labels else ''}; test protocol "
            f"{w.data.protocol}, {w.data.clip} x {w.data.num_crops} crops, views combined by "
            f"{w.data.aggregate}"
        )
        if w.top1 is not None:
            top5 = f", top-5 {w.top5}" if w.top5 is not None else ""
            print(f"               reported: top-1 {w.top1}{top5} ({w.reported_on}; {w.source})")
        else:
            print(f"               reported: no accuracy for these weights ({w.source})")
    print("  config:")
    for k, v in info.config.items():
        print(f"    {k} = {v}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .engine.config import load_config
    from .engine.train import train

    overrides = list(args.set or [])
    if args.out:
        overrides.append(f"out={args.out}")
    recipe = args.config
    saved = Path(args.out or "") / "config.yaml"
    if recipe is None and args.resume and args.out and saved.is_file():
        recipe = saved  # the run's own recipe
    cfg = load_config(recipe, overrides)
    result = train(cfg, resume=args.resume, overwrite=args.overwrite)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 reports
        return 0
    if "preempted_at_step" in result:
        print(
            f"preempted (SIGTERM) after step {result['preempted_at_step']}: checkpoint in "
            f"{cfg.out}; continue with: videoformer train ... --resume"
        )
        return 0
    if result:
        print(
            json.dumps({k: v for k, v in result.items() if isinstance(v, (int, float))}, indent=2)
        )
    print(f"run folder: {cfg.out}")
    return 0


def _eval_recipe(args: argparse.Namespace) -> str | Path:
    """``--config``, or the recipe of the run the checkpoint belongs to (its folder's
    config.yaml)."""
    if args.config:
        return args.config
    checkpoint = Path(args.checkpoint)
    for folder in (checkpoint, checkpoint.parent):
        if (folder / "config.yaml").is_file():
            return folder / "config.yaml"
    raise ValueError(
        f"eval needs --config (the recipe whose data set to evaluate on): {args.checkpoint} "
        "is not inside a run folder with its config.yaml"
    )


def _cmd_prepare(args: argparse.Namespace) -> int:
    import hashlib

    from .data.kinds import PREPARED
    from .data.prepare import (
        Encoding,
        Preparation,
        default_keyint,
        refuse_foreign_folder,
        summary,
    )
    from .engine.builders import kind_of, prepare_synthetic, split_items
    from .engine.config import load_config
    from .progress import Progress

    cfg = load_config(args.config, list(args.set or []))
    kind = kind_of(cfg.data)
    if kind.sample != "video":
        raise ValueError(
            f"data.dataset = {cfg.data.dataset!r}: prepare reads video data sets (class "
            "folders, lists, Kinetics, SSv2, the synthetic set)"
        )
    encoding = Encoding(
        reencode=not args.no_reencode,
        short_side=args.short_side,
        keyint=1 if args.intra else args.keyint or default_keyint(cfg.data.clip, cfg.data.sampler),
        crf=args.crf,
        tune="" if args.tune == "none" else args.tune,
    )
    refuse_foreign_folder(Path(args.out))  # before anything is written
    prepare_synthetic(cfg.data)
    train_items, names = split_items(cfg.data, "train")
    val_items, _ = split_items(cfg.data, "val", names)
    digest = hashlib.sha256()
    for item in train_items + val_items:
        digest.update(f"{item.path}\t{Path(item.path).stat().st_size}\t{item.label}\n".encode())
    source = {
        "kind": cfg.data.dataset,
        "root": str(Path(cfg.data.root).resolve()),
        "train": cfg.data.train,
        "val": cfg.data.val,
        "fingerprint": digest.hexdigest(),
    }
    workers = args.workers or len(os.sched_getaffinity(0))
    preparation = Preparation(Path(args.out), encoding, source, names, args.shard_mb << 20, workers)

    def report(line: str) -> None:
        print(f"videoformer prepare: {line}", file=sys.stderr)

    def progress(items, total, desc):
        return Progress(items, total, desc, enabled=True, interval=10.0)

    manifest = preparation.run({"train": train_items, "val": val_items}, report, progress)
    flip_map = Path(cfg.data.flip_map)
    if cfg.data.flip_map and not flip_map.is_absolute():  # beside the shards, as beside the data
        flip_map = Path(cfg.data.root) / flip_map
        if flip_map.is_file():
            shutil.copy(flip_map, Path(args.out) / cfg.data.flip_map)
    for line in summary(manifest):
        print(line)
    print(
        f"wrote {args.out}/ (train with --set data.dataset={PREPARED.name} --set "
        f"data.root={args.out})"
    )
    return 1 if any(info["unreadable"] for info in manifest["splits"].values()) else 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .engine.builders import build_datasets
    from .engine.config import load_config
    from .engine.distributed import DistInfo
    from .engine.evaluate import evaluate, write_report
    from .inference.predictor import resolve_device
    from .inference.preprocessing import with_views
    from .weights.factory import load_source
    from .weights.source import resolve_source

    device = resolve_device(args.device)
    _check_writable(Path(args.out) / "eval.json")
    cfg = load_config(_eval_recipe(args), list(args.set or []))
    source = resolve_source(args.checkpoint, args.model)
    if source.variant is None:  # a foreign checkpoint: the recipe's model
        source = resolve_source(args.checkpoint, cfg.model)
    model = load_source(source).to(device)
    names = model.label_names
    data = with_views(model.data_spec, args.views)
    if args.aggregate:
        data = replace(data, aggregate=args.aggregate)
    if args.compile:
        from .models.base import compile_model

        model = compile_model(model)
    _, val, labels = build_datasets(cfg, test_spec=data)
    result = evaluate(
        model,
        val,
        cfg.eval_batch_size,
        info=DistInfo(device=device),
        num_workers=cfg.data.num_workers,
        aggregate=data.aggregate,
    )
    scored, listed = result["num_videos"], result["videos_listed"]
    unreadable = listed - scored
    if unreadable:
        print(
            f"videoformer eval: {unreadable} of {listed} videos could not be read; the scores "
            f"are over the {scored} others",
            file=sys.stderr,
        )
    if unreadable > args.max_unreadable * listed:
        print(
            f"videoformer eval: error: {unreadable / listed:.1%} of the videos unreadable, "
            f"above --max-unreadable {args.max_unreadable:g}: no report written (raise it to "
            "accept scores over the readable ones)",
            file=sys.stderr,
        )
        return 1
    path = write_report(result, args.out, labels or names)
    keys = (
        "top1",
        "top5",
        "mean_class_accuracy",
        "mAP",
        "num_videos",
        "videos_listed",
        "views_per_video",
    )
    print(json.dumps({k: result[k] for k in keys if k in result}, indent=2))
    print(f"report: {path}")
    return 0


class ShardVideo:
    """A sample of prepared shards given where videos go (``extract SHARDS``): its name,
    and a temporary file holding its bytes while it is read."""

    def __init__(self, item) -> None:
        self.item = item

    def __str__(self) -> str:
        return str(self.item.path)

    def __enter__(self) -> Path:
        import tempfile

        from .data.shards import MAX_SAMPLE_BYTES, read_bytes

        offset, size = self.item.video
        self._dir = tempfile.TemporaryDirectory()
        path = Path(self._dir.name) / "video.mp4"
        path.write_bytes(read_bytes(self.item.shard, offset, size, limit=MAX_SAMPLE_BYTES))
        return path

    def __exit__(self, *exc) -> None:
        self._dir.cleanup()


class LocalVideo:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __str__(self) -> str:
        return str(self.path)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc) -> None:
        pass


def _shard_samples(root: str) -> list[ShardVideo]:
    from .data.shards import load_manifest, read_split

    manifest = load_manifest(root)
    return [ShardVideo(item) for split in manifest["splits"] for item in read_split(root, split)[0]]


def _video_paths(inputs: list[str], shards: bool = False) -> list[LocalVideo | ShardVideo]:
    """The videos the inputs name: files, folders of them, and (``shards``) prepared shard
    folders or URLs, sample by sample."""
    from .data.datasets import VIDEO_EXTENSIONS
    from .data.shards import MANIFEST, join

    paths: list[LocalVideo | ShardVideo] = []
    for item in inputs:
        if shards and (
            item.startswith(("http://", "https://")) or (Path(item) / MANIFEST).is_file()
        ):
            paths += _shard_samples(item)
            continue
        if item.startswith(("http://", "https://")):
            raise ValueError(
                f"{item} is a URL; videoformer reads video files on this machine: download it "
                "first (e.g. curl -LO URL)"
            )
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.suffix.lower() in VIDEO_EXTENSIONS and f.is_file()
            )
            if not found:
                hint = f" or a {join(item, MANIFEST)}" if shards else ""
                raise ValueError(
                    f"{p} holds no video files (looked for {', '.join(VIDEO_EXTENSIONS)}{hint})"
                )
            paths += [LocalVideo(f) for f in found]
        else:
            paths.append(LocalVideo(p))
    return paths


def _predictor(args: argparse.Namespace):
    from .data.protocols import parse_views
    from .inference.predictor import Predictor, resolve_device

    if args.views:
        parse_views(args.views)  # before any model is loaded or downloaded
    device = resolve_device(args.device)
    return Predictor(
        args.checkpoint,
        model=args.model,
        labels=args.labels,
        device=device,
        views=args.views,
        stride=args.stride,
        compile=args.compile,
    )


def _videos(args: argparse.Namespace, desc: str, shards: bool = False):
    """The input files, with a progress bar on stderr when there are several."""
    from .progress import Progress

    paths = _video_paths(args.videos, shards)
    return Progress(paths, len(paths), desc, enabled=len(paths) > 1, interval=10.0)


def _prediction_json(path: Path, pred) -> dict:
    def top(items):
        return [{"label": label, "prob": round(p, 6)} for label, p in items]

    row = {"video": str(path), "views": pred.num_views, "top": top(pred.topk)}
    if pred.windows:
        row["windows"] = [
            {"start": w.start, "end": w.end, "top": top(w.topk)} for w in pred.windows
        ]
    return row


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_row(fields: list) -> str:
    """One CSV record (the csv module quotes and escapes); text that a spreadsheet would
    run as a formula (a label from a downloaded checkpoint, say) is prefixed with '."""
    cells = [
        "'" + v if isinstance(v, (str, Path)) and str(v).startswith(FORMULA_STARTS) else v
        for v in (str(f) if isinstance(f, Path) else f for f in fields)
    ]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().removesuffix("\n")


def _cmd_predict(args: argparse.Namespace) -> int:
    from .data.decode import VideoDecodeError

    videos = _videos(args, "predict")  # the inputs first, then the model
    predictor = _predictor(args)
    failed, results = [], []
    if args.csv:
        videos.write(_csv_row(["video", "start", "end", "rank", "label", "probability"]))
    for video in videos:
        path = video.path
        try:
            pred = predictor.predict(path, topk=args.topk)
        except VideoDecodeError as e:
            failed.append(str(path))
            videos.write(f"videoformer predict: cannot read {e}", file=sys.stderr)
            continue
        results.append(_prediction_json(path, pred))
        if args.csv:  # the whole video (empty start and end), then each window
            for start, end, topk in [("", "", pred.topk)] + [
                (w.start, w.end, w.topk) for w in pred.windows
            ]:
                for rank, (label, p) in enumerate(topk, 1):
                    videos.write(_csv_row([path, start, end, rank, label, f"{p:.6f}"]))
        elif not args.json:
            videos.write(f"{path}: " + ", ".join(f"{lab} {p:.1%}" for lab, p in pred.topk))
            for w in pred.windows:
                videos.write(
                    f"  {w.start:8.2f}-{w.end:8.2f} s: "
                    + ", ".join(f"{lab} {p:.1%}" for lab, p in w.topk)
                )
    videos.close()
    if args.json:
        print(json.dumps({"predictions": results, "failed": failed}, indent=2))
    if failed:
        print(
            f"{len(failed)} of {len(failed) + len(results)} videos could not be read",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _check_writable(out: Path) -> None:
    """Before any work: the output can be written (its folder exists or can be made, and
    is writable; ``out`` is not a folder)."""
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name")
    folder = out.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"--out {out}: cannot write into {folder}")


def _cmd_extract(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from .atomic import write_atomically
    from .data.decode import VideoDecodeError

    out = Path(args.out)
    if out.suffix not in (".npy", ".safetensors"):
        raise ValueError(f"--out must end in .npy or .safetensors, got {args.out}")
    _check_writable(out)
    videos = _videos(args, "extract", shards=True)  # the inputs first, then the model
    predictor = _predictor(args)
    per_video, per_clip, names, rows, failed = [], [], [], [], []
    crops = predictor.protocol.num_crops
    for video in videos:
        path = str(video)
        try:
            with video as local:
                clips, mean = predictor.embed(local)
                spans = predictor.spans(local)
        except VideoDecodeError as e:
            failed.append(str(path))
            videos.write(f"videoformer extract: cannot read {e}", file=sys.stderr)
            continue
        rows += [
            {
                "row": len(rows) + v,
                "video": len(names),
                "path": str(path),
                "view": v,
                "start": spans[v // crops][0],
                "end": spans[v // crops][1],
            }
            for v in range(len(clips))
        ]
        per_clip.append(clips)
        per_video.append(mean)
        names.append(str(path))
    videos.close()
    if not per_video:
        print("videoformer extract: no video could be read", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    stacked = torch.stack(per_video)
    index = json.dumps({"videos": names, "clips": rows}, indent=1)
    if out.suffix == ".safetensors":
        from safetensors.torch import save_file

        tensors = {
            "videos": stacked.contiguous(),
            **{f"clips/{i}": c.contiguous() for i, c in enumerate(per_clip)},
        }
        meta = {"paths": json.dumps(names), "clips": json.dumps(rows)}
        write_atomically({out: lambda tmp: save_file(tensors, str(tmp), metadata=meta)})
    else:

        def npy(array):
            def write(tmp: Path) -> None:
                with open(tmp, "wb") as f:
                    np.save(f, array)

            return write

        write_atomically(
            {
                out: npy(stacked.numpy()),
                out.with_name(out.stem + "_clips.npy"): npy(torch.cat(per_clip).numpy()),
                out.with_name(out.stem + "_paths.json"): lambda tmp: tmp.write_text(
                    json.dumps(names, indent=1)
                ),
                out.with_name(out.stem + "_clips.json"): lambda tmp: tmp.write_text(index),
            }
        )
    print(f"wrote {len(names)} video embeddings of width {stacked.shape[1]} to {out}")
    return 1 if failed else 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from dataclasses import replace

    import torch

    from .data.datasets import read_label_names
    from .fields import parse_assignments, short_repr
    from .models.registry import resolve_weights, split_tag
    from .weights.factory import create_model, model_data_spec
    from .weights.loading import CheckpointError, checkpoint_config
    from .weights.model_file import model_metadata, write_model_file
    from .weights.source import resolve_source, shipped_labels

    if Path(args.out).suffix != ".safetensors":
        raise ValueError(f"--out must end in .safetensors, got {args.out}")
    _check_writable(Path(args.out))
    labels = read_label_names(args.labels) if args.labels else None
    overrides = parse_assignments(args.set or [])
    source = resolve_source(args.source, args.model)
    _, tag = resolve_weights(args.model)
    if source.kind == "foreign":  # no config with it: what its shapes say, over the tag's
        with torch.device("meta"):
            target = create_model(args.model)
        inferred = checkpoint_config(target.family, source.path, target.config)
        overrides = {**inferred, **overrides}
    try:
        model = create_model(args.model, pretrained=source, **overrides)
    except CheckpointError:
        raise
    except ValueError as e:  # the sizes its shapes give do not build a model: say which file
        raise ValueError(
            f"{args.source} (sizes from its tensors {short_repr(overrides)}): {e}"
        ) from None
    data = model_data_spec(model)
    labels = labels or model.label_names
    if labels is None and (source.kind != "foreign" or tag is not None):
        labels = shipped_labels(data, model.config.num_classes)  # the release the tag names
    if labels is None:
        data = replace(data, labels="")  # a foreign file claims no label set
    elif len(labels) != model.config.num_classes:
        raise ValueError(
            f"--labels {args.labels}: {len(labels)} names for {model.config.num_classes} classes"
        )
    meta = model_metadata(split_tag(args.model)[0], model, list(labels) if labels else None, data)
    write_model_file(model, meta, args.out)
    print(model.load_report)
    print(
        f"wrote {args.out} ({data.protocol} test views, {data.clip} x {data.num_crops} at "
        f"{data.size} px, {len(labels) if labels else 'no'} label names)"
    )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .inference.export import export_onnx
    from .weights.factory import create_model, load_source
    from .weights.source import resolve_source

    if Path(args.out).suffix != ".onnx":
        raise ValueError(f"--out must end in .onnx, got {args.out}")
    _check_writable(Path(args.out))
    source = resolve_source(args.source, args.model, fetch=False)
    if source.kind == "variant":
        model = create_model(source)  # its architecture with random weights
        print(f"{args.source}: random weights (give a tag or a checkpoint for trained ones)")
    else:
        model = load_source(source)
    report = export_onnx(model, args.out)
    print(
        f"wrote {', '.join(map(str, report.files))} ({report.megabytes:.1f} MB) in "
        f"{report.export_seconds:.1f} s; "
        f"onnxruntime vs PyTorch on a batch of 3: max |diff| {report.max_abs_diff:.2e} "
        f"({report.relative_diff:.1e} of the largest logit)"
    )
    print(
        f"input (batch, {', '.join(map(str, report.input_shape))}): the batch is dynamic, the "
        "rest fixed (frames included); labels and the test input are in its metadata"
    )
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from .inference.explanation import explain, save_explanation

    explanation = explain(
        args.checkpoint,
        args.video,
        model=args.model,
        target=args.target,
        method=args.method,
        device=args.device,
    )
    paths = save_explanation(explanation, args.out, args.format)
    print(
        f"{args.video}: {explanation.label} ({explanation.probability:.1%}), "
        f"{explanation.method} on a {'x'.join(map(str, explanation.tokens.shape))} token grid"
    )
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    report = run_demo(args.out, args.set or [])
    print(
        f"top-1 on held-out clips: {report['top1']:.1%} ({report['train_seconds']:.0f} s training, "
        f"{report['total_seconds']:.0f} s in all)"
    )
    for line in report["predictions"]:
        print(f"  {line}")
    print(
        f"wrote {args.out}/: metrics.json, curves.png, confusion.png, model.safetensors, "
        "checkpoint.pt, dataset/"
    )
    return 0


DESCRIPTION = """Video transformers (TimeSformer, Perceiver, Swin, Video Swin): train,
evaluate, predict and extract embeddings, with released weights fetched by name and
tested with their official test pipelines."""

EXAMPLES = """examples:
  videoformer predict clip.mp4 --checkpoint timesformer_base.k400 --topk 5
  videoformer train --config finetune_folders --set data.root=my_videos --out runs/mine
  videoformer predict long.mp4 --checkpoint runs/mine/model.safetensors --stride 32 --json
  videoformer explain clip.mp4 --checkpoint demo_out/model.safetensors --out explain_out

Run 'videoformer COMMAND --help' for a command's options; docs: README.md, docs/."""

CHECKPOINT_HELP = (
    "a saved model or checkpoint (.safetensors, .pt, .pth, .pyth), a folder, a URL, "
    "a Hugging Face id, or released weights by tag, e.g. timesformer_base.k400"
)
MODEL_HELP = (
    "variant or tag of a checkpoint without videoformer metadata, e.g. timesformer_base.k400"
)
DEVICE_HELP = "cpu, cuda or cuda:N (default: cuda when available, else cpu)"
COMPILE_HELP = "torch.compile the model first (slower start, faster per clip)"
VIEWS_HELP = "CLIPSxCROPS test views per video instead of the weights' own, e.g. 4x3"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videoformer",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"videoformer {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list-models", help="registered variants, optionally matching a pattern")
    p.add_argument(
        "pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'timesformer*'"
    )
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="released weights as variant.tag, for create_model(name, pretrained=True)",
    )
    p.set_defaults(fn=_cmd_list_models)

    p = sub.add_parser(
        "info", help="parameters, FLOPs per clip, input shape and config of a variant or tag"
    )
    p.add_argument(
        "model", help="variant, family or tag, e.g. timesformer_base or timesformer_base.k600"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(fn=_cmd_info)

    p = sub.add_parser("train", help="train from a YAML recipe (torchrun for several processes)")
    p.add_argument(
        "--config",
        help="YAML recipe or a packaged one's name, e.g. demo, finetune_folders (with --resume: "
        "default the run folder's own config.yaml)",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a recipe field, e.g. optim.lr=0.001 (repeatable)",
    )
    p.add_argument("--out", help="run folder (= --set out=...)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the run folder's checkpoint (after a stop or a preemption)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start again in a run folder an earlier run wrote into (its files are deleted)",
    )
    p.set_defaults(fn=_cmd_train)

    p = sub.add_parser(
        "prepare",
        help="a recipe's data set re-encoded for training and packed into WebDataset shards",
    )
    p.add_argument(
        "--config",
        help="the recipe whose data set to prepare (a YAML file or a packaged recipe's name; "
        "default: the recipe defaults with --set)",
    )
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe field")
    p.add_argument("--out", required=True, help="the shard folder (empty, or one to continue)")
    p.add_argument(
        "--short-side", type=_positive_int, default=256, help="re-encode at this short side (256)"
    )
    p.add_argument(
        "--keyint",
        type=_positive_int,
        help="frames between keyframes (default: 8 for a recipe's sparse clips, frame "
        "interval 8 or more, else 16; fewer: faster sparse clips, more bytes)",
    )
    p.add_argument(
        "--tune",
        default="fastdecode",
        choices=("fastdecode", "film", "animation", "grain", "none"),
        help="x264 tuning (fastdecode: about twice as fast to decode, ~17%% more bytes)",
    )
    p.add_argument(
        "--intra",
        action="store_true",
        help="every frame a keyframe: the fastest random access, for sparse sampling",
    )
    p.add_argument("--crf", type=int, default=23, help="x264 quality, lower is better (23)")
    p.add_argument(
        "--no-reencode", action="store_true", help="keep the original bytes (metadata added)"
    )
    p.add_argument("--shard-mb", type=_positive_int, default=1024, help="shard size (1024 MiB)")
    p.add_argument(
        "--workers",
        type=_positive_int,
        help="processes encoding videos, one thread each (default: one per core)",
    )
    p.set_defaults(fn=_cmd_prepare)

    p = sub.add_parser(
        "eval", help="multi-view evaluation of a checkpoint on a recipe's validation split"
    )
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.add_argument(
        "--config",
        help="YAML recipe giving the data set (default: the run's own, for a checkpoint in "
        "its run folder; the views come from the weights)",
    )
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe field")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--views", help=VIEWS_HELP)
    p.add_argument(
        "--aggregate",
        choices=AGGREGATES,
        help="how views combine (default: the checkpoint's data spec: its protocol's or its "
        "recipe's)",
    )
    p.add_argument("--device", help=DEVICE_HELP)
    p.add_argument("--compile", action="store_true", help=COMPILE_HELP)
    p.add_argument(
        "--max-unreadable",
        type=float,
        default=0.01,
        help="the largest share of unreadable videos to report scores over the others "
        "(default 0.01; above it, exit 1 and no report)",
    )
    p.add_argument("--out", default="eval_out", help="report folder (default: ./eval_out)")
    p.set_defaults(fn=_cmd_eval)

    for name, fn, helptext in (
        ("predict", _cmd_predict, "top-k labels for video files or folders"),
        ("extract", _cmd_extract, "pooled embeddings per clip and per video"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument(
            "videos",
            nargs="+",
            help="video files or folders of videos"
            + (" (or prepared shards: a folder or URL)" if name == "extract" else ""),
        )
        p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
        p.add_argument("--model", help=MODEL_HELP)
        p.add_argument("--views", help=VIEWS_HELP)
        p.add_argument(
            "--stride",
            type=_positive_int,
            help="sliding window: a clip every STRIDE frames (predict: one answer per window too)",
        )
        p.add_argument("--labels", help="label names, one per line (foreign checkpoints)")
        p.add_argument("--device", help=DEVICE_HELP)
        p.add_argument("--compile", action="store_true", help=COMPILE_HELP)
        if name == "predict":
            p.add_argument(
                "--topk",
                type=_positive_int,
                default=5,
                help="labels per video (and window), default 5",
            )
            output = p.add_mutually_exclusive_group()
            output.add_argument("--json", action="store_true", help="JSON on stdout (with windows)")
            output.add_argument(
                "--csv",
                action="store_true",
                help="CSV on stdout: video,start,end,rank,label,probability",
            )
        else:
            p.add_argument("--out", required=True, help="FILE.npy or FILE.safetensors")
        p.set_defaults(fn=fn)

    p = sub.add_parser("convert", help="any supported checkpoint layout -> videoformer safetensors")
    p.add_argument("source", help="checkpoint file, model directory, URL or Hugging Face id")
    p.add_argument(
        "--model", required=True, help="target variant, family or tag, e.g. timesformer_base.k400"
    )
    p.add_argument(
        "--set", action="append", metavar="FIELD=VALUE", help="config field of the target"
    )
    p.add_argument(
        "--labels",
        help="class names, one per line (a foreign checkpoint otherwise gets none; a tag, "
        "its release's)",
    )
    p.add_argument("--out", required=True, help="FILE.safetensors")
    p.set_defaults(fn=_cmd_convert)

    p = sub.add_parser("export", help="a model as ONNX (dynamic batch), checked with onnxruntime")
    p.add_argument("source", help="a tag, a checkpoint, or a variant name (random weights)")
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument("--format", choices=("onnx",), default="onnx", help="onnx (the only format)")
    p.add_argument("--out", required=True, help="FILE.onnx")
    p.set_defaults(fn=_cmd_export)

    p = sub.add_parser(
        "explain",
        help="where a model looks: an overlay (GIF/MP4), a frame grid (PNG) and the maps (.npy)",
    )
    p.add_argument("video", help="a video file")
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.add_argument("--model", help=MODEL_HELP)
    p.add_argument(
        "--target",
        help="label name or index to explain (Grad-CAM maps; default: the predicted class)",
    )
    p.add_argument(
        "--method",
        choices=tuple(METHODS),
        help="a relevance method the model offers (default: its first); "
        + "; ".join(f"{name}: {what}" for name, what in METHODS.items()),
    )
    p.add_argument("--format", choices=("gif", "mp4"), default="gif", help="the overlay's format")
    p.add_argument("--device", help=DEVICE_HELP)
    p.add_argument("--out", default="explain_out", help="output folder (default: ./explain_out)")
    p.set_defaults(fn=_cmd_explain)

    p = sub.add_parser(
        "demo", help="the main job: synthetic motion data, train, evaluate, predict, report"
    )
    p.add_argument("--out", default="demo_out", help="output folder (default: ./demo_out)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a field of the demo recipe, e.g. seed=1",
    )
    p.set_defaults(fn=_cmd_demo)
    return parser


class _Stderr(logging.StreamHandler):
    """Lines on whatever ``sys.stderr`` is when they are written."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _show_run_reports() -> None:
    """A run's own report (its start, each evaluation) as plain lines, without -v."""
    run = logging.getLogger("videoformer.run")
    if not run.handlers:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        run.addHandler(handler)
        run.propagate = False
    run.setLevel(logging.INFO)


FULL_DEVICE = ("No space left on device", "File too large", "unable to resize file")


def _user_errors() -> tuple[type[BaseException], ...]:
    """What a user's input or machine causes (bad arguments, files, recipes, weights,
    videos, permissions, a full disk): one line and exit 2. Anything else is a bug and
    shows its traceback."""
    from .data.decode import VideoDecodeError
    from .weights.hub import DownloadError
    from .weights.loading import CheckpointError

    return (ValueError, CheckpointError, DownloadError, ImportError, VideoDecodeError, OSError)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    _show_run_reports()
    USER_ERRORS = _user_errors()

    try:
        return args.fn(args)
    except USER_ERRORS as e:
        print(f"videoformer {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except RuntimeError as e:  # torch reports a full disk or shared memory as RuntimeError
        worker = _from_worker(e)  # and re-raises a loader worker's error as one, at times
        if worker and worker[0] in _names(USER_ERRORS):
            print(f"videoformer {args.command}: error: {_one_line(e)}", file=sys.stderr)
            return 2
        if not any(sign in str(e) for sign in FULL_DEVICE):
            raise
        print(
            f"videoformer {args.command}: error: the disk or shared memory (/dev/shm) is "
            f"full: {_one_line(e, 300)}",
            file=sys.stderr,
        )
        return 2


def _from_worker(error: BaseException) -> tuple[str, str] | None:
    """(type name, message) of the error a DataLoader worker raised, which torch re-raises
    with the worker's traceback in the message; None for any other error."""
    text = str(error)
    if "in DataLoader worker process" not in text or "Original Traceback" not in text:
        return None
    name, _, message = text.rstrip().splitlines()[-1].partition(": ")
    return name.rsplit(".", 1)[-1], message


def _names(classes: tuple[type[BaseException], ...]) -> set[str]:
    """The names of ``classes`` and of all their subclasses."""
    names, todo = set(), list(classes)
    while todo:
        c = todo.pop()
        if c.__name__ not in names:
            names.add(c.__name__)
            todo += c.__subclasses__()
    return names


def _one_line(error: BaseException, limit: int = 2000) -> str:
    worker = _from_worker(error)
    text = " ".join((worker[1] if worker else str(error)).split()) or type(error).__name__
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        text = f"no space left on the device ({text}); free some and run again"
    return text if len(text) <= limit else text[: limit - 3] + "..."


if __name__ == "__main__":
    sys.exit(main())
