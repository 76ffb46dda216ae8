#!/usr/bin/python3
"""Draws a run's curves from CKPT_DIR/metrics.jsonl: training loss, validation and test accuracy
against global step, with every resume marked by a dashed vertical line.

usage: scripts/tools/plot_metrics.py CKPT_DIR [-o curves.png]     (Debian's python3-matplotlib)
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt_dir")
    ap.add_argument("-o", "--output", default="curves.png")
    args = ap.parse_args()
    path = os.path.join(args.ckpt_dir, "metrics.jsonl")
    records = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line torn by a crash
    except OSError as e:
        sys.exit(f"plot_metrics: cannot read {path}: {e.strerror}")
    epochs = [r for r in records if r.get("event") == "epoch"]
    saves = [r for r in records if r.get("event") == "save"]
    resumes = [r for r in records if r.get("event") == "resume"]
    if not epochs and not saves:
        sys.exit(f"plot_metrics: {path} holds no epoch or save record yet")

    fig, (ax_loss, ax_acc) = plt.subplots(2, 1, sharex=True, figsize=(8, 7))
    ax_loss.plot([r["step"] for r in saves], [r["loss"] for r in saves], ".", color="0.6", label="loss so far in the epoch (saves)")
    ax_loss.plot([r["step"] for r in epochs], [r["loss"] for r in epochs], "o-", label="epoch mean training loss")
    ax_loss.set_ylabel("loss")
    val = [r for r in epochs if r.get("validation_accuracy") is not None]
    ax_acc.plot([r["step"] for r in val], [r["validation_accuracy"] for r in val], "o-", label="validation accuracy")
    ax_acc.plot([r["step"] for r in epochs], [r["test_accuracy"] for r in epochs], "s-", label="test accuracy")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_xlabel("global step")
    for ax in (ax_loss, ax_acc):
        for i, r in enumerate(resumes):
            ax.axvline(r["step"], color="red", linestyle="--", linewidth=1, label="resume" if i == 0 else None)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    fig.suptitle(f"{args.ckpt_dir}: {len(epochs)} epoch(s), {len(resumes)} resume(s)")
    fig.tight_layout()
    fig.savefig(args.output, dpi=100)
    print(f"plot_metrics: wrote {args.output}")


if __name__ == "__main__":
    main()
