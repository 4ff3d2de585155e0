"""Read queries shared by views, the API, services and consumers."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from django.db.models import Count, Q, Sum

from arena.formats import FormatState, MatchResult, get_format
from arena.formats.single_elimination import (
    Placings,
    SingleElimination,
    SlotRole,
    anchor_rounds,
    bracket_count,
    byes,
    round_stride,
    round_width,
    slot_role,
)
from arena.models import (
    OPEN_MATCH_STATUSES,
    Contestant,
    Judge,
    JudgeKind,
    Match,
    MatchEntry,
    MatchStatus,
    PromptSet,
    Spend,
    Standing,
    Tournament,
    TournamentStatus,
    Vote,
)
from arena.services.backends import judge_freeze
from arena.services.battles import Battle
from arena.standings import BT_PRIOR
from arena.templatetags.arena_tags import ordinal
from judges.backends.base import PermanentError
from judges.costs import estimate_cost
from ratings.anomaly import VoterReport, voter_reports
from ratings.bradley_terry import fit_bradley_terry
from ratings.data import Outcome, battles_from_rankings, ranking_to_pairs


def voter_outliers(*, alpha: float = 0.01, min_votes: int = 5) -> list[VoterReport]:
    """Human voters whose decisive votes the crowd's BT model finds too surprising."""
    names = dict(Contestant.objects.values_list("pk", "name"))
    votes = list(
        Vote.objects.order_by("created_at", "pk").values_list(
            "user__username", "session_key", "ranking"
        )
    )
    rankings = [[[names[c] for c in tier] for tier in ranking] for _, _, ranking in votes]
    if not rankings:
        return []
    models = sorted({m for r in rankings for tier in r for m in tier})
    fit = fit_bradley_terry(battles_from_rankings(rankings, models=models), prior=BT_PRIOR)
    decisive = [
        (f"user {user}" if user else f"session {session[:8]}…", a, b)
        for (user, session, _), ranking in zip(votes, rankings, strict=True)
        for a, b, outcome in ranking_to_pairs(ranking)
        if outcome == Outcome.A_WINS
    ]
    return voter_reports(decisive, fit.as_dict(), alpha=alpha, min_votes=min_votes)


# The formats whose page shows its matches by round: a bracket, Swiss rounds, K-wise
# groups. A round robin or an adaptive tournament of a million matches has nothing a page
# of them would tell; its matches are in the exports.
ROUNDS_FORMATS = frozenset({"single_elimination", "swiss", "kwise"})
# About this many matches on one page of rounds (a larger round is a page of its own).
ROUNDS_PAGE_MATCHES = 256


@dataclass(frozen=True)
class RoundsPage:
    rounds: list[dict[str, Any]]
    page: int  # 1-based; the last page holds the latest rounds
    pages: int
    shown: bool  # whether the format shows rounds at all
    bracket: Bracket | None = None  # single elimination: seeds, places, what a match is


def _round_pages(sizes: list[tuple[int, int]]) -> list[list[int]]:
    """Consecutive rounds grouped into pages of about ROUNDS_PAGE_MATCHES matches."""
    pages: list[list[int]] = [[]]
    filled = 0
    for round_, n in sizes:
        if pages[-1] and filled + n > ROUNDS_PAGE_MATCHES:
            pages.append([])
            filled = 0
        pages[-1].append(round_)
        filled += n
    return pages


def tournament_rounds(
    tournament: Tournament, *, page: int | None = None, bracket: int | None = None
) -> RoundsPage:
    """One page of matches by round (a bracket for single elimination, groups for K-wise,
    Swiss rounds; by default the latest), each with its entrants in answer order and its
    verdict as tiers of names. A bracket's page also says what each round and match is
    (anchor pass, named rounds, the third-place match, re-judges on their game's card),
    the seeds, and the places decided so far (``RoundsPage.bracket``). Per-prompt brackets
    show one bracket at a time (``bracket``: its index, the first by default)."""
    if tournament.format not in ROUNDS_FORMATS:
        return RoundsPage([], 1, 1, shown=False)
    knockout = tournament.format == "single_elimination"
    chosen = tournament_bracket(tournament, bracket or 0) if knockout else None
    shown = tournament.matches.filter(chosen.match_filter() if chosen else Q())
    sizes = list(shown.order_by("round").values_list("round").annotate(n=Count("pk")))
    pages = _round_pages(sizes)
    number = len(pages) if page is None else min(max(page, 1), len(pages))
    entries = (
        MatchEntry.objects.filter(match__tournament=tournament, match__round__in=pages[number - 1])
        .filter(chosen.match_filter("match__") if chosen else Q())
        .order_by("match__round", "match__slot", "position")
        .values_list(
            "match_id", "match__round", "match__slot", "match__status", "contestant_id",
            "contestant__name", "match__judgment__ranking",
        )
    )  # fmt: skip
    matches = _matches_of(entries)
    human = tournament.judge_id is None
    if chosen is not None:
        rounds = chosen.cards(matches.values(), human=human)
        return RoundsPage(rounds, page=number, pages=len(pages), shown=True, bracket=chosen)
    by_round: dict[int, list[dict[str, Any]]] = {}
    for match in matches.values():
        names = match["names"]
        tiers = [[names[c] for c in tier] for tier in match["ranking"] or []]
        winners = tiers[0] if tiers and len(tiers) > 1 else []
        by_round.setdefault(match["round"], []).append(
            {
                "slot": match["slot"],
                "status": match["status"],
                "entrants": _entrants(match, human, winners=winners),
                "judgments": [_judgment(tiers, match["status"], "")],
            }
        )
    rounds = [
        {"round": r, "title": f"Round {r + 1}", "matches": ms} for r, ms in sorted(by_round.items())
    ]
    return RoundsPage(rounds, page=number, pages=len(pages), shown=True)


def _matches_of(entries: Any) -> dict[int, dict[str, Any]]:
    """Rows of (match, round, slot, status, contestant, name, ranking) in entry order, by
    match: its round, slot, status, ranking (ids) and names by contestant in answer order."""
    matches: dict[int, dict[str, Any]] = {}
    for match_id, round_, slot, status, cid, name, ranking in entries:
        match = matches.setdefault(
            match_id,
            {"round": round_, "slot": slot, "status": status, "names": {}, "ranking": ranking},
        )
        match["names"][cid] = name
    return matches


def _entrants(
    match: dict[str, Any], human: bool, *, winners: list[str], seeds: Mapping[int, int] = {}
) -> list[dict[str, Any]]:
    # A battle waiting for a human vote is anonymous: naming its entrants (or their seeds)
    # here would let a voter with this page open tell who wrote the answers in front of them.
    if human and match["status"] in OPEN_MATCH_STATUSES:
        return [{"name": "hidden until voted", "seed": None, "winner": False}] * len(match["names"])
    return [
        {"name": name, "seed": seeds.get(cid), "winner": name in winners}
        for cid, name in match["names"].items()
    ]


def place_label(best: int, worst: int) -> str:
    """1st; 3rd–4th for a place shared by the losers of one round."""
    return ordinal(best) if best == worst else f"{ordinal(best)}–{ordinal(worst)}"


SEEDING_NOTES = {
    "random": "Seeds drawn at random from the tournament's seed.",
    # Tournaments started before the seeds came from the global leaderboard say what they used.
    "rating": "Seeds by rating: each model's online Elo at the end of its latest completed "
    "tournament (models without one last).",
    "board": "Seeds by rating: each model's Bradley-Terry rating on the global leaderboard "
    "({source_label}) when the tournament started, {at} UTC; {rated} of {n} models had one "
    "(the others seeded last, by id).",
    "anchor": "Seeds from the anchor pass: each model's score against the anchor, {anchor}.",
}


def seeding_note(tournament: Tournament, names: Mapping[int, str]) -> str:
    """Where a bracket's seeds came from, as the manifest froze it at start."""
    seeding = str(tournament.config.get("seeding", "random"))
    seeds_from = tournament.manifest.get("seeds_from")
    if seeding == "rating" and seeds_from:
        at = str(seeds_from.get("at", "")).replace("T", " ")[:16]
        return SEEDING_NOTES["board"].format(**{**seeds_from, "at": at, "n": len(names)})
    anchor = names.get(tournament.config.get("anchor", -1), "")
    return SEEDING_NOTES.get(seeding, "").format(anchor=anchor)


@dataclass(frozen=True)
class Bracket:
    """A single-elimination tournament for people: the roles of its stored matches, its
    seeds, places and champion (from ``SingleElimination.placings`` on its results)."""

    config: Mapping[str, Any]
    placings: Placings
    names: Mapping[int, str]
    seeding_note: str
    hidden_seeds: bool  # a human-judged bracket still running: the seed list would unblind
    index: int = 0  # the bracket shown (per-prompt brackets: its prompt's index)
    prompts: tuple[str, ...] = ()  # per-prompt brackets: each bracket's prompt, shortened
    champions: tuple[int | None, ...] = ()  # per-prompt brackets: each one's champion

    @property
    def count(self) -> int:
        return bracket_count(self.config, len(self.prompts))

    @property
    def per_prompt(self) -> bool:
        return self.config.get("brackets") == "per_prompt"

    def match_filter(self, prefix: str = "") -> Q:
        """The stored matches of the bracket shown (the anchor pass is every bracket's);
        ``prefix``: the path to the match from the model filtered ("match__")."""
        if not self.per_prompt:
            return Q()
        n = len(self.names)
        passes = anchor_rounds(self.config)
        shown = Q(**{f"{prefix}round__lt": passes})
        for r in range(passes, passes + (max(n, 2) - 1).bit_length()):
            low = self.index * round_stride(self.config, n, r)
            high = low + round_stride(self.config, n, r)
            shown |= Q(
                **{f"{prefix}round": r, f"{prefix}slot__gte": low, f"{prefix}slot__lt": high}
            )
        return shown

    @property
    def choices(self) -> list[dict[str, Any]]:
        """Per-prompt brackets for the selector: each prompt and its champion once known."""
        return [
            {
                "index": i,
                "prompt": text,
                "champion": None if c is None else self.names[c],
                "selected": i == self.index,
            }
            for i, (text, c) in enumerate(zip(self.prompts, self.champions, strict=True))
        ]

    @property
    def titles(self) -> dict[str, int]:
        """Per-prompt brackets: how many each model has won so far, by name."""
        won = Counter(c for c in self.champions if c is not None)
        return {name: won.get(c, 0) for c, name in self.names.items()}

    @property
    def champion(self) -> dict[str, Any] | None:
        c = self.placings.champion
        return None if c is None else {"name": self.names[c], "seed": self.placings.seed_of(c)}

    @property
    def places(self) -> dict[str, str]:
        """Place by model name (only those decided); per-prompt brackets: the brackets each
        model won so far, of all."""
        if self.per_prompt:
            return {name: f"{k} of {self.count}" for name, k in self.titles.items()}
        return {self.names[c]: place_label(*p) for c, p in self.placings.places.items()}

    @property
    def standings(self) -> list[dict[str, Any]]:
        """The places decided so far, best first, each with its models by seed."""
        by_place: dict[tuple[int, int], list[int]] = {}
        for c, p in self.placings.places.items():
            by_place.setdefault(p, []).append(c)
        return [
            {
                "place": place_label(*p),
                "models": [
                    {"name": self.names[c], "seed": self.placings.seed_of(c)}
                    for c in sorted(cs, key=self.placings.seed_of)
                ],
            }
            for p, cs in sorted(by_place.items())
        ]

    @property
    def seeds(self) -> list[dict[str, Any]]:
        if self.hidden_seeds:
            return []
        return [{"seed": i + 1, "name": self.names[c]} for i, c in enumerate(self.placings.seeds)]

    def round_labels(self) -> dict[int, dict[str, Any]]:
        """Per stored round, what live.js needs to label a finished match as the page does
        (``match_label``): the round's label and its third-place match's, its width (a
        slot's game and attempt) and which game is the third-place match (-1: none)."""
        n = len(self.names)
        labels: dict[int, dict[str, Any]] = {}
        for r in range(anchor_rounds(self.config) + (max(n, 2) - 1).bit_length()):
            role = slot_role(self.config, n, r, 0)
            width, third = round_width(self.config, n, r) if role.stage != "anchor" else (n, -1)
            third_role = slot_role(self.config, n, r, third) if third >= 0 else role
            labels[r] = {
                "stage": role.stage,
                "label": match_label(role),
                "third_label": match_label(third_role),
                "width": width,
                "third": third,
                # per-prompt brackets: a slot's bracket is slot // stride ("Prompt k · …");
                # the anchor pass is every bracket's
                "stride": (
                    round_stride(self.config, n, r)
                    if self.per_prompt and role.stage != "anchor"
                    else 0
                ),
            }
        return labels

    def cards(self, matches: Any, *, human: bool) -> list[dict[str, Any]]:
        """Rounds of cards, one card per game: its re-judges after ties are more judgments
        on the same card, and the third-place match is labelled."""
        n = len(self.names)
        seeds = {c: self.placings.seed_of(c) for c in self.placings.seeds}
        rounds: dict[int, dict[int, dict[str, Any]]] = {}
        titles: dict[int, str] = {}
        for match in matches:
            role = slot_role(self.config, n, match["round"], match["slot"])
            r = match["round"]
            titles.setdefault(r, _round_title(role))
            winner = self.placings.winners.get((r, role.game))
            winners = [self.names[winner]] if winner is not None else []
            if role.stage == "anchor":
                winners = _first_tier(match)
            card = rounds.setdefault(r, {}).setdefault(
                role.game,
                {
                    "slot": match["slot"],
                    "label": role.name if role.stage == "third_place" else "",
                    "anchor": role.stage == "anchor",
                    "entrants": _entrants(match, human, winners=winners, seeds=seeds),
                    "judgments": [],
                },
            )
            names = match["names"]
            tiers = [[names[c] for c in tier] for tier in match["ranking"] or []]
            note = "re-judged, answers swapped" if role.attempt else ""
            card["judgments"].append(_judgment(tiers, match["status"], note))
            card["status"] = match["status"]
            if human and match["status"] in OPEN_MATCH_STATUSES:
                # A re-judge waiting for a vote: its game's earlier tie would name it.
                card["entrants"] = _entrants(match, human, winners=[])
                for j in card["judgments"]:
                    j["ranking"] = []
        for cards in rounds.values():
            for card in cards.values():
                _explain_ties(card)
        first = anchor_rounds(self.config)
        if first in rounds and self.placings.seeds_final and not self.hidden_seeds:
            for game, c in byes(self.placings.seeds).items():
                rounds[first][game] = {
                    "slot": None,
                    "status": "bye",
                    "label": "",
                    "anchor": False,
                    "entrants": [{"name": self.names[c], "seed": seeds[c], "winner": True}],
                    "judgments": [_judgment([], "bye", "") | {"outcome": "through unplayed"}],
                }
        return [
            {"round": r, "title": titles[r], "matches": [card for _, card in sorted(cards.items())]}
            for r, cards in sorted(rounds.items())
        ]


def _judgment(tiers: list[list[str]], status: str, note: str) -> dict[str, Any]:
    return {
        "ranking": tiers,
        "status": status,
        "status_text": status.replace("_", " "),
        "note": note,
    }


def _explain_ties(card: dict[str, Any]) -> None:
    """Say what a tie or a failure on a card led to: a re-judge, or the higher seed (in
    the anchor pass, half a point each toward the seeds)."""
    judgments = card["judgments"]
    for i, j in enumerate(judgments):
        tied = len(j["ranking"]) == 1
        later = i + 1 < len(judgments)
        if card["anchor"]:
            j["outcome"] = "tie: half a point each" if tied else ""
        elif j["status"] == MatchStatus.FAILED:
            j["outcome"] = "failed: the higher seed goes through"
        elif tied and later:
            j["outcome"] = "tie: re-judged"
        elif tied and j["status"] == MatchStatus.COMPLETED:
            j["outcome"] = "tie: the higher seed goes through"
        else:
            j["outcome"] = ""


def _first_tier(match: dict[str, Any]) -> list[str]:
    tiers = match["ranking"] or []
    return [match["names"][c] for c in tiers[0]] if len(tiers) > 1 else []


def _round_title(role: SlotRole) -> str:
    """A stored round's heading: "Anchor pass (seeding)", "Round 1", "Round 3 · Final"."""
    if role.stage == "anchor":
        return f"{role.name} (seeding)"
    name = "Final" if role.stage == "third_place" else role.name
    return f"Round {role.number}" + (f" · {name}" if name else "")


def match_label(role: SlotRole, *, per_prompt: bool = False) -> str:
    """One match, as the latest matches list it: "Round 3 · Third-place match · re-judged";
    with per-prompt brackets its bracket first: "Prompt 2 · Round 1"."""
    if role.stage == "anchor":
        return role.name
    title = f"Round {role.number} · {role.name}" if role.name else f"Round {role.number}"
    bracket = f"Prompt {role.bracket + 1} · " if per_prompt else ""
    return bracket + title + (" · re-judged" if role.attempt else "")


def tournament_bracket(tournament: Tournament, index: int = 0) -> Bracket:
    """A single-elimination tournament's bracket replayed from all its stored results
    (N − 1 games and their re-judges a bracket: a small read); with per-prompt brackets
    the one of prompt ``index`` (out of range: the first) and every one's champion."""
    fmt = get_format("single_elimination")
    assert isinstance(fmt, SingleElimination)
    names = dict(tournament.contestants.values_list("pk", "name"))
    rows = (
        MatchEntry.objects.filter(match__tournament=tournament)
        .order_by("match__round", "match__slot", "position")
        .values_list(
            "match_id", "match__round", "match__slot", "match__status", "contestant_id",
            "contestant__name", "match__judgment__ranking",
        )
    )  # fmt: skip
    results = []
    for m in _matches_of(rows).values():
        entrants = tuple(m["names"])
        if m["status"] == MatchStatus.COMPLETED and m["ranking"] is not None:
            tiers = tuple(tuple(tier) for tier in m["ranking"])
            results.append(MatchResult(m["round"], m["slot"], entrants, tiers))
        elif m["status"] == MatchStatus.FAILED:
            results.append(MatchResult(m["round"], m["slot"], entrants, None))
    # The engine's prompt indices: the prompt set's prompts by id, as many as it plans on
    # (per-prompt brackets: the count frozen at start); texts only where they are shown.
    per_prompt = tournament.config.get("brackets") == "per_prompt"
    by_id = tournament.prompt_set.prompts.order_by("id")
    n_prompts = max(int(tournament.manifest.get("prompts") or 1), 1)
    prompts = list(by_id.values_list("text", flat=True)[:n_prompts]) if per_prompt else []
    state = FormatState(
        contestants=tuple(sorted(names)),
        n_prompts=len(prompts) if per_prompt else n_prompts,
        config=tournament.config,
        seed=tournament.draw_seed,
        results=tuple(results),
        prior_ratings={int(k): v for k, v in tournament.manifest.get("prior_ratings", {}).items()},
    )
    every = fmt.all_placings(state)
    index = index if 0 <= index < len(every) else 0
    return Bracket(
        config=tournament.config,
        placings=every[index],
        names=names,
        seeding_note=seeding_note(tournament, names),
        hidden_seeds=tournament.judge_id is None and not tournament.is_finished,
        index=index,
        prompts=tuple(_shortened(text) for text in prompts) if per_prompt else (),
        champions=tuple(p.champion for p in every) if per_prompt else (),
    )


def _shortened(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


# Rough sizes for a pre-run estimate when nothing better is known (tokens ≈ characters / 4).
EXPECTED_ANSWER_TOKENS = 400
EXPECTED_VERDICT_TOKENS = 300


def judge_calls_per_match(judge: Mapping[str, Any] | None, *, k: int) -> int:
    """The judge calls one match of ``k`` answers takes when every reply reads (a repair
    prompt costs one more): two for a pair judged in both orders, one for a listwise
    ranking (both orders is a pairwise setting), a panel its members' sum; a match for
    human voters counts one. ``judge`` is shaped as a tournament's manifest freezes it
    (``kind``, ``settings``, ``members``), so a running tournament counts by the judge it
    started with."""
    if judge is None:
        return 1
    if judge.get("kind") == JudgeKind.PANEL:
        return sum(judge_calls_per_match(m, k=k) for m in judge.get("members") or ()) or 1
    return 2 if k == 2 and (judge.get("settings") or {}).get("both_orders") is True else 1


def judge_shape(judge: Judge) -> dict[str, Any]:
    """A judge row as a start would freeze it (``judge_freeze``), for a tournament not
    started yet; only its kind and settings when its panel settings would refuse a start
    (an unknown member, a loop), which the start then says."""
    try:
        return judge_freeze(judge=judge)
    except PermanentError:
        return {"kind": judge.kind, "settings": judge.settings}


def tournament_calls_per_match(tournament: Tournament) -> int:
    """Judge calls a match of it takes: by its frozen judge once started, else its row's."""
    if "judge" in tournament.manifest:
        judge = tournament.manifest["judge"]
    else:
        judge = None if tournament.judge is None else judge_shape(tournament.judge)
    return judge_calls_per_match(judge, k=int(tournament.config.get("k", 2)))


def tournament_match_cap(tournament: Tournament) -> int | None:
    """The matches its budget pays for: ``budget`` counts judge calls (None: no cap)."""
    if tournament.budget is None:
        return None
    return tournament.budget // tournament_calls_per_match(tournament)


def tournament_estimate(tournament: Tournament) -> dict[str, Any]:
    """Judge calls and USD a tournament should take, before it runs.

    Calls: the format's own plan (an upper bound for adaptive formats), capped by the
    matches the budget pays for, times the calls a match takes (two for a pair judged in
    both orders). Money: judge and contestant prices (USD per million tokens,
    ``price_in`` / ``price_out``) times expected tokens: prompt length / 4, answers of
    ``max_tokens`` or 400 tokens, verdicts of 300 tokens.
    """
    fmt = get_format(tournament.format)
    contestants = tuple(sorted(tournament.contestants.values_list("pk", flat=True)))
    prompts = list(tournament.prompt_set.prompts.values_list("text", flat=True))
    state = FormatState(contestants, len(prompts), tournament.config, tournament.draw_seed)
    matches = fmt.next_step(state).planned_total or 0
    cap = tournament_match_cap(tournament)
    if cap is not None:
        matches = min(matches, cap)
    calls = matches * tournament_calls_per_match(tournament) if tournament.judge else 0
    prompt_tokens = _prompt_tokens(prompts)
    judge_usd = calls * judge_usd_per_call(tournament, prompt_tokens)
    answers_usd = 0.0
    for c in tournament.contestants.all():
        answer_tokens = float(c.generation.get("max_tokens", EXPECTED_ANSWER_TOKENS))
        answers_usd += estimate_cost(
            len(prompts),
            prompt_tokens,
            answer_tokens,
            float(c.generation.get("price_in") or 0),
            float(c.generation.get("price_out") or 0),
        )
    return {
        "matches": matches,
        "judge_calls": calls,
        "judge_usd": round(judge_usd, 4),
        "answers_usd_at_most": round(answers_usd, 4),
        "upper_bound": tournament.format == "adaptive",
    }


def _prompt_tokens(prompts: list[str]) -> float:
    return sum(len(p) for p in prompts) / max(len(prompts), 1) / 4


def judge_usd_per_call(tournament: Tournament, prompt_tokens: float | None = None) -> float:
    """What one judge call of this tournament should cost (``usd_per_judge_call``)."""
    if tournament.judge is None:
        return 0.0
    if prompt_tokens is None:
        prompt_tokens = prompt_set_tokens(tournament.prompt_set)
    return usd_per_judge_call(tournament.judge, prompt_tokens, int(tournament.config.get("k", 2)))


def prompt_set_tokens(prompt_set: PromptSet | None) -> float:
    """A prompt's expected length in tokens in this set (characters / 4)."""
    if prompt_set is None:
        return 0.0
    return _prompt_tokens(list(prompt_set.prompts.values_list("text", flat=True)))


def usd_per_judge_call(judge: Judge, prompt_tokens: float, k: int) -> float:
    """What one judge call should cost at the judge's prices (USD per million tokens): the
    prompt and K answers of expected length in, a verdict of expected length out."""
    return estimate_cost(
        1,
        prompt_tokens + k * EXPECTED_ANSWER_TOKENS,
        EXPECTED_VERDICT_TOKENS,
        float(judge.settings.get("price_in") or 0),
        float(judge.settings.get("price_out") or 0),
    )


def tournaments_open_to_voters(*, limit: int = 20) -> list[Tournament]:
    """Running tournaments judged by people (the arenas a voter can vote in now), the
    latest first, each with ``done`` and ``failed`` as tournaments_with_progress gives."""
    running = Tournament.objects.filter(status=TournamentStatus.RUNNING, judge__isnull=True)
    return _with_progress(list(running.select_related("prompt_set")[:limit]))


def battle_revealed(public_id: uuid.UUID) -> Battle | None:
    """A voted battle's prompt and answers by position, to show them again with the
    models' names over them."""
    entries = list(
        MatchEntry.objects.filter(match__public_id=public_id)
        .order_by("position")
        .values_list("match__prompt__text", "response__text")
    )
    if not entries:
        return None
    return Battle(public_id, entries[0][0], tuple(text or "" for _, text in entries))


def tournament_by_pk(pk: int) -> Tournament | None:
    """The tournament, or None: what every vote request reads first, so written as its SQL
    (compiling the ORM's get() cost more than running it)."""
    found = Tournament.objects.raw(f"SELECT * FROM {_TOURNAMENT_TABLE} WHERE id = %s", [pk])
    return next(iter(found), None)


_TOURNAMENT_TABLE = Tournament._meta.db_table


class Progress(NamedTuple):
    """How far a tournament is: matches finished (with a verdict or failed), of them the
    failed ones, and the matches expected in all (None when the format cannot tell)."""

    done: int
    failed: int
    planned: int | None


def tournament_progress(tournament: Tournament) -> Progress:
    """Finished: its verdicts (its standings count each entrant's) and its failed matches
    (few, found by index): nothing here reads a tournament's whole history."""
    done, failed = _finished([tournament])[tournament.pk]
    return Progress(done=done, failed=failed, planned=tournament.planned_matches)


def _finished(tournaments: list[Tournament]) -> dict[int, tuple[int, int]]:
    """Per tournament: (matches finished, of them failed)."""
    ids = [t.pk for t in tournaments]
    entrant_verdicts = dict(
        Standing.objects.filter(tournament_id__in=ids)
        .values_list("tournament_id")
        .annotate(n=Sum("matches"))
        .order_by()
    )
    failed = dict(
        Match.objects.filter(tournament_id__in=ids, status=MatchStatus.FAILED)
        .values_list("tournament_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {
        t.pk: (
            (entrant_verdicts.get(t.pk) or 0) // int(t.config.get("k", 2)) + failed.get(t.pk, 0),
            failed.get(t.pk, 0),
        )
        for t in tournaments
    }


class Failures(NamedTuple):
    """A tournament's failed matches: how many each contestant was in (by name), and the
    latest distinct errors, newest first."""

    by_contestant: dict[str, int]
    last_errors: list[str]


# The latest failures searched for distinct errors: one cause usually fails many matches.
_ERRORS_SEARCHED = 50


def tournament_failures(tournament: Tournament, *, last: int = 3) -> Failures:
    failed = Match.objects.filter(tournament=tournament, status=MatchStatus.FAILED)
    by_contestant = dict(
        MatchEntry.objects.filter(match__in=failed)
        .values_list("contestant__name")
        .annotate(n=Count("pk"))
        .order_by()
    )
    latest = failed.order_by("-finished_at", "-pk").values_list("error", flat=True)
    distinct = list(dict.fromkeys(e for e in latest[:_ERRORS_SEARCHED] if e))
    return Failures(by_contestant, distinct[:last])


@dataclass(frozen=True)
class Spent:
    """USD spent: its judges' calls, and the answers generated for it (an answer cached
    from another run is free), as kept when spent (arena.models.Spend); and the model calls
    begun and not settled: in flight, or lost with a worker that died (the provider billed
    them; their cost is not in ``usd``)."""

    usd: Decimal
    calls_unsettled: int


@dataclass(frozen=True)
class Escalations:
    """A judged tournament's matches whose judge disagreed with itself, sent to people:
    the review tournament, how many went, how many people have voted on, and how many
    did not go and why."""

    review: Tournament | None
    sent: int
    answered: int
    not_sent: dict[str, int]


def tournament_escalations(tournament: Tournament) -> Escalations | None:
    """None unless the tournament sends its judge's self-disagreements to people."""
    review_id = tournament.config.get("disagreements_to")
    if not review_id:
        return None
    outcomes = dict(
        Match.objects.filter(tournament=tournament)
        .exclude(escalation="")
        .values_list("escalation")
        .annotate(n=Count("pk"))
        .order_by()
    )
    answered = Match.objects.filter(
        escalated_from__tournament=tournament, status=MatchStatus.COMPLETED
    ).count()
    return Escalations(
        review=Tournament.objects.filter(pk=review_id).first(),
        sent=sum(n for k, n in outcomes.items() if k.startswith("sent")),
        answered=answered,
        not_sent={
            k.removeprefix("not sent: "): n for k, n in outcomes.items() if k.startswith("not sent")
        },
    )


def tournament_spent(tournament: Tournament) -> Spent:
    row = Spend.objects.filter(tournament=tournament).first()
    if row is None:
        return Spent(Decimal(0), 0)
    return Spent(row.judged_usd + row.answers_usd, max(0, row.calls_begun - row.calls_settled))


def tournament_spend(tournament: Tournament) -> Decimal:
    """``tournament_spent``'s USD."""
    return tournament_spent(tournament).usd


def tournaments_with_progress(*, limit: int = 50) -> list[Tournament]:
    """The latest tournaments, each with ``done`` (its finished matches) and ``failed``."""
    return _with_progress(list(Tournament.objects.select_related("prompt_set", "judge")[:limit]))


def _with_progress(tournaments: list[Tournament]) -> list[Tournament]:
    finished = _finished(tournaments)
    for t in tournaments:
        t.done, t.failed = finished[t.pk]  # type: ignore[attr-defined]
    return tournaments


def tournament_failed_matches(
    tournament: Tournament, *, limit: int = 20
) -> list[dict[str, object]]:
    """The latest failed matches, newest first: entrants, error, and what the judge said
    (``Match.failure_outputs``), for staff to read why no verdict came of them."""
    matches = (
        tournament.matches.filter(status=MatchStatus.FAILED)
        .prefetch_related("entries__contestant")
        .order_by("-finished_at")[:limit]
    )
    label = _labeller(tournament)
    return [
        {
            "round": match.round,
            "slot": match.slot,
            "label": label(match.round, match.slot),
            "entrants": [e.contestant.name for e in match.entries.all()],
            "error": match.error,
            "outputs": match.failure_outputs or [],
        }
        for match in matches
    ]


def tournament_recent_results(
    tournament: Tournament, *, limit: int = 20
) -> list[dict[str, object]]:
    """The latest finished matches, newest first, with verdicts as tiers of names and a
    label that numbers rounds from 1 as the rounds section does (``match_label``)."""
    matches = (
        tournament.matches.filter(finished_at__isnull=False)
        .select_related("judgment")
        .prefetch_related("entries__contestant")
        .order_by("-finished_at")[:limit]
    )
    label = _labeller(tournament)
    results = []
    for match in matches:
        names = {e.contestant_id: e.contestant.name for e in match.entries.all()}
        ranking = getattr(match, "judgment", None)
        tiers = [[names[c] for c in tier] for tier in ranking.ranking] if ranking else []
        results.append(
            {
                "round": match.round,
                "slot": match.slot,
                "label": label(match.round, match.slot),
                "status": match.status,
                "ranking": tiers,
            }
        )
    return results


def _labeller(tournament: Tournament) -> Callable[[int, int], str]:
    """(round, slot) → how people see a match: "Round 1" (rounds count from 1 everywhere);
    in a bracket also its stage ("Anchor pass", "Round 3 · Final", a re-judge)."""
    if tournament.format != "single_elimination":
        return lambda round_, slot: f"Round {round_ + 1}"
    n = tournament.contestants.count()
    per_prompt = tournament.config.get("brackets") == "per_prompt"
    return lambda round_, slot: match_label(
        slot_role(tournament.config, n, round_, slot), per_prompt=per_prompt
    )
