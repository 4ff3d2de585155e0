"""Every format runs to completion through the engine (services), with the simulated judge."""

from __future__ import annotations

import pytest
from django.test import Client

from arena.boards import global_leaderboard
from arena.models import Judgment, MatchStatus, Standing, Tournament, TournamentStatus
from arena.services.advance import tournament_advance
from arena.services.tournaments import tournament_create, tournament_start

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("format", "n", "config"),
    [
        ("single_elimination", 6, {"third_place": True}),
        ("single_elimination", 5, {"tie_rule": "higher_seed", "seeding": "rating"}),
        ("kwise", 7, {"k": 3, "rounds": 2}),
        ("anchor", 5, {"anchor": "sim-2", "rounds": 2}),
        ("swiss", 6, {"rounds": 3}),
        ("round_robin", 4, {"rounds": 1}),
        ("adaptive", 5, {"max_matches": 20, "batch": 4}),
        ("single_elimination", 6, {"seeding": "anchor", "anchor": "sim-2"}),
        ("single_elimination", 5, {"seeding": "anchor", "anchor": "sim-0", "anchor_rounds": 2}),
        ("kwise", 7, {"k": 3, "rounds": 4, "grouping": "adaptive"}),
        ("adaptive", 5, {"sampler": "info_gain", "max_matches": 16, "batch": 4}),
        ("adaptive", 5, {"sampler": "top_k", "top_k": 2, "max_matches": 16, "batch": 4}),
    ],
)
def test_each_format_completes_with_every_planned_match_judged_once(
    contestants, prompt_set, judge, play_out, format: str, n: int, config: dict
) -> None:
    people = contestants(n)
    tournament = tournament_create(
        name=format,
        format=format,
        contestants=[c.name for c in people],
        prompt_set="tiny",
        judge="sim-judge",
        config=config,
        seed=3,
    )
    tournament = play_out(tournament_start(tournament=tournament))
    assert tournament.status == TournamentStatus.COMPLETED
    played = tournament.matches.filter(status=MatchStatus.COMPLETED).count()
    assert played == tournament.planned_matches == tournament.matches.count()
    assert Judgment.objects.filter(match__tournament=tournament).count() == played
    entries = sum(m.entries.count() for m in tournament.matches.all())
    assert (
        sum(Standing.objects.filter(tournament=tournament).values_list("matches", flat=True))
        == entries
    )
    if config.get("seeding") == "anchor":  # everyone but the anchor meets it first
        rounds = int(config.get("anchor_rounds", 1))
        assert tournament.matches.filter(round__lt=rounds).count() == rounds * (n - 1)


def test_a_kwise_group_is_judged_whole_and_moves_every_member(
    contestants, prompt_set, judge, play_out
) -> None:
    people = contestants(4)
    tournament = tournament_create(
        name="k4",
        format="kwise",
        contestants=[c.name for c in people],
        prompt_set="tiny",
        judge="sim-judge",
        config={"k": 4, "rounds": 1},
        seed=1,
    )
    tournament = play_out(tournament_start(tournament=tournament))
    ranking = tournament.matches.get().judgment.ranking
    assert sorted(c for tier in ranking for c in tier) == sorted(c.pk for c in people)
    standings = Standing.objects.filter(tournament=tournament)
    assert all(s.elo != 1000.0 for s in standings)
    assert sum(s.wins for s in standings) == pytest.approx(2.0)  # C(4,2) pairs / 3 opponents


def test_an_anchor_that_is_not_a_contestant_is_refused_by_name(
    contestants, prompt_set, judge
) -> None:
    from django.core.exceptions import ValidationError

    people = contestants(3)
    with pytest.raises(ValidationError) as error:
        tournament_create(
            name="a",
            format="anchor",
            contestants=[c.name for c in people[:2]],
            prompt_set="tiny",
            judge="sim-judge",
            config={"anchor": people[2].name},
        )
    assert "anchor" in error.value.message_dict
    assert not Tournament.objects.exists()


def test_rating_seeds_are_frozen_at_start_from_the_global_bt_leaderboard(
    contestants, prompt_set, judge, play_out
) -> None:
    people = contestants(4)
    names = [c.name for c in people]
    play_out(
        tournament_start(
            tournament=tournament_create(
                name="rr",
                format="round_robin",
                contestants=names,
                prompt_set="tiny",
                judge="sim-judge",
                config={"rounds": 3},
                seed=2,
            )
        )
    )
    rows, _ = global_leaderboard(source="all")
    bt = {c.pk: next(r["bt"] for r in rows if r["contestant"] == c.name) for c in people}
    bracket = tournament_start(
        tournament=tournament_create(
            name="se",
            format="single_elimination",
            contestants=names,
            prompt_set="tiny",
            judge="sim-judge",
            config={"seeding": "rating"},
            seed=2,
        )
    )
    frozen = {int(k): v for k, v in bracket.manifest["prior_ratings"].items()}
    assert frozen == pytest.approx(bt)
    seeds_from = bracket.manifest["seeds_from"]
    assert (seeds_from["source"], seeds_from["source_label"]) == ("all", "All verdicts")
    assert seeds_from["rated"] == 4
    tournament_advance(tournament_id=bracket.pk)
    top = max(bt, key=bt.__getitem__)
    bottom = min(bt, key=bt.__getitem__)
    first_match = bracket.matches.get(round=0, slot=0)
    assert {e.contestant_id for e in first_match.entries.all()} == {top, bottom}
    page = Client().get(f"/tournaments/{bracket.pk}/").content.decode()
    assert "Bradley-Terry rating on the global leaderboard (All verdicts)" in page
    assert "4 of 4 models had one" in page


def test_a_rating_seeding_reads_the_board_of_the_source_it_names(
    contestants, prompt_set, judge, play_out
) -> None:
    names = [c.name for c in contestants(3)]
    play_out(
        tournament_start(
            tournament=tournament_create(
                name="rr", format="round_robin", contestants=names, prompt_set="tiny",
                judge="sim-judge", config={"rounds": 1}, seed=2,
            )
        )
    )  # fmt: skip
    bracket = tournament_create(
        name="se",
        format="single_elimination",
        contestants=names,
        prompt_set="tiny",
        judge="sim-judge",
        config={"seeding": "rating", "seed_source": "humans"},
        seed=2,
    )
    started = tournament_start(tournament=bracket)
    assert started.manifest["prior_ratings"] == {}  # nobody has a human vote yet
    assert started.manifest["seeds_from"]["rated"] == 0


def test_a_seed_source_naming_no_judge_is_refused(contestants, prompt_set) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        tournament_create(
            name="se",
            format="single_elimination",
            contestants=[c.name for c in contestants(3)],
            prompt_set="tiny",
            judge=None,
            config={"seeding": "rating", "seed_source": "judge:987654"},
        )
    assert refused.value.message_dict["seed_source"] == ["no judge has the id 987654"]
