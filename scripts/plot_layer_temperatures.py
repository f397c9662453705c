"""Make docs/img/layer_temperatures.png: per-layer temperatures of the four activations.

One dataset (two interleaved moons, 1,000 rows, cross entropy), one architecture (hidden 32, 32)
and one seed; only the activation changes. Left: each layer's temperature ``T_l = dE_l / dS_l``.
Right: the work efficiency ``eta`` of each activation beside its Carnot bound over the layers.
Prints the figures as a Markdown table for docs/theory.md (section 8.7).

Needs matplotlib (a documentation dependency only):
``python scripts/plot_layer_temperatures.py [--out docs/img/layer_temperatures.png]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI or a server
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from sklearn.datasets import make_moons  # noqa: E402

from shiftemp.engine import compare_activations  # noqa: E402
from shiftemp.models import Loss  # noqa: E402
from shiftemp.network import Activation, Schedule  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEED = 20240420
HIDDEN = (32, 32)
SCHEDULE = Schedule(learning_rate=0.01, batch_size=100, epochs=300)
COLOURS = {"hidden 1": "#4c72b0", "hidden 2": "#55a868", "output": "#c44e52"}


def moons() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_moons(1000, noise=0.15, random_state=SEED % 2**31)
    return (X - X.mean(axis=0)) / X.std(axis=0), y.astype(float)


def table(comparison) -> str:
    head = "| activation | layer | dE_l (nats) | share | dS_l (nats) | T_l |\n|---|---|---|---|---|---|"
    rows = []
    for report in comparison.reports:
        for layer in report.layers:
            rows.append(
                f"| {report.activation.value} | {layer.name} | {layer.energy_change:+.4f} | "
                f"{layer.share:.1%} | {layer.entropy_change:+.1f} | {layer.temperature.describe(3)} |"
            )
    engines = "\n\n| activation | E_A | E_net* | E_linear* | eta | Carnot bound | type | residual |\n" \
              "|---|---|---|---|---|---|---|---|"
    for r in comparison.reports:
        bound = "n/a" if r.carnot_bound is None else f"{r.carnot_bound:.3f}"
        engines += (
            f"\n| {r.activation.value} | {r.initial_energy:.3f} | {r.trained_energy:.4f} | "
            f"{r.linear_energy:.4f} | {r.efficiency:.3f} | {bound} | {r.engine_type.value} | "
            f"{r.transition.relative_residual:.1e} |"
        )
    return head + "\n" + "\n".join(rows) + engines


def plot(comparison, out: Path) -> None:
    reports = comparison.reports
    names = [r.activation.value for r in reports]
    layers = [layer.name for layer in reports[0].layers]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / len(layers)
    x = np.arange(len(reports))
    for j, name in enumerate(layers):
        values = []
        for r in reports:
            t = r.layers[j].temperature
            values.append(t.value if t.status == "finite" and t.value > 0 else np.nan)
        left.bar(x + (j - (len(layers) - 1) / 2) * width, values, width, label=name, color=COLOURS.get(name))
    left.set_yscale("log")
    left.set_xticks(x, names)
    left.set_ylabel("T_l = dE_l / dS_l (nats of loss per nat)")
    left.set_title("Per-layer temperature, two moons, hidden (32, 32)")
    left.legend(frameon=False)

    eta = [r.efficiency for r in reports]
    bound = [np.nan if r.carnot_bound is None else r.carnot_bound for r in reports]
    bars = right.bar(x - 0.2, eta, 0.4, label="work efficiency eta", color="#8172b2")
    right.bar_label(bars, labels=[f"{e:.2f}" for e in eta], padding=2)
    right.bar(x + 0.2, bound, 0.4, label="Carnot bound 1 - T_cold / T_hot", color="#cccccc")
    right.set_xticks(x, names)
    right.set_ylim(0, 1)
    right.set_title("Work efficiency and the Carnot bound")
    right.legend(frameon=False, loc="upper left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "layer_temperatures.png")
    args = parser.parse_args()
    X, y = moons()
    comparison = compare_activations(
        X, y, np.random.default_rng(SEED), activations=list(Activation), hidden=HIDDEN, loss=Loss.CE,
        schedule=SCHEDULE,
    )
    plot(comparison, args.out)
    print(table(comparison))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
