"""The simulated truth and judge: Elo-scale strengths per seed, and a judge that draws
pairwise verdicts (Davidson's BT with ties) or K-wise rankings (Plackett-Luce) from them,
with optional position bias, per-call and per-item noise, a prompt x model interaction and
graded output."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from arena.formats.base import Tiers
from ratings.data import Outcome

Rows = NDArray[np.intp]


ELO = math.log(10.0) / 400.0  # natural-log strength per Elo point


@dataclass(frozen=True)
class JudgeModel:
    """How the simulated judge decides (the defaults: a fair pairwise judge, 20% ties
    between equals, no noise, hard verdicts).

    - ``tie_strength`` nu: Davidson's tie parameter; equals tie with probability
      nu / (2 + nu).
    - ``position_bias``: Elo points added to the answer shown first. ``first_rate``
      states the same thing as "picks the first of two equal answers this share of the
      time" (a win, ties not counted) and sets the bias from it: see ``first_bias``.
      Give one or the other.
    - ``noise``: per-call normal Elo noise on each entrant (the judge's own inconsistency:
      independent between the two orders of a pair).
    - ``item_noise``: sd (Elo) of an item's effect on a pair's difference: one normal
      draw per item, added to the lower-indexed model's side (half) and taken from the
      other's, so the two orders of one pair judgment (rows a strategy marks as one
      item, ``StrategySpec.orders``) see the same effect. A prompt on which one model
      happens to do better. K-wise rows: each entrant gets its own draw of sd
      ``item_noise / sqrt(2)`` (a pair's difference then has sd ``item_noise``).
    - ``graded``: the judge reports probabilities (logprobs) as well: each pairwise call
      also yields the first answer's score P(first wins) + P(tie) / 2 under the call's
      Davidson probabilities (bias and noise included), while its verdict is drawn from
      those same probabilities (a logprob judge sampled at temperature 1).
    - ``kwise_tie``: K-wise neighbours merged into one tier with this probability.
    - ``prompt_sd``: the prompt x model interaction, sd (Elo) of a model's strength offset
      on one prompt: every model gets its own normal draw per prompt (``PromptEffects``),
      the same in every call on that prompt, whatever the strategy or judge stream. The
      truth a strategy is scored against stays the models' mean strength (over prompts).
      Every call then names its prompt (``Judge.judge``'s ``prompts``).

    With every new option off (``first_rate`` None, ``item_noise`` 0, ``graded`` False,
    ``prompt_sd`` 0) the judge draws exactly what it drew before they existed.
    """

    tie_strength: float = 0.5
    position_bias: float = 0.0
    noise: float = 0.0
    kwise_tie: float = 0.0
    first_rate: float | None = None
    item_noise: float = 0.0
    graded: bool = False
    prompt_sd: float = 0.0

    def __post_init__(self) -> None:
        if self.first_rate is not None:
            if not 0.0 < self.first_rate < 1.0:
                raise ValueError(f"first_rate must be in (0, 1), got {self.first_rate:g}")
            if self.position_bias != 0.0:
                raise ValueError("give position_bias or first_rate, not both")
        if min(self.item_noise, self.noise, self.tie_strength, self.prompt_sd) < 0:
            raise ValueError("tie_strength, noise, item_noise and prompt_sd must be >= 0")

    @property
    def comparison_sd(self) -> float:
        """Sd (Elo) of the noise on one call's difference between the two answers."""
        return math.sqrt(self.item_noise**2 + 2.0 * self.noise**2)

    def first_bias(self) -> float:
        """The first position's advantage in Elo points: ``position_bias``, or the bias
        that makes the judge pick the first of two equal answers ``first_rate`` of the
        time, averaged over the call's noise (``comparison_sd``).

        Between equals with bias h (natural-log scale) and x = exp(h / 2), Davidson's
        model gives P(first wins) = x / (x + 1/x + nu). Without noise, setting it to r
        gives (1 - r) x^2 - r nu x - r = 0, so
        x = (r nu + sqrt(r^2 nu^2 + 4 r (1 - r))) / (2 (1 - r)) and h = 2 ln x
        (r = 0.7, nu = 0.5: h = 1.593, 277 Elo; the judge then ties 15.8% and picks the
        second 14.2% of the time). With noise, E over d ~ N(0, sd) of the same expression
        at h + d is solved for h by bisection (Gauss-Hermite expectation).
        """
        if self.first_rate is None:
            return self.position_bias
        r, nu = self.first_rate, self.tie_strength
        sd = self.comparison_sd * ELO
        if sd == 0.0:
            x = (r * nu + math.sqrt((r * nu) ** 2 + 4 * r * (1 - r))) / (2 * (1 - r))
            return 2.0 * math.log(x) / ELO
        low, high = -50.0, 50.0
        for _ in range(100):
            middle = 0.5 * (low + high)
            if first_win_rate(middle, nu, sd) < r:
                low = middle
            else:
                high = middle
        return 0.5 * (low + high) / ELO

    def describe(self) -> str:
        """One line naming every setting (for benchmark output)."""
        nu = self.tie_strength
        parts = [f"ties nu {nu:g} ({nu / (2 + nu):.0%} between equals)"]
        if self.first_rate is not None:
            parts.append(
                f"picks the first of equals {self.first_rate:.0%} "
                f"(bias {self.first_bias():.0f} Elo)"
            )
        else:
            parts.append(f"position bias {self.position_bias:g} Elo")
        parts.append(f"item noise sd {self.item_noise:g} Elo")
        parts.append(f"per-call noise sd {self.noise:g} Elo per entrant")
        parts.append(f"prompt x model sd {self.prompt_sd:g} Elo")
        parts.append("graded (probabilities)" if self.graded else "hard verdicts only")
        return ", ".join(parts)


_HERMITE = np.polynomial.hermite_e.hermegauss(64)


def first_win_rate(bias: float, nu: float, sd: float) -> float:
    """P(the first answer wins) between equals under Davidson's model, bias and noise sd
    on the natural-log scale, averaged over the noise (normal)."""
    nodes, weights = _HERMITE
    half = 0.5 * (bias + sd * nodes)
    p = np.exp(half) / (np.exp(half) + np.exp(-half) + nu)
    return float(np.sum(weights * p) / math.sqrt(2.0 * math.pi))


def true_strengths(n_models: int, seed: int, spread: float = 100.0) -> NDArray[np.float64]:
    rng = np.random.default_rng([seed, 0xC0FFEE])
    return np.asarray(rng.normal(0.0, spread, n_models), dtype=np.float64)


class PromptEffects:
    """Every model's strength offset (Elo) on each prompt of an unbounded sequence 0, 1, 2,
    ...: normal(0, ``sd``), drawn from the truth's seed and the prompt's index alone, so
    every strategy and judge stream meets the same prompts. Drawn in blocks of ``BLOCK``
    prompts (one generator per block) and kept."""

    BLOCK = 256

    def __init__(self, n_models: int, sd: float, truth_seed: int) -> None:
        self.n_models, self.sd, self.truth_seed = n_models, sd, truth_seed
        self.blocks: dict[int, NDArray[np.float64]] = {}

    def _block(self, block: int) -> NDArray[np.float64]:
        if block not in self.blocks:
            rng = np.random.default_rng([self.truth_seed, 0x9A0F, block])
            self.blocks[block] = rng.standard_normal((self.BLOCK, self.n_models)) * self.sd
        return self.blocks[block]

    def of(self, prompts: Rows) -> NDArray[np.float64]:
        """Per prompt (row), every model's offset in Elo: shape (len(prompts), M)."""
        prompts = np.asarray(prompts, dtype=np.intp)
        if prompts.size and prompts.min() < 0:
            raise ValueError("prompt indices must be >= 0")
        out = np.empty((prompts.size, self.n_models))
        blocks, within = np.divmod(prompts, self.BLOCK)
        for block in np.unique(blocks).tolist():
            rows = blocks == block
            out[rows] = self._block(block)[within[rows]]
        return out


@dataclass(frozen=True, eq=False)
class Calls:
    """Judged calls: entrants in answer order, the verdicts (entrants best first, ties
    between neighbours) and, from a graded judge, the first answer's score per call."""

    entrants: Rows
    order: Rows
    ties: NDArray[np.bool_]
    first_score: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return len(self.entrants)

    def part(self, rows: slice) -> Calls:
        score = None if self.first_score is None else self.first_score[rows]
        return Calls(self.entrants[rows], self.order[rows], self.ties[rows], score)


class Judge:
    """Draws rankings for matches given in answer order, from the true strengths."""

    def __init__(
        self,
        strengths: NDArray[np.float64],
        model: JudgeModel,
        rng: np.random.Generator,
        truth_seed: int = 0,
    ) -> None:
        self.log_strength = np.asarray(strengths) * math.log(10.0) / 400.0
        self.model = model
        self.bias = model.first_bias()
        self.rng = rng
        self.prompt_effects = PromptEffects(len(self.log_strength), model.prompt_sd, truth_seed)

    def _effective(self, entrants: Rows) -> NDArray[np.float64]:
        scale = math.log(10.0) / 400.0
        logs = self.log_strength[entrants].copy()
        logs[:, 0] += self.bias * scale
        if self.model.noise > 0:
            logs += self.rng.normal(0.0, self.model.noise * scale, logs.shape)
        return logs

    def _item_effects(self, entrants: Rows, items: Rows | None) -> NDArray[np.float64]:
        """Per row and entrant, the log-strength its item adds (``JudgeModel.item_noise``)."""
        n, k = entrants.shape
        sd = self.model.item_noise * ELO
        if k != 2:
            return np.asarray(self.rng.normal(0.0, sd / math.sqrt(2.0), (n, k)))
        keys = np.arange(n) if items is None else np.asarray(items)
        unique, index = np.unique(keys, return_inverse=True)
        effect = self.rng.normal(0.0, sd, unique.size)[index]
        # the lower-indexed model gains half the effect in both orders of the item
        sign = np.where(entrants[:, 0] < entrants[:, 1], 0.5, -0.5)
        return np.stack([sign * effect, -sign * effect], axis=1)

    def _prompt_effects(self, entrants: Rows, prompts: Rows | None) -> NDArray[np.float64]:
        """Per row and entrant, the log-strength its prompt adds (``JudgeModel.prompt_sd``)."""
        if prompts is None:
            raise ValueError("a judge with a prompt x model interaction needs every call's prompt")
        if len(prompts) != len(entrants):
            raise ValueError(f"{len(prompts)} prompts for {len(entrants)} calls")
        offsets = self.prompt_effects.of(np.asarray(prompts, dtype=np.intp))
        return np.take_along_axis(offsets, entrants, axis=1) * ELO

    def rank(
        self, entrants: Rows, items: Rows | None = None, prompts: Rows | None = None
    ) -> tuple[Rows, NDArray[np.bool_]]:
        """Per match: entrants best first, and whether each neighbour pair is tied."""
        calls = self.judge(entrants, items, prompts)
        return calls.order, calls.ties

    def judge(
        self, entrants: Rows, items: Rows | None = None, prompts: Rows | None = None
    ) -> Calls:
        """The verdicts on ``entrants`` (rows in answer order). ``items``: rows with the
        same value are one item (the two orders of one pair judgment): they share its
        effect (``JudgeModel.item_noise``); default: every row its own item. ``prompts``:
        each row's prompt index (needed when ``JudgeModel.prompt_sd`` > 0)."""
        logs = self._effective(entrants)
        if self.model.item_noise > 0:
            logs += self._item_effects(entrants, items)
        if self.model.prompt_sd > 0:
            logs += self._prompt_effects(entrants, prompts)
        n, k = entrants.shape
        if k == 2:
            half = 0.5 * (logs[:, 0] - logs[:, 1])
            nu = self.model.tie_strength
            denominator = np.exp(half) + np.exp(-half) + nu
            u = self.rng.random(n)
            first_wins = u < np.exp(half) / denominator
            tie = (u >= np.exp(half) / denominator) & (u < (np.exp(half) + nu) / denominator)
            order = np.where(first_wins[:, None] | tie[:, None], entrants, entrants[:, ::-1])
            score = None
            if self.model.graded:
                score = np.asarray((np.exp(half) + 0.5 * nu) / denominator, dtype=np.float64)
            return Calls(entrants, np.asarray(order, dtype=np.intp), tie[:, None], score)
        keys = logs + self.rng.gumbel(size=logs.shape)
        positions = np.argsort(-keys, axis=1)
        order = np.take_along_axis(entrants, positions, axis=1)
        ties = self.rng.random((n, k - 1)) < self.model.kwise_tie
        return Calls(entrants, np.asarray(order, dtype=np.intp), ties)


def implied_pairs(order: Rows, ties: NDArray[np.bool_]) -> tuple[Rows, Rows, NDArray[np.int8]]:
    """Every pair implied by the rankings: (better or equal, other, Outcome code)."""
    k = order.shape[1]
    a, b, codes = [], [], []
    for p in range(k):
        for q in range(p + 1, k):
            tied = ties[:, p:q].all(axis=1)
            a.append(order[:, p])
            b.append(order[:, q])
            codes.append(np.where(tied, int(Outcome.TIE), int(Outcome.A_WINS)).astype(np.int8))
    return np.concatenate(a), np.concatenate(b), np.concatenate(codes)


def tiers_of(order: Sequence[int], ties: Sequence[bool]) -> Tiers:
    tiers: list[list[int]] = [[int(order[0])]]
    for c, tied in zip(order[1:], ties, strict=True):
        if tied:
            tiers[-1].append(int(c))
        else:
            tiers.append([int(c)])
    return tuple(tuple(t) for t in tiers)
