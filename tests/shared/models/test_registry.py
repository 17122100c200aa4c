import hashlib

import pytest

from shared.models.registry import (
    FilePart,
    ModelCorrupt,
    ModelNotInstalled,
    ModelRegistry,
    PackagedModel,
)


@pytest.fixture
def weight_package(tmp_path, monkeypatch):
    """A package laid out like the registry packages: data split into two parts."""
    name = f"fake_weights_{tmp_path.name[-8:].replace('-', '_')}"
    pkg = tmp_path / "site" / name
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "part01.bin").write_bytes(b"GGUF-first-half|")
    (pkg / "data" / "part02.bin").write_bytes(b"second-half")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return name.replace("_", "-")


def _model(package: str, sha: str, extra_package: str | None = None) -> PackagedModel:
    parts = [FilePart(package, "data/part01.bin"), FilePart(package, "data/part02.bin")]
    if extra_package:
        parts.append(FilePart(extra_package, "data/part03.bin"))
    return PackagedModel(
        name="fake", kind="llm", description="", license="MIT",
        files={"model.gguf": tuple(parts)}, checked_file="model.gguf", sha256=sha,
        single_file=True,
    )  # fmt: skip


def test_assembles_parts_in_order_and_verifies(tmp_path, weight_package, monkeypatch):
    expected = b"GGUF-first-half|second-half"
    model = _model(weight_package, hashlib.sha256(expected).hexdigest())
    monkeypatch.setitem(__import__("shared.models.registry").models.registry.MODELS, "fake", model)
    registry = ModelRegistry(tmp_path / "models")
    path = registry.path("fake")
    assert path.read_bytes() == expected
    assert registry.is_ready(model)
    path.write_bytes(b"tampered")  # a changed file is no longer trusted
    assert not registry.is_ready(model)


def test_wrong_checksum_is_reported(tmp_path, weight_package):
    model = _model(weight_package, "0" * 64)
    with pytest.raises(ModelCorrupt, match="expected 0000"):
        ModelRegistry(tmp_path / "models").assemble(model)


def test_missing_package_names_the_package_to_install(tmp_path, weight_package):
    model = _model(weight_package, "0" * 64, extra_package="no-such-weights-part3")
    with pytest.raises(ModelNotInstalled) as err:
        ModelRegistry(tmp_path / "models").assemble(model)
    assert "no-such-weights-part3" in str(err.value)
    assert "requirements/models.txt" in str(err.value)
    assert not (tmp_path / "models" / "fake" / "model.gguf").exists()


def test_packaged_models_are_installed_and_verified(data_home):
    from shared.models.registry import MODELS, missing_packages

    registry = ModelRegistry(data_home / "models")
    for name in ("qwen2.5-coder-0.5b", "all-minilm-l6-v2", "whisper-tiny.en"):
        model = MODELS[name]
        assert missing_packages(model) == []
        assert registry.path(name).exists()
        assert registry.is_ready(model)
