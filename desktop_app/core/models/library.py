"""Managing the user's model library: rename, delete, export to one file, import one.

An exported model is one `.zip` holding `NAME.json` and `NAME.safetensors`, stored without
compression (weights do not shrink). A zip rather than the manifest tucked into the
safetensors metadata: the manifest's sha256 then still covers the very file beside it, and an
unpacked export is the ordinary pair the library holds, readable with any zip tool.

Import takes that zip, or a `.json` manifest with its `.safetensors` beside it, and checks
everything before the library changes: the manifest's fields and version, its checksum
(required), that the architecture is registered and made for the manifest's task, and that
every tensor's name and shape fits the architecture. The files are staged in a hidden folder
inside the library and moved in with os.replace, so a rejected or interrupted import leaves
the library as it was. Callers refresh the operations afterwards (operations/library.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, replace
from pathlib import Path

from desktop_app.core.models.catalog import ModelEntry, all_models, find, library_dir
from desktop_app.core.models.manifest import (MANIFEST_VERSION, Manifest, ModelFileError, read_manifest,
                                              sha256_of, write_manifest)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
EXPORT_FILTER = "Model file (*.zip)"
IMPORT_FILTER = "Model files (*.zip *.json *.safetensors)"
MAX_MEMBER_BYTES = 8 << 30  # a zip member declared larger than this is not one of our models


class NameTaken(ModelFileError):
    """Another model already has this name: the caller may replace it (a library model only)
    or keep both under `free_name(name)`."""

    def __init__(self, name: str, shipped: bool) -> None:
        self.name, self.shipped = name, shipped
        where = "a shipped model" if shipped else "a model in your library"
        super().__init__(f"{name!r} is already the name of {where}")


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ModelFileError(f"{name!r} is not a usable name: use up to 64 letters, digits, '-', '_' or '.', "
                             "starting with a letter or digit.")
    return name


def free_name(name: str) -> str:
    """`name`, or the first of name-2, name-3, ... that no model has."""
    taken = {e.manifest.id for e in all_models()}
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name[:60]}-{n}"
    return candidate


def weights_of(entry: ModelEntry) -> Path:
    return entry.path.with_name(entry.manifest.weights or entry.path.with_suffix(".safetensors").name)


def _library_entry(model_id: str) -> ModelEntry | None:
    return next((e for e in all_models() if not e.shipped and e.manifest.id == model_id), None)


def _own(model_id: str) -> ModelEntry:
    """The library model of that id; shipped models are read-only."""
    entry = _library_entry(model_id)
    if entry is None:
        find(model_id)  # raises "no model named ..." when there is none at all
        raise ModelFileError(f"{model_id!r} is a shipped model: it cannot be renamed or deleted "
                             "(export it and import the copy under another name)")
    return entry


def _check_free(name: str, replacing: bool = False) -> None:
    for e in all_models():
        if e.manifest.id == name and (e.shipped or not replacing):
            raise NameTaken(name, e.shipped)


def _retitled(m: Manifest, new_id: str) -> Manifest:
    """The manifest under a new id; a title that was just the id follows it."""
    return replace(m, id=new_id, weights=f"{new_id}.safetensors",
                   title=new_id if m.title in ("", m.id) else m.title)


def _release_loaded() -> None:
    """A model kept warm under a name that now means other weights (or none) must go. No
    manager imported yet means nothing loaded: torch stays unimported."""
    manager = sys.modules.get("desktop_app.core.models.manager")
    if manager is not None:
        manager.MANAGER.release()


# -- rename / delete --------------------------------------------------------------------------


def rename(model_id: str, new_name: str) -> ModelEntry:
    entry = _own(model_id)
    check_name(new_name)
    if new_name == model_id:
        return entry
    _check_free(new_name)
    _release_loaded()
    lib = entry.path.parent
    manifest = _retitled(entry.manifest, new_name)
    new_path = lib / f"{new_name}.json"
    old_weights, new_weights = weights_of(entry), lib / manifest.weights
    if not old_weights.is_file():
        raise ModelFileError(f"{model_id}: weights file {old_weights.name} is missing")
    # the new pair is complete before the old one goes, so a crash in between leaves a model
    # under one name or both, never none
    case_only = new_weights.exists() and new_weights.samefile(old_weights)  # macOS / Windows
    if case_only:
        os.replace(old_weights, new_weights)
    else:
        try:
            os.link(old_weights, new_weights)
        except OSError:  # no hard links here (another file system, FAT)
            shutil.copy2(old_weights, new_weights)
    write_manifest(manifest, new_path)
    if not entry.path.samefile(new_path):
        entry.path.unlink()
    if not case_only:
        old_weights.unlink()
    return ModelEntry(manifest, new_path, False)


def delete(model_id: str) -> None:
    entry = _own(model_id)
    _release_loaded()
    entry.path.unlink()  # the manifest first: without it the model is gone from every list
    weights_of(entry).unlink(missing_ok=True)


# -- export -----------------------------------------------------------------------------------


def export(model_id: str, dest: str | Path) -> Path:
    """Write the model (shipped or the user's) as one `.zip` that `import_model` accepts."""
    entry = find(model_id)
    weights = weights_of(entry)
    if not weights.is_file():
        raise ModelFileError(f"{model_id}: weights file {weights.name} is missing")
    digest = sha256_of(weights)
    if entry.manifest.sha256 and entry.manifest.sha256 != digest:
        raise ModelFileError(f"{model_id}: {weights.name} does not match the checksum in its manifest")
    manifest = replace(entry.manifest, sha256=digest, weights=f"{model_id}.safetensors")
    dest = Path(dest)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
            z.writestr(f"{model_id}.json", json.dumps(asdict(manifest), indent=2) + "\n")
            z.write(weights, manifest.weights)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dest


# -- import -----------------------------------------------------------------------------------


def _weights_name(manifest: Manifest, manifest_name: str) -> str:
    name = manifest.weights or Path(manifest_name).with_suffix(".safetensors").name
    if Path(name).name != name or name in ("", ".", ".."):
        raise ModelFileError(f"{manifest_name}: the weights field must be a file name, not {name!r}")
    return name


def _stage_pair(path: Path, staging: Path) -> Path:
    if path.suffix.lower() == ".safetensors":
        path = path.with_suffix(".json")
        if not path.is_file():
            raise ModelFileError(f"{path.with_suffix('.safetensors').name}: its manifest {path.name} is not beside it")
    manifest = read_manifest(path)
    weights = path.with_name(_weights_name(manifest, path.name))
    if not weights.is_file():
        raise ModelFileError(f"{manifest.id}: weights file {weights.name} is missing (it belongs beside {path.name})")
    shutil.copyfile(path, staging / path.name)
    shutil.copyfile(weights, staging / weights.name)
    return staging / path.name


def _stage_zip(path: Path, staging: Path) -> Path:
    try:
        with zipfile.ZipFile(path) as z:
            members = {Path(i.filename).name: i for i in z.infolist() if not i.is_dir()}
            manifests = [n for n in members if n.lower().endswith(".json")]
            if len(manifests) != 1:
                raise ModelFileError(f"{path.name}: an exported model holds one .json manifest, "
                                     f"this file holds {len(manifests)}")
            json_name = manifests[0]
            _unpack(z, members[json_name], staging / json_name)
            weights = _weights_name(read_manifest(staging / json_name), json_name)
            if weights not in members:
                raise ModelFileError(f"{path.name}: the weights file {weights} named by {json_name} is not in it")
            _unpack(z, members[weights], staging / weights)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise ModelFileError(f"{path.name}: damaged zip file ({e})") from None
    return staging / json_name


def _unpack(z: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path) -> None:
    if info.file_size > MAX_MEMBER_BYTES:
        raise ModelFileError(f"{info.filename}: {info.file_size / 2**30:.1f} GiB is too large for a model")
    with z.open(info) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)


def validate(manifest_file: Path) -> Manifest:
    """Raise ModelFileError unless the pair is a model this app can load and run."""
    from desktop_app.core.models import registry  # torch: only when a model is imported
    from desktop_app.core.models.weights import load_model

    manifest = read_manifest(manifest_file)
    if manifest.version > MANIFEST_VERSION:
        raise ModelFileError(f"{manifest.id}: made by a newer version of the app "
                             f"(manifest version {manifest.version}, this one reads {MANIFEST_VERSION})")
    if not manifest.sha256:
        raise ModelFileError(f"{manifest.id}: the manifest has no sha256 checksum, so its weights cannot be checked")
    try:
        arch = registry.get(manifest.architecture)
    except registry.UnknownArchitecture as e:
        raise ModelFileError(f"{manifest.id}: {e}") from None
    if arch.task != manifest.task:
        raise ModelFileError(f"{manifest.id}: task {manifest.task!r} does not match architecture {arch.id}, "
                             f"which is for {arch.task!r}")
    load_model(manifest_file, verify=True)  # checksum, hyper-parameters, every tensor's name and shape
    return manifest


STALE_STAGING_S = 3600  # a staging folder this old was left by an import that was killed


def _remove_stale_staging(lib: Path) -> None:
    for folder in lib.glob(".import-*"):
        try:
            if time.time() - folder.stat().st_mtime > STALE_STAGING_S:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def import_model(path: str | Path, *, replacing: bool = False, name: str | None = None) -> ModelEntry:
    """Copy a model file into the library after checking it; `name` imports it under another
    id, `replacing` lets it take the place of a library model of the same id. Raises
    NameTaken (before anything is written) when the id is in use otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path.name}: no such file")
    lib = library_dir()
    _remove_stale_staging(lib)
    staging = Path(tempfile.mkdtemp(dir=lib, prefix=".import-"))  # same disk: os.replace is atomic
    try:
        if zipfile.is_zipfile(path):
            staged = _stage_zip(path, staging)
        elif path.suffix.lower() in (".json", ".safetensors"):
            staged = _stage_pair(path, staging)
        else:
            raise ModelFileError(f"{path.name}: not a model file; choose a .zip exported from a model library, "
                                 "or a .json manifest with its .safetensors beside it")
        manifest = validate(staged)
        target = check_name(name or manifest.id)
        _check_free(target, replacing)
        old = _library_entry(target)
        _release_loaded()
        final = _retitled(manifest, target)
        os.replace(staging / _weights_name(manifest, staged.name), lib / final.weights)
        write_manifest(final, lib / f"{target}.json")
        if old is not None:  # a replaced model kept under other file names leaves nothing behind
            for stale in (old.path, weights_of(old)):
                if stale.name not in (f"{target}.json", final.weights):
                    stale.unlink(missing_ok=True)
        return ModelEntry(final, lib / f"{target}.json", False)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
