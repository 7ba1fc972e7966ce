"""The ``videoformer`` command line. The library logs; only this module prints."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence


def _cmd_list_models(args: argparse.Namespace) -> int:
    from .models import list_models

    names = list_models(args.pattern)
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
        }, indent=2))
        return 0
    print(f"{info.name} (family {info.family})")
    print(f"  parameters : {info.params:,}")
    print(f"  FLOPs/clip : {info.flops / 1e9:.1f} GFLOP (2 per multiply-add; {info.flops / 2e9:.1f} G multiply-adds)")
    shapes = info.input_shape if isinstance(info.input_shape, dict) else {"": info.input_shape}
    for name, shape in shapes.items():
        print(f"  input {name:<5}: (B, {', '.join(map(str, shape))})")
    print(f"  layouts    : {', '.join(info.layouts)}")
    if info.weights:
        w = info.weights
        print(f"  weights    : {w.url} ({w.layout}, {w.license}, clip {w.clip}, {w.labels})")
    print("  config:")
    for k, v in info.config.items():
        print(f"    {k} = {v}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    metrics = run_demo(args.out, steps=args.steps)
    print(f"top-1 on held-out clips: {metrics['top1']:.1%} ({metrics['seconds']} s)")
    print(f"wrote {args.out}/metrics.json and {args.out}/checkpoint.pt")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videoformer", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list-models", help="registered variants, optionally matching a pattern")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'timesformer*'")
    p.set_defaults(fn=_cmd_list_models)

    p = sub.add_parser("info", help="parameters, FLOPs per clip, input shape and config of a variant")
    p.add_argument("model")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(fn=_cmd_info)

    p = sub.add_parser("demo", help="train and evaluate a tiny TimeSformer on synthetic motion clips")
    p.add_argument("--out", default="demo_out", help="output folder (default: ./demo_out)")
    p.add_argument("--steps", type=int, default=800, help="training steps")
    p.set_defaults(fn=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.fn(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"videoformer {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
