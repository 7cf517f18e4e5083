"""SQL layer: parse (sqlglot) → bind → plan (push-down rules) → vectorised executor.

The wire layer talks to `pgmkts.planner.session.Session`.
"""
