"""The scenarios of the decision benchmark: (reference, new, future) triples with known physics.

Every synthetic scenario comes from a :class:`World`, a seeded generative model of a table
(numeric features ``x1..xd``, a categorical ``region``, a target ``y``), and a shifted world for
the new data. ``future`` is a fresh sample of the new world: the ground truth (``truth.py``) asks
whether a model retrained on ``new`` beats the reference model on it. Nothing here imports
shiftemp.

The real scenarios cut the NannyML tutorial sets (``../shared/data/nannyml/``, read in place and
never copied) into consecutive time chunks: chunk ``i`` is the new data, chunk ``i + 1`` the
future.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
from scipy import special, stats

#: Where the NannyML sets live, relative to the repository (overridable by SHIFTEMP_NANNYML).
NANNYML = Path(__file__).resolve().parents[3] / "shared" / "data" / "nannyml"

#: The NannyML sets: (name, target, task).
NANNYML_SETS = (
    ("car_loan", "repaid", "classification"),
    ("work_from_home", "work_home_actual", "classification"),
    ("credit_card_multiclass", "y_true", "classification"),
    ("car_price", "y_true", "regression"),
)

REGIONS = np.array(["north", "south", "east"])


@dataclass(frozen=True)
class World:
    """A seeded generative model of a table.

    Features: ``x1..xd`` normal with ``mean``, ``scale`` and equicorrelation ``rho``; ``region``
    categorical with ``region_probs``. Regression: ``y = intercept + x coef + region effect +
    quadratic (x1^2 - 1) + noise * e``. Classification: ``y ~ Bernoulli(sigmoid(same without
    noise))``. With ``prior`` set, the classification world is generative instead (label shift):
    ``y ~ Bernoulli(prior)``, ``x | y ~ N(mean + (2y - 1) separation, scale)``. ``select``
    (feature index, quantile) keeps only rows whose feature lies above that quantile of its
    unselected law: a covariate shift by selection.
    """

    task: str = "regression"
    coef: tuple[float, ...] = (1.0, -0.5, 0.25, 0.1, -0.75)
    intercept: float = 0.0
    mean: tuple[float, ...] | None = None
    scale: tuple[float, ...] | None = None
    rho: float = 0.3
    noise: float = 1.0
    region_probs: tuple[float, float, float] = (0.5, 0.3, 0.2)
    region_effect: tuple[float, float, float] = (0.0, 0.5, -0.5)
    quadratic: float = 0.0
    select: tuple[int, float] | None = None
    prior: float | None = None
    separation: tuple[float, ...] | None = None

    @property
    def d(self) -> int:
        return len(self.coef)

    def _features(self, n: int, rng: np.random.Generator) -> np.ndarray:
        d = self.d
        mean = np.zeros(d) if self.mean is None else np.asarray(self.mean, float)
        scale = np.ones(d) if self.scale is None else np.asarray(self.scale, float)
        common = rng.standard_normal((n, 1))
        Z = math.sqrt(self.rho) * common + math.sqrt(1 - self.rho) * rng.standard_normal((n, d))
        return mean + scale * Z

    def sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """``n`` rows of this world."""
        if self.select is not None:
            return self._selected(n, rng)
        region = rng.choice(3, size=n, p=self.region_probs)
        if self.prior is not None:
            y = (rng.random(n) < self.prior).astype(np.int64)
            X = self._features(n, rng) + np.outer(2 * y - 1, np.asarray(self.separation, float))
            return _frame(X, region, y)
        X = self._features(n, rng)
        signal = (
            self.intercept + X @ np.asarray(self.coef, float)
            + np.asarray(self.region_effect)[region] + self.quadratic * (X[:, 0] ** 2 - 1.0)
        )
        if self.task == "regression":
            y = signal + self.noise * rng.standard_normal(n)
        else:
            y = (rng.random(n) < special.expit(signal)).astype(np.int64)
        return _frame(X, region, y)

    def _selected(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        j, q = self.select
        base = replace(self, select=None)
        mean = 0.0 if self.mean is None else self.mean[j]
        scale = 1.0 if self.scale is None else self.scale[j]
        cut = mean + scale * stats.norm.ppf(q)
        parts, have = [], 0
        while have < n:
            batch = base.sample(int((n - have) / (1 - q) * 1.1) + 16, rng)
            batch = batch[batch[f"x{j + 1}"] > cut]
            parts.append(batch)
            have += len(batch)
        return pd.concat(parts, ignore_index=True).iloc[:n].reset_index(drop=True)


def _frame(X: np.ndarray, region: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({f"x{j + 1}": X[:, j] for j in range(X.shape[1])})
    frame["region"] = REGIONS[region]
    frame["y"] = y
    return frame


CLASSIFICATION = World(
    task="classification", coef=(1.0, -1.0, 0.5, 0.2), region_effect=(0.0, 0.4, -0.4)
)
REGRESSION = World()


@dataclass(frozen=True)
class Scenario:
    """One benchmark case, built."""

    name: str
    group: str
    kind: str
    family: str  # the model family a user would name: linear or logistic
    target: str
    reference: pd.DataFrame
    new: pd.DataFrame
    future: pd.DataFrame
    time_column: str | None = None
    magnitude: float = 0.0

    @property
    def features(self) -> list[str]:
        return [c for c in self.reference.columns if c not in (self.target, self.time_column)]

    @property
    def n(self) -> int:
        return len(self.new)


@dataclass(frozen=True)
class Spec:
    """A scenario not yet built: built lazily, so that a 2M-row case lives only while it runs."""

    name: str
    group: str
    kind: str
    family: str
    n: int
    build: Callable[[], Scenario] = field(repr=False, compare=False)


def _synthetic(
    name: str, group: str, kind: str, old: World, new: World, n: int, seed: tuple[int, ...],
    magnitude: float = 0.0, n_future: int | None = None,
) -> Spec:
    family = "linear" if old.task == "regression" else "logistic"

    def build() -> Scenario:
        rng = np.random.default_rng(list(seed))
        future_rows = n_future or max(20_000, n)
        return Scenario(
            name=name, group=group, kind=kind, family=family, target="y",
            reference=old.sample(n, rng), new=new.sample(n, rng),
            future=new.sample(future_rows, rng), magnitude=magnitude,
        )

    return Spec(name, group, kind, family, n, build)


def _direction(rng: np.random.Generator, d: int) -> np.ndarray:
    v = rng.standard_normal(d)
    return v / np.linalg.norm(v)


def synthetic_specs(quick: bool = False, seed: int = 0) -> list[Spec]:
    """The seeded synthetic catalogue. ``quick`` keeps a few replicates of each kind."""
    reps = (lambda full, fast: fast if quick else full)
    specs: list[Spec] = []
    counter = iter(range(10_000_000))

    def key() -> tuple[int, int]:
        return (seed, next(counter))

    # -- no shift: the same world on both sides, at every size ----------------------------------
    for n, count in ((500, reps(20, 4)), (5_000, reps(20, 4)), (50_000, reps(20, 2)),
                     (2_000_000, reps(3, 0))):
        for r in range(count):
            world = REGRESSION if (r % 2 == 0 or n >= 2_000_000) else CLASSIFICATION
            specs.append(_synthetic(
                f"none/n={n}/{world.task}/{r}", "none", f"no shift, n={n:,}", world, world, n,
                key(), n_future=min(max(20_000, n), 500_000),
            ))

    # -- pure covariate shift under a well-specified model ---------------------------------------
    for task, base in (("regression", REGRESSION), ("classification", CLASSIFICATION)):
        for r in range(reps(6, 1)):
            rng = np.random.default_rng([seed, 101, r, len(task)])
            d, n = base.d, (1_000, 5_000, 20_000)[r % 3]
            delta = rng.uniform(0.5, 1.5)
            moved = replace(base, mean=tuple(delta * _direction(rng, d) * math.sqrt(d)),
                            region_probs=(0.3, 0.3, 0.4))
            specs.append(_synthetic(f"covariate/mean/{task}/{r}", "covariate", "mean shift",
                                    base, moved, n, key(), delta))
            factor = float(np.exp(rng.uniform(-0.7, 0.7)))
            wide = replace(base, scale=tuple(np.full(d, factor)), rho=rng.uniform(0.0, 0.6))
            specs.append(_synthetic(f"covariate/variance/{task}/{r}", "covariate",
                                    "variance change", base, wide, n, key(), factor))
            q = rng.uniform(0.3, 0.7)
            chosen = replace(base, select=(int(rng.integers(d)), q))
            specs.append(_synthetic(f"covariate/selection/{task}/{r}", "covariate",
                                    "selection on a quantile", base, chosen, n, key(), q))

    # -- concept shift: the features keep their law, the target's law changes -------------------
    for task, base in (("regression", REGRESSION), ("classification", CLASSIFICATION)):
        low, high = (0.05, 0.6) if task == "regression" else (0.1, 1.2)
        for r in range(reps(20, 2)):
            rng = np.random.default_rng([seed, 202, r, len(task)])
            n = (1_000, 5_000, 20_000)[r % 3]
            size = float(np.exp(rng.uniform(np.log(low), np.log(high))))
            coef = np.asarray(base.coef) + size * _direction(rng, base.d)
            specs.append(_synthetic(f"concept/coefficients/{task}/{r}", "concept",
                                    "coefficient change", base, replace(base, coef=tuple(coef)),
                                    n, key(), size))
            j = r % base.d
            flipped = np.asarray(base.coef).copy()
            flipped[j] = -flipped[j]
            specs.append(_synthetic(f"concept/sign-flip/{task}/{r}", "concept", "sign flip",
                                    base, replace(base, coef=tuple(flipped)), n, key(),
                                    abs(base.coef[j])))

    # -- label shift: class priors move, the class-conditional laws stay -------------------------
    generative = World(task="classification", coef=(0.0,) * 4, prior=0.5,
                       separation=(0.5, -0.4, 0.3, 0.0), rho=0.2, region_effect=(0, 0, 0))
    for r in range(reps(12, 2)):
        rng = np.random.default_rng([seed, 303, r])
        prior = float(rng.choice([-1, 1]) * rng.uniform(0.05, 0.4) + 0.5)
        specs.append(_synthetic(f"label/{r}", "label", "class prior change", generative,
                                replace(generative, prior=prior), (1_000, 5_000)[r % 2], key(),
                                prior))

    # -- noise change: the law's mean holds, its noise level moves ------------------------------
    for r in range(reps(12, 2)):
        rng = np.random.default_rng([seed, 404, r])
        factor = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
        specs.append(_synthetic(f"noise/{r}", "noise", "noise level change", REGRESSION,
                                replace(REGRESSION, noise=factor), (1_000, 5_000)[r % 2], key(),
                                factor))

    # -- covariate shift under a misspecified model (a curvature the linear model lacks) ---------
    for r in range(reps(12, 2)):
        rng = np.random.default_rng([seed, 505, r])
        task = "regression" if r % 2 == 0 else "classification"
        base = replace(REGRESSION if task == "regression" else CLASSIFICATION, quadratic=0.3)
        delta = rng.uniform(0.3, 1.5)
        mean = np.zeros(base.d)
        mean[0] = delta
        specs.append(_synthetic(f"misspecified/{task}/{r}", "misspecified",
                                "covariate shift, misspecified model", base,
                                replace(base, mean=tuple(mean)), 5_000, key(), delta))

    # -- mixtures --------------------------------------------------------------------------------
    for r in range(reps(12, 3)):
        rng = np.random.default_rng([seed, 606, r])
        variant = r % 3
        if variant == 0:  # covariate mean shift and a coefficient change
            base = REGRESSION
            size = float(np.exp(rng.uniform(np.log(0.05), np.log(0.6))))
            new = replace(base, mean=tuple(rng.uniform(0.3, 1.0) * _direction(rng, base.d)),
                          coef=tuple(np.asarray(base.coef) + size * _direction(rng, base.d)))
            kind = "covariate + concept"
        elif variant == 1:  # noise change and a coefficient change
            base = REGRESSION
            size = float(np.exp(rng.uniform(np.log(0.05), np.log(0.6))))
            new = replace(base, noise=float(np.exp(rng.uniform(-0.7, 0.7))),
                          coef=tuple(np.asarray(base.coef) + size * _direction(rng, base.d)))
            kind = "noise + concept"
        else:  # label prior change and a variance change of the features
            base = generative
            size = float(rng.uniform(0.05, 0.35))
            new = replace(base, prior=0.5 + size, scale=(1.5,) * base.d)
            kind = "label + covariate"
        specs.append(_synthetic(f"mixture/{variant}/{r}", "mixture", kind, base, new,
                                (1_000, 5_000)[r % 2], key(), size))
    return specs


# -- the real data: NannyML time chunks ----------------------------------------------------------


def nannyml_root() -> Path | None:
    """The folder of the NannyML sets, or ``None`` when it is absent."""
    root = Path(os.environ.get("SHIFTEMP_NANNYML", NANNYML))
    return root if (root / "car_loan_reference.parquet").is_file() else None


def nannyml_specs(chunk: int = 5_000, quick: bool = False, root: Path | None = None) -> list[Spec]:
    """Consecutive time chunks of the NannyML analysis periods (and of the second half of the
    reference periods, whose first half is then the reference): chunk ``i`` is the new data,
    chunk ``i + 1`` the future. Empty when the data are absent."""
    root = root or nannyml_root()
    if root is None:
        return []
    specs = []
    for name, target, task in NANNYML_SETS:
        family = "linear" if task == "regression" else "logistic"
        rows = len(pd.read_parquet(root / f"{name}_analysis.parquet", columns=[target]))
        chunks = rows // chunk
        pairs = [("analysis", i) for i in range(chunks - 1)]
        half = len(pd.read_parquet(root / f"{name}_reference.parquet", columns=[target])) // 2
        pairs += [("reference", i) for i in range(half // chunk - 1)]
        if quick:
            pairs = pairs[:: max(1, len(pairs) // 3)][:3]
        for period, i in pairs:
            specs.append(Spec(
                f"nannyml/{name}/{period}/{i}", "nannyml", f"{name} ({period} period)", family,
                chunk, _nannyml_builder(root, name, target, family, period, i, chunk),
            ))
    return specs


def _nannyml_builder(root: Path, name: str, target: str, family: str, period: str, i: int,
                     chunk: int) -> Callable[[], Scenario]:
    def build() -> Scenario:
        reference = pd.read_parquet(root / f"{name}_reference.parquet")
        reference = reference.sort_values("timestamp", kind="stable").reset_index(drop=True)
        if period == "analysis":
            stream = pd.read_parquet(root / f"{name}_analysis.parquet")
            stream = stream.sort_values("timestamp", kind="stable").reset_index(drop=True)
        else:
            half = len(reference) // 2
            stream = reference.iloc[half:].reset_index(drop=True)
            reference = reference.iloc[:half].reset_index(drop=True)
        return Scenario(
            name=f"nannyml/{name}/{period}/{i}", group="nannyml", kind=f"{name} ({period} period)",
            family=family, target=target, reference=reference,
            new=stream.iloc[i * chunk:(i + 1) * chunk].reset_index(drop=True),
            future=stream.iloc[(i + 1) * chunk:(i + 2) * chunk].reset_index(drop=True),
            time_column="timestamp",
        )

    return build


def catalogue(quick: bool = False, seed: int = 0, real: bool = True) -> list[Spec]:
    """Every scenario of a run: the synthetic ones, then the NannyML chunks where present."""
    return synthetic_specs(quick, seed) + (nannyml_specs(quick=quick) if real else [])


def iterate(specs: list[Spec]) -> Iterator[Scenario]:
    for spec in specs:
        yield spec.build()


__all__ = [
    "World", "Scenario", "Spec", "catalogue", "synthetic_specs", "nannyml_specs", "nannyml_root",
    "iterate",
]
