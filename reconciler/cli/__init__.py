"""The command line: a thin click layer over the library.

Click lives in this package only. Each command resolves its options, calls one library
function, and renders the result; errors are rendered once, in ``base.main``.
Commands are grouped by concept in the modules below; importing one registers its
commands on ``cli``.
"""

from __future__ import annotations

from reconciler.cli import (  # noqa: F401  (registers the commands)
    doctor_commands,
    emulator_commands,
    export_commands,
    init_commands,
    manage_commands,
    plan_commands,
    render_commands,
    spec_commands,
    state_commands,
    target_commands,
)
from reconciler.cli.base import cli, main, run

__all__ = ["cli", "main", "run"]

if __name__ == "__main__":  # pragma: no cover
    run()
