"""Command line: ``python -m ratings fit FILE [--method elo|bt] [--bootstrap N] ...``.

Reads a FastChat battle file (JSON list, JSONL or CSV), fits the chosen method and prints
a leaderboard as a table or JSON. A malformed file is reported with its line and field
on stderr, with exit status 2 (the argparse convention for bad input).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ratings.bootstrap import bootstrap_bradley_terry, rank_from_intervals
from ratings.bradley_terry import NoMLEError, fit_bradley_terry
from ratings.data import Battles
from ratings.elo import bootstrap_online_elo, online_elo
from ratings.io import BattleFileError, read_battle_file
from ratings.soft_condorcet import fit_soft_condorcet

METHODS = ("bt", "elo", "sco")


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


def _interval(
    samples: NDArray[np.float64], level: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    tail = (1 - level) / 2
    low, high = np.quantile(samples, [tail, 1 - tail], axis=0)
    return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)


def _fit_bt(battles: Battles, args: argparse.Namespace) -> Leaderboard:
    fit = fit_bradley_terry(battles, anchor=args.anchor, prior=args.prior)
    params: dict[str, Any] = fit.params()
    low = high = None
    if args.bootstrap:
        boot = bootstrap_bradley_terry(
            battles,
            rounds=args.bootstrap,
            seed=args.seed,
            prior=args.prior,
            anchor=args.anchor,
            resample=args.resample,
        )
        low, high = _interval(boot.samples, args.level)
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
        low, high = _interval(samples, args.level)
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
    result = fit_soft_condorcet(votes, weights=battles.weight.tolist(), models=battles.models)
    ratings = np.asarray(result.ratings)
    params: dict[str, Any] = dict(result.params()) | {"loss": result.loss}
    return Leaderboard(
        "sco", params, result.models, ratings, None, None, battles.matches_per_model()
    )


def _format_table(board: Leaderboard) -> str:
    rows = board.rows()
    width = max(len("model"), *(len(row["model"]) for row in rows))
    ci_title = f"{board.params.get('level', 0.95):.0%} CI" if board.ci_low is not None else ""
    lines = [f"{'rank':>4}  {'model':<{width}}  {'rating':>9}  {ci_title:>21}  {'matches':>7}"]
    for row in rows:
        interval = ""
        if row["ci_low"] is not None:
            interval = f"[{row['ci_low']:9.2f}, {row['ci_high']:9.2f}]"
        lines.append(
            f"{row['rank']:>4}  {row['model']:<{width}}  {row['rating']:9.2f}  "
            f"{interval:>21}  {row['matches']:>7}"
        )
    return "\n".join(line.rstrip() for line in lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ratings", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit", help="fit ratings to a FastChat battle file")
    fit.add_argument("file", help="battles: .json list, .jsonl or .csv (model_a, model_b, winner)")
    fit.add_argument("--method", choices=METHODS, default="bt")
    fit.add_argument(
        "--bootstrap", type=int, default=0, metavar="N", help="bootstrap rounds (0: none)"
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
    fit.add_argument("--prior", type=float, default=0.0, help="BT Gaussian prior (choix alpha)")
    fit.add_argument("--output", choices=("table", "json"), default="table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.bootstrap < 0 or not 0 < args.level < 1:
        parser.error("--bootstrap must be >= 0 and --level in (0, 1)")
    try:
        battles = read_battle_file(args.file)
        board = {"bt": _fit_bt, "elo": _fit_elo, "sco": _fit_sco}[args.method](battles, args)
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    except (BattleFileError, NoMLEError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output == "json":
        payload = {"method": board.method, "params": board.params, "ratings": board.rows()}
        print(json.dumps(payload, indent=2))
    else:
        print(_format_table(board))
    return 0


if __name__ == "__main__":
    sys.exit(main())
