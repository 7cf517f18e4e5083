"""Planner rules: each module one pure function from (AST pieces, scan) to a rewritten scan/AST."""
