"""Time ``shiftemp.engine.engine`` against scikit-learn's MLPRegressor on the same problem.

Both fit a multilayer perceptron with two hidden layers of 64 relu units to 100,000 rows x 20
standardised features, with Adam (learning rate 1e-3, batches of 200 rows) for the same number of
epochs (shiftemp's default for this size: 20), in the same process, one BLAS thread each (the
products are small, and multi-threaded OpenBLAS stalls on a busy machine). The engine's time
includes everything a user waits for: training with the per-layer path integral, the Laplace
entropies, the best linear model and the Monte Carlo estimate of E_A.

Run: ``python benchmarks/engine.py [--rows 100000] [--epochs 20] [--repeat 1]``. Prints each
time, their ratio (engine / scikit-learn; below 1 means faster) and the engine's figures.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from threadpoolctl import threadpool_limits

from shiftemp.engine import engine
from shiftemp.network import Activation, Schedule

HIDDEN = (64, 64)


def problem(rows: int, features: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Standardised normal features and a nonlinear target with noise."""
    X = rng.normal(size=(rows, features))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * np.maximum(X[:, 3], 0.0) + 0.1 * rng.normal(size=rows)
    return X, y


def time_sklearn(X: np.ndarray, y: np.ndarray, epochs: int) -> float:
    model = MLPRegressor(
        hidden_layer_sizes=HIDDEN, activation="relu", solver="adam", learning_rate_init=1e-3,
        batch_size=200, max_iter=epochs, shuffle=True, random_state=0,
        # run every epoch: no early stop on a loss plateau
        tol=0.0, n_iter_no_change=epochs + 1,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    elapsed = time.perf_counter() - start
    assert model.n_iter_ == epochs
    return elapsed


def time_engine(X: np.ndarray, y: np.ndarray, epochs: int):
    schedule = Schedule(learning_rate=1e-3, batch_size=200, epochs=epochs, max_rows=len(X))
    start = time.perf_counter()
    report = engine(X, y, np.random.default_rng(0), hidden=HIDDEN, activation=Activation.RELU, schedule=schedule)
    return time.perf_counter() - start, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the median is reported")
    args = parser.parse_args()

    X, y = problem(args.rows, args.features, np.random.default_rng(0))
    engine_times, sklearn_times = [], []
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(args.repeat):
            # alternate, so that a burst of load on the shared machine hits both alike
            elapsed, report = time_engine(X, y, args.epochs)
            engine_times.append(elapsed)
            sklearn_times.append(time_sklearn(X, y, args.epochs))
    t_engine, t_sklearn = float(np.median(engine_times)), float(np.median(sklearn_times))
    t = report.transition
    print(f"problem: {args.rows:,} rows x {args.features} features, hidden {HIDDEN}, relu, MSE, "
          f"Adam lr 1e-3, batch 200, {args.epochs} epochs, 1 BLAS thread")
    print(f"shiftemp engine (training + analysis): {t_engine:8.2f} s   runs {np.round(engine_times, 2).tolist()}")
    print(f"scikit-learn MLPRegressor.fit:         {t_sklearn:8.2f} s   runs {np.round(sklearn_times, 2).tolist()}")
    print(f"ratio engine / scikit-learn:           {t_engine / t_sklearn:8.2f}")
    print(f"engine: eta {report.efficiency:.3f} ({report.engine_type.value}), E_A {report.initial_energy:.4f}, "
          f"E_net {report.trained_energy:.4f}, E_linear {report.linear_energy:.4f}, "
          f"relative residual {t.relative_residual:.1e}, energy passes {report.training.energy_passes}, "
          f"steps {report.training.steps}")
    for layer in report.layers:
        print(f"  {layer.name:9s} dE {layer.energy_change:+.4f}  share {layer.share:6.1%}  "
              f"dS {layer.entropy_change:+10.1f}  T {layer.temperature.describe()}")


if __name__ == "__main__":
    main()
