"""The package's import graph has no circles (imports inside functions count too: a lazy import that closes a
circle is still one), and every folder's modules are named for what they hold."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "tcdecomp"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The tcdecomp modules ``path`` imports, anywhere in it."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("tcdecomp")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("tcdecomp"):
                target = node.module
            else:
                continue
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}  # "from . import triton_glse"
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {t for t in imports(path) if t in modules and t != name} for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_circles():
    # A package's __init__ re-exports its modules; a module importing its own package's __init__ is the usual
    # way in, not a circle of design: only circles between modules count.
    edges = {v: {w for w in ws if not v.startswith(w + ".")} for v, ws in graph().items()}
    assert cycles(edges) == []


def test_cycles_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_folders_hold_what_their_names_say():
    folders = {p.parent.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE}
    assert folders == {"kernels", "vae", "vae/metrics", "validation", "sweeps", "experiments"}
    metrics = {p.stem for p in (PACKAGE / "vae" / "metrics").glob("*.py")}
    assert metrics == {"__init__", "elbo", "mig", "suite", "interventions", "registry", "results"}
    assert not (PACKAGE / "vae" / "suite.py").exists()  # every metric lives in tcdecomp.vae.metrics
    assert {p.stem for p in (PACKAGE / "validation").glob("*.py")} == {"__init__", "report", "families"}
    assert not (PACKAGE / "io.py").exists()  # it shadowed the standard library's io where both were imported
