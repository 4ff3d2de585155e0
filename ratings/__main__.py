"""Command line: ``python -m ratings fit FILE [--method elo|bt|sco|pl|bayes|winrate] ...``
and ``python -m ratings aggregate FILE [--method borda|copeland|kemeny|sco|all] [--json]``.

Reads a FastChat battle file (JSON list, JSONL, CSV or Parquet) or K-wise rankings (JSONL
of ``{"ranking": [[best], [next, tied], ...], "weight": 1}``), fits the chosen method and
prints a leaderboard as a table or JSON. A malformed file is reported with its line and
field on stderr, with exit status 2 (the argparse convention for bad input).

Methods and their ``rating`` column:

- ``bt``: Bradley-Terry MLE on the Elo scale; ``elo``: FastChat online Elo. K-wise rankings
  are decomposed into their K(K-1)/2 pairs (ties inside a tier).
- ``sco``: Soft Condorcet Optimization (Lanctot et al. 2024) at ``RATING_SCALE``: ratings
  around 1000 whose gaps read like Elo points (``ratings.soft_condorcet``); a battle is a
  two-entry vote, a tie one tier (no preference).
- ``pl``: Plackett-Luce MLE, natural log-strengths with mean 0 (choix's convention). A
  battle is a 2-item ranking; a tie is one tier of two at half weight, so on battles
  ``pl`` is exactly BT with ties as half wins (in natural units).
- ``bayes``: Weng-Lin Plackett-Luce online ratings (openskill defaults) replayed in file
  (or ``tstamp``) order, a ranking of whole-number weight w replayed w times; ``rating``
  is the conservative ordinal mu - 3 sigma and the interval is mu +/- z sigma (z = 1.96
  at ``--level 0.95``), so the rating sits below it.
- ``winrate``: average win rate over the opponents met (ties half a win); intervals only
  with ``--bootstrap`` (Poisson(1) weight per battle or ranking).

``--bootstrap`` for ``pl`` and ``winrate`` reweights whole input records (battles or
rankings) by Poisson(1) draws from ``--seed`` (``pl`` draws them per distinct ranking, in
a canonical order, as the app's K-wise boards do: ``ratings.plackett_luce``).

Battle files in FastChat's, LMArena's (``both_bad``, ``conv_metadata``, ``category_tag``)
and Kaggle's 55k layouts are recognised by their columns (see ``ratings.io``). A battle may
carry a ``score`` beside or instead of ``winner``: the share of the win credited to
``model_a``, in [0, 1] (soft preferences, a judge's probabilities, the mean of two orders).
Where given it decides: 1, 0 and 0.5 are a win, a loss and a tie; a score s between counts
as a win weighted s and a loss weighted 1 - s, which ``bt`` and ``winrate`` fit exactly as
a fractional outcome (the other methods see those two weighted battles; ``matches``
counts the battle once; bootstrap and sandwich intervals treat the two as separate
battles, which widens them a little). With them:

- ``--ci bootstrap`` (``--bootstrap`` rounds, 100 when not given), ``--ci sandwich`` (BT
  only: normal intervals from the robust covariance) or ``--ci none``. BT (with or without
  style control) bootstraps 100 rounds unless told otherwise, as LMArena's leaderboard
  does; the other methods give intervals only when asked, since their bootstraps refit
  everything each round;
- ``--style-control``: BT controlled for answer length and markdown (headers, lists, bold)
  from ``conv_metadata``, normalised as FastChat does ((a - b) / (a + b + 1), then
  standardised; ``ratings.style``); the style coefficients go into ``params``;
- ``--category NAME``: only the battles whose category flag is true (``math``,
  ``creative_writing``, ``if``, ``hard_prompt``, ``code``: ``ratings.io.CATEGORIES``);
- ``--min-verdicts N``: models with fewer than N battles stay listed, marked preliminary.

``aggregate`` ranks models across tasks: each task's ranking is a vote, merged by Borda,
Copeland, Kemeny-Young (exact up to 8 models, a local search beyond) and Soft Condorcet
(``ratings.aggregate``). FILE is a table of per-task scores, long (``model`` or ``agent``,
``task``, ``score`` rows; CSV or JSON lines) or wide (CSV: the first column the model, one
column per task, an empty cell a task not run), or JSON lines of per-task rankings
(``{"ranking": [[...], ...], "task": "...", "weight": 1}``); see ``ratings.task_table``.
Each method's order and scores are printed side by side, then the Kendall tau between
the methods.
"""

from __future__ import annotations

import os

# The BT Newton step solves an n_models x n_models system: BLAS threads only add
# synchronisation there, and on a busy 2-core machine they made each solve many times
# slower (benchmarks/README.md, "Ratings speed"). Set before numpy loads; exported values win.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from ratings.aggregate import AGGREGATORS, AggregateResult, aggregate_all, method_taus  # noqa: E402
from ratings.bayesian import SkillRating, WengLinParams, ordinal, rate_plackett_luce  # noqa: E402
from ratings.bootstrap import (  # noqa: E402
    bootstrap_bradley_terry,
    percentile_interval,
    rank_from_intervals,
    sandwich_bradley_terry,
)
from ratings.bradley_terry import NoMLEError, fit_bradley_terry  # noqa: E402
from ratings.data import Battles, Outcome, aggregate, battles_from_rankings  # noqa: E402
from ratings.elo import bootstrap_online_elo, online_elo  # noqa: E402
from ratings.io import (  # noqa: E402
    CATEGORIES,
    STYLE_KEYS,
    BattleFileError,
    BattleTable,
    RankingData,
    read_rating_table,
)
from ratings.metrics import win_rate_matrix  # noqa: E402
from ratings.plackett_luce import (  # noqa: E402
    bootstrap_plackett_luce,
    distinct_rankings,
    fit_plackett_luce,
)
from ratings.soft_condorcet import RATING_SCALE, fit_soft_condorcet  # noqa: E402
from ratings.style import fit_style_controlled_bt, style_features  # noqa: E402
from ratings.task_table import TaskRankings, read_task_rankings  # noqa: E402

METHODS = ("bt", "elo", "sco", "pl", "bayes", "winrate")
Data = Battles | RankingData
Tiers = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Leaderboard:
    """What the CLI prints: one row per model plus the method and its parameters."""

    method: str
    params: dict[str, Any]
    models: tuple[str, ...]
    ratings: NDArray[np.float64]
    ci_low: NDArray[np.float64] | None
    ci_high: NDArray[np.float64] | None
    matches: NDArray[np.int64]
    min_verdicts: int = 0

    def ranks(self) -> NDArray[np.int64]:
        """CI-based ranks when intervals exist, else 1 + number of strictly better ratings."""
        if self.ci_low is not None and self.ci_high is not None:
            return rank_from_intervals(self.ci_low, self.ci_high)
        return rank_from_intervals(self.ratings, self.ratings)

    def rows(self) -> list[dict[str, Any]]:
        ranks = self.ranks()
        order = sorted(range(len(self.models)), key=lambda k: (-self.ratings[k], self.models[k]))
        return [
            {
                "model": self.models[k],
                "rating": float(self.ratings[k]),
                "ci_low": None if self.ci_low is None else float(self.ci_low[k]),
                "ci_high": None if self.ci_high is None else float(self.ci_high[k]),
                "rank": int(ranks[k]),
                "matches": int(self.matches[k]),
                "preliminary": bool(self.matches[k] < self.min_verdicts),
            }
            for k in order
        ]


def _parse_anchor(text: str) -> tuple[str, float]:
    model, sep, value = text.rpartition("=")
    try:
        rating = float(value)
    except ValueError:
        rating = math.nan
    if not sep or not model or not math.isfinite(rating):
        raise argparse.ArgumentTypeError(f"expected MODEL=RATING, got {text!r}")
    return model, rating


def _fit_bt(battles: Battles, args: argparse.Namespace) -> Leaderboard:
    cells = aggregate(battles)  # fit and bootstrap need only the counts: aggregate once
    fit = fit_bradley_terry(cells, anchor=args.anchor, prior=args.prior)
    params: dict[str, Any] = fit.params()
    low = high = None
    if args.ci == "sandwich":
        sandwich = sandwich_bradley_terry(
            cells, level=args.level, prior=args.prior, anchor=args.anchor
        )
        low, high = sandwich.ci_low, sandwich.ci_high
        params |= {"ci": "sandwich", "level": args.level}
    if args.bootstrap:
        boot = bootstrap_bradley_terry(
            cells,
            rounds=args.bootstrap,
            seed=args.seed,
            prior=args.prior,
            anchor=args.anchor,
            resample=args.resample,
        )
        low, high = percentile_interval(boot.samples, args.level)
        params |= {
            "bootstrap": args.bootstrap,
            "seed": args.seed,
            "level": args.level,
            "fallback_prior": boot.fallback_prior,
            "degenerate_rounds": boot.degenerate_rounds,
            "resample": boot.resample,
        }
    return Leaderboard("bt", params, fit.models, fit.ratings, low, high, fit.matches)


def _fit_elo(battles: Battles, args: argparse.Namespace) -> Leaderboard:
    result = online_elo(battles)
    ratings = np.asarray(result.ratings)
    if args.anchor is not None:
        name, value = args.anchor
        if name not in result.models:
            raise ValueError(f"anchor: unknown model {name!r}")
        ratings = ratings + (value - ratings[result.models.index(name)])
    params: dict[str, Any] = result.params() | {
        "anchor": None if args.anchor is None else dict([args.anchor])
    }
    low = high = None
    if args.bootstrap:
        samples = bootstrap_online_elo(battles, rounds=args.bootstrap, seed=args.seed)
        if args.anchor is not None:
            k = result.models.index(args.anchor[0])
            samples = samples + (args.anchor[1] - samples[:, k : k + 1])
        low, high = percentile_interval(samples, args.level)
        params |= {"bootstrap": args.bootstrap, "seed": args.seed, "level": args.level}
    return Leaderboard("elo", params, result.models, ratings, low, high, result.matches)


def _fit_sco(battles: Battles, args: argparse.Namespace) -> Leaderboard:
    """Soft Condorcet on battles read as two-entry votes (a tie is a vote with no preference)."""
    if args.bootstrap:
        raise ValueError("--bootstrap is not available for --method sco")
    votes = [
        [[battles.models[a], battles.models[b]]]
        if outcome in (1, 3)
        else [[battles.models[a]], [battles.models[b]]]
        if outcome == 2
        else [[battles.models[b]], [battles.models[a]]]
        for a, b, outcome in zip(
            battles.model_a.tolist(),
            battles.model_b.tolist(),
            battles.outcome.tolist(),
            strict=True,
        )
    ]
    result = fit_soft_condorcet(
        votes, weights=battles.weight.tolist(), models=battles.models, **RATING_SCALE
    )
    ratings = np.asarray(result.ratings)
    params: dict[str, Any] = dict(result.params()) | {"loss": result.loss}
    return Leaderboard(
        "sco", params, result.models, ratings, None, None, battles.matches_per_model()
    )


def _as_battles(data: Data) -> tuple[Battles, NDArray[np.intp]]:
    """Pairwise battles, and for each the index of the input record it came from."""
    if isinstance(data, Battles):
        return data, np.arange(len(data), dtype=np.intp)
    battles = battles_from_rankings(data.rankings, weights=data.weights)
    sizes = np.array([sum(len(tier) for tier in r) for r in data.rankings], dtype=np.intp)
    group = np.repeat(np.arange(len(data), dtype=np.intp), sizes * (sizes - 1) // 2)
    return battles, group


def _as_rankings(data: Data, *, tie_weight: float) -> tuple[list[Tiers], list[float]]:
    """Tiered rankings; a battle is a 2-item ranking (a tie is one tier, at ``tie_weight``)."""
    if isinstance(data, RankingData):
        return list(data.rankings), list(data.weights)
    names = data.models
    rankings: list[Tiers] = []
    weights: list[float] = []
    order = data.time_order().tolist()
    for a, b, outcome, weight in zip(
        data.model_a[order].tolist(),
        data.model_b[order].tolist(),
        data.outcome[order].tolist(),
        data.weight[order].tolist(),
        strict=True,
    ):
        if outcome == Outcome.A_WINS:
            rankings.append(((names[a],), (names[b],)))
        elif outcome == Outcome.B_WINS:
            rankings.append(((names[b],), (names[a],)))
        else:
            rankings.append(((names[a], names[b]),))
            weight *= tie_weight
        weights.append(weight)
    return rankings, weights


def _records_per_model(data: RankingData, models: tuple[str, ...]) -> NDArray[np.int64]:
    """Number of rankings each model appears in."""
    lookup = {name: k for k, name in enumerate(models)}
    counts = np.zeros(len(models), dtype=np.int64)
    for ranking in data.rankings:
        for tier in ranking:
            for name in tier:
                counts[lookup[name]] += 1
    return counts


def _anchored(
    models: tuple[str, ...], ratings: NDArray[np.float64], anchor: tuple[str, float] | None
) -> float:
    """The shift that puts the anchor model at its rating (0 without an anchor)."""
    if anchor is None:
        return 0.0
    name, value = anchor
    if name not in models:
        raise ValueError(f"anchor: unknown model {name!r}")
    return value - float(ratings[models.index(name)])


def _fit_pl(data: Data, args: argparse.Namespace) -> Leaderboard:
    rankings, weights = _as_rankings(data, tie_weight=0.5)
    fit = fit_plackett_luce(rankings, prior=args.prior, weights=weights)
    shift = _anchored(fit.models, fit.log_strengths, args.anchor)
    ratings = fit.log_strengths + shift
    params: dict[str, Any] = dict(fit.params()) | {
        "scale": "natural log-strength, mean 0",
        "anchor": None if args.anchor is None else dict([args.anchor]),
        "log_likelihood": fit.log_likelihood,
        "iterations": fit.n_iterations,
    }
    low = high = None
    if args.bootstrap:
        boot = bootstrap_plackett_luce(
            distinct_rankings(rankings, weights=weights),
            models=fit.models,
            rounds=args.bootstrap,
            seed=args.seed,
            prior=args.prior,
        )
        samples = boot.samples + np.array(
            [[_anchored(fit.models, theta, args.anchor)] for theta in boot.samples]
        )
        low, high = percentile_interval(samples, args.level)
        params |= {
            "bootstrap": args.bootstrap,
            "seed": args.seed,
            "level": args.level,
            "resample": boot.resample,
            "fallback_prior": boot.fallback_prior,
            "degenerate_rounds": boot.degenerate_rounds,
        }
    matches = _matches(data, fit.models)
    return Leaderboard("pl", params, fit.models, ratings, low, high, matches)


def _fit_bayes(data: Data, args: argparse.Namespace) -> Leaderboard:
    if args.bootstrap:
        raise ValueError("--bootstrap is not available for --method bayes (it has sigma)")
    rankings, weights = _as_rankings(data, tie_weight=1.0)
    settings = WengLinParams()
    state: dict[str, SkillRating] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if weight != int(weight):
            raise ValueError(
                f"--method bayes replays a ranking 'weight' times: weight {weight} is not "
                "a whole number"
            )
        for _ in range(int(weight)):
            state |= rate_plackett_luce(state, ranking, settings)
    if not state:
        raise ValueError("--method bayes: every weight is 0")
    models = tuple(sorted(state))
    mu = np.array([state[m].mu for m in models])
    sigma = np.array([state[m].sigma for m in models])
    ratings = np.array([ordinal(state[m]) for m in models])
    shift = _anchored(models, ratings, args.anchor)
    z = statistics.NormalDist().inv_cdf(0.5 + args.level / 2)
    params: dict[str, Any] = dataclasses.asdict(settings) | {
        "rating": "mu - 3 sigma (conservative ordinal)",
        "interval": f"mu +/- {z:.4f} sigma",
        "level": args.level,
        "ordered_by_timestamp": isinstance(data, Battles) and data.timestamp is not None,
        "anchor": None if args.anchor is None else dict([args.anchor]),
    }
    return Leaderboard(
        "bayes",
        params,
        models,
        ratings + shift,
        mu - z * sigma + shift,
        mu + z * sigma + shift,
        _matches(data, models),
    )


def _average_win_rate(battles: Battles) -> NDArray[np.float64]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a model with no games: NaN
        return win_rate_matrix(battles).average_win_rate()


def _fit_winrate(data: Data, args: argparse.Namespace) -> Leaderboard:
    if args.anchor is not None:
        raise ValueError("--anchor is not available for --method winrate")
    battles, group = _as_battles(data)
    rates = _average_win_rate(battles)
    params: dict[str, Any] = {"ties": "half a win", "average": "over opponents met"}
    low = high = None
    if args.bootstrap:
        rng = np.random.default_rng(args.seed)
        n_records = int(group.max()) + 1 if group.size else 0
        samples = np.empty((args.bootstrap, battles.n_models))
        for round_ in range(args.bootstrap):
            weight = battles.weight * rng.poisson(1.0, n_records)[group]
            samples[round_] = _average_win_rate(dataclasses.replace(battles, weight=weight))
        tail = (1 - args.level) / 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanquantile(samples, [tail, 1 - tail], axis=0)
        params |= {
            "bootstrap": args.bootstrap,
            "seed": args.seed,
            "level": args.level,
            "resample": "poisson",
        }
    return Leaderboard(
        "winrate", params, battles.models, rates, low, high, _matches(data, battles.models)
    )


def _matches(data: Data, models: tuple[str, ...]) -> NDArray[np.int64]:
    """Input records (battles or rankings) each model took part in."""
    if isinstance(data, RankingData):
        return _records_per_model(data, models)
    return data.matches_per_model()


def _fit_style(table: BattleTable, args: argparse.Namespace) -> Leaderboard:
    """BT with FastChat's style covariates from the file's conv_metadata counts."""
    if table.style_a is None or table.style_b is None:
        raise BattleFileError(
            table.source,
            1,
            "missing column (--style-control reads its style counts)",
            "conv_metadata",
        )
    for side, counts in enumerate((table.style_a, table.style_b)):
        bad = ~(np.isfinite(counts) & (counts >= 0))
        if bad.any():
            row, feature = np.argwhere(bad)[0]
            key = STYLE_KEYS[side][int(feature)]
            raise BattleFileError(
                table.source,
                table.line_of(int(row)),
                "missing or not a count >= 0 (needed by --style-control)",
                f"conv_metadata.{key}",
            )
    features = style_features(table.style_a, table.style_b, add_one=True)
    fit = fit_style_controlled_bt(
        table.to_battles(),
        features,
        anchor=args.anchor,
        prior=args.prior,
        rounds=args.bootstrap,
        seed=args.seed,
        resample=args.resample,
    )
    params: dict[str, Any] = dict(fit.params()) | {
        "style_control": "conv_metadata counts, (a - b) / (a + b + 1), standardised",
        "coefficients": fit.coefficients_dict(),
    }
    low = high = None
    if args.bootstrap:
        interval = fit.interval(args.level)
        low, high = interval.ci_low, interval.ci_high
        params |= {
            "bootstrap": args.bootstrap,
            "level": args.level,
            "degenerate_rounds": fit.degenerate_rounds,
        }
    return Leaderboard("bt", params, fit.models, fit.ratings, low, high, fit.matches)


def _in_category(table: BattleTable, name: str) -> BattleTable:
    if name not in CATEGORIES:
        known = ", ".join(CATEGORIES)
        raise ValueError(f"--category: unknown category {name!r} (known: {known})")
    if name not in table.categories:
        rule = CATEGORIES[name]
        field = rule.column or "category_tag"
        where = rule.column or "category_tag." + ".".join(rule.path)
        raise BattleFileError(
            table.source, 1, f"no {where} in the file (needed by --category {name})", field
        )
    keep = table.categories[name]
    if not keep.any():
        raise ValueError(f"--category {name}: no battle in the file is in this category")
    return table.take(keep)


def _run(args: argparse.Namespace) -> Leaderboard:
    data = read_rating_table(
        args.file, text=False, style=args.style_control, categories=args.category is not None
    )
    if isinstance(data, RankingData):
        if args.style_control or args.category is not None:
            raise ValueError("--style-control and --category need battles, not K-wise rankings")
        return _fit(data, args)
    table = data if args.category is None else _in_category(data, args.category)
    board = _fit_style(table, args) if args.style_control else _fit(table.to_battles(), args)
    if table.rows is not None and board.models == table.models:
        board = dataclasses.replace(board, matches=table.battles_per_model())
    board.params["layout"] = table.layout
    if args.category is not None:
        board.params.update(category=args.category, battles_in_category=len(table))
    return board


def _fit(data: Data, args: argparse.Namespace) -> Leaderboard:
    if args.method in ("pl", "bayes", "winrate"):
        fits = {"pl": _fit_pl, "bayes": _fit_bayes, "winrate": _fit_winrate}
        return fits[args.method](data, args)
    if args.method == "sco" and isinstance(data, RankingData):
        return _fit_sco_rankings(data, args)
    battles, _ = _as_battles(data)
    board = {"bt": _fit_bt, "elo": _fit_elo, "sco": _fit_sco}[args.method](battles, args)
    if isinstance(data, RankingData):
        board = dataclasses.replace(board, matches=_records_per_model(data, board.models))
        board.params["input"] = "rankings, as K(K-1)/2 pairs each"
    return board


def _fit_sco_rankings(data: RankingData, args: argparse.Namespace) -> Leaderboard:
    if args.bootstrap:
        raise ValueError("--bootstrap is not available for --method sco")
    result = fit_soft_condorcet(list(data.rankings), weights=list(data.weights), **RATING_SCALE)
    params: dict[str, Any] = dict(result.params()) | {"loss": result.loss}
    matches = _records_per_model(data, result.models)
    return Leaderboard(
        "sco", params, result.models, np.asarray(result.ratings), None, None, matches
    )


def _format_table(board: Leaderboard) -> str:
    rows = board.rows()
    width = max(len("model"), *(len(row["model"]) for row in rows))
    digits = 2 if max(abs(row["rating"]) for row in rows) >= 10 else 4
    ci_title = f"{board.params.get('level', 0.95):.0%} CI" if board.ci_low is not None else ""
    note = "  note" if board.min_verdicts else ""
    lines = [
        f"{'rank':>4}  {'model':<{width}}  {'rating':>9}  {ci_title:>21}  {'matches':>7}{note}"
    ]
    for row in rows:
        interval = ""
        if row["ci_low"] is not None:
            interval = f"[{row['ci_low']:9.{digits}f}, {row['ci_high']:9.{digits}f}]"
        flag = "  preliminary" if row["preliminary"] else ""
        lines.append(
            f"{row['rank']:>4}  {row['model']:<{width}}  {row['rating']:9.{digits}f}  "
            f"{interval:>21}  {row['matches']:>7}{flag}"
        )
    return "\n".join(line.rstrip() for line in lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ratings", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fit = _command(
        commands,
        "fit",
        "fit ratings to a FastChat battle file or K-wise rankings",
        "battles (.json list, .jsonl, .csv, .parquet; model_a, model_b, winner) "
        'or K-wise .jsonl ({"ranking": [[...], ...], "weight": 1})',
    )
    fit.add_argument("--method", choices=METHODS, default="bt")
    fit.add_argument(
        "--bootstrap",
        type=int,
        default=None,
        metavar="N",
        help="bootstrap rounds (default 100 with --ci bootstrap; 0: no intervals)",
    )
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument(
        "--resample",
        choices=("poisson", "multinomial"),
        default="poisson",
        help="BT bootstrap weights: Poisson(1) per battle, or a multinomial draw of N battles",
    )
    fit.add_argument("--level", type=float, default=0.95, help="confidence level of intervals")
    fit.add_argument("--anchor", type=_parse_anchor, default=None, metavar="MODEL=RATING")
    fit.add_argument("--prior", type=float, default=0.0, help="BT/PL Gaussian prior (choix alpha)")
    fit.add_argument("--output", choices=("table", "json"), default="table")
    fit.add_argument(
        "--ci",
        choices=("bootstrap", "sandwich", "none"),
        default=None,
        help="intervals: bootstrap (--bootstrap rounds, 100 if not given; the default for "
        "bt), sandwich (bt only) or none (the default for the other methods)",
    )
    fit.add_argument(
        "--style-control",
        action="store_true",
        help="BT controlled for length and markdown (conv_metadata counts, LMArena files)",
    )
    fit.add_argument(
        "--category",
        metavar="NAME",
        default=None,
        help="fit only the battles in one category: " + ", ".join(CATEGORIES),
    )
    fit.add_argument(
        "--min-verdicts",
        type=int,
        default=0,
        metavar="N",
        help="mark models with fewer than N battles as preliminary (they stay listed)",
    )
    _add_aggregate(commands)
    return parser


def _command(commands: Any, name: str, summary: str, file_help: str) -> argparse.ArgumentParser:
    """A subcommand with this module's description and its FILE argument."""
    command: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("file", help=file_help)
    return command


def _add_aggregate(commands: Any) -> None:
    aggregate = _command(
        commands,
        "aggregate",
        "rank models across tasks (Borda, Copeland, Kemeny, Soft Condorcet)",
        "per-task scores (long: model|agent, task, score; wide CSV: model, then one "
        'column per task) or per-task rankings (.jsonl: {"ranking": [[...], ...]})',
    )
    aggregate.add_argument("--method", choices=(*AGGREGATORS, "all"), default="all")
    aggregate.add_argument("--json", action="store_true", help="print JSON, not a table")


def _aggregate_payload(tasks: TaskRankings, results: dict[str, AggregateResult]) -> dict[str, Any]:
    return {
        "input": {
            "layout": tasks.layout,
            "tasks": len(tasks.tasks),
            "models": len(tasks.models),
            "left_out": list(tasks.left_out),
        },
        "methods": {
            name: {
                "order": list(result.order),
                "scores": {m: result.as_dict()[m] for m in result.order},
                "params": dict(result.params),
            }
            for name, result in results.items()
        },
        "kendall_tau": {
            a: {b: None if math.isnan(t) else t for b, t in row.items()}
            for a, row in method_taus(results).items()
        },
    }


def _aggregate_table(tasks: TaskRankings, results: dict[str, AggregateResult]) -> str:
    width = max(len(name) for result in results.values() for name in result.order)
    width = max(width, *(len(name) for name in results))
    head = "  ".join(f"{name:<{width}}  {'score':>9}" for name in results)
    lines = [f"{'rank':>4}  {head}"]
    for position in range(len(tasks.models)):
        cells = []
        for result in results.values():
            model = result.order[position]
            cells.append(f"{model:<{width}}  {result.as_dict()[model]:9.2f}")
        lines.append(f"{position + 1:>4}  " + "  ".join(cells))
    left_out = f"; left out (fewer than two scored models): {', '.join(tasks.left_out)}"
    lines.append(
        f"{len(tasks.tasks)} tasks ({tasks.layout}), {len(tasks.models)} models"
        + (left_out if tasks.left_out else "")
    )
    kemeny = results.get("kemeny")
    if kemeny is not None:
        lines.append(f"kemeny: {kemeny.params['search']}")
    if len(results) > 1:
        taus = method_taus(results)
        lines.append("Kendall tau between methods:")
        lines.append(" " * width + "".join(f"  {name:>8}" for name in results))
        for a in results:
            row = [f"{'':>8}" if a == b else f"{taus[a][b]:8.3f}" for b in results]
            lines.append(f"{a:<{width}}" + "".join(f"  {cell}" for cell in row))
    return "\n".join(line.rstrip() for line in lines)


def _aggregate_main(args: argparse.Namespace) -> int:
    try:
        tasks = read_task_rankings(args.file)
        methods = tuple(AGGREGATORS) if args.method == "all" else (args.method,)
        results = aggregate_all(list(tasks.rankings), weights=list(tasks.weights), methods=methods)
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except ValueError as exc:  # BattleFileError is one, naming the line and field
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_aggregate_payload(tasks, results), indent=2))
    else:
        print(_aggregate_table(tasks, results))
    return 0


DEFAULT_ROUNDS = 100


def _check_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Settle ``args.ci`` and ``args.bootstrap`` (rounds, 0 for none) from the options.

    BT gets bootstrap intervals by default, as on LMArena's leaderboard; the other methods'
    bootstraps refit everything 100 times (minutes of online Elo on 2M battles), so they
    get intervals only when asked (``--ci bootstrap`` or ``--bootstrap N``).
    """
    if (args.bootstrap is not None and args.bootstrap < 0) or not 0 < args.level < 1:
        parser.error("--bootstrap must be >= 0 and --level in (0, 1)")
    if args.min_verdicts < 0:
        parser.error("--min-verdicts must be >= 0")
    if args.style_control and args.method != "bt":
        parser.error("--style-control is for --method bt")
    if args.ci is None:
        wanted = args.bootstrap if args.bootstrap is not None else args.method == "bt"
        args.ci = "bootstrap" if wanted else "none"
    if args.ci == "bootstrap":
        if args.bootstrap == 0:
            parser.error("--ci bootstrap needs --bootstrap N > 0 rounds")
        args.bootstrap = args.bootstrap or DEFAULT_ROUNDS
        return
    if args.bootstrap:
        parser.error(f"--ci {args.ci} and --bootstrap {args.bootstrap} contradict each other")
    args.bootstrap = 0
    if args.ci == "sandwich" and (args.method != "bt" or args.style_control):
        parser.error("--ci sandwich is for --method bt without --style-control")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "aggregate":
        return _aggregate_main(args)
    _check_options(parser, args)
    try:
        board = dataclasses.replace(_run(args), min_verdicts=args.min_verdicts)
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except (BattleFileError, NoMLEError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output == "json":
        params = board.params | ({"min_verdicts": board.min_verdicts} if board.min_verdicts else {})
        payload = {"method": board.method, "params": params, "ratings": board.rows()}
        print(json.dumps(payload, indent=2))
    else:
        print(_format_table(board))
    return 0


if __name__ == "__main__":
    sys.exit(main())
