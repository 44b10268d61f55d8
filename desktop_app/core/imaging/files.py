"""The disk side of image files: reading a file's bytes, and replacing a file atomically.

Every failure becomes one `ImageFileError` whose message names the file and says why in a
user's words (no such file, the disk is full, ...), so it can be shown in a dialog as is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import time

_READ_REASONS = {
    errno.ENOENT: "no such file",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "is a folder, not a file",
}
_WRITE_REASONS = {
    errno.ENOSPC: "the disk is full",
    getattr(errno, "EDQUOT", errno.ENOSPC): "the disk is full",
    errno.EROFS: "the folder is read-only or not writable",
    errno.EACCES: "the folder is read-only or not writable",
    errno.EPERM: "the folder is read-only or not writable",
    errno.ENOENT: "the folder does not exist",
    errno.ENAMETOOLONG: "the file name is too long",
}


class ImageFileError(Exception):
    """A file that cannot be read or written; str() is one line naming the file, for a dialog."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{os.path.basename(os.path.normpath(self.path))}: {reason}")


class ReadOnlyFileError(ImageFileError):
    """The destination exists and is write-protected: replace it only when the user says so."""

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(path, "the file is write-protected (read-only)")


# --- reading -------------------------------------------------------------------------------


def _read_bytes(path: str | os.PathLike) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def read_checked(path: str | os.PathLike) -> bytes:
    """All of the file's bytes; ImageFileError for a folder, an unreadable or an empty file."""
    # Checked before opening: Windows reports a folder as "permission denied".
    if os.path.isdir(path):
        raise ImageFileError(path, "is a folder, not a file")
    try:
        data = _read_bytes(path)
    except (OSError, ValueError) as exc:  # ValueError: a name the OS cannot take (NUL byte)
        raise ImageFileError(path, _reason(exc, _READ_REASONS, "read")) from exc
    if not data:
        raise ImageFileError(path, "the file is empty")
    return data


def _reason(exc: Exception, reasons: dict[int, str], action: str) -> str:
    detail = getattr(exc, "strerror", None) or exc
    return reasons.get(getattr(exc, "errno", None)) or f"could not {action} the file ({detail})"


# --- writing -------------------------------------------------------------------------------

# A save writes `.photoretouch-<pid>-<random>.tmp` beside the file, then renames it. The name
# does not contain the file's own (which may already be 255 bytes, the most a name can have);
# the pid lets a later save tell a temporary left by a killed process from one being written.
_TEMPORARY_PREFIX = ".photoretouch-"
_TEMPORARY_SUFFIX = ".tmp"
STALE_TEMPORARY_S = 24 * 3600  # older than this it is stale whatever the pid says


def is_write_protected(path: str | os.PathLike) -> bool:
    """True when `path` exists and its permissions say read-only (checked on the mode, not
    with os.access, which says yes to the administrator whatever the mode)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(mode) and not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def _remove_stale_temporaries(folder: str) -> None:
    """Remove temporaries that earlier saves into `folder` left behind when killed."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(_TEMPORARY_PREFIX) and n.endswith(_TEMPORARY_SUFFIX)]
    except OSError:
        return
    for name in names:
        pid_text = name[len(_TEMPORARY_PREFIX):].split("-", 1)[0]
        temporary = os.path.join(folder, name)
        with contextlib.suppress(OSError, ValueError):
            old = os.stat(temporary).st_mtime < time.time() - STALE_TEMPORARY_S
            if old or (pid_text.isdigit() and not _process_alive(int(pid_text))):
                os.remove(temporary)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be saving
    if os.name == "nt":
        return True  # os.kill would end the process there; age alone decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def atomic_write(path: str | os.PathLike, data: bytes, *, replace_read_only: bool = False) -> None:
    """Replace `path` with `data` only once all of it is on disk; on failure `path` is untouched.
    A write-protected `path` is refused (ReadOnlyFileError) unless `replace_read_only`."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ImageFileError(path, "is a folder, not a file")
    if not replace_read_only and is_write_protected(path):
        raise ReadOnlyFileError(path)
    folder = os.path.dirname(os.path.abspath(path))
    _remove_stale_temporaries(folder)
    temporary = os.path.join(
        folder, f"{_TEMPORARY_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{_TEMPORARY_SUFFIX}")
    try:
        _write_file(temporary, data)
        with contextlib.suppress(OSError):  # overwriting keeps the file's permissions
            os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
        if os.name == "nt" and replace_read_only and is_write_protected(path):
            os.chmod(path, stat.S_IREAD | stat.S_IWRITE)  # Windows cannot replace a read-only file
        os.replace(temporary, path)
    except (OSError, ValueError) as exc:
        with contextlib.suppress(OSError, ValueError):
            os.remove(temporary)
        raise ImageFileError(path, _reason(exc, _WRITE_REASONS, "write")) from exc


def _write_file(tmp_path: str, data: bytes) -> None:
    with open(tmp_path, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
