"""The overall ranking across categories: each category's BT board one vote, merged by
Borda, Copeland, Kemeny and Soft Condorcet beside the pooled BT board, from the cells."""

from __future__ import annotations

import math
from collections import defaultdict
from itertools import combinations

import pytest
from django.test import Client

from arena import boards
from arena.evidence import COLUMNS, COUNTS, Entrant, pair_increments
from arena.models import Contestant, Judgment, PairCell, Tournament
from tests.conftest import forget_cached

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    """Boards are cached by counts and ids, which another test's rolled-back rows reuse."""
    forget_cached("board:")


# Per category, the models best first: the better of two wins 20 of 25 verdicts.
ORDERS = {
    "math": ("a", "b", "c", "d"),
    "code": ("b", "a", "c", "d"),
    "writing": ("a", "c", "b", "d"),
}


def add_cells(
    tournament: Tournament, people: dict[str, Contestant], category: str, order: tuple[str, ...]
) -> None:
    """The cells of 25 verdicts per pair, the better (earlier in ``order``) winning 20."""
    sums: dict[tuple[int, int], list[float]] = defaultdict(lambda: [0.0] * len(COLUMNS))
    for better, worse in combinations(order, 2):
        x, y = people[better].pk, people[worse].pk
        for winner, loser, n in ((x, y, 20), (y, x, 5)):
            increments = pair_increments(
                [Entrant(winner), Entrant(loser)], [[winner], [loser]], both_bad=False
            )
            for pair, values in increments.items():
                sums[pair] = [s + n * v for s, v in zip(sums[pair], values, strict=True)]
    for (a, b), values in sums.items():
        columns = dict(zip(COLUMNS, values, strict=True))
        counts = {name: round(columns[name]) for name in COUNTS}
        PairCell.objects.create(
            tournament=tournament,
            source="humans",
            category=category,
            a_id=a,
            b_id=b,
            **(columns | counts),
        )


@pytest.fixture
def categories(make_tournament) -> Tournament:
    tournament = make_tournament(n=4)
    people = dict(zip("abcd", tournament.contestants.order_by("name"), strict=True))
    for category, order in ORDERS.items():
        add_cells(tournament, people, category, order)
    add_cells(tournament, people, "tiny", ("d", "a"))  # 25 verdicts: left out
    return tournament


def names(tournament: Tournament) -> dict[str, str]:
    people = tournament.contestants.order_by("name")
    return {c.name: letter for letter, c in zip("abcd", people, strict=True)}


def test_each_category_is_a_vote_and_a_thin_one_is_left_out_and_counted(categories) -> None:
    board = boards.overall_leaderboard()
    letter = names(categories)
    assert [c["category"] for c in board["categories"]] == ["code", "math", "writing"]
    assert board["left_out"] == [{"category": "tiny", "verdicts": 25}]
    assert all(c["verdicts"] == 150 for c in board["categories"])
    orders = {m: [letter[e["contestant"]] for e in o] for m, o in board["orders"].items()}
    # a is above b in two categories of three, above c and d in all: the majority order
    assert orders["kemeny"] == orders["copeland"] == ["a", "b", "c", "d"]
    assert orders["borda"][0] == orders["sco"][0] == "a"
    assert set(board["orders"]) == {"pooled_bt", "borda", "copeland", "kemeny", "sco"}
    assert board["kemeny_search"] == "exact"
    assert len(board["positions"]) == 4 and len(board["positions"][0]) == 5
    assert board["tau_with_pooled"]["kemeny"] is not None


def test_the_overall_board_is_cached_and_reads_no_verdict_rows(
    categories, django_assert_max_num_queries, monkeypatch
) -> None:
    first = boards.overall_leaderboard()

    def refit(*args, **kwargs):
        raise AssertionError("refitted a category board")

    monkeypatch.setattr(boards, "global_leaderboard", refit)
    with django_assert_max_num_queries(2):  # the stamp, then the cache
        assert boards.overall_leaderboard() == first
    assert not Judgment.objects.exists()  # it was fitted from cells alone


def test_the_overall_board_is_refitted_once_the_verdicts_grow_by_one_percent(
    categories, monkeypatch
) -> None:
    fits = []
    real = boards._overall
    monkeypatch.setattr(boards, "_overall", lambda *args: fits.append(args) or real(*args))
    start = math.ceil(1.01**930)  # the first count of one 1% bucket
    counts = (start, start + start // 200, start + start // 120, math.ceil(1.01**931))
    for verdicts in counts:
        monkeypatch.setattr(boards, "_stamp", lambda n=verdicts: f"{n}:4:9:99")
        boards.overall_leaderboard()
    assert [stamp for _, _, stamp in fits] == [f"{counts[0]}:4:9:99", f"{counts[3]}:4:9:99"]


def test_no_category_with_enough_verdicts_gives_no_orders(make_tournament) -> None:
    tournament = make_tournament(n=2)
    people = dict(zip("ab", tournament.contestants.order_by("name"), strict=True))
    add_cells(tournament, people, "tiny", ("a", "b"))
    board = boards.overall_leaderboard()
    assert board["categories"] == [] and board["left_out"][0]["category"] == "tiny"
    assert board["positions"] and set(board["orders"]) == {"pooled_bt"}
    html = Client().get("/leaderboard/overall/").content.decode()
    assert "No category has 50 verdicts" in html and "tiny: 25" in html


def test_the_page_shows_the_four_orders_beside_the_pooled_one(categories) -> None:
    page = Client().get("/leaderboard/").content.decode()
    assert 'id="overall-panel"' in page and 'data-src="/leaderboard/overall/?source=all"' in page
    html = Client().get("/leaderboard/overall/").content.decode()
    for heading in ("Pooled BT", "Borda", "Copeland", "Kemeny", "Soft Condorcet"):
        assert f">{heading}</th>" in html
    assert "merge the 3 categories that went in" in html
    assert "1 category was left out with fewer than 50 verdicts" in html and "tiny: 25" in html
    first_row = html.split("<tbody>")[1].split("</tr>")[0]
    assert first_row.count("<td>") == 6  # the position, then five orders side by side


def test_the_json_form_follows_the_source_and_refuses_an_unknown_one(categories) -> None:
    client = Client()
    payload = client.get("/leaderboard/overall.json", {"source": "humans"}).json()
    assert payload["source"] == "humans" and len(payload["categories"]) == 3
    assert client.get("/leaderboard/overall.json", {"source": "judge:999"}).status_code == 400
    assert client.get("/leaderboard/overall/", {"source": "nobody"}).status_code == 400
