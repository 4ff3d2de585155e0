"""Leaderboard rows from verdicts: pure (no ORM), shared by every leaderboard.

Input: the models, and the verdicts in the order they were given, each a ranking in tiers
of model names (best first). Output: rows best first with the Bradley-Terry rating and its
95% CI (sandwich), a rank from the CIs, online Elo, optionally Soft Condorcet, and counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from arena.live import LeaderboardRow
from ratings.bootstrap import rank_from_intervals, sandwich_bradley_terry
from ratings.data import (
    SCORE_OF_OUTCOME,
    Outcome,
    battles_from_arrays,
    battles_from_rankings,
    ranking_to_pairs,
)
from ratings.elo import elo_update
from ratings.soft_condorcet import fit_soft_condorcet
from ratings.style import answer_features, fit_style_controlled_bt, style_features

ELO_K = 4.0  # FastChat's online Elo step
# A small ridge on the BT log-strengths keeps the fit finite while some model has not yet
# both won and lost (ratings.bradley_terry ``prior``); its pull fades as verdicts add up.
BT_PRIOR = 0.1
# Soft Condorcet (Lanctot et al. 2024) on a 0..1000 scale: open_spiel's defaults (tau 1,
# lr 0.01) barely move from the midpoint in full batch; these spread a leaderboard.
SCO_PARAMS: dict[str, Any] = {"temperature": 10.0, "learning_rate": 1000.0, "iterations": 300}

Ranking = Sequence[Sequence[str]]


Stats = dict[str, float]


def new_stats(elo: float = 1000.0) -> Stats:
    return {"elo": elo, "matches": 0.0, "wins": 0.0, "ties": 0.0}


def apply_ranking(stats: Mapping[str, Stats], ranking: Ranking) -> None:
    """Fold one verdict into the running records of its entrants, in place.

    A K-wise ranking counts as its K(K-1)/2 pairwise outcomes, applied in a fixed order
    (online Elo); points are 1 per entrant ranked below and 0.5 per tie, over K-1.
    """
    entrants = [m for tier in ranking for m in tier]
    opponents = max(len(entrants) - 1, 1)
    for a, b, outcome in ranking_to_pairs(ranking):
        first, second = stats[a], stats[b]
        score = float(SCORE_OF_OUTCOME[outcome])
        first["elo"], second["elo"] = elo_update(first["elo"], second["elo"], score, k=ELO_K)
        first["wins"] += score / opponents
        second["wins"] += (1.0 - score) / opponents
        if outcome == Outcome.TIE:
            first["ties"] += 1
            second["ties"] += 1
    for m in entrants:
        stats[m]["matches"] += 1


def _online(models: Sequence[str], rankings: Sequence[Ranking]) -> dict[str, Stats]:
    stats = {m: new_stats() for m in models}
    for ranking in rankings:
        apply_ranking(stats, ranking)
    return stats


def leaderboard_rows(
    models: Sequence[str], rankings: Sequence[Ranking], *, soft_condorcet: bool = False
) -> list[LeaderboardRow]:
    stats = _online(models, rankings)
    played = [m for m in models if stats[m]["matches"] > 0]
    bt: dict[str, tuple[float, float, float]] = {}
    if rankings:
        fit = sandwich_bradley_terry(
            battles_from_rankings(rankings, models=sorted(models)), prior=BT_PRIOR
        )
        for name, r, lo, hi in zip(fit.models, fit.ratings, fit.ci_low, fit.ci_high, strict=True):
            bt[name] = (round(float(r), 2), round(float(lo), 2), round(float(hi), 2))
    ranks: dict[str, int] = {}
    if played:
        low = np.array([bt[m][1] for m in played])
        high = np.array([bt[m][2] for m in played])
        ranks = dict(zip(played, rank_from_intervals(low, high).tolist(), strict=True))
    sco: dict[str, float] = {}
    if soft_condorcet and rankings:
        sco = fit_soft_condorcet(rankings, models=sorted(models), **SCO_PARAMS).as_dict()
    order = sorted(
        models,
        key=lambda m: (-(bt[m][0] if m in ranks else float("-inf")), -stats[m]["elo"], m),
    )
    rows: list[LeaderboardRow] = []
    for m in order:
        s, rating = stats[m], bt.get(m) if m in ranks else None
        rows.append(
            LeaderboardRow(
                rank=int(ranks.get(m, len(played) + 1)),
                contestant=m,
                bt=rating[0] if rating else None,
                bt_low=rating[1] if rating else None,
                bt_high=rating[2] if rating else None,
                elo=round(s["elo"], 2),
                sco=round(sco[m], 1) if m in sco and m in ranks else None,
                matches=int(s["matches"]),
                wins=round(s["wins"], 4),
                ties=int(s["ties"]),
                win_rate=round(s["wins"] / s["matches"], 4) if s["matches"] else 0.0,
            )
        )
    return rows


# Bootstrap rounds for style-controlled CIs (Poisson reweighting, seeded): a page view
# refits this many times, so it stays well below the 100 of the offline tools.
STYLE_ROUNDS = 50


def style_controlled_rows(
    models: Sequence[str],
    rankings: Sequence[Ranking],
    texts: Sequence[Mapping[str, str]],
) -> tuple[list[LeaderboardRow], dict[str, float]]:
    """Rows whose BT columns control for answer style (length, headers, lists, bold).

    ``texts[i]`` maps each entrant of verdict ``i`` to its answer. Returns the rows and the
    fitted style coefficients (log-odds per SD of the normalised feature difference).
    """
    rows = leaderboard_rows(models, rankings)
    names_a, names_b, outcomes, feats_a, feats_b = [], [], [], [], []
    for ranking, answers in zip(rankings, texts, strict=True):
        for a, b, outcome in ranking_to_pairs(ranking):
            names_a.append(a)
            names_b.append(b)
            outcomes.append(int(outcome))
            feats_a.append(answer_features(answers.get(a, "")))
            feats_b.append(answer_features(answers.get(b, "")))
    if not outcomes:
        return rows, {}
    battles = battles_from_arrays(names_a, names_b, np.asarray(outcomes), models=sorted(models))
    fit = fit_style_controlled_bt(
        battles, style_features(feats_a, feats_b), prior=BT_PRIOR, rounds=STYLE_ROUNDS
    )
    interval = fit.interval()
    styled = {
        m: (round(float(r), 2), round(float(lo), 2), round(float(hi), 2))
        for m, r, lo, hi in zip(
            fit.models, fit.ratings, interval.ci_low, interval.ci_high, strict=True
        )
    }
    played = [r for r in rows if r["matches"] > 0]
    ranks = (
        rank_from_intervals(
            np.array([styled[r["contestant"]][1] for r in played]),
            np.array([styled[r["contestant"]][2] for r in played]),
        ).tolist()
        if played
        else []
    )
    for row, rank in zip(played, ranks, strict=True):
        row["bt"], row["bt_low"], row["bt_high"] = styled[row["contestant"]]
        row["rank"] = int(rank)
    rows.sort(key=lambda r: (-(r["bt"] if r["bt"] is not None else float("-inf")), r["contestant"]))
    return rows, dict(zip(fit.feature_names, fit.coefficients.round(4).tolist(), strict=True))
