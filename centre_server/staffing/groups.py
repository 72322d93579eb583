"""Groups of services that share counters: a counter serving two services joins their queues.

What one group's counters do never touches another group's queue, so the advisor
plans (and the simulated history staffs) each group on its own.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Group:
    """Services that share counters, and those counters."""

    services: tuple[str, ...]
    counters: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.services[0]


def groups_of(counters: dict[str, list[str]]) -> list[Group]:
    """The connected groups of services and counters (a counter joins every service it serves)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for sv in counters.values():
        for s in sv:
            find(s)
        for s in sv[1:]:
            parent[find(s)] = find(sv[0])
    services: dict[str, list[str]] = defaultdict(list)
    members: dict[str, list[str]] = defaultdict(list)
    for s in parent:
        services[find(s)].append(s)
    for cid, sv in counters.items():
        if sv:
            members[find(sv[0])].append(cid)
    out = [Group(tuple(sorted(services[r])), tuple(sorted(members[r]))) for r in services if members[r]]
    return sorted(out, key=lambda g: g.counters[0])
