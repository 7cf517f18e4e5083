"""pgmkts benchmark harness: `python -m bench.run` runs every system on the same synthetic data."""
