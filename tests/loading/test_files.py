"""Files and folders that are not what they seem: refused before they are opened.

Symbolic links out of the project, FIFOs, devices, sockets, huge files, unreadable files
and folders: each is one located line (or one error for a folder), exit 1, never a hang,
never a read of something outside the project.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reconciler.cli.base import main
from reconciler.errors import ConfigError, SpecError
from reconciler.loading.project import load_project

from .conftest import REFERENCE, REPO

CONTACT = "contacts:\n  jane:\n    email: jane@example.com\n"
NOT_REGULAR = (
    "not a regular file; it was not read: replace it with a regular file, or remove it"
)


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A project folder and, next to it, a secret file that is not part of it."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "contacts.yaml").write_text(CONTACT)
    secret = tmp_path / "secret.yaml"
    secret.write_text("contacts:\n  leaked:\n    email: root-password@example.com\n")
    return root, secret


def _lines(root: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_project(root, reference_time=REFERENCE, use_cache=False)
    return [issue.render() for issue in caught.value.issues]


def _validate(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["validate", "--no-cache", str(root)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_link_to_a_file_outside_the_project_is_not_read(
    layout: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, secret = layout
    (root / "passwd.yaml").symlink_to(secret)
    code, out, err = _validate(root, capsys)
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{root / 'passwd.yaml'}:1:1: the file is a symbolic link to a file outside the "
        "project folder; it was not read: copy the file into the project instead",
        "Error: 1 problem found in the spec",
    ]
    assert "leaked" not in err and "root-password" not in err


def test_a_relative_link_that_climbs_out_is_refused_too(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    (root / "sub").mkdir()
    (root / "sub" / "up.yaml").symlink_to(Path("..") / ".." / "secret.yaml")
    assert _lines(root) == [
        f"{root / 'sub' / 'up.yaml'}:1:1: the file is a symbolic link to a file outside the "
        "project folder; it was not read: copy the file into the project instead"
    ]


def test_the_project_file_is_checked_the_same_way(layout: tuple[Path, Path]) -> None:
    root, secret = layout
    (root / "reconciler.yaml").symlink_to(secret)
    assert _lines(root) == [
        f"{root / 'reconciler.yaml'}:1:1: the file is a symbolic link to a file outside the "
        "project folder; it was not read: copy the file into the project instead"
    ]


def test_a_link_inside_the_project_is_followed(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    (root / "shared").mkdir()
    (root / "contacts.yaml").rename(root / "shared" / "people.txt")
    (root / "contacts.yaml").symlink_to(Path("shared") / "people.txt")
    desired = load_project(root, reference_time=REFERENCE, use_cache=False)
    assert list(desired.records) == ["contacts/jane"]


def test_dangling_and_looping_links(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    (root / "gone.yaml").symlink_to(root / "nothing-here.yaml")
    (root / "loop.yaml").symlink_to(root / "loop.yaml")
    assert _lines(root) == [
        f"{root / 'gone.yaml'}:1:1: the file is a symbolic link to nothing; "
        "fix or remove the link",
        f"{root / 'loop.yaml'}:1:1: the file is a symbolic link that loops; "
        "fix or remove the link",
    ]


def test_a_linked_folder_is_not_walked(layout: tuple[Path, Path]) -> None:
    root, secret = layout
    (root / "elsewhere").symlink_to(secret.parent, target_is_directory=True)
    (root / "again").symlink_to(root, target_is_directory=True)
    desired = load_project(root, reference_time=REFERENCE, use_cache=False)
    assert list(desired.records) == ["contacts/jane"]


def test_a_fifo_does_not_hang_validate(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    os.mkfifo(root / "pipe.yaml")
    os.mkfifo(root / "reconciler.yaml")
    # A subprocess, so that a regression hangs only it (and fails on the timeout).
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "--no-cache", str(root)],
        capture_output=True, text=True, timeout=30, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{root / 'reconciler.yaml'}:1:1: the file is a named pipe (FIFO), {NOT_REGULAR}",
        "Error: 1 problem found in the spec",
    ]
    (root / "reconciler.yaml").unlink()
    assert _lines(root) == [f"{root / 'pipe.yaml'}:1:1: the file is a named pipe (FIFO), {NOT_REGULAR}"]


def test_links_to_endless_devices_are_never_read(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    (root / "zero.yaml").symlink_to("/dev/zero")
    (root / "random.yaml").symlink_to("/dev/urandom")
    outside = (
        "the file is a symbolic link to a file outside the project folder; it was not read: "
        "copy the file into the project instead"
    )
    assert _lines(root) == [
        f"{root / 'random.yaml'}:1:1: {outside}",
        f"{root / 'zero.yaml'}:1:1: {outside}",
    ]


def test_a_device_inside_the_project_is_refused(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    try:
        os.mknod(root / "zero.yaml", 0o600 | 0o020000, os.makedev(1, 5))  # like /dev/zero
    except (PermissionError, AttributeError):
        pytest.skip("creating a device needs privileges")
    assert _lines(root) == [f"{root / 'zero.yaml'}:1:1: the file is a device, {NOT_REGULAR}"]


def test_a_socket_is_refused(tmp_path: Path) -> None:
    # A short path: a socket's address is limited to ~100 bytes.
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        root = Path(folder)
        server = socket.socket(socket.AF_UNIX)
        try:
            server.bind(str(root / "s.yaml"))
            assert _lines(root) == [f"{root / 's.yaml'}:1:1: the file is a socket, {NOT_REGULAR}"]
        finally:
            server.close()


def test_a_file_over_the_size_limit_is_not_read(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    with open(root / "huge.yaml", "wb") as huge:
        huge.truncate(17 << 20)  # sparse: costs no disk, and is never read
    assert _lines(root) == [
        f"{root / 'huge.yaml'}:1:1: the file is 17.0 MiB, over the limit of 16 MiB per file; "
        "split it into several files"
    ]


# -- permissions: root reads everything, so the check runs without root's file powers -----

_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _PR_CAPBSET_DROP = 1, 2, 24


def _without_file_powers() -> None:
    """In the child before exec: drop the capabilities that let root ignore permissions."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
            if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                os._exit(97)


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "contacts.yaml").write_text(CONTACT)
    yield root
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755)


def _validate_unprivileged(root: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "--no-cache", str(root)],
        capture_output=True, text=True, timeout=60, cwd=REPO, preexec_fn=_without_file_powers,
    )  # fmt: skip
    if result.returncode == 97:
        pytest.skip("cannot drop root's file capabilities here")
    return result


def test_an_unreadable_file_is_an_error_not_a_bug(project_dir: Path) -> None:
    (project_dir / "private.yaml").write_text(CONTACT.replace("jane", "joe"))
    (project_dir / "private.yaml").chmod(0o000)
    result = _validate_unprivileged(project_dir)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"{project_dir / 'private.yaml'}:1:1: cannot read the file: permission denied; "
        "check its permissions",
        "Error: 1 problem found in the spec",
    ]


def test_an_unreadable_folder_is_an_error_not_skipped(project_dir: Path) -> None:
    (project_dir / "more").mkdir()
    (project_dir / "more" / "deals.yaml").write_text("deals:\n  d:\n    name: D\n")
    (project_dir / "more").chmod(0o000)
    result = _validate_unprivileged(project_dir)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"Error: cannot read the folder '{project_dir / 'more'}': permission denied; fix its "
        "permissions (skipping it would leave its records out of the plan)"
    ]


def test_an_unreadable_project_folder_is_an_error_not_a_bug(project_dir: Path) -> None:
    project_dir.chmod(0o000)
    result = _validate_unprivileged(project_dir)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [
        f"Error: cannot read the project folder '{project_dir}': permission denied; "
        "check its permissions (reading and listing it)"
    ]


def test_a_missing_project_folder_is_still_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_project(tmp_path / "nope", reference_time=REFERENCE)


def test_deeply_nested_folders_are_walked_without_recursion(tmp_path: Path) -> None:
    # os.walk recurses once per level: 1,100 nested folders raised RecursionError (exit 3).
    chain = [tmp_path / Path(*["a"] * level) for level in range(1, 1_101)]
    try:
        for folder in chain:
            folder.mkdir()
        (chain[-1] / "deep.yaml").write_text(CONTACT)
        desired = load_project(tmp_path, reference_time=REFERENCE, use_cache=False)
        assert list(desired.records) == ["contacts/jane"]
    finally:
        # Bottom up, by hand: shutil.rmtree (and so pytest's clean-up) recurses per level.
        (chain[-1] / "deep.yaml").unlink(missing_ok=True)
        for folder in reversed(chain):
            if folder.exists():
                folder.rmdir()
