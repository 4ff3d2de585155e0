"""Plackett-Luce maximum likelihood for K-wise rankings, with ties.

A ranking is read as successive choices (Luce 1959; Plackett 1975): the best entry is
chosen from everyone, the next from the rest, and so on, each with probability
``exp(theta_i) / sum(exp(theta_j) for j still in)``. Ties use Breslow's approximation
(as for tied event times in Cox regression): each member of a tier is "chosen" from the
same remaining set, which keeps the likelihood concave and reduces to exact PL when
there are no ties. ``final_tier_unranked`` treats the last tier as "not ranked among
themselves" (top-k lists, choice data such as choix's top-1 cases) so it adds no choice.

The log-likelihood is maximised with L-BFGS on its analytic gradient; log-strengths are
centred to mean 0 (choix's convention). As with BT the MLE is infinite when the
"ranked above" graph is not strongly connected; that is a ``NoMLEError`` unless
``prior > 0`` (penalty ``prior * sum(theta**2)``, choix's ``alpha``).

Bootstrap (``bootstrap_plackett_luce``): every ranking gets a Poisson(1) weight, drawn per
distinct ranking as Poisson(its count) (the same distribution, ratings.bootstrap). Rankings
are first collapsed to distinct ones in a canonical order (names sorted inside a tier,
then the tiers and weights sorted), so a list of rankings and the same rankings given as
counts draw the same resamples from one seed: the CLI on an exported file and a board
fitted from stored counts give the same intervals. A resample whose MLE is infinite is
refitted with ``fallback_prior`` and counted in ``degenerate_rounds``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.optimize  # type: ignore[import-untyped]
import scipy.sparse  # type: ignore[import-untyped]
import scipy.sparse.csgraph  # type: ignore[import-untyped]
from numpy.typing import NDArray

from ratings.bootstrap import percentile_interval
from ratings.bradley_terry import NoMLEError
from ratings.data import RankingInput, normalize_ranking

__all__ = [
    "FALLBACK_PRIOR",
    "ChoiceEvents",
    "DistinctRankings",
    "PlackettLuceBootstrap",
    "PlackettLuceResult",
    "bootstrap_plackett_luce",
    "choice_events",
    "distinct_rankings",
    "fit_plackett_luce",
]

# The prior of a bootstrap round whose resample has no finite MLE.
FALLBACK_PRIOR = 0.01
Tiers = tuple[tuple[str, ...], ...]


@dataclass(frozen=True, eq=False)
class ChoiceEvents:
    """Rankings flattened into choice events.

    Event e chooses ``n_chosen[e]`` entries (a tier) out of the entries listed in
    ``members`` where ``member_event == e``; ``chosen`` lists every chosen (event, item).
    """

    models: tuple[str, ...]
    member_event: NDArray[np.intp]
    members: NDArray[np.intp]
    n_chosen: NDArray[np.float64]
    chosen_event: NDArray[np.intp]
    chosen: NDArray[np.intp]
    weight: NDArray[np.float64]
    ranking: NDArray[np.intp]  # the input ranking each event comes from


@dataclass(frozen=True, eq=False)
class PlackettLuceResult:
    """Fitted PL log-strengths (natural units, mean 0) and how they were obtained."""

    models: tuple[str, ...]
    log_strengths: NDArray[np.float64]
    log_likelihood: float
    n_iterations: int
    prior: float
    ties: str
    final_tier_unranked: bool
    method: str = "plackett_luce"

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.models, self.log_strengths.tolist(), strict=True))

    def params(self) -> dict[str, object]:
        return {
            "prior": self.prior,
            "ties": self.ties,
            "final_tier_unranked": self.final_tier_unranked,
        }


def choice_events(
    rankings: Sequence[RankingInput],
    *,
    final_tier_unranked: bool = False,
    weights: Sequence[float] | None = None,
    models: Sequence[str] | None = None,
) -> ChoiceEvents:
    """Flatten tiered rankings (best first) into Breslow choice events."""
    if weights is not None and len(weights) != len(rankings):
        raise ValueError(f"weights: expected {len(rankings)} values, got {len(weights)}")
    normalized = []
    for index, ranking in enumerate(rankings):
        try:
            normalized.append(normalize_ranking(ranking))
        except ValueError as exc:
            raise ValueError(f"ranking {index}: {exc}") from None
    names = {name for tiers in normalized for tier in tiers for name in tier}
    universe = tuple(sorted(names if models is None else set(models)))
    if not names <= set(universe):
        raise ValueError(f"rankings name models outside 'models': {sorted(names - set(universe))}")
    lookup = {name: k for k, name in enumerate(universe)}
    member_event: list[int] = []
    members: list[int] = []
    n_chosen: list[float] = []
    chosen_event: list[int] = []
    chosen: list[int] = []
    event_weight: list[float] = []
    event_ranking: list[int] = []
    for index, tiers in enumerate(normalized):
        last = len(tiers) - 1
        for level, tier in enumerate(tiers):
            if level == last and (final_tier_unranked or len(tier) == 1):
                break  # a lone last entry is chosen with probability 1: no information
            event = len(n_chosen)
            remaining = [lookup[name] for later in tiers[level:] for name in later]
            member_event.extend([event] * len(remaining))
            members.extend(remaining)
            n_chosen.append(float(len(tier)))
            chosen_event.extend([event] * len(tier))
            chosen.extend(lookup[name] for name in tier)
            event_weight.append(1.0 if weights is None else float(weights[index]))
            event_ranking.append(index)
    return ChoiceEvents(
        models=universe,
        member_event=np.asarray(member_event, dtype=np.intp),
        members=np.asarray(members, dtype=np.intp),
        n_chosen=np.asarray(n_chosen, dtype=np.float64),
        chosen_event=np.asarray(chosen_event, dtype=np.intp),
        chosen=np.asarray(chosen, dtype=np.intp),
        weight=np.asarray(event_weight, dtype=np.float64),
        ranking=np.asarray(event_ranking, dtype=np.intp),
    )


def _log_sum_exp_per_event(
    theta: NDArray[np.float64], events: ChoiceEvents
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per event: log of the sum of exp(theta) over its members, and each member's share."""
    n_events = events.n_chosen.size
    values = theta[events.members]
    peak = np.full(n_events, -np.inf)
    np.maximum.at(peak, events.member_event, values)
    shifted = np.exp(values - peak[events.member_event])
    total = np.bincount(events.member_event, shifted, n_events)
    share = shifted / total[events.member_event]
    return peak + np.log(total), share


def _objective(
    theta: NDArray[np.float64], events: ChoiceEvents, prior: float
) -> tuple[float, NDArray[np.float64]]:
    """Negative penalised log-likelihood and its gradient."""
    n = theta.size
    log_norm, share = _log_sum_exp_per_event(theta, events)
    weight_of_chosen = events.weight[events.chosen_event]
    log_lik = np.sum(weight_of_chosen * theta[events.chosen]) - np.sum(
        events.weight * events.n_chosen * log_norm
    )
    expected = np.bincount(
        events.members, share * (events.weight * events.n_chosen)[events.member_event], n
    )
    observed = np.bincount(events.chosen, weight_of_chosen, n)
    value = -float(log_lik) + prior * float(np.sum(theta * theta))
    return value, np.asarray(expected - observed + 2.0 * prior * theta, dtype=np.float64)


def _check_mle(events: ChoiceEvents) -> None:
    """Edges winner -> every other member of its choice set (events of positive weight)
    must form one strong component."""
    n = len(events.models)
    n_events = events.n_chosen.size
    # members are listed event by event: event e's are members[starts[e]:starts[e] + sizes[e]]
    sizes = np.bincount(events.member_event, minlength=n_events)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    live = events.weight[events.chosen_event] > 0
    event, item = events.chosen_event[live], events.chosen[live]
    fan = sizes[event]
    offsets = np.arange(int(fan.sum())) - np.repeat(np.cumsum(fan) - fan, fan)
    dst = events.members[np.repeat(starts[event], fan) + offsets]
    src = np.repeat(item, fan)
    graph = scipy.sparse.csr_matrix((np.ones(src.size), (src, dst)), shape=(n, n))
    count, _ = scipy.sparse.csgraph.connected_components(graph, directed=True, connection="strong")
    if count > 1:
        raise NoMLEError(
            f"Plackett-Luce MLE does not exist: the 'ranked above' graph has {count} strongly "
            "connected components (some model is never ranked above some other group). "
            "Pass prior > 0 (e.g. prior=0.01) for a regularised estimate."
        )


def _maximised(
    events: ChoiceEvents, prior: float, tol: float, start: NDArray[np.float64] | None = None
) -> tuple[NDArray[np.float64], int]:
    """The penalised MLE (mean 0) by L-BFGS from ``start`` (0), and its iterations."""
    result = scipy.optimize.minimize(
        _objective,
        np.zeros(len(events.models)) if start is None else start,
        args=(events, prior),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 10_000, "gtol": tol, "ftol": 0.0},
    )
    theta = np.asarray(result.x, dtype=np.float64)
    return theta - theta.mean(), int(result.nit)


def fit_plackett_luce(
    rankings: Sequence[RankingInput],
    *,
    prior: float = 0.0,
    final_tier_unranked: bool = False,
    weights: Sequence[float] | None = None,
    models: Sequence[str] | None = None,
    tol: float = 1e-10,
) -> PlackettLuceResult:
    """PL MLE (Breslow ties) over tiered rankings, best first; see the module docstring."""
    if prior < 0:
        raise ValueError("prior must be >= 0")
    events = choice_events(
        rankings, final_tier_unranked=final_tier_unranked, weights=weights, models=models
    )
    if prior == 0:
        _check_mle(events)
    theta, iterations = _maximised(events, prior, tol)
    log_lik = -_objective(theta, events, 0.0)[0]
    theta.setflags(write=False)
    return PlackettLuceResult(
        models=events.models,
        log_strengths=theta,
        log_likelihood=log_lik,
        n_iterations=iterations,
        prior=prior,
        ties="breslow",
        final_tier_unranked=final_tier_unranked,
    )


@dataclass(frozen=True, eq=False)
class DistinctRankings:
    """Rankings collapsed to distinct (ranking, weight) pairs in canonical order, with how
    many times each occurred."""

    rankings: tuple[Tiers, ...]
    weights: NDArray[np.float64]
    counts: NDArray[np.int64]


def distinct_rankings(
    rankings: Sequence[RankingInput],
    *,
    weights: Sequence[float] | None = None,
    counts: Sequence[int] | None = None,
) -> DistinctRankings:
    """Collapse rankings (each ``counts[i]`` times, weight ``weights[i]``) to distinct ones:
    names sorted inside each tier, then sorted by (tiers, weight)."""
    for name, values in (("weights", weights), ("counts", counts)):
        if values is not None and len(values) != len(rankings):
            raise ValueError(f"{name}: expected {len(rankings)} values, got {len(values)}")
    totals: dict[tuple[Tiers, float], int] = {}
    for index, ranking in enumerate(rankings):
        try:
            tiers = tuple(tuple(sorted(tier)) for tier in normalize_ranking(ranking))
        except ValueError as exc:
            raise ValueError(f"ranking {index}: {exc}") from None
        count = 1 if counts is None else int(counts[index])
        if count < 0:
            raise ValueError(f"counts: ranking {index} has a negative count {count}")
        key = (tiers, 1.0 if weights is None else float(weights[index]))
        totals[key] = totals.get(key, 0) + count
    keys = sorted(key for key, count in totals.items() if count > 0)
    return DistinctRankings(
        rankings=tuple(tiers for tiers, _ in keys),
        weights=np.array([weight for _, weight in keys], dtype=np.float64),
        counts=np.array([totals[key] for key in keys], dtype=np.int64),
    )


@dataclass(frozen=True, eq=False)
class PlackettLuceBootstrap:
    """Bootstrap replicates of PL log-strengths (``samples[r, m]``, mean 0 per round)."""

    models: tuple[str, ...]
    samples: NDArray[np.float64]
    rounds: int
    seed: int
    prior: float
    fallback_prior: float
    degenerate_rounds: int
    resample: str = "poisson"

    def interval(self, level: float = 0.95) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Percentile interval at ``level`` (linear interpolation between replicates)."""
        return percentile_interval(self.samples, level)


def bootstrap_plackett_luce(
    data: DistinctRankings,
    *,
    models: Sequence[str],
    rounds: int = 100,
    seed: int = 0,
    prior: float = 0.0,
    fallback_prior: float = FALLBACK_PRIOR,
    tol: float = 1e-10,
) -> PlackettLuceBootstrap:
    """Seeded Poisson bootstrap of the PL fit over ``models`` (see the module docstring):
    round r draws from its own generator spawned from ``seed``, whatever ``rounds`` is."""
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    if fallback_prior <= 0:
        raise ValueError("fallback_prior must be > 0")
    # The events are built once; a round only reweights them, from the fit on every ranking.
    events = choice_events(data.rankings, weights=data.weights.tolist(), models=models)
    start, _ = _maximised(events, prior if prior > 0 else fallback_prior, tol)
    children = np.random.SeedSequence(seed).spawn(rounds)
    samples = np.empty((rounds, len(models)))
    degenerate = 0
    for r in range(rounds):
        draws = np.random.default_rng(children[r]).poisson(data.counts)
        resampled = dataclasses.replace(events, weight=events.weight * draws[events.ranking])
        use_prior = prior
        if prior == 0:
            try:
                _check_mle(resampled)
            except NoMLEError:
                degenerate += 1
                use_prior = fallback_prior
        samples[r], _ = _maximised(resampled, use_prior, tol, start)
    samples.setflags(write=False)
    return PlackettLuceBootstrap(
        models=tuple(models),
        samples=samples,
        rounds=rounds,
        seed=seed,
        prior=prior,
        fallback_prior=fallback_prior,
        degenerate_rounds=degenerate,
    )
