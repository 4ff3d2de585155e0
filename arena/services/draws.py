"""An adaptive arena judged by people draws each battle when a voter asks.

There is no batch planned ahead to run out of: when a voter holds no battle and none is
free (arena.services.battles), the tournament's sampler draws a pair for them with the
probabilities of ``adaptive.draw_probabilities`` (on the matches planned per pair and the
votes in the evidence cells: counts, so a draw costs the same at any size),
and the match is made at once, kept with the probability of its draw
(``Match.draw_probability``; the fit can weight its votes by the inverse). The
probabilities are worked out again at most once per ``PLAN_TTL_S`` per tournament (a fit
on the counts), by one request while the others draw with the last ones: a second of
votes hardly moves them; an argmax sampler's after each draw. (The budget is checked
against the matches made, not the plan's count.)

The prompt is the next one of the tournament's seeded prompt order (one per match, as the
planned batches had it) for which both answers are stored and name no model (arena.identity);
when none is, the match is made pending for a worker to fetch its answers, and the voter
is given another battle meanwhile. Arenas whose answers are imported or generated ahead
(``import_answers``) always find them. A draw is random when the voter asks, not replayed
from the seed; the match records what was drawn.

Matches are numbered as the batches would have been (round = matches // ``batch``): two
voters drawing at once compute the same slot, and the second is shown the first's match.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from arena.evidence import source_of
from arena.formats import FormatState
from arena.formats._common import prompt_order
from arena.formats.adaptive import ARGMAX_SAMPLERS, Tally, answer_order, draw_probabilities
from arena.identity import contestant_identity, identity_words_in
from arena.models import (
    Assignment,
    Contestant,
    Match,
    MatchEntry,
    MatchStatus,
    PairCell,
    Response,
    Tournament,
)
from arena.queueing import enqueue_advance

_M, _E = Match._meta.db_table, MatchEntry._meta.db_table

# How long a tournament's draw probabilities are used before they are worked out again,
# and how long the last ones are kept for the requests that draw while they are.
PLAN_TTL_S = 1.0
PLAN_KEEP_S = 60.0


@dataclass(frozen=True)
class Plan:
    """What a draw needs, worked out once per PLAN_TTL_S: pairs of contestant ids with
    their probabilities, the tally (who answered first how often), the prompt ids in the
    seeded order, the most matches, the contestants' answer keys, and whether the sampler
    takes its best pair rather than sampling (``argmax``: worked out again after each
    draw, or a second of draws would all go to one pair)."""

    ids: tuple[int, ...]
    pairs: tuple[tuple[int, int], ...]
    probabilities: tuple[float, ...]
    tally: Tally
    prompts: tuple[int, ...]
    batch: int
    most: int
    # id: (settings hash, identity_words_in's arguments for its answers)
    answer_keys: dict[int, tuple[str, dict[str, tuple[str, ...]]]]
    argmax: bool = False


def _tally(tournament: Tournament, ids: tuple[int, ...]) -> Tally:
    """What the sampler decides on, from counts (not a read of every match): the matches
    planned per pair and who answered first, in one grouped query, and the votes per pair
    and outcome from the evidence cells (every vote, a shared battle's later ones too)."""
    index = {c: k for k, c in enumerate(ids)}
    tally = Tally(len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT f.contestant_id, s.contestant_id, COUNT(*) FROM {_M} m"
            f" JOIN {_E} f ON f.match_id = m.id AND f.position = 0"
            f" JOIN {_E} s ON s.match_id = m.id AND s.position = 1"
            " WHERE m.tournament_id = %s GROUP BY f.contestant_id, s.contestant_id",
            [tournament.pk],
        )
        for first, second, n in cursor.fetchall():
            i, j = index[first], index[second]
            tally.pair_count[i, j] += n
            tally.pair_count[j, i] += n
            tally.first[i] += n
            tally.planned += n
    cells = (
        PairCell.objects.filter(tournament=tournament, source=source_of(None))
        .values_list("a_id", "b_id")
        .annotate(Sum("a_wins"), Sum("b_wins"), Sum("ties"))
    )
    for a, b, a_wins, b_wins, ties in cells:
        i, j = index[a], index[b]
        tally.wins[i, j] += a_wins
        tally.wins[j, i] += b_wins
        tally.ties[min(i, j), max(i, j)] += ties
        tally.judged[[i, j]] += a_wins + b_wins + ties
    return tally


def _plan_now(tournament: Tournament) -> Plan | None:
    ids = tuple(sorted(tournament.contestants.values_list("pk", flat=True)))
    prompt_ids = list(tournament.prompt_set.prompts.order_by("id").values_list("id", flat=True))
    state = FormatState(ids, len(prompt_ids), tournament.config, tournament.draw_seed)
    tally = _tally(tournament, ids)
    drawn = draw_probabilities(tally, state.config)
    if drawn is None:
        return None
    pairs, probabilities = drawn
    most = int(state.config["max_matches"])
    if tournament.budget is not None:  # judged by people: each match is one of the budget
        most = min(most, tournament.budget)
    keys = {
        c.pk: (
            c.settings_hash,
            contestant_identity(name=c.name, model_id=c.model_id, base_url=c.base_url),
        )
        for c in Contestant.objects.filter(pk__in=ids)
    }
    return Plan(
        ids=ids,
        pairs=tuple((int(a), int(b)) for a, b in pairs),
        probabilities=tuple(float(p) for p in probabilities),
        tally=tally,
        prompts=tuple(prompt_ids[i] for i in prompt_order(state)),
        batch=int(state.config["batch"]),
        most=most,
        answer_keys=keys,
        argmax=state.config["sampler"] in ARGMAX_SAMPLERS,
    )


def draw_plan_key(tournament_id: int) -> str:
    return f"arena:draw-plan:{tournament_id}"


def _plan(tournament: Tournament) -> Plan | None:
    """The tournament's plan: worked out again by one request per PLAN_TTL_S (the one that
    adds the key saying it is fresh); the others meanwhile draw with the one before, rather
    than all refitting at once."""
    key = draw_plan_key(tournament.pk)
    cached = cache.get(key)
    if cached is None or cache.add(f"{key}:fresh", 1, timeout=PLAN_TTL_S):
        cached = (_plan_now(tournament),)
        cache.set(key, cached, timeout=PLAN_KEEP_S)
    plan: Plan | None = cached[0]
    return plan


def _revealed(session_key: str) -> frozenset[int]:
    """The answers this voter has seen named: those of the battles they voted on."""
    if not session_key:
        return frozenset()
    return frozenset(
        MatchEntry.objects.filter(
            match__assignments__session_key=session_key,
            match__assignments__voted=True,
            response__isnull=False,
        ).values_list("response_id", flat=True)
    )


def _ready(
    plan: Plan, planned: int, pair: tuple[int, int], revealed: frozenset[int] = frozenset()
) -> tuple[int, list[int] | None]:
    """The prompt for the match and its answers' ids by position: the first prompt from
    ``planned`` on in the seeded order whose answers for both are stored, blind, and not
    ``revealed`` to the voter (else the first stored and blind); else the next prompt, with
    None (its answers are to be fetched)."""
    n = len(plan.prompts)
    order = [plan.prompts[(planned + i) % n] for i in range(n)]
    stored: dict[tuple[int, int], int] = {}
    for pk, contestant, prompt, key in Response.objects.filter(
        prompt_id__in=order, contestant_id__in=pair
    ).values_list("pk", "contestant_id", "prompt_id", "settings_hash"):
        if key == plan.answer_keys[contestant][0]:
            stored[(contestant, prompt)] = pk
    seen: tuple[int, list[int]] | None = None
    for prompt in order:
        found = [stored.get((c, prompt)) for c in pair]
        ids = [pk for pk in found if pk is not None]
        if len(ids) < len(found):
            continue
        texts = dict(Response.objects.filter(pk__in=ids).values_list("pk", "text"))
        named = any(
            identity_words_in(texts[pk], **plan.answer_keys[c][1])
            for pk, c in zip(ids, pair, strict=True)
        )
        if named:
            continue
        ready = (prompt, [int(pk) for pk in ids if pk is not None])
        if not revealed.intersection(ready[1]):
            return ready
        seen = seen or ready
    return seen if seen is not None else (order[0], None)


def battle_draw(
    *, tournament: Tournament, session_key: str, user_id: int | None
) -> uuid.UUID | None:
    """Draw a pair for this voter and show it to them (``session_key`` "": to no one):
    the battle's public id; None when the tournament has drawn all it may, or the drawn
    match's answers are not ready."""
    plan = _plan(tournament)
    if plan is None:
        return None
    waiting = Match.objects.filter(tournament_id=tournament.pk, status=MatchStatus.PENDING)
    if not session_key and waiting.exists():
        return None  # requests without a session wait for the answers of one draw at most
    rng = np.random.default_rng()
    pick = int(rng.choice(len(plan.pairs), p=np.asarray(plan.probabilities)))
    a, b = answer_order(plan.tally, *plan.pairs[pick], coin=float(rng.random()))
    pair = (plan.ids[a], plan.ids[b])
    with transaction.atomic():
        planned = Match.objects.filter(tournament_id=tournament.pk).count()
        if planned >= plan.most:
            return None
        prompt, answers = _ready(plan, planned, pair, _revealed(session_key))
        round_, slot = divmod(planned, plan.batch)
        match, created = Match.objects.get_or_create(
            tournament_id=tournament.pk,
            round=round_,
            slot=slot,
            defaults={
                "prompt_id": prompt,
                "status": MatchStatus.PENDING if answers is None else MatchStatus.AWAITING_VOTE,
                "draw_probability": plan.probabilities[pick],
            },
        )
        if created:
            MatchEntry.objects.bulk_create(
                MatchEntry(
                    match=match,
                    contestant_id=c,
                    position=i,
                    response_id=None if answers is None else answers[i],
                )
                for i, c in enumerate(pair)
            )
            if answers is None:  # the advance queues its play, on the right queue
                enqueue_advance(tournament.pk)
            if plan.argmax:
                cache.delete(f"{draw_plan_key(tournament.pk)}:fresh")
        if match.status != MatchStatus.AWAITING_VOTE:
            return None
        if not session_key:  # a request without a session: shown, assigned to no one
            return match.public_id
        Assignment.objects.get_or_create(
            match=match,
            session_key=session_key,
            defaults={"user_id": user_id, "shown_at": timezone.now()},
        )
    return match.public_id
