"""HallService: the one command path of a hall.

Every state change — from the HTTP API, a page, the kiosk, the rebalancer, the
demo driver — goes through :meth:`HallService.execute`:

1. if the caller gave an idempotency key that was already used, answer what the
   first request got (and refuse a different request under the same key);
2. :func:`~queue_server.commands.decide` checks the command against this
   process's view of the hall and yields one event (a refusal counts only on a
   current view: with a shared store it is confirmed against the store's ``seq``);
3. the store appends the event only if nobody appended since that view
   (compare-and-set on ``seq``); on a conflict the service reads the events it
   missed and decides again;
4. the event is applied to the local state and handed to the listeners (the
   WebSocket hub), in ``seq`` order, and only then is the caller answered.

With a shared store (Redis: several workers and machines on one hall) commands are
**group-committed**: callers queue their commands; one task per hall takes the
hall's turn from the store (getting, in the same round trip, the events it has not
seen and the records of the idempotency keys in the queue), decides every queued
command in order on a scratch copy of the state — each decision sees the events of
the ones before it — and appends the whole run with one compare-and-set. Nothing
is applied to the state everyone reads (``state``) or sent to any listener before
the run is stored; a failed run is thrown away with the scratch copy and decided
again. One command still makes one event, a refusal is still confirmed by the
compare-and-set, a key still answers its first result, and a ticket is still
called by exactly one window — with two round trips per batch instead of one per
command, and no command waiting behind another's round trip.

The embedded store is one process whose appends never wait, so each command is
decided and appended on its own, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import Clock, SystemClock
from .commands import Command, decide
from .config import Hall
from .errors import CommandRejected, HallqError, StoreUnavailable
from .estimate import TwinWait
from .model import Event, HallState, apply_event
from .stores.base import IdempotencyRecord, Store, Turn

log = logging.getLogger("hallq")

MAX_CONFLICT_RETRIES = 50
# After a lost compare-and-set, wait a random moment (doubling, up to this cap) before
# trying again, so many writers on one hall do not keep colliding in lock-step.
CONFLICT_BACKOFF_CAP_SECONDS = 0.05
# Commands decided and appended together at most (one Lua call with this many events).
MAX_BATCH = 256
# How long a command may wait for the hall's turn (other writers' batches) before it is refused.
TURN_WAIT_LIMIT_SECONDS = 10.0
Listener = Callable[[Event], None]


@dataclass(slots=True, eq=False)
class _Pending:
    """A queued command and the future its caller awaits."""

    cmd: Command
    actor: str
    key: str | None
    fingerprint: str
    future: asyncio.Future[dict[str, Any]]

    def settle(self, result: dict[str, Any] | None = None, error: BaseException | None = None) -> None:
        if self.future.done():  # the caller went away (cancelled)
            return
        if error is not None:
            self.future.set_exception(error)
        else:
            assert result is not None
            self.future.set_result(result)


class HallService:
    def __init__(self, hall: Hall, store: Store, clock: Clock | None = None, *, batched: bool | None = None) -> None:
        """``batched``: group-commit commands (default: when the store is shared by several processes)."""
        self.hall = hall
        self.store = store
        self.clock = clock or SystemClock()
        self.state = HallState(hall.id)
        self.batched = store.shared if batched is None else batched
        self._lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        # group commit: this writer's id for the hall's turn, the queue and the task that drains it
        self._writer = uuid.uuid4().hex
        self._pending: deque[_Pending] = deque()
        self._committer: asyncio.Task[None] | None = None
        # the state batches are decided on: ``state`` plus the events of the batch in flight
        self._scratch: HallState | None = None
        self.batches = 0  # batches committed (and commands in them), for /metrics and tests
        self.batched_commands = 0
        self.forks = 0  # scratch copies made (at the first batch, and after each rollback)
        self.rollbacks = 0  # batches thrown away (someone stored events or used a key since the view)
        # the live twin's wait per waiting ticket, when the server runs one for this hall
        self.twin_wait: TwinWait | None = None

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event applied from now on; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def start(self) -> None:
        """Rebuild the state from the store's events."""
        await self.catch_up()

    async def catch_up(self) -> list[Event]:
        """Apply every stored event this process has not seen yet; returns them."""
        async with self._lock:
            return await self._catch_up()

    async def _catch_up(self) -> list[Event]:
        events = await self.store.read(self.hall.id, self.state.seq)
        for event in events:
            self._apply(event)
        return events

    async def ingest(self, events: list[Event]) -> None:
        """Apply events another process appended (read from the store's stream), in order."""
        async with self._lock:
            for event in events:
                if event.seq <= self.state.seq:
                    continue
                if event.seq != self.state.seq + 1:
                    await self._catch_up()  # a gap: read the store itself
                    break
                self._apply(event)

    def _apply(self, event: Event) -> None:
        """Apply a stored event to ``state`` (and the scratch copy), then tell the listeners."""
        apply_event(self.state, event)
        scratch = self._scratch
        if scratch is not None:
            if scratch.seq == event.seq - 1:
                apply_event(scratch, event)
            elif scratch.seq < event.seq:
                self._scratch = None  # behind: copied afresh when next needed
            # else: the scratch copy already has it (this batch decided it)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not undo or stop the stored event's delivery
                log.exception("hall %s: listener failed on event %s", self.hall.id, event.seq)

    def now_iso(self, now: float) -> str:
        return datetime.fromtimestamp(now, self.hall.tz).isoformat(timespec="milliseconds")

    async def execute(self, cmd: Command, actor: str, idempotency_key: str | None = None) -> dict[str, Any]:
        """Validate and apply ``cmd``; return its result with the event's ``seq``.

        Raises :class:`CommandRejected` (nothing stored) or ``StoreUnavailable``.
        """
        if not self.batched:
            return await self._execute_alone(cmd, actor, idempotency_key)
        loop = asyncio.get_running_loop()
        pending = _Pending(cmd, actor, idempotency_key, cmd.fingerprint(), loop.create_future())
        self._pending.append(pending)
        if self._committer is None:
            self._committer = loop.create_task(self._drain(), name=f"hallq-commit-{self.hall.id}")
        return await pending.future

    # ------------------------------------------------------------ one command at a time

    async def _execute_alone(self, cmd: Command, actor: str, idempotency_key: str | None) -> dict[str, Any]:
        fingerprint = cmd.fingerprint()
        async with self._lock:
            for attempt in range(MAX_CONFLICT_RETRIES):
                now = self.clock.now()
                if idempotency_key is not None:
                    prior = await self.store.idempotency(self.hall.id, idempotency_key, now)
                    if prior is not None:
                        return self._replay(prior, fingerprint)
                try:
                    decision = decide(self.hall, self.state, cmd, now)
                except CommandRejected:
                    # Refuse only on a current view: another process on the same store may
                    # have appended an event this one has not applied yet.
                    if await self.store.last_seq(self.hall.id) > self.state.seq:
                        await self._catch_up()
                        continue
                    raise
                event = Event(
                    seq=self.state.seq + 1,
                    hall=self.hall.id,
                    ts=self.now_iso(now),
                    actor=actor,
                    type=decision.type,
                    data=decision.data,
                )
                result = decision.result | {"seq": event.seq, "event": event.type}
                record = IdempotencyRecord(fingerprint, result, event.seq, now) if idempotency_key else None
                outcome = await self.store.append(event, idempotency_key, record)
                if outcome.status == "ok":
                    self._apply(event)
                    return result
                if outcome.status == "duplicate" and outcome.record is not None:
                    await self._catch_up()
                    return self._replay(outcome.record, fingerprint)
                # another process got there first: back off a little, then look again
                await asyncio.sleep(random.uniform(0, min(CONFLICT_BACKOFF_CAP_SECONDS, 0.001 * 2**attempt)))
                await self._catch_up()
        raise HallqError(f"hall {self.hall.id}: gave up after {MAX_CONFLICT_RETRIES} conflicting attempts")

    # ------------------------------------------------------------ group commit

    async def _drain(self) -> None:
        """Commit queued commands, batch after batch, until the queue is empty."""
        batch: list[_Pending] = []
        try:
            while self._pending:
                batch = []
                while self._pending and len(batch) < MAX_BATCH:
                    pending = self._pending.popleft()
                    if not pending.future.done():  # skip callers that went away before their turn
                        batch.append(pending)
                if batch:
                    await self._commit_batch(batch)
                batch = []
        except BaseException as exc:  # cancelled at shutdown: nobody may wait forever
            error = exc if isinstance(exc, Exception) else StoreUnavailable("服务正在停止 (the server is stopping)")
            for pending in (*batch, *self._pending):
                pending.settle(error=error)
            self._pending.clear()
            raise
        finally:
            self._committer = None

    async def _commit_batch(self, batch: list[_Pending]) -> None:
        """Decide and store ``batch``; every command's caller gets its answer or its error."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TURN_WAIT_LIMIT_SECONDS
        failed_attempts = 0
        # A lone command first tries without the turn: decided on this worker's view and stored
        # if that view is current and no other writer has the turn — one round trip, as a
        # quiet hall's commands mostly are. Otherwise (or for a batch) the turn is taken.
        alone = len(batch) == 1
        try:
            while batch:
                if alone:
                    alone = False
                    async with self._lock:
                        batch = await self._decide_and_commit(batch, None)
                    continue
                turn: Turn | None = None
                async with self._lock:
                    keys = list(dict.fromkeys(p.key for p in batch if p.key is not None))
                    turn = await self._begin(keys)
                    if not turn.busy:
                        batch = await self._decide_and_commit(batch, turn)
                        if batch:
                            failed_attempts += 1
                            if failed_attempts >= MAX_CONFLICT_RETRIES:
                                raise HallqError(
                                    f"hall {self.hall.id}: gave up after {MAX_CONFLICT_RETRIES} conflicting attempts"
                                )
                        continue
                if loop.time() > deadline:
                    raise StoreUnavailable("大厅写入繁忙，请稍后重试 (the hall is busy with other writers; try again)")
                await self.store.wait_turn(self.hall.id, self._writer, turn.wait)
        except Exception as exc:
            if not isinstance(exc, StoreUnavailable):  # (a failed commit already dropped its scratch state)
                self._scratch = None  # a bug mid-batch: the scratch state may hold half a decision
            with contextlib.suppress(Exception):
                await self.store.release(self.hall.id, self._writer)
            for pending in batch:
                pending.settle(error=exc)

    async def _begin(self, keys: list[str]) -> Turn:
        """Ask for the turn; once more after a connection error (asking writes nothing but the turn,
        so asking again is safe), so that one connection that broke with a Redis restart does not
        refuse a batch the store could serve."""
        try:
            return await self.store.begin(self.hall.id, self._writer, self.state.seq, keys, self.clock.now())
        except StoreUnavailable:
            await asyncio.sleep(0.05)
            return await self.store.begin(self.hall.id, self._writer, self.state.seq, keys, self.clock.now())

    async def _decide_and_commit(self, batch: list[_Pending], turn: Turn | None) -> list[_Pending]:
        """With the hall's ``turn`` (or without, for a lone command): decide ``batch`` in order and
        store its events in one run.

        Returns the commands to try again (all of them, after a conflict), or ``[]``.
        """
        if turn is not None:
            for event in turn.events:  # what other writers stored since our view
                if event.seq == self.state.seq + 1:
                    self._apply(event)
            if turn.last_seq > self.state.seq:
                await self._catch_up()
        todo = []
        for pending in batch:
            prior = turn.records.get(pending.key) if turn is not None and pending.key is not None else None
            if prior is None:
                todo.append(pending)
                continue
            try:
                pending.settle(self._replay(prior, pending.fingerprint))
            except CommandRejected as exc:
                pending.settle(error=exc)

        base = self.state.seq
        state = self.state
        if len(todo) > 1:
            if self._scratch is None or self._scratch.seq != base:
                started = time.perf_counter()
                self._scratch = copy.deepcopy(self.state)
                self.forks += 1
                log.info(
                    "hall %s: scratch state copied at seq %s in %.1f ms",
                    self.hall.id,
                    base,
                    (time.perf_counter() - started) * 1000,
                )
            state = self._scratch
        events: list[Event] = []
        keyed: list[tuple[str, IdempotencyRecord]] = []
        answers: list[tuple[_Pending, dict[str, Any] | None, BaseException | None]] = []
        first: dict[str, int] = {}  # idempotency key -> index in answers of its first command
        twins: list[tuple[_Pending, int]] = []  # a key used twice in one batch: answered like the first
        for pending in todo:
            if pending.key is not None:
                if pending.key in first:
                    twins.append((pending, first[pending.key]))
                    continue
                first[pending.key] = len(answers)
            now = self.clock.now()
            try:
                decision = decide(self.hall, state, pending.cmd, now)
            except Exception as exc:  # a refusal; it counts once the run's compare-and-set confirms the view
                answers.append((pending, None, exc))
                continue
            event = Event(
                base + len(events) + 1, self.hall.id, self.now_iso(now), pending.actor, decision.type, decision.data
            )
            result = decision.result | {"seq": event.seq, "event": event.type}
            if pending.key is not None:
                keyed.append((pending.key, IdempotencyRecord(pending.fingerprint, result, event.seq, now)))
            if state is not self.state:
                apply_event(state, event)  # the next decision sees this one
            events.append(event)
            answers.append((pending, result, None))

        try:
            outcome = await self.store.commit(self.hall.id, self._writer, base, events, keyed, unless_busy=turn is None)
        except BaseException:
            if state is not self.state:
                self._scratch = None
            raise
        if outcome.status != "ok":  # someone stored events (or used a key) since our view: decide again
            self.rollbacks += 1
            log.debug(
                "hall %s: batch of %s at seq %s: %s, deciding again", self.hall.id, len(todo), base, outcome.status
            )
            if state is not self.state:
                self._scratch = None
            return todo
        # Answer first, then apply and publish, all in this one step (no caller runs before every
        # event is applied): the callers are woken before the hundreds of board connections the
        # events wake, as when a command was executed by its caller's own task.
        self.batches += 1
        self.batched_commands += len(todo)
        for pending, answer, error in answers:
            pending.settle(answer, error)
        for pending, index in twins:
            original, answer, error = answers[index]
            if answer is None:
                pending.settle(error=error)
                continue
            try:
                twin = IdempotencyRecord(original.fingerprint, answer, 0, self.clock.now())
                pending.settle(self._replay(twin, pending.fingerprint))
            except CommandRejected as exc:
                pending.settle(error=exc)
        for event in events:
            self._apply(event)
        return []

    @staticmethod
    def _replay(prior: IdempotencyRecord, fingerprint: str) -> dict[str, Any]:
        if prior.fingerprint != fingerprint:
            raise CommandRejected(
                "idempotency_key_reused",
                "该 Idempotency-Key 已用于另一个请求 (this Idempotency-Key was used for a different request)",
                "Idempotency-Key",
                422,
            )
        return prior.result | {"replayed": True}
