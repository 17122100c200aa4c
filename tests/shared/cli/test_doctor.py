import pytest

from shared.cli.doctor import _import, _run


def test_missing_optional_package_is_reported_not_failed():
    check = _run("python", "nope", lambda: _import("no_such_module_for_ascent", optional=True))
    assert check.ok and "not installed" in check.detail


def test_missing_required_package_fails_with_its_name():
    check = _run("python", "nope", lambda: _import("no_such_module_for_ascent"))
    assert not check.ok and "no_such_module_for_ascent" in check.detail
    with pytest.raises(ImportError):
        _import("no_such_module_for_ascent")
