"""Which canaries and diagnostics exist, read from the modules of this package.

A module of ``canary/`` is a canary or diagnostic when it declares ``KIND``
(``"canary"`` or ``"diagnostic"``) and ``ORDER`` (its column in the matrix);
a diagnostic also declares ``EXPLAINS``: the canary whose transcript it reads,
or None when it talks to the runtime itself. The constants are read from the
source without importing it, so this works with the standard library alone.
"""

from __future__ import annotations

import ast
import functools
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

KINDS = ("canary", "diagnostic")
_PACKAGE_DIR = Path(__file__).parent
_CONSTANTS = ("KIND", "ORDER", "EXPLAINS", "NEEDS", "SHORT", "USUAL", "DEFAULT", "ALONE")


@dataclass(frozen=True)
class Spec:
    """One canary or diagnostic, as its module declares it.

    Attributes:
        id: The module's name, e.g. ``name_recall``.
        kind: ``canary`` or ``diagnostic``.
        order: Its place among the matrix's columns.
        explains: For a diagnostic, the canary whose transcript it reads.
        needs: What a template must have for it to apply (``model_sim``: ``model = "sim"``).
        short: Its column head in the compact matrix.
        usual: What a diagnostic observes on a healthy runtime: not worth a bracket.
        default: A canary a template runs when it names none (new canaries are off until
            they are green on the reference).
        alone: Its conversation runs after every other one has ended: it times its own
            turns against each other, and another conversation's turns would blur that.
    """

    id: str
    kind: str
    order: int
    explains: str | None = None
    needs: str | None = None
    short: str = ""
    usual: str | None = None
    default: bool = True
    alone: bool = False

    def module(self) -> ModuleType:
        """Import the module (conversation and checks)."""
        return importlib.import_module(f"{__package__}.{self.id}")


def _constants(path: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in _CONSTANTS:
                found[target.id] = ast.literal_eval(node.value)
    return found


@functools.cache
def specs() -> dict[str, Spec]:
    """Every canary and diagnostic by id, canaries first, each kind in ``ORDER``."""
    found = []
    for info in pkgutil.iter_modules([str(_PACKAGE_DIR)]):
        constants = _constants(_PACKAGE_DIR / f"{info.name}.py")
        if "KIND" not in constants:
            continue  # a helper module
        kind, order = constants["KIND"], constants.get("ORDER", 0)
        explains, needs = constants.get("EXPLAINS"), constants.get("NEEDS")
        usual = constants.get("USUAL")
        if kind not in KINDS or not isinstance(order, int):
            raise ValueError(f"canary/{info.name}.py: KIND must be one of {KINDS}, ORDER an int")
        found.append(
            Spec(
                id=info.name,
                kind=str(kind),
                order=order,
                explains=None if explains is None else str(explains),
                needs=None if needs is None else str(needs),
                short=str(constants.get("SHORT") or info.name),
                usual=None if usual is None else str(usual),
                default=bool(constants.get("DEFAULT", True)),
                alone=bool(constants.get("ALONE", False)),
            )
        )
    found.sort(key=lambda s: (KINDS.index(s.kind), s.order, s.id))
    return {spec.id: spec for spec in found}


def canary_ids() -> tuple[str, ...]:
    """Ids of the canaries (what ``templates.toml``'s ``canaries`` lists)."""
    return tuple(s.id for s in specs().values() if s.kind == "canary")


def default_canary_ids() -> tuple[str, ...]:
    """The canaries a template runs when neither it nor ``[defaults]`` names any."""
    return tuple(s.id for s in specs().values() if s.kind == "canary" and s.default)


def diagnostic_ids() -> tuple[str, ...]:
    """Ids of the layer diagnostics."""
    return tuple(s.id for s in specs().values() if s.kind == "diagnostic")


def selected(
    canaries: tuple[str, ...], requested: tuple[str, ...] | None, has: frozenset[str] = frozenset()
) -> tuple[str, ...]:
    """What a template runs: its canaries and the diagnostics they support.

    Args:
        canaries: The template's canaries.
        requested: Ids asked for on the command line (None: everything that applies).
        has: What the template has that some diagnostics need (``model_sim``).

    Returns:
        The ids to judge, in column order; empty when none of the requested applies.
    """
    table = specs()
    applies = [
        cid
        for cid, spec in table.items()
        if (cid in canaries)
        or (
            spec.kind == "diagnostic"
            and (spec.explains is None or spec.explains in canaries)
            and (spec.needs is None or spec.needs in has)
        )
    ]
    if requested is None:
        return tuple(applies)
    return tuple(cid for cid in applies if cid in requested)


def conversations(judged: tuple[str, ...]) -> tuple[str, ...]:
    """The conversations to drive so that every judged id has its evidence.

    A diagnostic that explains a canary needs that canary's conversation even
    when the canary itself is not judged.
    """
    table = specs()
    needed = set(judged) | {table[c].explains for c in judged if table[c].explains}
    return tuple(cid for cid in table if cid in needed)
