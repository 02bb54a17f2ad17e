"""`python -m reconciler`: the same as the `reconciler` command."""

from reconciler.cli.base import run

run()
