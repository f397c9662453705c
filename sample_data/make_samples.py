"""Make the bundled sample pairs, seeded, so anyone can regenerate them byte for byte.

    python sample_data/make_samples.py

Delivery times of a courier service (minutes), from distance, parcel weight, traffic index, hour
and region. Two pairs:

- reference.parquet -> shifted.parquet: a concept shift. The features keep their distribution,
  but traffic now costs twice as many minutes and the hour no longer matters (a new routing
  system): the old model is wrong, and shiftemp recommends retraining.
- covariate_reference.parquet -> covariate_shifted.parquet: a pure covariate shift under a
  well-specified model. Deliveries get longer and the traffic heavier, but minutes follow the
  same law: the old model still holds, and shiftemp recommends keeping it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROWS = 4000
REGIONS = np.array(["north", "south", "east", "west"])
REGION_MINUTES = {"north": 0.0, "south": 4.0, "east": -2.0, "west": 6.0}


def features(rng: np.random.Generator, n: int, distance_mean: float = 8.0, traffic_mean: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({
        "distance_km": rng.gamma(4.0, distance_mean / 4.0, n),
        "weight_kg": rng.lognormal(0.5, 0.6, n),
        "traffic": rng.normal(traffic_mean, 0.4, n),
        "hour": rng.integers(8, 20, n).astype(float),
        "region": rng.choice(REGIONS, n, p=[0.4, 0.3, 0.2, 0.1]),
    })


def minutes(frame: pd.DataFrame, rng: np.random.Generator, traffic_cost: float = 6.0, hour_cost: float = 0.8) -> np.ndarray:
    return (
        10.0
        + 2.5 * frame["distance_km"]
        + 1.2 * frame["weight_kg"]
        + traffic_cost * frame["traffic"]
        + hour_cost * (frame["hour"] - 14.0)
        + frame["region"].map(REGION_MINUTES)
        + rng.normal(0.0, 3.0, len(frame))
    ).to_numpy()


def save(frame: pd.DataFrame, name: str) -> None:
    frame.to_parquet(HERE / name, index=False, compression="snappy")


def main() -> None:
    rng = np.random.default_rng(20261127)
    reference = features(rng, ROWS)
    reference["target"] = minutes(reference, rng)
    shifted = features(rng, ROWS)
    shifted["target"] = minutes(shifted, rng, traffic_cost=12.0, hour_cost=0.0)
    save(reference, "reference.parquet")
    save(shifted, "shifted.parquet")

    covariate_reference = features(rng, ROWS)
    covariate_reference["target"] = minutes(covariate_reference, rng)
    covariate_shifted = features(rng, ROWS, distance_mean=12.0, traffic_mean=1.6)
    covariate_shifted["target"] = minutes(covariate_shifted, rng)
    save(covariate_reference, "covariate_reference.parquet")
    save(covariate_shifted, "covariate_shifted.parquet")


if __name__ == "__main__":
    main()
