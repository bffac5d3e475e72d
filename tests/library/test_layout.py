"""The house rules that a reader of the tree relies on: packaging, ignored run-time folders,
which package may import which, and no process-wide side effects in the library."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib

import pytest

from pantry import paths
from tests.helpers import REPO

LIBRARY = REPO / "pantry"


def _imports(package: str) -> dict[str, set[str]]:
    """{module file: the pantry modules it imports} for one subpackage (lazy imports included)."""
    out: dict[str, set[str]] = {}
    for path in sorted((LIBRARY / package).glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        out[path.name] = {n for n in names if n == "pantry" or n.startswith("pantry.")}
    return out


def _allowed(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("package, allowed", [
    ("kitchen", ("pantry.kitchen", "pantry.domain", "pantry.base", "pantry.errors", "pantry.paths")),
    ("storage", ("pantry.storage", "pantry.domain", "pantry.base", "pantry.errors", "pantry.settings",
                 "pantry.paths")),
    ("model", ("pantry.model", "pantry.domain", "pantry.kitchen", "pantry.base", "pantry.errors", "pantry.settings",
               "pantry.paths")),
    ("evaluation", ("pantry.evaluation", "pantry.model", "pantry.domain", "pantry.kitchen", "pantry.generators",
                    "pantry.storage", "pantry.base", "pantry.errors", "pantry.settings", "pantry.paths")),
])
def test_packages_import_only_what_their_docstring_allows(package, allowed):
    bad = {name: sorted(m for m in mods if not _allowed(m, allowed)) for name, mods in _imports(package).items()}
    assert not {k: v for k, v in bad.items() if v}, f"pantry.{package} imports outside its layer"


def _import_cycles(package: str) -> list[list[str]]:
    """The import cycles among one subpackage's modules (lazy imports included; `from
    pantry.x import y` counts as importing module `pantry.x.y` when y is one)."""
    root = LIBRARY / package
    mods = {f"pantry.{package}" + ("" if p.stem == "__init__" else f".{p.stem}"): p for p in root.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        out: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                           for a in node.names)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
        graph[name] = {m for m in out if m in mods and m != name}
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            found.append(path[path.index(name):] + [name])
            return
        if name not in done:
            done.add(name)
            for nxt in sorted(graph[name]):
                visit(nxt, path + [name])

    for name in sorted(graph):
        visit(name, [])
    return found


def test_storage_modules_form_no_import_cycle():
    """The store is split by what it keeps (one module each) over two backends: each layer
    imports only the ones below it, so none needs the other half-initialised."""
    assert len(_imports("storage")) >= 10  # the split is there to check
    assert _import_cycles("storage") == []


def test_generators_modules_form_no_import_cycle():
    """The offline composer is split by job (draft loop, pantry planning, rendering, text):
    each imports only the ones below it."""
    assert _import_cycles("generators") == []


def test_model_modules_form_no_import_cycle():
    """Training is split by job (settings, pairs, solver, prior shape, cross-validation) under
    `pantry.model.training`, which re-exports them: each imports only the ones below it."""
    assert {"train_config", "pairs", "solver", "prior_shape", "cross_validation"} <= {
        p.stem for p in (LIBRARY / "model").glob("*.py")}
    assert _import_cycles("model") == []


def test_the_postgresql_store_differs_only_by_its_backend():
    """PostgreSQL is a backend the store is built on (composition), not a subclass overriding
    the store's methods: `PostgresStore` only chooses the backend."""
    from pantry.storage.backend import Backend
    from pantry.storage.postgres_backend import PostgresBackend
    from pantry.storage.sqlite_backend import SqliteBackend
    from pantry.storage.store import PostgresStore, Store

    assert {k for k, v in vars(PostgresStore).items() if callable(v)} == {"__init__", "__repr__"}
    assert issubclass(PostgresStore, Store) and issubclass(PostgresBackend, Backend)
    assert issubclass(SqliteBackend, Backend)


def test_nothing_in_the_library_imports_the_http_api():
    """pantry.api is a top layer (like lab and cli): it may import all of pantry, nothing imports it."""
    users = {str(p.relative_to(REPO)) for p in LIBRARY.rglob("*.py") if "api" not in p.relative_to(LIBRARY).parts[:1]
             for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pantry.api"))
             or (isinstance(node, ast.Import) and any(a.name.startswith("pantry.api") for a in node.names))}
    assert users <= {"pantry/cli/serve.py"}, users  # the CLI's `serve` starts it
    code = "import sys, pantry.api; assert not {'fastapi', 'torch'} & set(sys.modules), 'pantry.api is not light'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


def test_package_docstrings_say_what_they_are_for_and_may_import():
    for package in ("domain", "kitchen", "generators", "model", "storage", "evaluation", "api"):
        doc = ast.get_docstring(ast.parse((LIBRARY / package / "__init__.py").read_text(encoding="utf-8")))
        assert doc and "What the package is for" in doc and "What it may import" in doc, package


def test_the_curated_api_resolves_and_import_pantry_stays_light():
    """Every name `pantry` and its packages export exists, and importing them loads no torch."""
    code = ("import sys, pantry, pantry.model, pantry.evaluation, pantry.model.features; "
            "assert 'torch' not in sys.modules, 'import pantry pulled in torch'; "
            "[getattr(m, n) for m in (pantry, pantry.model, pantry.evaluation) for n in m.__all__]; "
            "assert 'torch' in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


def test_kitchen_exports_every_public_name():
    import pantry.kitchen as kitchen

    assert set(kitchen.__all__) == {
        "CATEGORIES", "DEFAULT_KB_PATH", "DIETS", "DIET_FLAGS", "Amount", "Ingredient", "Kitchen", "PantryItem",
        "PantryReading", "amount_ratio", "diet_violations", "line_amount", "load_kitchen", "missing_ingredients",
        "pantry_coverage", "pantry_names", "parse_amount", "parse_pantry", "read_pantry"}
    assert all(hasattr(kitchen, name) for name in kitchen.__all__)


def _environ_writes(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        target = None
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            for t in getattr(node, "targets", None) or [getattr(node, "target", None)]:
                if isinstance(t, ast.Subscript):
                    target = t.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("setdefault", "update", "pop", "clear", "__setitem__"):
                target = node.func.value
            elif node.func.attr in ("putenv", "unsetenv"):
                lines.append(node.lineno)
        if isinstance(target, ast.Attribute) and target.attr == "environ":
            lines.append(node.lineno)
    return lines


def test_the_library_writes_no_environment_variables():
    """Entry points (the CLI) may set their own process up; library modules never do."""
    entry_points = {LIBRARY / "cli" / "__init__.py", LIBRARY / "__main__.py"}
    found = {str(p.relative_to(REPO)): _environ_writes(ast.parse(p.read_text(encoding="utf-8")))
             for p in LIBRARY.rglob("*.py") if p not in entry_points}
    assert not {k: v for k, v in found.items() if v}


def test_pyproject_installs_the_package_with_the_requirements():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    project = meta["project"]
    assert project["requires-python"] == ">=3.11"
    assert meta["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}
    assert meta["tool"]["setuptools"]["packages"]["find"]["include"] == ["pantry", "pantry.*"]
    # setuptools' find only sees regular packages: every folder of the library needs an __init__.py.
    folders = {p for p in LIBRARY.rglob("*") if p.is_dir() and p.name != "__pycache__"}
    assert all((f / "__init__.py").is_file() for f in folders), sorted(map(str, folders))


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_venv_reinstalls_when_pyproject_changes(tmp_path):
    """The stamp depends on pyproject.toml, and the install step is `pip install -e .`."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    (venv / ".stamp-deps").touch()  # newer than every prerequisite: nothing to do
    base = ["make", "-n", "-C", str(REPO), f"VENV={venv}", "venv"]
    assert "pip install" not in subprocess.run(base, capture_output=True, text=True, check=True).stdout
    what_if = subprocess.run(base[:2] + ["-W", "pyproject.toml"] + base[2:], capture_output=True, text=True,
                             check=True).stdout
    assert "pip install -q -e ." in what_if and "requirements-dev.txt" in what_if


@pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(), reason="not a git checkout")
@pytest.mark.parametrize("path, ignored", [
    ("data/pantry.sqlite3", True), ("data/pantry.sqlite3-wal", True), ("weights/population-1.pt", True),
    ("weights/user-ana/v2.pt", True), ("data/weights/old.pt", True), ("pantrypilot.egg-info/PKG-INFO", True),
    ("data/ingredients.json", False), ("data/dishes.json", False), ("pyproject.toml", False),
])
def test_run_time_folders_are_git_ignored(path, ignored):
    run = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", "--no-index", path])
    assert (run.returncode == 0) == ignored


def test_default_folders_are_the_top_level_data_and_weights():
    assert paths.DEFAULT_DB_PATH == REPO.resolve() / "data" / "pantry.sqlite3"
    assert paths.WEIGHTS_DIR == REPO.resolve() / "weights"


# ---- one writer per user action: pages, the API and the CLI write through `Lab`, never the store

STORE_WRITERS = (
    "ensure_user", "set_user_pantry", "set_user_prefs", "add_recipes", "log_generated", "add_vote", "add_votes",
    "import_records", "delete_batch", "restore_batch", "delete_vote", "restore_vote", "undo_last_vote",
    "add_model_version", "activate_model", "activate_models", "deactivate_models", "put_embeddings")
LIBRARY_WRITERS_WITH_A_LAB_METHOD = ("import_jsonl", "cast_household_vote")  # Lab.import_file, Lab.cast_household_vote
FRONT_ENDS = ("views", "ui", "pantry/api", "app.py", "pantry/cli")


def _store_writes(source: str) -> list[tuple[int, str]]:
    """(line, name) of every use of a store writer's name as an attribute (a call or a reference),
    and of a library writer that a Lab method wraps, by any name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in STORE_WRITERS:
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.Name) and node.id in LIBRARY_WRITERS_WITH_A_LAB_METHOD:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.ImportFrom):
            found += [(node.lineno, a.name) for a in node.names if a.name in LIBRARY_WRITERS_WITH_A_LAB_METHOD]
    return found


def test_the_store_writer_list_names_real_store_methods():
    from pantry.storage.store import Store

    assert all(callable(getattr(Store, name, None)) for name in STORE_WRITERS)
    assert _store_writes("def f(lab):\n    lab.store.add_vote(v)\n") == [(2, "add_vote")]
    assert _store_writes("w = store.delete_vote\n") == [(1, "delete_vote")]
    assert _store_writes("lab.cast_vote(v)\nstore.get_vote(1)\n") == []
    assert _store_writes("from pantry.storage.jsonl import import_jsonl\n") == [(1, "import_jsonl")]


def test_pages_the_api_and_the_cli_never_write_to_the_store_directly():
    """A vote, an undo, an import, an activation (and every other write) from a page, the HTTP API
    or the CLI is one `Lab` call, so the checks Lab makes (a model loads before it is activated,
    the default strength) cannot be skipped by one front end."""
    files = [p for entry in FRONT_ENDS for p in ((REPO / entry).rglob("*.py") if (REPO / entry).is_dir()
                                                 else [REPO / entry])]
    assert len(files) > 20
    found = {str(p.relative_to(REPO)): _store_writes(p.read_text(encoding="utf-8")) for p in files}
    assert not {k: v for k, v in found.items() if v}


def test_the_evaluation_modules_import_each_other_without_a_cycle():
    """Module-level imports between pantry.evaluation modules form no cycle (imports inside
    functions and under TYPE_CHECKING do not run at import time and are not counted)."""
    import graphlib

    folder = REPO / "pantry" / "evaluation"
    graph = {}
    for path in folder.glob("*.py"):
        name = f"pantry.evaluation.{path.stem}"
        deps = set()
        for node in ast.parse(path.read_text()).body:  # top level only
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pantry.evaluation."):
                deps.add(node.module)
        graph[name] = deps
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError on a cycle


def test_version_labels_are_built_in_one_place():
    """ "personal v3" is written by `pantry.model.kinds.version_label` only (issue 21: labels
    were built in four places that could drift)."""
    import re

    pattern = re.compile(r"(personal|population|\{kind\}|\{self\.kind\}) v\{")
    offenders = []
    for path in [*(REPO / "pantry").rglob("*.py"), *(REPO / "ui").rglob("*.py"), *(REPO / "views").rglob("*.py"),
                 REPO / "app.py"]:
        if path.name == "kinds.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not offenders, offenders
