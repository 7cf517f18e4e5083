"""`python -m pgmkts` runs the CLI."""

from pgmkts.cli import main

main()
