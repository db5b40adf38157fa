"""``bench/mutation.py`` scores what ``[tool.mutmut]`` mutates, and counts its table right."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import load_bench

ROOT = Path(__file__).parents[1]


def load() -> ModuleType:
    return load_bench("mutation")


@pytest.fixture(scope="module")
def mutation() -> ModuleType:
    return load()


def config() -> dict[str, list[str]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["mutmut"]


def test_the_scored_files_are_the_mutated_files(mutation) -> None:
    assert set(mutation.SCOPE) == set(config()["only_mutate"])
    for path in mutation.SCOPE:
        assert (ROOT / path).is_file(), path


def test_every_scored_function_exists(mutation) -> None:
    # mutmut names a method's mutants module.xǁClassǁmethod__mutmut_N, a function's
    # module.x_function__mutmut_N: a renamed function would silently score nothing
    for path, globs in mutation.SCOPE.items():
        source = (ROOT / path).read_text("utf-8")
        for glob in globs:
            name = glob.rsplit(".", 1)[1].removesuffix("__mutmut_*")
            if name == "*":
                continue
            if "ǁ" in name:
                _, *owner, function = name.split("ǁ")
            else:
                owner, function = [], name.removeprefix("x_")
            assert f"def {function}(" in source, glob
            for cls in owner:
                assert f"class {cls}" in source, glob


def test_every_selected_test_file_exists() -> None:
    for arg in config()["pytest_add_cli_args_test_selection"]:
        if arg.startswith("tests/") and "::" not in arg:
            assert (ROOT / arg).is_file(), arg


def test_the_table_counts_only_scored_mutants(mutation, tmp_path, monkeypatch) -> None:
    meta = tmp_path / "mutants" / "router" / "catalog.py.meta"
    meta.parent.mkdir(parents=True)
    codes = {
        "router.catalog.xǁPricingǁrates_for__mutmut_1": 1,  # killed
        "router.catalog.xǁPricingǁrates_for__mutmut_2": 0,  # survived
        "router.catalog.xǁPricingǁrates_for__mutmut_3": 33,  # no tests
        "router.catalog.xǁPricingǁrates_for__mutmut_4": 36,  # timeout: caught
        "router.catalog.xǁPricingǁrates_for__mutmut_5": None,  # not run
        "router.catalog.xǁLiveCatalogǁget__mutmut_1": 0,  # out of scope
    }
    meta.write_text(json.dumps({"exit_code_by_key": codes}), "utf-8")
    monkeypatch.setattr(mutation, "ROOT", tmp_path)
    text = mutation.table(["router/catalog.py"], survivors=True)
    assert "| router/catalog.py | 5 | 2 | 1 | 1 | 1 | 40.0 |" in text
    assert "| **all** | 5 | 2 | 1 | 1 | 1 | 40.0 |" in text
    assert text.endswith(
        "router.catalog.xǁPricingǁrates_for__mutmut_2\nrouter.catalog.xǁPricingǁrates_for__mutmut_3"
    )
