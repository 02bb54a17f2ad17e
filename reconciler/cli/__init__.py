"""The command line: a thin click layer over the library.

Click lives in this package only. Each command resolves its options, calls one library
function, and renders the result; errors are rendered once, in ``render_errors``.
Commands are grouped by concept in the modules below and registered on ``cli`` here.
"""

from __future__ import annotations

import sys

from reconciler.cli.base import cli, main  # noqa: F401  (entry point: reconciler.cli:main)

# Importing a command module registers its commands on ``cli``.
from reconciler.cli import spec_commands  # noqa: E402,F401

for _optional in ("emulator_commands", "plan_commands", "manage_commands"):
    try:  # modules are added issue by issue; a missing one only hides its commands
        __import__(f"reconciler.cli.{_optional}")
    except ModuleNotFoundError as exc:  # pragma: no cover - only while a module is absent
        if exc.name != f"reconciler.cli.{_optional}":
            raise

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
