"""Which files make up a project, and reading them without trusting them.

A project folder can come from an untrusted pull request. Before a file is opened it must
be a regular file inside the project: a link that leads out of the project would let a
spec read any file on the machine, a FIFO blocks forever, a device such as /dev/zero never
ends, and a huge file costs memory for nothing. A folder that cannot be read is an error,
never skipped: its records would be missing from the plan, and apply would archive them.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from reconciler.errors import ConfigError
from reconciler.loading.issues import PendingIssue

PROJECT_FILES = ("reconciler.yaml", "reconciler.yml")
SPEC_SUFFIXES = (".yaml", ".yml")
_SKIPPED_DIRS = {"node_modules", "__pycache__"}
#: The largest spec or project file read (the 50k-record benchmark project is 16.7 MB in
#: 50 files). Checked before reading, so a huge file or an endless device costs nothing.
MAX_FILE_BYTES = 16 << 20
_NOT_REGULAR = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}
_LOOP = "the file is a symbolic link that loops; fix or remove the link"
#: Opening never blocks (a FIFO), never becomes a terminal, never follows a last link;
#: flags a platform lacks (Windows) are left out.
_NO_WAIT_NO_FOLLOW = 0
for _flag in ("O_NONBLOCK", "O_NOCTTY", "O_NOFOLLOW", "O_CLOEXEC", "O_BINARY"):
    _NO_WAIT_NO_FOLLOW |= getattr(os, _flag, 0)


def find_project(start: str | Path = ".") -> Path:
    """The project folder for a command run in ``start`` without ``--project``: the
    nearest folder at or above it with a ``reconciler.yaml``, as git finds its repository,
    so running from a sub-folder never starts a new project. Relative to ``start`` when
    ``start`` is (``..``, ``../..``), so paths are shown as typed from where the command
    ran; ``start`` itself when no folder above has one (a project without a project file).
    """
    given = Path(start)
    try:
        here = given.resolve()
    except OSError:
        return given
    for depth, folder in enumerate([here, *here.parents]):
        if any(os.path.lexists(folder / name) for name in PROJECT_FILES):
            if depth == 0:
                return given
            if given.is_absolute():
                return folder
            return Path(given, *[".."] * depth)
    return given


def check_root(root: str | Path) -> Path:
    path = Path(root)
    try:
        found = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"project folder {str(root)!r} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the project folder {str(root)!r}: {_reason(exc)}") from None
    if not stat.S_ISDIR(found.st_mode):
        raise ConfigError(f"{str(root)!r} is not a folder; give the project folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise ConfigError(
            f"cannot read the project folder {str(root)!r}: permission denied; "
            "check its permissions (reading and listing it)"
        )
    return path


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def read_file(path: Path, display: str, root: Path) -> tuple[bytes | None, PendingIssue | None]:
    """The bytes of a spec or project file, or the one-line reason it was not read.

    Hostile or careless files are refused without opening them: a link that leads out of
    the project (it would read any file on the machine), FIFOs, devices and sockets (a
    FIFO blocks forever, a link to /dev/zero never ends), files over ``MAX_FILE_BYTES``.
    The open itself does not block and is checked again, in case the file was swapped.
    """

    def refused(message: str) -> tuple[None, PendingIssue]:
        return None, PendingIssue(display, (), message, line=1, column=1)

    is_link = False
    try:
        found = os.lstat(path)
        target = path
        if stat.S_ISLNK(found.st_mode):
            is_link = True
            target = path.resolve()
            if not target.is_relative_to(root.resolve()):
                return refused(
                    "the file is a symbolic link to a file outside the project folder; it was "
                    "not read: copy the file into the project instead"
                )
            found = os.stat(target)
    except RuntimeError:  # a loop of links (Path.resolve before Python 3.13)
        return refused(_LOOP)
    except OSError as exc:
        if is_link and exc.errno == errno.ELOOP:
            return refused(_LOOP)
        if is_link and isinstance(exc, FileNotFoundError):
            return refused("the file is a symbolic link to nothing; fix or remove the link")
        return refused(f"cannot read the file: {_reason(exc)}; check its permissions")
    problem = _refusal(found)
    if problem is not None:
        return refused(problem)
    flags = os.O_RDONLY | _NO_WAIT_NO_FOLLOW
    try:
        handle = os.open(target, flags)
    except OSError as exc:
        return refused(f"cannot read the file: {_reason(exc)}; check its permissions")
    try:
        problem = _refusal(os.fstat(handle))
        if problem is not None:
            return refused(problem)
        with os.fdopen(handle, "rb", closefd=False) as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return refused(f"cannot read the file: {_reason(exc)}")
    finally:
        os.close(handle)
    if len(raw) > MAX_FILE_BYTES:
        return refused(_too_big(len(raw)))
    return raw, None


def _refusal(found: os.stat_result) -> str | None:
    kind = stat.S_IFMT(found.st_mode)
    if kind != stat.S_IFREG:
        what = _NOT_REGULAR.get(kind, "not a regular file")
        return (
            f"the file is {what}, not a regular file; it was not read: replace it with a "
            "regular file, or remove it"
        )
    if found.st_size > MAX_FILE_BYTES:
        return _too_big(found.st_size)
    return None


def _too_big(size: int) -> str:
    return (
        f"the file is {size / (1 << 20):.1f} MiB, over the limit of {MAX_FILE_BYTES >> 20} MiB "
        "per file; split it into several files"
    )


def spec_files(root: Path) -> Iterator[Path]:
    """Every spec file below ``root`` (relative paths, sorted).

    Hidden folders (``.github``, ``.reconciler``) are skipped, and so is any sub-folder with
    a ``reconciler.yaml`` of its own: that is another project. Links to folders are not
    followed (one could lead anywhere on the machine, or back into the project). A folder
    that cannot be read is an error (``ConfigError``): skipping it would drop its records,
    and the plan would archive them.
    """
    found: list[Path] = []
    pending = [Path(".")]  # an explicit stack: os.walk recurses, and folders nest deeply
    while pending:
        relative = pending.pop()
        folder = root / relative
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
            for entry in entries:
                name = entry.name
                if entry.is_dir(follow_symlinks=False):
                    if not (
                        name.startswith(".") or name in _SKIPPED_DIRS
                        or any(os.path.lexists(Path(entry.path, n)) for n in PROJECT_FILES)
                    ):  # fmt: skip
                        pending.append(relative / name)
                elif entry.is_symlink() and _leads_to_folder(entry):
                    continue  # a linked folder: not walked
                elif name.endswith(SPEC_SUFFIXES) and not name.startswith("."):
                    if not (relative == Path(".") and name in PROJECT_FILES):
                        found.append(relative / name)
        except OSError as error:
            raise ConfigError(
                f"cannot read the folder {str(folder)!r}: {_reason(error)}; fix its "
                "permissions (skipping it would leave its records out of the plan)"
            ) from None
    yield from sorted(found)


def _leads_to_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a loop of links: read_file says so
        return False
