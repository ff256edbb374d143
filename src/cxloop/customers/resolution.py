"""Identity resolution: which profile each incoming message belongs to.

The whole batch is resolved at once with a union-find over identifiers and existing profiles, so
the cost is linear in the batch size plus a handful of indexed lookups, never pairwise.

Rule: identifiers seen together in one message belong to one person, and an identifier already on a
profile links the message to that profile. When that joins two existing profiles they are merged.
Exception: two *different* user ids are never joined by a shared email/phone/etc. (a shared family
inbox must not fuse two accounts); only an explicit ``alias`` call joins user ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

Key = tuple[str, str]  # (identity kind, normalized value)
# a union-find node: a new identifier's Key, or ("c", customer id) standing for a known profile
Node = tuple[str, str | int]
UserIds = frozenset[str]
Link = tuple[Key, Key, bool]  # (anchor, key, joined by an alias call)


class ProfileUpdate(NamedTuple):
    """What one message says about its person. ``keys[0]`` is its anchor (the strongest id).

    A named tuple: bulk imports prepare updates in worker processes, and tuples cross process
    boundaries far cheaper than class instances.
    """

    keys: tuple[Key, ...]
    at: datetime
    traits: dict[str, Any] | None = None
    consents: tuple[tuple[str, bool], ...] = ()
    alias_of: tuple[str, ...] = ()  # alias call: previous ids declared to be this same person
    source: str = ""


class _UnionFind:
    """Disjoint sets over hashable nodes, each set carrying its user ids to refuse bad unions."""

    def __init__(self) -> None:
        self.parent: dict[Node, Node] = {}
        self.user_ids: dict[Node, UserIds] = {}

    def add(self, node: Node, user_ids: UserIds = frozenset()) -> None:
        if node not in self.parent:
            self.parent[node] = node
            self.user_ids[node] = user_ids
        elif user_ids:
            root = self.find(node)
            self.user_ids[root] = self.user_ids[root] | user_ids

    def find(self, node: Node) -> Node:
        parent = self.parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    def union(self, a: Node, b: Node, *, force: bool = False) -> bool:
        """Join the sets of a and b; refused (False) if that would put two user ids together."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ua, ub = self.user_ids[ra], self.user_ids[rb]
        if not force and ua and ub and ua != ub:
            return False
        if isinstance(rb, tuple) and rb[0] == "c" and not (isinstance(ra, tuple) and ra[0] == "c"):
            ra, rb = rb, ra  # keep customer nodes as roots: cheaper lookups later
        self.parent[rb] = ra
        self.user_ids[ra] = ua | ub
        return True


@dataclass
class Resolution:
    """Outcome of resolving a batch: a component per message, profiles found, merges to make."""

    component_of_update: list[Node] = field(default_factory=list)
    customers_in_component: dict[Node, list[int]] = field(default_factory=dict)
    keys_in_component: dict[Node, list[Key]] = field(default_factory=dict)
    # component -> the (anchor, key, by_alias) joins that made two known profiles one
    links: dict[Node, list[Link]] = field(default_factory=dict)
    # update index -> the two sets of user ids its alias would have joined (``guard_aliases``)
    refused: dict[int, tuple[UserIds, UserIds]] = field(default_factory=dict)


def resolve(
    updates: list[ProfileUpdate],
    existing: dict[Key, int],
    user_ids_of_customer: dict[int, UserIds],
    alias_keys: list[tuple[Key, ...]],
    *,
    guard_aliases: bool = False,
) -> Resolution:
    """Group messages, identifiers and existing profiles into people (pure, no database).

    ``alias_keys[i]`` are the keys update i's alias call joins to its anchor unconditionally;
    with ``guard_aliases`` (a public write key) an alias that would join two different user ids
    is not made but noted in ``refused``.
    """
    uf = _UnionFind()
    no_user_ids: UserIds = frozenset()

    def node_of(key: Key) -> Node:
        """A known identifier stands for its profile's node; a new one is a node of its own."""
        customer_id = existing.get(key)
        node: Node = key if customer_id is None else ("c", customer_id)
        if node not in uf.parent:
            if customer_id is None:
                uf.add(node, frozenset([key[1]]) if key[0] == "user_id" else no_user_ids)
            else:
                uf.add(node, user_ids_of_customer.get(customer_id, no_user_ids))
        return node

    out = Resolution()
    for index, (update, aliases) in enumerate(zip(updates, alias_keys, strict=True)):
        keys = update.keys
        anchor = node_of(keys[0])
        for key in keys[1:]:
            _join(uf, out, anchor, node_of(key), (keys[0], key, False))
        for key in aliases:
            link = (keys[0], key, True)
            refused = _join(uf, out, anchor, node_of(key), link, force=not guard_aliases)
            if refused is not None:
                out.refused[index] = refused
        out.component_of_update.append(anchor)

    out.component_of_update = [uf.find(node) for node in out.component_of_update]
    joins, out.links = out.links, {}
    for node, found in joins.items():
        out.links.setdefault(uf.find(node), []).extend(found)
    for node in uf.parent:
        root = uf.find(node)
        if node[0] == "c":
            out.customers_in_component.setdefault(root, []).append(cast(int, node[1]))
        else:
            out.keys_in_component.setdefault(root, []).append(cast(Key, node))
    return out


def _join(
    uf: _UnionFind,
    out: Resolution,
    anchor: Node,
    node: Node,
    link: Link,
    *,
    force: bool | None = None,
) -> tuple[UserIds, UserIds] | None:
    """Join two sets (an alias link forces it unless ``force`` is False); the two sets of user
    ids when the join is refused."""
    ra, rb = uf.find(anchor), uf.find(node)
    if ra == rb:
        return None
    both_known = ra[0] == "c" and rb[0] == "c"
    if not uf.union(anchor, node, force=link[2] if force is None else force):
        return uf.user_ids[ra], uf.user_ids[rb]
    if both_known:
        out.links.setdefault(anchor, []).append(link)
    return None
