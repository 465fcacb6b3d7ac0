"""The package's layers, checked by walking every import in it: ``cli`` -> ``station`` /
``mqtt`` / ``web`` -> ``flashing`` -> ``hardware`` -> ``config``, with ``errors`` at the bottom, and
``simulation`` / ``emulator`` used only by the command line (and the tests)."""

import ast
from pathlib import Path

import pytest

import flashjig

PACKAGE = Path(flashjig.__file__).parent

# Lower numbers sit lower; a module may import its own subpackage or any lower layer.
LAYERS = {
    "flashjig": 0,  # the package's __init__: its version
    "errors": 0,
    "config": 1,
    "emulator": 1.5,  # a model of the module: config's flash sizes at most
    "hardware": 2,
    "flashing": 3,
    "station": 4,
    "mqtt": 5,  # reports a station; the station never imports it
    "web": 5,  # the status page: the same
    "simulation": 5.5,  # simulated hardware under a real station
    "cli": 6,
    "__main__": 7,
}
# Only these may import the simulation and the emulator: the daemon gets its hardware injected.
SIMULATION_USERS = {"cli", "simulation", "emulator", "__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def room(module: str) -> str:
    """The subpackage (or top-level module) a module lives in."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _in_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _flashjig_imports(node: ast.stmt) -> set[str]:
    """The flashjig modules one statement imports (not those in statements inside it)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name.split(".")[0] == "flashjig"}
    if not isinstance(node, ast.ImportFrom) or not node.module or node.level != 0:
        return set()
    if node.module.split(".")[0] != "flashjig":
        return set()
    subs = (f"{node.module}.{alias.name}" for alias in node.names)
    return {sub if sub in MODULES else node.module for sub in subs}


def imports(module: str, *, top_level_only: bool = False) -> set[str]:
    """The flashjig modules ``module`` imports (a name imported from a package counts as
    its submodule when it is one). With ``top_level_only``, what runs at import time:
    not inside functions, not under TYPE_CHECKING."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            found.update(_flashjig_imports(node))
            if top_level_only:
                if isinstance(node, ast.If) and _in_type_checking(node):
                    visit(node.orelse)
                    continue
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    if isinstance(node, ast.ClassDef):
                        visit(node.body)
                    continue
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    visit([c for c in children if isinstance(c, ast.stmt | ast.excepthandler)])

    visit(tree.body)
    found.discard(module)
    return found


def test_the_package_has_no_top_level_module_but_init_main_and_errors():
    top = {p.name for p in PACKAGE.glob("*.py")}
    assert top == {"__init__.py", "__main__.py", "errors.py"}
    assert {room(m) for m in MODULES} <= set(LAYERS), "a subpackage without a layer"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_from_a_layer_above_it(module):
    here = room(module)
    for target in sorted(imports(module)):
        there = room(target)
        if there == here:
            continue
        assert LAYERS[there] < LAYERS[here], f"{module} imports {target}, a layer above it"
        if there in ("simulation", "emulator"):
            assert here in SIMULATION_USERS, f"{module} imports the simulation ({target})"


def test_no_import_cycle():
    graph = {m: imports(m, top_level_only=True) & set(MODULES) for m in MODULES}
    done: set[str] = set()

    def walk(module: str, path: list[str]) -> None:
        if module in path:
            cycle = path[path.index(module) :] + [module]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in sorted(graph[module]):
            walk(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        walk(module, [])


# The only modules that talk to SQLite: the layers above catch their errors (JournalError,
# FleetStoreError), never sqlite3's.
SQLITE_USERS = {"flashjig.station.journal", "flashjig.mqtt.fleetstore"}


def outside_imports(module: str) -> set[str]:
    """The top-level names of every module ``module`` imports, anywhere in it."""
    tree = ast.parse(MODULES[module].read_text(), str(MODULES[module]))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_journal_and_the_fleet_store_import_sqlite3():
    users = {m for m in MODULES if "sqlite3" in outside_imports(m)}
    assert users == SQLITE_USERS


def test_the_walk_sees_an_upward_import(tmp_path):
    """The checks above can fail: an upward import in a module is found by ``imports``."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from flashjig.cli import main\n")
    name = "flashjig.config.sample"
    MODULES[name] = sample
    try:
        assert imports(name) == {"flashjig.cli"}
        assert imports(name, top_level_only=True) == set()
        sample.write_text("def f():\n    import sqlite3.dbapi2\n")
        assert "sqlite3" in outside_imports(name)
    finally:
        del MODULES[name]
    assert {"flashjig.cli", "flashjig.station.daemon"} <= set(MODULES)  # the walk finds them


def test_the_command_line_loads_without_compiled_libraries_of_its_commands():
    """debian/rules makes the man page by importing ``flashjig.cli`` from the package's
    site-packages on the build machine: for arm64 on an amd64 machine those hold aarch64
    Pillow, numpy and aiohttp, which cannot load there. Before, ``flashjig.cli`` imported
    the whole station (Pillow with it) and `./jig deb arm64` failed on amd64; the commands
    load these when they run."""
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, flashjig.cli; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "flashjig.cli.run" in loaded  # every command's parser is there
    heavy = {"PIL", "matplotlib", "numpy", "aiohttp", "multidict", "yarl", "paho", "kiwisolver"}
    assert heavy.isdisjoint(name.split(".")[0] for name in loaded)
