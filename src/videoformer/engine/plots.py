"""PNG pictures of a run: training curves and the confusion matrix (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def smooth(values: list[float], weight: float = 0.95) -> list[float]:
    """Exponential moving average, bias-corrected from the first value (TensorBoard's)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight**i))
    return out


def plot_curves(rows: list[dict], path: str | Path) -> None:
    """Loss per step (raw, faint, and smoothed), learning rate per step, and the evaluation
    metric at every evaluated epoch."""
    plt = _pyplot()
    train = [r for r in rows if r.get("kind") == "train"]
    evals = [r for r in rows if r.get("kind") == "eval"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    if train:
        steps, losses = [r["step"] for r in train], [r["loss"] for r in train]
        axes[0].plot(steps, losses, lw=0.6, alpha=0.3, color="tab:blue", label="per step")
        axes[0].plot(steps, smooth(losses), lw=1.2, color="tab:blue", label="smoothed")
        axes[0].legend(fontsize=8)
        axes[1].plot(steps, [r["lr"] for r in train], lw=0.8)
    axes[0].set(title="training loss", xlabel="step")
    axes[1].set(title="learning rate", xlabel="step")
    key = "top1" if any("top1" in r for r in evals) else "mAP"
    if evals:
        axes[2].plot(
            [r["epoch"] for r in evals], [r.get(key, float("nan")) for r in evals], marker="o"
        )
    axes[2].set(title=f"eval {key}", xlabel="epoch", ylim=(0, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


MAX_CLASSES_SHOWN = 30


def most_confused(confusion: list[list[int]], k: int = MAX_CLASSES_SHOWN) -> list[int]:
    """The ``k`` classes with the most errors (as true or predicted class), in class order."""
    n = len(confusion)
    errors = [
        sum(confusion[c]) + sum(row[c] for row in confusion) - 2 * confusion[c][c] for c in range(n)
    ]
    return sorted(sorted(range(n), key=lambda c: -errors[c])[:k])


def plot_confusion(confusion: list[list[int]], labels: list[str] | None, path: str | Path) -> None:
    """The matrix with counts; beyond ``MAX_CLASSES_SHOWN`` classes only the most confused
    ones (at most ~16 inches at 100 dpi; the whole matrix stays in the JSON report)."""
    plt = _pyplot()
    labels = labels or [str(i) for i in range(len(confusion))]
    title = "confusion matrix"
    if len(confusion) > MAX_CLASSES_SHOWN:
        keep = most_confused(confusion)
        title = f"the {len(keep)} most confused of {len(confusion)} classes"
        confusion = [[confusion[i][j] for j in keep] for i in keep]
        labels = [labels[i] for i in keep]
    n = len(confusion)
    size = max(4, 0.45 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n), labels, fontsize=7)
    for i in range(n):
        for j in range(n):
            if confusion[i][j]:
                ax.text(j, i, confusion[i][j], ha="center", va="center", fontsize=6)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
