"""Country Groups over time (rules/country_groups.yaml): which groups a destination is in on a date.

Membership data carry their own fact status; an answer that leans on an UNCONFIRMED membership can
say so (`Membership.fact`). Hong Kong is answered as China from 2020-12-23 (alias in the rule file).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiexport.rulebook import Membership, Resolved, Scope

INSTRUMENT = "country_groups"


@dataclass(frozen=True)
class GroupFact:
    group: str
    member: bool
    membership: Membership | None  # the entry that makes it a member (its fact and citation)


def canonical(country: str, resolved: Resolved) -> str:
    """The destination the EAR treats `country` as on the resolved date (HK -> CN)."""
    code = country.strip().upper()
    alias = resolved[INSTRUMENT].aliases.get(code)
    return alias.as_ if alias else code


def group_fact(country: str, group: str, resolved: Resolved) -> GroupFact:
    code = canonical(country, resolved)
    members = resolved[INSTRUMENT].groups.get(group)
    if members is None:
        raise KeyError(f"unknown country group {group!r}")
    hit = next((m for m in members if code in m.countries), None)
    return GroupFact(group, hit is not None, hit)


def groups_of(country: str, resolved: Resolved) -> list[str]:
    """Every group `country` is in on the resolved date, in rule-file order."""
    code = canonical(country, resolved)
    return [g for g, members in resolved[INSTRUMENT].groups.items() if any(code in m.countries for m in members)]


SCOPE_INSTRUMENT = "ac_destination_scope"


def scope_members(name: str, resolved: Resolved) -> set[str]:
    """The destinations in a named scope (`destination`, `headquarters`) on the resolved date; empty
    before the scope existed."""
    version = resolved[SCOPE_INSTRUMENT].version
    return set(scope_set(version.scopes.get(name) if version else None, resolved))


def in_scope(country: str, name: str, resolved: Resolved) -> bool:
    return canonical(country, resolved) in scope_members(name, resolved)


def scope_set(scope: Scope | None, resolved: Resolved) -> frozenset[str]:
    """The destinations of any Scope (set algebra over the country groups on the resolved date)."""
    if scope is None:
        return frozenset()
    groups = resolved[INSTRUMENT].groups

    def members(group: str) -> set[str]:
        if group not in groups:
            raise KeyError(f"unknown country group {group!r}")
        return {c for m in groups[group] for c in m.countries}

    out: set[str] = set()
    for g in scope.union:
        out |= members(g)
    for g in scope.minus:
        out -= members(g)
    return frozenset(out | set(scope.countries))
