from __future__ import annotations

import pytest

from arena.boards import tournament_leaderboard
from arena.services.tournaments import tournament_create, tournament_start

pytestmark = pytest.mark.django_db


def test_the_leaderboard_ranks_by_bradley_terry_with_cis_that_hold_the_rating(
    contestants, prompt_set, judge, play_out
) -> None:
    people = contestants(3)  # hidden strengths 1200, 1100, 1000
    t = tournament_start(
        tournament=tournament_create(
            name="bt",
            format="round_robin",
            contestants=[c.name for c in people],
            prompt_set="tiny",
            judge="sim-judge",
            config={"rounds": 3},
            seed=4,
        )
    )
    t = play_out(t)
    rows = tournament_leaderboard(t)
    assert [r["bt"] for r in rows] == sorted((r["bt"] for r in rows), reverse=True)
    assert all(r["bt_low"] < r["bt"] < r["bt_high"] for r in rows)
    assert all(r["matches"] == 6 for r in rows)
    assert min(r["rank"] for r in rows) == 1
    # Soft Condorcet scores sit beside BT; with these clear strength gaps they agree on 1st.
    assert all(isinstance(r["sco"], float) for r in rows)
    assert max(rows, key=lambda r: r["sco"])["contestant"] == rows[0]["contestant"]


def test_before_any_verdict_there_is_no_bt_rating_and_everyone_shares_rank_1(
    make_tournament,
) -> None:
    t = tournament_start(tournament=make_tournament(n=3))
    rows = tournament_leaderboard(t)
    assert [r["bt"] for r in rows] == [None, None, None]
    assert {r["rank"] for r in rows} == {1}


def test_chart_data_has_consistent_win_rates_predictions_and_history(
    contestants, prompt_set, judge, monkeypatch
) -> None:
    from arena.boards import tournament_charts
    from arena.models import Judgment, MatchStatus
    from arena.services import matches
    from arena.services.advance import tournament_advance
    from arena.services.results import tournament_results_publish

    people = contestants(4)
    t = tournament_start(
        tournament=tournament_create(
            name="c",
            format="round_robin",
            contestants=[c.name for c in people],
            prompt_set="tiny",
            judge="sim-judge",
            config={"rounds": 2},
            seed=8,
        )
    )
    # The worker's publish after every verdict, as when verdicts come slower than its window.
    monkeypatch.setattr(
        matches, "tournament_schedule_results",
        lambda tournament_id: tournament_results_publish(tournament_id=tournament_id),
    )  # fmt: skip
    for _ in range(3):
        tournament_advance(tournament_id=t.pk)
        for match in t.matches.filter(status=MatchStatus.PENDING):
            matches.match_play(match_id=match.pk)
    data = tournament_charts(t)
    n = len(data["models"])
    assert n == 4 and len(data["history"]) == Judgment.objects.count() == 12
    assert [h["n"] for h in data["history"]] == list(range(1, 13))
    for i in range(n):
        assert data["win_rate"][i][i] is None and data["games"][i][i] == 0
        for j in range(n):
            if i != j:
                assert data["games"][i][j] == 2
                assert data["win_rate"][i][j] + data["win_rate"][j][i] == pytest.approx(1.0)
                assert data["predicted"][i][j] + data["predicted"][j][i] == pytest.approx(1.0)
    final = data["history"][-1]["elo"]
    elo = {r["contestant"]: r["elo"] for r in data["leaderboard"]}
    assert final == pytest.approx(elo, abs=0.01)


def test_rounds_list_a_bracket_with_winners_marked(
    contestants, prompt_set, judge, play_out
) -> None:
    from django.test import Client

    from arena.selectors import tournament_rounds

    people = contestants(4)
    t = tournament_start(
        tournament=tournament_create(
            name="se",
            format="single_elimination",
            contestants=[c.name for c in people],
            prompt_set="tiny",
            judge="sim-judge",
            config={"tie_rule": "higher_seed"},
            seed=3,
        )
    )
    t = play_out(t)
    rounds = tournament_rounds(t).rounds
    assert [len(r["matches"]) for r in rounds] == [2, 1]
    semis = rounds[0]["matches"]
    final = rounds[1]["matches"][0]
    finalists = {e["name"] for e in final["entrants"]}
    winners = [e["name"] for m in semis for e in m["entrants"] if e["winner"]]
    assert len(winners) == 2 and set(winners) == finalists
    page = Client().get(f"/tournaments/{t.pk}/rounds/").content.decode()
    assert page.count('class="match-card') == 3 and 'class="entrant winner"' in page


def test_a_draft_shows_expected_judge_calls_and_cost_before_it_starts(
    contestants, prompt_set
) -> None:
    from django.test import Client

    from arena.models import Judge, JudgeKind
    from arena.selectors import tournament_estimate

    people = contestants(4)
    Judge.objects.create(
        name="priced",
        kind=JudgeKind.OPENAI,
        base_url="http://127.0.0.1:9/v1",
        model_id="m",
        settings={"both_orders": True, "price_in": 1.0, "price_out": 4.0},
    )
    t = tournament_create(
        name="est",
        format="round_robin",
        contestants=[c.name for c in people],
        prompt_set="tiny",
        judge="priced",
        config={"rounds": 2},
        seed=1,
    )
    estimate = tournament_estimate(t)
    assert estimate["matches"] == 12 and estimate["judge_calls"] == 24
    prompt_tokens = sum(len(p.text) for p in prompt_set.prompts.all()) / 3 / 4
    expected = 24 * ((prompt_tokens + 2 * 400) * 1.0 + 300 * 4.0) / 1e6
    assert estimate["judge_usd"] == pytest.approx(expected, abs=1e-4)
    page = Client().get(f"/tournaments/{t.pk}/").content.decode()
    assert "12 matches" in page and "(24 judge calls)" in page


def test_leaderboard_rows_are_fitted_once_per_set_of_verdicts(
    contestants, prompt_set, judge, play_out, monkeypatch
) -> None:
    from django.core.cache import cache

    from arena import boards
    from arena.models import Judgment

    people = contestants(3)
    t = tournament_start(
        tournament=tournament_create(
            name="cached",
            format="round_robin",
            contestants=[c.name for c in people],
            prompt_set="tiny",
            judge="sim-judge",
            config={"rounds": 1},
        )
    )
    t = play_out(t)
    fits: list[float] = []
    real = boards.leaderboard_rows

    def counted(tallies, **kwargs):
        fits.append(float(tallies.votes.sum()))
        return real(tallies, **kwargs)

    monkeypatch.setattr(boards, "leaderboard_rows", counted)
    cache.clear()  # playing it out already fitted (and cached) the final rows
    first = tournament_leaderboard(t)
    assert tournament_leaderboard(t) == first and fits == [3]
    # One verdict more is another set of verdicts: fitted anew, not served stale.
    again = tournament_rerun_match(t)
    assert sum(r["matches"] for r in tournament_leaderboard(t)) == 8
    assert fits == [3, 4] and Judgment.objects.filter(match__tournament=t).count() == 4 == again


def tournament_rerun_match(tournament) -> int:
    """One more judged match in the tournament (a round the format did not plan), played."""
    from arena.models import Judgment, Match, MatchEntry
    from arena.services.matches import match_play

    done = tournament.matches.first()
    extra = Match.objects.create(tournament=tournament, round=99, slot=0, prompt=done.prompt)
    for entry in done.entries.all():
        MatchEntry.objects.create(match=extra, contestant=entry.contestant, position=entry.position)
    tournament.status = "running"
    tournament.save(update_fields=["status"])
    match_play(match_id=extra.pk)
    return Judgment.objects.filter(match__tournament=tournament).count()


def test_tournament_by_pk_reads_the_same_tournament_as_the_orm(
    contestants, prompt_set, judge
) -> None:
    from arena.models import Tournament
    from arena.selectors import tournament_by_pk

    people = contestants(3)
    t = tournament_create(
        name="by pk", format="round_robin", contestants=[c.name for c in people],
        prompt_set="tiny", judge="sim-judge", config={"rounds": 2}, seed=4,
    )  # fmt: skip
    found = tournament_by_pk(t.pk)
    assert found is not None and not found._state.adding
    expected = Tournament.objects.get(pk=t.pk)
    for field in Tournament._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    assert tournament_by_pk(t.pk + 1000) is None


def test_rounds_come_a_page_at_a_time_latest_first_and_only_for_formats_in_rounds(
    human_tournament_of, monkeypatch
) -> None:
    from django.test import Client

    from arena import selectors
    from arena.selectors import tournament_rounds

    groups = human_tournament_of(4, format="kwise", config={"k": 2, "rounds": 3}, seed=2)
    monkeypatch.setattr(selectors, "ROUNDS_PAGE_MATCHES", 2)  # each round of 2 groups a page
    latest = tournament_rounds(groups)
    assert (latest.page, latest.pages, latest.shown) == (3, 3, True)
    assert [r["round"] for r in latest.rounds] == [2] and len(latest.rounds[0]["matches"]) == 2
    assert [r["round"] for r in tournament_rounds(groups, page=1).rounds] == [0]
    assert tournament_rounds(groups, page=99).page == 3
    page = Client().get(f"/tournaments/{groups.pk}/?page=1").content.decode()
    assert "page 1 of 3" in page and "later rounds" in page

    from arena.models import Tournament

    Tournament.objects.filter(pk=groups.pk).update(format="round_robin")
    groups.refresh_from_db()
    assert tournament_rounds(groups).shown is False
