"""What the customers app asks other apps to do with one person's rows: merge, unmerge, export,
erase.

Each domain app that keeps rows per customer registers its handlers in its ``AppConfig.ready()``
(``register_customer_handlers``); ``customers`` calls them explicitly, in registration order
(the order of ``INSTALLED_APPS``), never through signals or a walk over ``Customer``'s relations,
so every app moves its own rows by its own rules and keeps its own constraints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# (*, survivor_id, merged_id) -> (rows moved, what moved: JSON-able, kept on the merge record
# for an unmerge)
MergeHandler = Callable[..., tuple[int, dict[str, Any]]]
# (*, holder_id, restored_id, moved, identities) -> rows moved back. ``holder_id``: the live
# profile holding the survivor's rows now; ``moved``: what the merge handler returned;
# ``identities``: the restored profile's own (kind, value) identifiers.
UnmergeHandler = Callable[..., int]
# (*, customer_ids) -> {table name: [row as a JSON-able dict]}
ExportRows = Sequence[Mapping[str, Any]]
ExportHandler = Callable[..., Mapping[str, ExportRows]]
# (*, customer_ids) -> {table name: rows deleted or anonymized}
EraseHandler = Callable[..., dict[str, int]]


@dataclass(frozen=True)
class CustomerHandlers:
    app_label: str
    merge: MergeHandler
    unmerge: UnmergeHandler
    export: ExportHandler
    erase: EraseHandler


_registry: dict[str, CustomerHandlers] = {}


def register_customer_handlers(
    app_label: str,
    *,
    merge: MergeHandler,
    unmerge: UnmergeHandler,
    export: ExportHandler,
    erase: EraseHandler,
) -> None:
    """Register an app's handlers (once per app; registering again replaces them)."""
    _registry[app_label] = CustomerHandlers(app_label, merge, unmerge, export, erase)


def customer_handlers() -> list[CustomerHandlers]:
    """The registered handlers, in registration order."""
    return list(_registry.values())
