"""The layout's rules (README "Layout"): core/ by capability with dependencies flowing one way, no App types in core,
operators and panels reaching the database only through core."""

import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
CORE = REPO / "core"
# each capability may import only the packages listed before it (store first: everything builds on it)
ORDER = (
    "exceptions",
    "fiftyone_private",
    "store",
    "models",
    "matching",
    "prelabel",
    "quality",
    "regression",
    "annotation",
)
APP_MODULES = ("fiftyone.operators", "fiftyone.server", "operators", "panels")


def _imports(path):
    """(absolute module names, core packages imported relatively) of one file."""
    absolute, relative = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            absolute.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            absolute.add(node.module)
        elif isinstance(node, ast.ImportFrom):
            base = path.relative_to(CORE).parts[: -node.level] if node.level > 1 else path.relative_to(CORE).parts[:-1]
            target = [*base, *(node.module.split(".") if node.module else [])]
            names = [target[0]] if target else [alias.name for alias in node.names]
            relative.update(names)
    return absolute, relative


def _package(path):
    part = path.relative_to(CORE).parts[0]
    return part.removesuffix(".py")


CORE_FILES = sorted(p for p in CORE.rglob("*.py") if p.name != "__init__.py" and p.name != "gate.py")


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_core_depends_one_way_and_knows_no_app(path):
    absolute, relative = _imports(path)
    assert not [m for m in absolute if m.startswith(APP_MODULES)], "core must not import App or operator code"
    own = _package(path)
    allowed = set(ORDER[: ORDER.index(own) + 1])
    assert relative <= allowed, f"{own} may import only {sorted(allowed)}, not {sorted(relative - allowed)}"


@pytest.mark.parametrize("folder", ["operators", "panels"])
def test_operators_and_panels_leave_the_database_to_core(folder):
    calls = ("get_field_schema", "values", "count", "distinct", "aggregate", "set_values", "tag_samples", "save")
    found = []
    for path in sorted((REPO / folder).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in calls:
                if node.func.attr == "values" and not node.args:
                    continue  # a dict's or a choice group's values, not SampleCollection.values(field)
                found.append(f"{path.name}:{node.lineno} .{node.func.attr}()")
    assert not found, found
