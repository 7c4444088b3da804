"""Calling policies: which waiting ticket a window calls next, and why.

A policy is a plain function ``(candidates, ctx) -> Choice`` in the spirit of
Ciw's service disciplines. :func:`choose` first keeps only the tickets the
window may serve (its categories, its clerk's skills, tickets transferred to
it), then hands them to the policy named in ``config.yaml``. The live server,
the simulation and the scheduler's look-ahead all call :func:`choose`, so a
simulated hall calls tickets in exactly the order the real one would.

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


@dataclass(frozen=True, slots=True)
class Choice:
    ticket: Ticket
    rule: str  # machine-readable: transfer | appointment | priority | aging | order
    reason: str  # for people, zh-CN


PolicyFn = Callable[[Sequence[Ticket], CallContext], Choice]


def is_eligible(ticket: Ticket, ctx: CallContext) -> bool:
    if ticket.state != "waiting":
        return False
    if ticket.target_window is not None:
        return ticket.target_window == ctx.window
    return ticket.category in ctx.categories


def _in_slot(ticket: Ticket, ctx: CallContext) -> bool:
    if ticket.appointment_start is None or ticket.appointment_end is None:
        return False
    early = ctx.policy.appointment_early_minutes * 60
    return ticket.appointment_start - early <= ctx.now <= ticket.appointment_end


def _minutes(seconds: float) -> int:
    return int(seconds // 60)


def _order_reason(ticket: Ticket, ctx: CallContext) -> str:
    return f"按取号顺序（已等待{_minutes(ctx.now - ticket.order_at)}分钟）"


def strict_priority(candidates: Sequence[Ticket], ctx: CallContext) -> Choice:
    """Transfers to this window, then appointments in their slot, then priority groups
    by level, then first come first served."""

    def rank(t: Ticket) -> int:
        if t.target_window is not None:
            return 100
        if _in_slot(t, ctx):
            return ctx.policy.appointment_level
        if t.priority_group is not None and t.priority_group in ctx.groups:
            return ctx.groups[t.priority_group].level
        return 0

    best = min(candidates, key=lambda t: (-rank(t), t.order_at, t.number))
    return _explain(best, ctx, rule_for_rank=rank(best) > 0)


def weighted_aging(candidates: Sequence[Ticket], ctx: CallContext) -> Choice:
    """Longest effective wait first: minutes waited plus the head start of an
    appointment in its slot or a priority group. A ticket waiting longer than
    ``max_wait_minutes`` is called before any head start counts."""
    bound = ctx.policy.max_wait_minutes * 60
    targeted = [t for t in candidates if t.target_window is not None]
    if targeted:
        return _explain(min(targeted, key=lambda t: (t.order_at, t.number)), ctx, rule_for_rank=True)
    overdue = [t for t in candidates if ctx.now - t.order_at >= bound]
    if overdue:
        t = min(overdue, key=lambda t: (t.order_at, t.number))
        waited = _minutes(ctx.now - t.order_at)
        return Choice(t, "aging", f"已等待{waited}分钟，超过{ctx.policy.max_wait_minutes:g}分钟上限，优先呼叫")

    def boost(t: Ticket) -> float:
        if _in_slot(t, ctx):
            return ctx.policy.appointment_boost_minutes * 60
        if t.priority_group is not None and t.priority_group in ctx.groups:
            return ctx.groups[t.priority_group].boost_minutes * 60
        return 0.0

    best = max(candidates, key=lambda t: (ctx.now - t.order_at + boost(t), -t.order_at))
    return _explain(best, ctx, rule_for_rank=boost(best) > 0)


def _explain(t: Ticket, ctx: CallContext, rule_for_rank: bool) -> Choice:
    if t.target_window is not None:
        return Choice(t, "transfer", f"转办至{ctx.window}号窗口，优先办理")
    if rule_for_rank and _in_slot(t, ctx):
        return Choice(t, "appointment", "预约时段内，按预约优先办理")
    if rule_for_rank and t.priority_group is not None and t.priority_group in ctx.groups:
        return Choice(t, "priority", f"{ctx.groups[t.priority_group].name}优先")
    return Choice(t, "order", _order_reason(t, ctx))


POLICIES: dict[str, PolicyFn] = {
    "strict_priority": strict_priority,
    "weighted_aging": weighted_aging,
}


def choose(waiting: Iterable[Ticket], ctx: CallContext) -> Choice | None:
    """The ticket window ``ctx.window`` calls next, or ``None`` when nobody it may serve waits."""
    candidates = [t for t in waiting if is_eligible(t, ctx)]
    if not candidates:
        return None
    return POLICIES[ctx.policy.name](candidates, ctx)
