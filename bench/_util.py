"""The shared harness under its former name: the benchmarks import ``bench.harness``."""

from bench.harness import REPO, RESULTS_DIR, DevServer, environment, percentile, table, write_results

__all__ = ["REPO", "RESULTS_DIR", "DevServer", "environment", "percentile", "table", "write_results"]
