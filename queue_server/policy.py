"""Calling policies: which waiting ticket a window calls next, and why.

A policy is a plain function ``(candidates, rules, now, window) -> Choice`` in the
spirit of Ciw's service disciplines. :class:`CallRules` is a hall's policy
compiled once from ``config.yaml`` (the function and its parameters looked up in
advance); its :meth:`CallRules.choose` first keeps only the tickets the window
may serve (its categories, its clerk's skills, tickets transferred to it), then
hands them to the policy. The live server (through :func:`choose`), the
simulation and the scheduler's look-ahead all end in :meth:`CallRules.choose`,
so a simulated hall calls tickets in exactly the order the real one would.

Every policy honours, in this order:

1. a ticket transferred to *this* window (转办至本窗口) is served first;
2. an appointment inside its slot (from ``appointment_early_minutes`` before its
   start to its end) keeps its slot;
3. priority groups (老年人, 残疾人 …) before others;
4. otherwise the place in the queue (``order_at``: issue time, kept across a
   transfer).

``weighted_aging`` softens 2–3 into head starts and adds a bound: no ticket waits
longer than ``max_wait_minutes`` before it is called regardless (nobody waits
forever).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from .config import Policy, PriorityGroup
from .model import Ticket


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a policy may look at besides the waiting tickets."""

    now: float  # epoch seconds
    window: int
    categories: frozenset[str]  # the window's categories the clerk is skilled for
    policy: Policy
    groups: Mapping[str, PriorityGroup]


class Choice(NamedTuple):
    ticket: Ticket
    rule: str  # machine-readable: transfer | appointment | priority | aging | order
    reason: str  # for people, zh-CN


# _new(Choice, (ticket, rule, reason)) is Choice(ticket, rule, reason) without NamedTuple's
# Python-level __new__: choices are made on the simulation's hot path.
_new = tuple.__new__

PolicyFn = Callable[[Sequence[Ticket], "CallRules", float, int], Choice]


class CallRules:
    """A hall's calling policy compiled once from its configuration: the policy
    function and its parameters in seconds, the priority groups' levels, head
    starts and names in plain dictionaries. Holds no state of the hall: one
    object serves every window and every call."""

    __slots__ = (
        "appointment_boost",
        "appointment_level",
        "boosts",
        "bound",
        "bound_label",
        "early",
        "groups",
        "levels",
        "names",
        "order_reasons",
        "pick",
        "policy",
    )

    def __init__(self, policy: Policy, groups: Mapping[str, PriorityGroup]) -> None:
        self.policy = policy
        self.groups = dict(groups)
        self.pick: PolicyFn = POLICIES[policy.name]
        self.early = policy.appointment_early_minutes * 60
        self.appointment_level = policy.appointment_level
        self.appointment_boost = policy.appointment_boost_minutes * 60
        self.bound = policy.max_wait_minutes * 60
        self.bound_label = f"{policy.max_wait_minutes:g}"
        self.levels = {gid: g.level for gid, g in groups.items()}
        self.boosts = {gid: g.boost_minutes * 60 for gid, g in groups.items()}
        self.names = {gid: g.name for gid, g in groups.items()}
        self.order_reasons: dict[int, str] = {}  # the "order" reason by minutes waited, made once each

    def choose(self, waiting: Iterable[Ticket], now: float, window: int, categories: frozenset[str]) -> Choice | None:
        """The ticket ``window`` (serving ``categories``) calls at ``now`` (epoch seconds), or
        ``None`` when nobody it may serve waits: a waiting ticket transferred to this window,
        or one of its categories not transferred elsewhere."""
        candidates = []  # (a loop, not a comprehension: no extra frame on the simulation's hot path)
        for t in waiting:
            if t.state == "waiting" and (
                t.category in categories if t.target_window is None else t.target_window == window
            ):
                candidates.append(t)
        if not candidates:
            return None
        return self.pick(candidates, self, now, window)

    def in_slot(self, t: Ticket, now: float) -> bool:
        start, end = t.appointment_start, t.appointment_end
        return start is not None and end is not None and start - self.early <= now <= end

    def explain(self, t: Ticket, now: float, window: int, rule_for_rank: bool) -> Choice:
        if t.target_window is not None:
            return _new(Choice, (t, "transfer", f"转办至{window}号窗口，优先办理"))
        if rule_for_rank:
            if t.appointment_start is not None and self.in_slot(t, now):
                return _new(Choice, (t, "appointment", "预约时段内，按预约优先办理"))
            group = t.priority_group
            if group is not None and group in self.names:
                return _new(Choice, (t, "priority", f"{self.names[group]}优先"))
        waited = int((now - t.order_at) // 60)
        reason = self.order_reasons.get(waited)
        if reason is None:
            reason = self.order_reasons[waited] = f"按取号顺序（已等待{waited}分钟）"
        return _new(Choice, (t, "order", reason))


def strict_priority(candidates: Sequence[Ticket], rules: CallRules, now: float, window: int) -> Choice:
    """Transfers to this window, then appointments in their slot, then priority groups
    by level, then first come first served."""
    if len(candidates) == 1:  # the usual case in a quiet hall or with one queue per window
        return rules.explain(candidates[0], now, window, True)
    levels, appointment_level = rules.levels, rules.appointment_level

    def rank(t: Ticket) -> int:
        if t.target_window is not None:
            return 100
        if rules.in_slot(t, now):
            return appointment_level
        group = t.priority_group
        if group is not None and group in levels:
            return levels[group]
        return 0

    best = min(candidates, key=lambda t: (-rank(t), t.order_at, t.number))
    # A ticket ranked above 0 is exactly one explain() names by its rank (transfer, slot, group).
    return rules.explain(best, now, window, True)


def weighted_aging(candidates: Sequence[Ticket], rules: CallRules, now: float, window: int) -> Choice:
    """Longest effective wait first: minutes waited plus the head start of an
    appointment in its slot or a priority group. A ticket waiting longer than
    ``max_wait_minutes`` is called before any head start counts."""
    bound = rules.bound
    if len(candidates) == 1:
        t = candidates[0]
        if t.target_window is None and now - t.order_at >= bound:
            return _overdue(t, rules, now)
        return rules.explain(t, now, window, t.target_window is not None or _boost(t, rules, now) > 0)
    targeted = [t for t in candidates if t.target_window is not None]
    if targeted:
        return rules.explain(min(targeted, key=lambda t: (t.order_at, t.number)), now, window, True)
    overdue = [t for t in candidates if now - t.order_at >= bound]
    if overdue:
        return _overdue(min(overdue, key=lambda t: (t.order_at, t.number)), rules, now)
    best = max(candidates, key=lambda t: (now - t.order_at + _boost(t, rules, now), -t.order_at))
    return rules.explain(best, now, window, _boost(best, rules, now) > 0)


def _boost(t: Ticket, rules: CallRules, now: float) -> float:
    if rules.in_slot(t, now):
        return rules.appointment_boost
    group = t.priority_group
    if group is not None and group in rules.boosts:
        return rules.boosts[group]
    return 0.0


def _overdue(t: Ticket, rules: CallRules, now: float) -> Choice:
    waited = int((now - t.order_at) // 60)
    return _new(Choice, (t, "aging", f"已等待{waited}分钟，超过{rules.bound_label}分钟上限，优先呼叫"))


POLICIES: dict[str, PolicyFn] = {
    "strict_priority": strict_priority,
    "weighted_aging": weighted_aging,
}

_RULES: dict[int, CallRules] = {}


def call_rules(policy: Policy, groups: Mapping[str, PriorityGroup]) -> CallRules:
    """The compiled :class:`CallRules` for this policy and these groups (made once, then cached)."""
    rules = _RULES.get(id(policy))
    if rules is None or rules.policy is not policy or rules.groups != groups:
        if len(_RULES) > 64:
            _RULES.clear()
        rules = _RULES[id(policy)] = CallRules(policy, groups)
    return rules


def choose(waiting: Iterable[Ticket], ctx: CallContext) -> Choice | None:
    """The ticket window ``ctx.window`` calls next, or ``None`` when nobody it may serve waits."""
    return call_rules(ctx.policy, ctx.groups).choose(waiting, ctx.now, ctx.window, ctx.categories)
