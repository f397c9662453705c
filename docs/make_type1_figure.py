"""Make docs/img/type1_temperature_vs_scale.png: the Type I temperature against the
initialization scale, for the three laws and the three losses, on the bundled sample data.

    python docs/make_type1_figure.py            # writes the figure (needs matplotlib)
    python docs/make_type1_figure.py --table    # prints the nine-combination table (Markdown)
                                                # on a synthetic unit-scale dataset

Data: sample_data/reference.parquet, 4,000 seeded delivery times (regenerate with
sample_data/make_samples.py). Features distance_km, weight_kg, traffic, hour and region (one-hot,
north the baseline), standardised by the model with an intercept: p = 8 design columns. MSE and
MAE fit the minutes; cross entropy fits three classes of delivery time (the minutes' tertiles:
fast, usual, slow), so q = 16. Every figure is the analytic one (numerically exact E_A), with the
default ridge of shiftemp.models.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shiftemp.laws import InitLaw, make_law  # noqa: E402
from shiftemp.models import Family, Loss, Model  # noqa: E402
from shiftemp.typeone import Equilibrium, Method, type_one, type_one_table  # noqa: E402

DATA = ROOT / "sample_data" / "reference.parquet"
FIGURE = ROOT / "docs" / "img" / "type1_temperature_vs_scale.png"
#: Scale multipliers c: the law's standard deviation is c / sqrt(p) (c = 1: LeCun).
MULTIPLIERS = np.geomspace(0.01, 10.0, 28)
#: Rows per exact expectation: the softmax characteristic-function route costs seconds per
#: thousand rows for the uniform and mixed laws at large scales, so the cross-entropy panel uses
#: a seeded subsample of 800 rows (its sampling error is far below the curves' features).
ROWS = {Loss.MSE: None, Loss.MAE: None, Loss.CE: 800}
COLOURS = {InitLaw.NORMAL: "#1b6ca8", InitLaw.UNIFORM: "#d1495b", InitLaw.MIXED: "#2e933c"}


def equilibria() -> list[Equilibrium]:
    """The fitted equilibria for MSE, MAE and cross entropy on the sample data."""
    frame = pd.read_parquet(DATA)
    features = pd.get_dummies(frame.drop(columns="target"), columns=["region"], drop_first=True, dtype=float)
    X = features.to_numpy(dtype=float)
    minutes = frame["target"].to_numpy(dtype=float)
    speed = np.digitize(minutes, np.quantile(minutes, [1 / 3, 2 / 3]))
    out = []
    for family, loss, y in (
        (Family.LINEAR, Loss.MSE, minutes),
        (Family.LINEAR, Loss.MAE, minutes),
        (Family.LOGISTIC, Loss.CE, speed),
    ):
        model = Model(family, loss, n_classes=3 if family is Family.LOGISTIC else None).fit(X, y)
        out.append(Equilibrium.from_model(model, X, y))
    return out


def temperature_curve(eq: Equilibrium, kind: InitLaw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``T_I`` (loss units per nat), ``dS`` and ``dE`` along the scale multipliers."""
    p = eq.design.shape[1]
    temperature, delta_s, delta_e = [], [], []
    for c in MULTIPLIERS:
        law = make_law(kind, fan_in=p, scale=c / math.sqrt(p))
        estimate = type_one(
            eq.design, eq.target, loss=eq.loss, law=law, equilibrium_energy=eq.energy,
            equilibrium_covariance=eq.covariance, methods=[Method.ANALYTIC], max_rows=ROWS[eq.loss],
            rng=np.random.default_rng(7),
        ).estimate(Method.ANALYTIC)
        t = estimate.temperature
        temperature.append(t.value if t.status == "finite" else np.nan)
        delta_s.append(estimate.delta_entropy.value)
        delta_e.append(estimate.delta_energy.value)
    return np.array(temperature), np.array(delta_s), np.array(delta_e)


def pole(eq: Equilibrium, kind: InitLaw) -> float:
    """The scale multiplier where ``S_A = S_B``: ``T_I`` is infinite there.

    ``S_A = q (h_1 + ln(c / sqrt(p)))`` with ``h_1`` the entropy of the law at unit standard
    deviation, so ``c* = sqrt(p) exp(S_B / q - h_1)``.
    """
    from shiftemp.typeone import laplace_entropy

    p, q = eq.design.shape[1], eq.covariance.shape[0]
    unit = make_law(kind, fan_in=1, scale=1.0)
    return math.sqrt(p) * math.exp(laplace_entropy(eq.covariance) / q - unit.entropy())


#: Linear range of the symmetric-log axis per loss, in its units per nat.
LINEAR_RANGE = {Loss.MSE: 10.0, Loss.MAE: 0.1, Loss.CE: 0.01}


def figure() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = {Loss.MSE: "MSE (minutes$^2$ per nat)", Loss.MAE: "MAE (minutes per nat)", Loss.CE: "cross entropy, K = 3 (nats per nat)"}
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.4), constrained_layout=True)
    for ax, eq in zip(axes, equilibria()):
        for kind in InitLaw:
            t, d_s, _ = temperature_curve(eq, kind)
            # the curve has a pole where dS changes sign (S_A = S_B): draw each branch apart
            for branch in (d_s > 0, d_s < 0):
                label = kind.value if branch is not None and branch.any() and branch[-1] else None
                ax.plot(np.where(branch, MULTIPLIERS, np.nan), np.where(branch, t, np.nan), color=COLOURS[kind], lw=1.8, label=label)
            ax.axvline(pole(eq, kind), color=COLOURS[kind], ls=":", lw=1.2)
        ax.axvline(1.0, color="0.4", ls="--", lw=1)
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=LINEAR_RANGE[eq.loss])
        ax.set_title(titles[eq.loss], fontsize=10)
        ax.set_xlabel("initialization scale c  (sd = c / sqrt(p))")
        ax.annotate("LeCun", (1.0, 0.02), xycoords=("data", "axes fraction"), xytext=(3, 0), textcoords="offset points", fontsize=8, color="0.3")
    axes[0].set_ylabel("Type I temperature $T_I = (E_B - E_A)/(S_B - S_A)$")
    axes[0].legend(title="law", frameon=False)
    fig.suptitle(
        "Type I temperature against the initialization scale, sample_data/reference.parquet "
        "(4,000 rows, p = 8); dotted: the pole where S_A = S_B",
        fontsize=10,
    )
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=130)
    print(f"wrote {FIGURE.relative_to(ROOT)}")


def synthetic_equilibria(n: int = 2000, seed: int = 20261127) -> list[Equilibrium]:
    """The table's dataset: four correlated standard-normal features, a unit-scale target
    ``y = 0.5 + X [0.8, -0.5, 0.3, 0] + N(0, 0.8^2)``, and its tertiles as three classes."""
    rng = np.random.default_rng(seed)
    cov = 0.3 * np.ones((4, 4)) + 0.7 * np.eye(4)
    X = rng.multivariate_normal(np.zeros(4), cov, size=n)
    y = 0.5 + X @ np.array([0.8, -0.5, 0.3, 0.0]) + 0.8 * rng.normal(size=n)
    codes = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    fits = (
        (Model(Family.LINEAR, Loss.MSE).fit(X, y), y),
        (Model(Family.LINEAR, Loss.MAE).fit(X, y), y),
        (Model(Family.LOGISTIC, Loss.CE, n_classes=3).fit(X, codes), codes),
    )
    return [Equilibrium.from_model(model, X, target) for model, target in fits]


def table() -> None:
    """The nine combinations on :func:`synthetic_equilibria`, every method, 100,000 draws."""
    results = type_one_table(synthetic_equilibria(), n_draws=100_000, rng=np.random.default_rng(20261127))
    print("| loss | law | E_A analytic | E_A asymptotic | E_A Monte Carlo (se) | E_B | S_A | S_B analytic | S_B asymptotic | T_I analytic | T_I asymptotic | T_I Monte Carlo (95%) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        an, asy, mc = (r.estimate(m) for m in Method)
        t_mc = mc.temperature
        interval = f"{t_mc.describe()} [{t_mc.low:.4g}, {t_mc.high:.4g}]" if t_mc.status == "finite" else t_mc.describe()
        print(
            f"| {r.loss.value} | {r.law.kind.value} | {an.initial_energy.value:.6g} | {asy.initial_energy.value:.6g} "
            f"| {mc.initial_energy.value:.6g} ({mc.initial_energy.se:.2g}) | {r.equilibrium_energy:.6g} "
            f"| {an.initial_entropy.value:.4f} | {an.equilibrium_entropy.value:.4f} | {asy.equilibrium_entropy.value:.4f} "
            f"| {an.temperature.describe(5)} | {asy.temperature.describe(5)} | {interval} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", action="store_true", help="print the nine-combination table instead")
    if parser.parse_args().table:
        table()
    else:
        figure()


if __name__ == "__main__":
    main()
