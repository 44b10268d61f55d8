"""Managing the model library: rename, delete, export to one file and import it back; an
import that does not check out is refused with a message saying why, the library untouched."""

import json
import zipfile

import pytest
import torch
from safetensors.torch import save_file

from desktop_app.core.models import registry
from desktop_app.core.models.catalog import all_models, library_dir
from desktop_app.core.models.library import NameTaken, delete, export, free_name, import_model, rename
from desktop_app.core.models.manifest import read_manifest, sha256_of
from desktop_app.core.models.weights import Manifest, ModelFileError, load_model, save_model

TINY = {"widths": [8, 16], "blocks": [1, 1]}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def tiny(seed=0, hparams=TINY):
    torch.manual_seed(seed)
    return registry.get("unet-denoise").create(**hparams).eval()


def save_pair(path, model=None, **fields):
    """A model pair outside the library, as another machine would have written it."""
    manifest = Manifest(id=path.stem, title=path.stem, architecture="unet-denoise", task="denoise", hparams=TINY,
                        metrics={"val_psnr": 31.0})
    save_model(model or tiny(), path, manifest)
    if fields:
        edit_manifest(path.with_suffix(".json"), **fields)
    return path.with_suffix(".json")


def edit_manifest(path, **fields):
    data = json.loads(path.read_text())
    data.update(fields)
    path.write_text(json.dumps(data))


def install(name):
    return import_model(save_pair(library_dir().parent / "elsewhere" / f"{name}.safetensors"))


def library_files():
    return sorted(p.name for p in library_dir().iterdir())


def ids(shipped=False):
    return {e.manifest.id for e in all_models() if e.shipped == shipped}


def output(model):
    x, s = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)), torch.full((1, 3), 0.1)
    with torch.no_grad():
        return model(x, s)


def test_rename_moves_both_files_and_the_manifest_follows():
    install("mine")
    install("other")
    entry = rename("mine", "yours")
    assert library_files() == ["other.json", "other.safetensors", "yours.json", "yours.safetensors"]
    m = read_manifest(library_dir() / "yours.json")
    assert (m.id, m.title, m.weights) == ("yours", "yours", "yours.safetensors") and entry.manifest == m
    load_model(entry.path)  # the checksum still holds
    with pytest.raises(NameTaken, match="'other' is already the name of a model in your library"):
        rename("yours", "other")
    with pytest.raises(ModelFileError, match="not a usable name"):
        rename("yours", "my model")
    with pytest.raises(ModelFileError, match="shipped model"):
        rename("cnn", "my-cnn")
    assert library_files() == ["other.json", "other.safetensors", "yours.json", "yours.safetensors"]


def test_delete_removes_a_library_model_but_never_a_shipped_one():
    install("mine")
    delete("mine")
    assert library_files() == [] and "mine" not in ids()
    with pytest.raises(ModelFileError, match="shipped model"):
        delete("cnn")
    with pytest.raises(ModelFileError, match="no model named 'nope'"):
        delete("nope")
    assert "cnn" in ids(shipped=True)


def test_export_then_import_gives_the_same_model(tmp_path):
    original = tiny(seed=3)
    import_model(save_pair(tmp_path / "pair" / "mine.safetensors", original))
    exported = export("mine", tmp_path / "mine.zip")
    with zipfile.ZipFile(exported) as z:
        assert sorted(z.namelist()) == ["mine.json", "mine.safetensors"]
    delete("mine")

    entry = import_model(exported)
    assert entry.manifest.id == "mine" and not entry.shipped and entry.manifest.metrics == {"val_psnr": 31.0}
    model, _ = load_model(entry.path)
    assert torch.equal(output(model), output(original))

    with pytest.raises(NameTaken) as taken:  # a second import asks first
        import_model(exported)
    assert not taken.value.shipped
    both = import_model(exported, name=free_name("mine"))
    assert both.manifest.id == "mine-2" and ids() == {"mine", "mine-2"}
    import_model(exported, replacing=True)
    assert ids() == {"mine", "mine-2"}


def test_shipped_models_export_and_come_back_under_another_name(tmp_path):
    exported = export("cnn", tmp_path / "cnn.zip")
    with pytest.raises(NameTaken) as taken:
        import_model(exported, replacing=True)  # a shipped model is never replaced
    assert taken.value.shipped
    assert import_model(exported, name=free_name("cnn")).manifest.id == "cnn-2"


def test_a_pair_is_imported_from_its_manifest_or_its_weights(tmp_path):
    manifest = save_pair(tmp_path / "a.safetensors")
    save_pair(tmp_path / "b.safetensors")
    import_model(manifest)
    import_model(tmp_path / "b.safetensors")
    assert ids() == {"a", "b"}


def rejected(path, match):
    before = library_files()
    with pytest.raises(ModelFileError, match=match):
        import_model(path)
    assert library_files() == before  # nothing written, no staging folder left


def test_import_rejects_a_tampered_manifest(tmp_path):
    rejected(save_pair(tmp_path / "t.safetensors", sha256="0" * 64), "does not match the checksum")
    rejected(save_pair(tmp_path / "n.safetensors", sha256=""), "no sha256 checksum")
    rejected(save_pair(tmp_path / "h.safetensors", hparams=[8, 16]), "field 'hparams' should be an object")

    import_model(save_pair(tmp_path / "z.safetensors"))
    exported = export("z", tmp_path / "z.zip")
    delete("z")
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(exported) as src, zipfile.ZipFile(tampered, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith(".json"):
                manifest = json.loads(data)
                manifest["sha256"] = "f" * 64
                data = json.dumps(manifest).encode()
            dst.writestr(name, data)
    rejected(tampered, "does not match the checksum")


def test_import_rejects_an_unknown_architecture_or_a_task_it_is_not_for(tmp_path):
    rejected(save_pair(tmp_path / "u.safetensors", architecture="no-such-net"), "unknown architecture 'no-such-net'")
    rejected(save_pair(tmp_path / "t.safetensors", task="inpaint"),
             "task 'inpaint' does not match architecture unet-denoise")


def test_import_rejects_tensors_that_do_not_fit_the_architecture(tmp_path):
    # weights of a wider network under a manifest that describes the tiny one, checksum right
    wide = save_pair(tmp_path / "wide.safetensors", tiny(hparams={"widths": [8, 32], "blocks": [1, 1]}))
    rejected(wide, r"weights do not fit architecture unet-denoise: .* of the wrong shape \(.* needs \(")

    state = dict(tiny().state_dict())
    missing = sorted(state)[0]
    del state[missing]
    state["extra.weight"] = torch.zeros(2)
    weights = tmp_path / "cut.safetensors"
    save_file(state, str(weights))
    cut = save_pair(tmp_path / "other.safetensors")
    edit_manifest(cut, weights="cut.safetensors", sha256=sha256_of(weights))
    rejected(cut, rf"1 tensor\(s\) missing \({missing}\); 1 unexpected tensor\(s\) \(extra.weight\)")

    bad_hparams = save_pair(tmp_path / "hp.safetensors", hparams={"no_such_option": 3})
    rejected(bad_hparams, "hyper-parameters do not fit architecture unet-denoise")


def test_import_rejects_files_that_are_not_models(tmp_path):
    binary = tmp_path / "photo.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")
    with pytest.raises(ModelFileError, match="photo.json: not a manifest"):
        read_manifest(binary)  # no UnicodeDecodeError escapes
    rejected(binary, "photo.json: not a manifest")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    rejected(tmp_path / "photo.png", "not a model file")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    rejected(tmp_path / "broken.zip", "broken.zip")
    rejected(tmp_path / "absent.zip", "no such file")
    lonely = tmp_path / "lonely" / "w.safetensors"
    save_pair(lonely).unlink()
    rejected(lonely, "its manifest w.json is not beside it")
    escape = save_pair(tmp_path / "e.safetensors", weights="../e.safetensors")
    rejected(escape, "the weights field must be a file name")


def test_a_replaced_model_is_not_served_from_memory(tmp_path):
    from desktop_app.core.models.manager import MANAGER

    install("mine")
    MANAGER.get("mine", "cpu")
    newer = tiny(seed=5)
    import_model(save_pair(tmp_path / "mine.safetensors", newer), replacing=True)
    try:
        assert torch.equal(output(MANAGER.get("mine", "cpu").module), output(newer))
    finally:
        MANAGER.release()


def test_an_import_cleans_up_what_a_killed_import_left_behind(tmp_path):
    import os
    import time

    lib = library_dir()
    stale, fresh = lib / ".import-killed", lib / ".import-running"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "half.safetensors").write_bytes(b"x")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    import_model(save_pair(tmp_path / "pair" / "mine.safetensors", tiny(seed=1)))
    assert not stale.exists(), "left by an import killed long ago"
    assert fresh.exists(), "possibly another import still running"
    assert ids() == {"mine"}
