"""The package's rooms import one way: down the layers declared in ``attention_atlas.LAYERS``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import attention_atlas

PACKAGE = Path(attention_atlas.__file__).parent
LAYER_OF = {room: depth for depth, rooms in enumerate(attention_atlas.LAYERS) for room in rooms}


def _room(module: str) -> str | None:
    """The room of a dotted module inside the package (``None`` outside it or at its root)."""
    parts = module.split(".")
    if parts[0] != "attention_atlas" or len(parts) == 1:
        return None
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports from the package, with the line it does so on."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "attention_atlas":  # ``from attention_atlas import build``
                found += [(node.lineno, f"attention_atlas.{a.name}") for a in node.names]
    return found


def _room_of_file(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _violations(own: str, imports: list[tuple[int, str]], where: str) -> list[str]:
    """Imports of room ``own`` that reach its own layer or one above it."""
    bad = []
    for line, module in imports:
        room = _room(module)
        if room is None or room == own or room not in LAYER_OF:
            continue
        if LAYER_OF[room] <= LAYER_OF[own]:
            bad.append(f"{where}:{line}: {own} (layer {LAYER_OF[own]}) imports {module}")
    return bad


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_room_has_a_layer() -> None:
    rooms = {_room_of_file(p) for p in MODULES}
    assert rooms <= set(LAYER_OF), f"rooms with no layer: {sorted(rooms - set(LAYER_OF))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_down_the_layers(path: Path) -> None:
    where = str(path.relative_to(PACKAGE.parent))
    assert _violations(_room_of_file(path), _imports(path), where) == []


def test_an_upward_import_is_reported_with_its_line(tmp_path: Path) -> None:
    probe = tmp_path / "core.py"
    probe.write_text("import numpy\nfrom attention_atlas.cli import main\n", encoding="utf-8")
    assert _violations("attention", _imports(probe), "core.py") == [
        f"core.py:2: attention (layer {LAYER_OF['attention']}) imports attention_atlas.cli"
    ]


def test_siblings_and_module_imports_are_reported(tmp_path: Path) -> None:
    probe = tmp_path / "page.py"
    probe.write_text(
        "from attention_atlas.dumps.read import load_dump\n"  # a sibling room
        "from attention_atlas import build\n"  # a module named in the import list
        "from attention_atlas.attention import softmax\n",  # below: allowed
        encoding="utf-8",
    )
    found = _violations("scenarios", _imports(probe), "page.py")
    assert [line.split(" imports ")[-1] for line in found] == [
        "attention_atlas.dumps.read",
        "attention_atlas.build",
    ]
