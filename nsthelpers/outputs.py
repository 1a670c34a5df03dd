"""Output paths that never cost a user their work: checked before a run, written atomically, kept on failure.

Every command that writes a file (``nst stylize``, ``nst fast train|apply``, ``nst video``,
``nst weights export``) goes through these checks *before* any work starts:

* :func:`check_output_file`: the output is none of the inputs (resolved paths, hard links included),
  is not an existing file unless ``overwrite`` (``--overwrite``), not a folder, and its folder can be
  written (a probe file is created and removed; folders made for the probe are removed again).
* :func:`check_output_folder`: the same for a folder of results, which also may not be the folder of
  the inputs, and none of whose result names may be one of the inputs.
* :func:`save_or_keep`: if a save still fails after the run (a disk that filled up, a folder that was
  made read-only meanwhile), the result is written to a temporary file instead and :class:`ResultKept`
  says where, so hours of work are not thrown away.
* :func:`partial_path`: where an unfinished result (Ctrl-C, a non-finite loss) is kept, under a name a
  re-run does not mistake for a finished one.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["OutputError", "ResultKept", "check_output_file", "check_output_folder", "check_writable",
           "is_same_file", "partial_path", "result_names", "save_or_keep"]

PathLike = str | os.PathLike


class OutputError(ValueError):
    """An output that must not or cannot be written; the message names the path and the fix."""


class ResultKept(OutputError):
    """A save failed after the work was done; the result was written to :attr:`kept` instead."""

    def __init__(self, message: str, kept: Path) -> None:
        super().__init__(message)
        self.kept = kept


def is_same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file: equal resolved paths, or one file reached twice
    (a hard link, a symbolic link, another spelling of the same folder)."""
    pa, pb = Path(a).expanduser(), Path(b).expanduser()
    try:
        if pa.resolve() == pb.resolve():
            return True
    except (OSError, RuntimeError):
        pass
    try:
        return pa.exists() and pb.exists() and os.path.samefile(pa, pb)
    except OSError:
        return False


def _input_paths(inputs: Iterable[Any]) -> list[Path]:
    """The inputs that are paths (a style may be a name such as ``starry_night`` or a tensor: skipped)."""
    return [Path(p).expanduser() for p in inputs if isinstance(p, (str, os.PathLike)) and str(p)]


def _refuse_inputs(path: Path, inputs: Iterable[Any], flag: str) -> None:
    for source in _input_paths(inputs):
        if is_same_file(path, source):
            raise OutputError(f"{flag} {path} is also an input ({source}); writing the result there would destroy "
                              "it: choose another output name")


def check_writable(path: PathLike) -> Path:
    """Check that a file can be created at ``path`` (its folder may not exist yet) without leaving anything
    behind; an existing ``path`` must itself be replaceable. Raises :class:`OutputError` naming the reason."""
    path = Path(path).expanduser()
    ancestor = path.parent
    missing: list[Path] = []
    while not ancestor.exists():
        if ancestor.is_symlink() or ancestor == ancestor.parent:
            break
        missing.append(ancestor)
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise OutputError(f"cannot write {path}: {ancestor} is a file, not a folder; choose another output path")
    made: list[Path] = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            made.append(folder)
        fd, probe = tempfile.mkstemp(prefix=".nst-probe-", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        where = exc.filename if exc.filename and ".nst-probe-" not in str(exc.filename) else path.parent
        raise OutputError(f"cannot write {path}: {reason} ({where}); choose a folder you can write to") from None
    finally:
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"cannot replace {path}: it is read-only (or immutable); choose another output path")
    return path


def check_output_file(path: PathLike, *, inputs: Iterable[Any] = (), overwrite: bool = False,
                      flag: str = "-o") -> Path:
    """Refuse ``path`` as an output before any work: when it is one of ``inputs``, a folder, an existing
    file (unless ``overwrite``) or not writable. Returns it as a Path."""
    path = Path(path).expanduser()
    _refuse_inputs(path, inputs, flag)
    if path.is_dir():
        raise OutputError(f"{flag} {path} is a folder; name a file (e.g. {path / ('result' + (path.suffix or '.png'))})")
    if path.exists() and not overwrite:
        raise OutputError(f"{flag} {path} already exists; add --overwrite to replace it, or choose another name")
    return check_writable(path)


def check_output_folder(folder: PathLike, *, input_folders: Iterable[PathLike] = (), inputs: Iterable[Any] = (),
                        targets: Iterable[PathLike] = (), flag: str = "-o") -> Path:
    """Refuse ``folder`` as a folder of results before any work: when it is a file, one of ``input_folders``,
    when one of ``targets`` (the result files it will hold) is one of ``inputs``, or when it cannot be
    written. Returns it as a Path (not created)."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{flag} {folder} is a file; with a folder of pictures the output is a folder: name one")
    for source in _input_paths(input_folders):
        if is_same_file(folder, source):
            raise OutputError(f"{flag} {folder} is the folder of the input pictures; results written there would mix "
                              "with (or replace) them: choose another folder")
    sources = _input_paths(inputs)
    for target in targets:
        _refuse_inputs(Path(target), sources, flag)
    check_writable(folder / ".nst-results")
    return folder


def result_names(stems: Iterable[str]) -> list[str]:
    """One distinct name per input stem, in order: ``photo``, then ``photo_2`` for a second ``photo.*``, so two
    inputs never share (or take for their own) one result file."""
    taken: set[str] = set()
    names = []
    for stem in stems:
        name, k = stem, 2
        while name in taken:
            name, k = f"{stem}_{k}", k + 1
        taken.add(name)
        names.append(name)
    return names


def partial_path(path: PathLike) -> Path:
    """Where an unfinished result of ``path`` is kept: ``NAME.partial.SUFFIX`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def save_or_keep(write: Callable[[Path], Any], path: PathLike, what: str = "result") -> Path:
    """``write(path)``; if that fails with an OSError, ``write`` a temporary file instead and raise
    :class:`ResultKept` naming both. Returns ``path`` on success."""
    path = Path(path)
    try:
        write(path)
        return path
    except OSError as exc:
        reason = f"{exc.strerror or type(exc).__name__}{': ' + str(exc.filename) if exc.filename else ''}"
    fd, name = tempfile.mkstemp(prefix=f"nst-{path.stem}-", suffix=path.suffix)
    os.close(fd)
    kept = Path(name)
    try:
        write(kept)
    except OSError as exc:
        with contextlib.suppress(OSError):
            kept.unlink()
        raise OutputError(f"could not write {path} ({reason}), nor a copy in {kept.parent} ({exc.strerror}); "
                          "the result is lost: free some disk space and run again") from None
    raise ResultKept(f"could not write {path} ({reason}); the {what} is kept in {kept}: copy it from there", kept)
