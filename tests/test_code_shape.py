"""The shape of the code: every name is imported from the module that defines it.

ruff's PLC0414 and F403 catch ``from m import x as x`` and star imports; this catches the rest of
what makes a module a shim: a name imported from a module that only imported it itself (listed in
its ``__all__`` or not). Two packages are the exception, and the only one way in to their names:
:mod:`majorops.shared.events` (the contract) and :mod:`majorops.shared.testing` (the test kit)
re-export their submodules' names in their ``__init__``, and outside each package nothing imports
those submodules. Pure: it reads the files, imports nothing.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = [ROOT / "shared/src", *sorted(ROOT.glob("services/*/src")), ROOT / "cli/src", ROOT]
PACKAGE_FACES = ("majorops.shared.events", "majorops.shared.testing")


def python_files() -> Iterator[Path]:
    for top in ("shared", "services", "cli", "benchmarks", "chaos", "tests"):
        yield from (p for p in (ROOT / top).rglob("*.py") if ".venv" not in p.parts)
    yield ROOT / "conftest.py"


def module_name(path: Path) -> str | None:
    for base in SOURCE_ROOTS:
        if path.is_relative_to(base):
            parts = path.relative_to(base).with_suffix("").parts
            if parts[0] not in ("majorops", "benchmarks", "chaos"):
                continue
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    return None


MODULES = {name: path for path in python_files() if (name := module_name(path))}


@functools.cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


def top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.Try):
            yield from top_level(node.body + node.orelse)
            for handler in getattr(node, "handlers", []):
                yield from top_level(handler.body)


def defined_in(module: str) -> set[str]:
    names: set[str] = set()
    for node in top_level(parsed(MODULES[module]).body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


DEFINED = {module: defined_in(module) for module in MODULES}


def source_of(importer: str | None, node: ast.ImportFrom) -> str | None:
    if not node.level:
        return node.module
    package = (importer or "").split(".")
    if importer is None or MODULES[importer].name != "__init__.py":
        package = package[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join([*package, *([node.module] if node.module else [])])


def statements(body: list[Any]) -> Iterator[ast.AST]:
    """Every statement, nested ones too (imports inside functions count), without the expressions."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            yield from statements(getattr(node, field, []))


def misplaced(path: Path) -> Iterator[str]:
    importer = module_name(path)
    bound: dict[str, str] = {}

    def check(source: str, name: str, line: int) -> Iterator[str]:
        if f"{source}.{name}" in MODULES:
            return
        face = next((f for f in PACKAGE_FACES if source == f or source.startswith(f + ".")), None)
        inside = face is not None and (importer or "").startswith(face)
        if face is not None and not inside and source != face:
            yield f"{path.relative_to(ROOT)}:{line}: {name} from {source}: import it from {face}"
        elif name not in DEFINED[source] and not (source == face and not inside):
            yield f"{path.relative_to(ROOT)}:{line}: {name} from {source}, which does not define it"

    for node in statements(parsed(path).body):
        if isinstance(node, ast.ImportFrom) and (source := source_of(importer, node)) in MODULES:
            for alias in node.names:
                if f"{source}.{alias.name}" in MODULES:
                    bound[alias.asname or alias.name] = f"{source}.{alias.name}"
                yield from check(source, alias.name, node.lineno)
        elif isinstance(node, ast.Import):
            bound |= {a.asname: a.name for a in node.names if a.asname and a.name in MODULES}
    if bound:  # ``module.name`` where ``module`` was imported as a name: read off the text
        pattern = re.compile(rf"\b({'|'.join(map(re.escape, bound))})\.([A-Za-z_]\w*)")
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in pattern.finditer(line):
                yield from check(bound[match[1]], match[2], number)


def test_every_name_is_imported_from_the_module_that_defines_it() -> None:
    found = [problem for path in python_files() for problem in misplaced(path)]
    assert not found, "\n".join(found)


def test_the_check_sees_the_whole_tree() -> None:
    """A layout change that hid the modules from the check would make it pass vacuously."""
    assert {"majorops.shared.events.data", "majorops.reports.domain.document", "chaos.plan"} <= set(MODULES)
    assert len(MODULES) > 150
