"""No import cycles anywhere in bot, retrieval and prompts, module by module.

`lint-imports` (in `make check`) keeps the sibling modules of each package acyclic and the
packages in layers; what it does not see is a cycle through a package's own `__init__` (the
package imports a module of its own that imports the package back). This test sees every
cycle. Imports under `if TYPE_CHECKING:` count, as grimp counts them by default (and as
`lint-imports` does): a cycle there still ties the two modules' designs together."""

from __future__ import annotations

import grimp
import pytest

ROOTS = ("bot", "retrieval", "prompts")


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The groups of modules that import each other in a ring (strongly connected
    components of more than one module), each sorted."""
    order: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = lowest[module] = len(order)
        stack.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in order:
                visit(imported)
                lowest[module] = min(lowest[module], lowest[imported])
            elif imported in stack:
                lowest[module] = min(lowest[module], order[imported])
        if lowest[module] == order[module]:
            ring = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(ring) > 1:
                cycles.append(sorted(ring))

    for module in sorted(graph.modules):
        if module not in order:
            visit(module)
    return sorted(cycles)


def test_no_module_of_bot_retrieval_or_prompts_imports_itself_back() -> None:
    graph = grimp.build_graph(*ROOTS, cache_dir=None)
    assert import_cycles(graph) == []


@pytest.mark.parametrize(
    ("imports", "expected"),
    [
        ([("pkg", "pkg.a"), ("pkg.a", "pkg")], [["pkg", "pkg.a"]]),
        ([("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg.c", "pkg.a")], [["pkg.a", "pkg.b", "pkg.c"]]),
        ([("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg.a", "pkg.c")], []),
    ],
)  # fmt: skip
def test_import_cycles_finds_every_ring_and_nothing_else(
    imports: list[tuple[str, str]], expected: list[list[str]]
) -> None:
    graph = grimp.ImportGraph()
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == expected
