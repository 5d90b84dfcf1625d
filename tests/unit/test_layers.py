"""The package layers of the architecture hold: the import-linter contracts in pyproject.toml (cli ->
daemon -> adapters -> engine -> rules -> domain; the sim on its own) are kept, no package imports a
private name of another, and rules read only the domain and rules/api.py."""

from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "risk_manager"


def _imports() -> list[tuple[str, str, str]]:
    """(importing module, imported module, name) of every ``from risk_manager.X import name``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            imported = node.module or "" if isinstance(node, ast.ImportFrom) else ""
            if isinstance(node, ast.ImportFrom) and imported.startswith("risk_manager."):
                source = imported.removeprefix("risk_manager.")
                found.extend((module, source, alias.name) for alias in node.names)
    return found


def _package(module: str) -> str:
    return module.split(".", 1)[0]


def test_the_import_linter_contracts_are_kept() -> None:
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_no_package_imports_a_private_name_of_another() -> None:
    crossing = {
        (module, source, name)
        for module, source, name in _imports()
        if name.startswith("_") and _package(module) != _package(source)
    }
    assert crossing == set()


def test_rules_import_only_the_domain_and_the_rule_api() -> None:
    outside = {
        (module, source)
        for module, source, _ in _imports()
        if _package(module) == "rules" and _package(source) not in ("domain", "rules")
    }
    assert outside == set()
