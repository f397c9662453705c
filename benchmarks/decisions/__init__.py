"""The decision benchmark of issue 6: does shiftemp's retrain-or-keep hold up against the future,
and against the drift detectors users run today? ``python benchmarks/decisions/run.py``."""
