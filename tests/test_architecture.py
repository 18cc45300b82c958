"""The layering of DESIGN.md §2 holds: each layer imports only the layers below it, and no module uses another
module's private names (``_name``). Checked on the source (AST), so it costs no imports."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "gmmspeech"

#: layer -> the gmmspeech layers it may import (besides itself and the package root's __version__)
ALLOWED = {
    "infra": set(),
    "core": {"infra.errors"},
    "frontend": {"infra"},
    "data": {"frontend", "infra"},
    "model": {"core", "frontend", "infra"},
    "app": {"model", "data", "frontend", "core", "infra"},
    "cli": {"app", "infra.errors", "infra.text"},
}
#: the stable public paths of DESIGN §6, kept as re-export modules at the top of the package
SHIMS = {"audio", "features", "gmm", "classifier", "modelio"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(absolute gmmspeech module, imported names, line) for every import of gmmspeech code in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod == "gmmspeech" or mod.startswith("gmmspeech."):
                out.append((mod, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("gmmspeech")]
    return out


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) == 1:
        return None                      # the package root (__version__, lazy load_model)
    if parts[1] == "cli":
        return "cli"
    return parts[1] if parts[1] in ALLOWED else None


def _package_files():
    return sorted(PKG.rglob("*.py"))


def test_every_module_lives_in_a_layer():
    loose = [p.relative_to(PKG).as_posix() for p in PKG.glob("*.py")
             if p.stem not in SHIMS | {"__init__", "cli"}]
    assert loose == [], f"modules outside a layer folder: {loose}"


@pytest.mark.parametrize("path", _package_files(), ids=lambda p: p.relative_to(PKG).as_posix())
def test_imports_follow_the_layers(path):
    me = _module_name(path)
    layer = _layer(me)
    if layer is None:
        return
    bad = []
    for mod, _names, line in _imports(path):
        target = _layer(mod)
        if target is None or target == layer:
            # the package root offers __version__ and lazy loaders only
            if target is None and len(mod.split(".")) > 1 and mod.split(".")[1] not in SHIMS:
                bad.append(f"line {line}: {mod}")
            continue
        sub = ".".join(mod.split(".")[1:3])
        if target not in ALLOWED[layer] and sub not in ALLOWED[layer]:
            bad.append(f"line {line}: {layer} -> {mod}")
    assert bad == [], f"{me} imports against the layering: {bad}"


def test_the_package_keeps_out_of_the_shims():
    """Library code imports the real modules; the §6 paths are for users."""
    bad = [f"{_module_name(p)}: {mod}" for p in _package_files() if p.stem not in SHIMS
           for mod, _, _ in _imports(p) if mod.split(".")[-1] in SHIMS and mod.count(".") == 1]
    assert bad == []


@pytest.mark.parametrize("folder", ["gmmspeech", "tests", "benchmarks", "scripts"])
def test_no_private_name_crosses_a_module(folder):
    bad = []
    for path in sorted((REPO / folder).rglob("*.py")):
        me = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}
        for mod, names, line in _imports(path):
            if mod == me:
                continue
            bad += [f"{me}:{line} imports {mod}.{n}" for n in names if n.startswith("_") and n != "__version__"]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and "gmmspeech" in (node.module or ""):
                aliases.update({a.asname or a.name: a.name for a in node.names if not a.name.startswith("_")})
            if isinstance(node, ast.Import):
                aliases.update({(a.asname or a.name): a.name for a in node.names if a.name.startswith("gmmspeech")})
        modules = {k for k in aliases if k.islower()}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append(f"{me}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert bad == [], "private names used outside their module:\n" + "\n".join(bad)


def test_user_errors_share_one_root():
    from gmmspeech.app.pipeline import NoTrainingData, SchedulerNeedsCache
    from gmmspeech.app.recipe import RecipeError
    from gmmspeech.app.settings import SettingsError
    from gmmspeech.data.manifest import ManifestError
    from gmmspeech.data.prepare import LayoutError, PrepareError
    from gmmspeech.frontend.audio import AudioError
    from gmmspeech.infra.errors import DataError, GmmspeechError, UsageError
    from gmmspeech.infra.parallel import ClusterError
    from gmmspeech.model.modelio import ModelFileError

    for cls in (AudioError, ManifestError, RecipeError, SettingsError, LayoutError, PrepareError, ModelFileError,
                ClusterError, DataError, UsageError, NoTrainingData, SchedulerNeedsCache):
        assert issubclass(cls, GmmspeechError), cls
    import gmmspeech

    assert gmmspeech.GmmspeechError is GmmspeechError
