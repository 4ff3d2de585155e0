"""A K-wise tournament's board: Plackett-Luce from its ranking cells, as the CLI fits its export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.test import Client

from arena.models import RankingCell, Standing, Tournament
from arena.services.aggregates import cells_check
from arena.services.battles import battle_next
from arena.services.exports import tournament_export
from arena.services.voting import vote_record
from ratings.bayesian import SkillRating, ordinal

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
# The board and the CLI run one bootstrap function on the same distinct rankings with the
# same seed, so their intervals are the same numbers; the point fits differ only in how
# L-BFGS sums the same likelihood (the CLI over every ranking, the board over counts),
# which its gradient tolerance (1e-10) keeps far below this.
TOLERANCE = 1e-6


def votes_cast(tournament: Tournament, n: int, *, seed: int, first: int = 0) -> None:
    """n votes by n voters, the battles in turn, each ranking its answers by a noisy true strength
    (contestant i has strength -0.6 i), one in five with the last two tied."""
    rng = np.random.default_rng(seed)
    strength = {c.pk: -0.6 * k for k, c in enumerate(tournament.contestants.order_by("pk"))}
    matches = list(tournament.matches.order_by("round", "slot"))
    for voter in range(first, first + n):
        session = f"voter-{voter}"
        match = matches[voter % len(matches)]  # every group gets its share of the votes
        entrants = list(match.entries.order_by("position").values_list("contestant_id", flat=True))
        noisy = [strength[c] + rng.gumbel() for c in entrants]
        order = sorted(range(len(entrants)), key=lambda p: -noisy[p])
        ranks = [0] * len(entrants)
        for place, position in enumerate(order, start=1):
            ranks[position] = place
        if rng.random() < 0.2:
            ranks[order[-1]] = ranks[order[-2]]
        vote_record(
            public_id=match.public_id,
            ranks=ranks,
            idempotency_key=session,
            session_key=session,
            shown=True,
        )


def cli_fit(tournament: Tournament, tmp_path: Path) -> dict[str, dict[str, Any]]:
    """``python -m ratings fit rankings.jsonl --method pl --bootstrap 100`` on the export."""
    path = tmp_path / "rankings.jsonl"
    path.write_text("".join(tournament_export(tournament=tournament, kind="rankings.jsonl").chunks))
    command = [sys.executable, "-m", "ratings", "fit", str(path), "--method", "pl"]
    command += ["--bootstrap", "100", "--output", "json"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return {row["model"]: row for row in json.loads(done.stdout)["ratings"]}


@pytest.fixture
def voted(human_tournament_of) -> Tournament:
    tournament = human_tournament_of(5, format="kwise", config={"k": 3, "rounds": 3}, seed=3)
    votes_cast(tournament, 100, seed=1)
    return tournament


def test_a_kwise_boards_pl_ratings_and_intervals_match_the_cli_on_its_export(
    voted, tmp_path
) -> None:
    board = Client().get(f"/api/tournaments/{voted.pk}/leaderboard").json()
    cli = cli_fit(voted, tmp_path)
    assert {row["contestant"] for row in board} == set(cli)
    for row in board:
        want = cli[row["contestant"]]
        got = (row["pl"], row["pl_low"], row["pl_high"])
        assert got == pytest.approx(
            (want["rating"], want["ci_low"], want["ci_high"]), abs=TOLERANCE
        )
        assert row["rank"] == want["rank"]
    assert [row["pl"] for row in board] == sorted((row["pl"] for row in board), reverse=True)
    # not vacuous: the intervals have width and the data separate the best from the worst
    assert all(row["pl_high"] - row["pl_low"] > 0.1 for row in board)
    assert board[0]["rank"] == 1 and board[-1]["rank"] > 1


def test_a_kwise_page_shows_pl_with_its_interval_mu_minus_3_sigma_and_bt_beside(voted) -> None:
    page = Client().get(f"/tournaments/{voted.pk}/").content.decode()
    board = Client().get(f"/api/tournaments/{voted.pk}/leaderboard").json()
    assert "data-kwise" in page and "μ − 3σ" in page
    assert "python -m ratings fit rankings.jsonl --method pl --bootstrap 100" in page
    best = board[0]
    assert f"{best['pl_low']:.2f} – {best['pl_high']:.2f}" in page
    assert f"{best['wl_ordinal']:.1f}" in page
    assert best["bt"] is not None


def test_mu_minus_3_sigma_is_each_standings_weng_lin_belief(voted) -> None:
    board = Client().get(f"/api/tournaments/{voted.pk}/leaderboard").json()
    stored = {
        s.contestant.name: ordinal(SkillRating(s.wl_mu, s.wl_sigma))
        for s in Standing.objects.filter(tournament=voted)
    }
    assert {row["contestant"]: row["wl_ordinal"] for row in board} == pytest.approx(stored)
    assert len({round(v, 6) for v in stored.values()}) == len(stored)  # the votes moved them


def test_the_ranking_cells_hold_every_vote_and_equal_a_recount(voted) -> None:
    assert sum(RankingCell.objects.filter(tournament=voted).values_list("count", flat=True)) == 100
    assert cells_check() == []


def test_a_pairwise_board_has_no_kwise_columns(human_tournament_of) -> None:
    pairs = human_tournament_of(3, format="kwise", config={"k": 2, "rounds": 1})
    battle = battle_next(tournament=pairs, session_key="s")
    vote_record(public_id=battle.public_id, outcome="a", idempotency_key="k", session_key="s")
    board = Client().get(f"/api/tournaments/{pairs.pk}/leaderboard").json()
    assert board and all(row["pl"] is None for row in board)
    assert "data-kwise" not in Client().get(f"/tournaments/{pairs.pk}/").content.decode()


def test_a_request_on_many_rankings_shows_the_publishs_last_fit_and_the_publish_refits(
    voted, monkeypatch
) -> None:
    from arena import boards

    monkeypatch.setattr(boards, "PL_INLINE_RANKINGS", 0)  # every board counts as large
    published = {r["contestant"]: r["pl"] for r in boards.tournament_leaderboard(voted, fresh=True)}
    votes_cast(voted, 1, seed=9, first=100)
    shown = boards.tournament_leaderboard(voted)
    assert {r["contestant"]: r["pl"] for r in shown} == published
    assert sum(r["matches"] for r in shown) == 3 * 101  # the rest of the board is fresh
    refit = {r["contestant"]: r["pl"] for r in boards.tournament_leaderboard(voted, fresh=True)}
    assert refit != published
    assert {r["contestant"]: r["pl"] for r in boards.tournament_leaderboard(voted)} == refit


def test_the_leaderboard_csv_of_a_kwise_tournament_carries_the_boards_pl_columns(voted) -> None:
    import csv
    import io

    body = "".join(tournament_export(tournament=voted, kind="leaderboard.csv").chunks)
    rows = list(csv.DictReader(io.StringIO(body)))
    board = Client().get(f"/api/tournaments/{voted.pk}/leaderboard").json()
    assert [r["model"] for r in rows] == [r["contestant"] for r in board]
    assert [float(r["pl_low"]) for r in rows] == [r["pl_low"] for r in board]
    assert [float(r["wl_ordinal"]) for r in rows] == [r["wl_ordinal"] for r in board]
