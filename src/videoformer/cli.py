"""The ``videoformer`` command line. The library logs; only this module prints.

Exit codes: 0 success, 1 some inputs failed (e.g. unreadable videos in ``predict``),
2 bad arguments or input files.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")


def _cmd_list_models(args: argparse.Namespace) -> int:
    from .models import list_models

    names = list_models(args.pattern, pretrained=args.pretrained)
    if not names:
        print(f"no model matches {args.pattern!r}", file=sys.stderr)
        return 1
    print("\n".join(names))
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from .zoo import describe_model

    info = describe_model(args.model)
    if args.json:
        print(json.dumps({
            "name": info.name, "family": info.family, "params": info.params, "flops": info.flops,
            "input_shape": info.input_shape, "config": info.config,
        }, indent=2, default=str))
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
        print(
            f"  weights    : {info.name}.{w.tag} {w.url} ({w.license}, {w.data.protocol} "
            f"{w.data.clip} x {w.data.num_crops} crops, {w.data.labels or w.num_classes})"
        )
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
    cfg = load_config(args.config, overrides)
    result = train(cfg, resume=args.resume)
    if "preempted_at_step" in result:
        print(f"preempted (SIGTERM) after step {result['preempted_at_step']}: checkpoint in "
              f"{cfg.out}; continue with: videoformer train ... --resume")
        return 0
    if result:
        print(
            json.dumps({k: v for k, v in result.items() if isinstance(v, (int, float))}, indent=2)
        )
    print(f"run folder: {cfg.out}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from .engine.builders import build_datasets
    from .engine.config import load_config
    from .engine.evaluate import evaluate, write_report
    from .preprocessing import with_views
    from .saving import load_for_inference

    cfg = load_config(args.config, list(args.set or []))
    model, data, names = load_for_inference(args.checkpoint, args.model, fallback=cfg.model)
    data = with_views(data, args.views)
    _, val, labels = build_datasets(cfg.data, cfg.seed, test_spec=data)
    aggregate = args.aggregate or (
        cfg.aggregate if data.protocol == "videoformer" else val.protocol.aggregate
    )
    result = evaluate(
        model,
        val,
        cfg.eval_batch_size,
        num_workers=cfg.data.num_workers,
        aggregate=aggregate,
        multi_label=cfg.multi_label,
    )
    path = write_report(result, args.out, labels or names)
    keys = ("top1", "top5", "mean_class_accuracy", "mAP", "num_videos", "views_per_video")
    print(json.dumps({k: result[k] for k in keys if k in result}, indent=2))
    print(f"report: {path}")
    return 0


def _video_paths(inputs: list[str]) -> list[Path]:
    paths = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            paths += sorted(f for f in p.rglob("*") if f.suffix.lower() in VIDEO_SUFFIXES)
        else:
            paths.append(p)
    return paths


def _predictor(args: argparse.Namespace):
    from .data.protocols import parse_views
    from .engine.predict import Predictor

    if args.views:
        parse_views(args.views)  # before any model is loaded or downloaded
    return Predictor(
        args.checkpoint, model=args.model, labels=args.labels, views=args.views, stride=args.stride
    )


def _cmd_predict(args: argparse.Namespace) -> int:
    from .data.decode import VideoDecodeError

    predictor = _predictor(args)
    failed, results = [], []
    for path in _video_paths(args.videos):
        try:
            pred = predictor.predict(path, topk=args.topk)
        except VideoDecodeError as e:
            failed.append(str(path))
            print(f"videoformer predict: cannot read {e}", file=sys.stderr)
            continue
        results.append(
            {
                "video": str(path),
                "views": pred.num_views,
                "top": [{"label": lab, "prob": round(p, 6)} for lab, p in pred.topk],
            }
        )
        if not args.json:
            print(f"{path}: " + ", ".join(f"{lab} {p:.1%}" for lab, p in pred.topk))
    if args.json:
        print(json.dumps({"predictions": results, "failed": failed}, indent=2))
    if failed:
        print(
            f"{len(failed)} of {len(failed) + len(results)} videos could not be read",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _cmd_extract(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from .data.decode import VideoDecodeError

    if Path(args.out).suffix not in (".npy", ".safetensors"):
        raise ValueError(f"--out must end in .npy or .safetensors, got {args.out}")
    predictor = _predictor(args)
    per_video, per_clip, names, failed = [], [], [], []
    for path in _video_paths(args.videos):
        try:
            clips, mean = predictor.embed(path)
        except VideoDecodeError as e:
            failed.append(str(path))
            print(f"videoformer extract: cannot read {e}", file=sys.stderr)
            continue
        per_clip.append(clips)
        per_video.append(mean)
        names.append(str(path))
    if not per_video:
        print("videoformer extract: no video could be read", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    videos = torch.stack(per_video)
    if out.suffix == ".safetensors":
        from safetensors.torch import save_file

        tensors = {
            "videos": videos.contiguous(),
            **{f"clips/{i}": c.contiguous() for i, c in enumerate(per_clip)},
        }
        save_file(tensors, str(out), metadata={"paths": json.dumps(names)})
    else:
        np.save(out, videos.numpy())
        np.save(out.with_name(out.stem + "_clips.npy"), torch.cat(per_clip).numpy())
        out.with_name(out.stem + "_paths.json").write_text(json.dumps(names, indent=1))
    print(f"wrote {len(names)} video embeddings of width {videos.shape[1]} to {out}")
    return 1 if failed else 0


def _cmd_convert(args: argparse.Namespace) -> int:
    import yaml

    from .factory import create_model, weights_source
    from .labels import label_set_of_size
    from .models.registry import split_tag
    from .preprocessing import data_config, fit_to_model, hf_data_config
    from .saving import export_safetensors, model_metadata

    if Path(args.out).suffix != ".safetensors":
        raise ValueError(f"--out must end in .safetensors, got {args.out}")
    overrides = {}
    for item in args.set or []:
        if "=" not in item:
            raise ValueError(f"--set expects FIELD=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        overrides[key] = yaml.safe_load(raw)
    source = weights_source(args.source)
    model = create_model(args.model, pretrained=source, **overrides)
    hf_video = source.is_dir() and model.family == "timesformer"
    data = fit_to_model(hf_data_config(source) if hf_video else data_config(args.model), model)
    labels = model.load_report.labels or label_set_of_size(data.labels, model.config.num_classes)
    meta = model_metadata(split_tag(args.model)[0], model, list(labels) if labels else None, data)
    export_safetensors(model, meta, args.out)
    print(model.load_report)
    print(
        f"wrote {args.out} ({data.protocol} test views, {data.clip} x {data.num_crops} at "
        f"{data.size} px, {len(labels) if labels else 'no'} label names)"
    )
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videoformer", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

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
        "info", help="parameters, FLOPs per clip, input shape and config of a variant"
    )
    p.add_argument("model")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(fn=_cmd_info)

    p = sub.add_parser("train", help="train from a YAML recipe (torchrun for several processes)")
    p.add_argument("--config", help="YAML recipe, e.g. configs/demo.yaml")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a field, e.g. optim.lr=0.001"
    )
    p.add_argument("--out", help="run folder (= --set out=...)")
    p.add_argument(
        "--resume", action="store_true", help="continue from the run folder's checkpoint.pt"
    )
    p.set_defaults(fn=_cmd_train)

    p = sub.add_parser(
        "eval", help="multi-view evaluation of a checkpoint on a recipe's validation split"
    )
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--config", help="YAML recipe giving the data settings")
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--model", help="variant name, for checkpoints without videoformer metadata")
    p.add_argument("--views", help="CLIPSxCROPS, e.g. 4x3")
    p.add_argument("--aggregate", choices=("mean_softmax", "sum_logits"))
    p.add_argument("--out", default="eval_out", help="report folder")
    p.set_defaults(fn=_cmd_eval)

    for name, fn, helptext in (
        ("predict", _cmd_predict, "top-k labels for video files or folders"),
        ("extract", _cmd_extract, "pooled embeddings per clip and per video"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("videos", nargs="+", help="video files or folders of videos")
        p.add_argument("--checkpoint", required=True)
        p.add_argument("--model", help="variant name, for checkpoints without videoformer metadata")
        p.add_argument(
            "--views", help="CLIPSxCROPS evenly spaced clips and crops per video, e.g. 4x3"
        )
        p.add_argument("--stride", type=int, help="sliding window: a clip every STRIDE frames")
        p.add_argument("--labels", help="label names, one per line (foreign checkpoints)")
        if name == "predict":
            p.add_argument("--topk", type=int, default=5)
            p.add_argument("--json", action="store_true")
        else:
            p.add_argument("--out", required=True, help="FILE.npy or FILE.safetensors")
        p.set_defaults(fn=fn)

    p = sub.add_parser("convert", help="any supported checkpoint layout -> videoformer safetensors")
    p.add_argument("source", help="checkpoint file or model directory")
    p.add_argument("--model", required=True, help="target variant or family")
    p.add_argument(
        "--set", action="append", metavar="FIELD=VALUE", help="config field of the target"
    )
    p.add_argument("--out", required=True, help="FILE.safetensors")
    p.set_defaults(fn=_cmd_convert)

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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from .checkpoint import CheckpointError
    from .hub import DownloadError

    try:
        return args.fn(args)
    except (ValueError, FileNotFoundError, CheckpointError, DownloadError) as e:
        print(f"videoformer {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
