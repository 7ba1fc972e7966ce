#!/usr/bin/env bash
# Install the peer implementations into their own venv (.venv-peers) beside the CPU
# torch 2.13.0, without letting pip replace torch: every peer goes in with --no-deps
# and its real runtime dependencies are listed explicitly (see ../shared/PEERS.md).
#   bash benchmarks/install_peers.sh && .venv-peers/bin/python benchmarks/...
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-peers}
test -x "$VENV/bin/python" || python3 -m venv "$VENV"
PIP="$VENV/bin/python -m pip install -q"
$PIP torch==2.13.0
$PIP -e ".[onnx]" einops==0.8.2 numpy safetensors pyyaml tqdm matplotlib
# HF transformers and its runtime dependencies
$PIP --no-deps transformers==5.23.0
$PIP huggingface-hub packaging regex tokenizers
# timm (imports torchvision at load time; benchmarks give it a stand-in module)
$PIP --no-deps timm==1.0.31
$PIP pillow
# lucidrains' implementations
$PIP --no-deps timesformer-pytorch==0.4.1 perceiver-pytorch==0.11.0
# mmaction2's Video Swin backbone file loads on its own with these
$PIP --no-deps mmaction2==1.2.0 mmcv-lite==2.1.0 mmengine==0.10.7
$PIP addict termcolor yapf opencv-python-headless rich
"$VENV/bin/python" -c "import torch, transformers; print('peers ready:', torch.__version__, transformers.__version__)"
