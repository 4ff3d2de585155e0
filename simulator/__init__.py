"""The simulator: sample efficiency of tournament strategies against a known truth, without
any model.

Pure (numpy, ``ratings`` and the formats of ``arena.formats``), no Django. A *strategy* is
a way to spend judge calls (a registered format, or uniform random pairs) plus an
estimator (Bradley-Terry with a small prior and sandwich intervals, online Elo,
Plackett-Luce, Weng-Lin Bayesian). One run:

- truth: M contestants with Elo-scale strengths drawn normal(0, ``spread``), per seed
  (every strategy sees the same truth for a seed);
- judge (``JudgeModel``): pairwise outcomes from Davidson's BT-with-ties model
  (``tie_strength`` nu: two equals tie with probability nu / (2 + nu); 0.5 gives 20%),
  plus optional ``position_bias`` (Elo points for the answer shown first) and ``noise``
  (per-call normal Elo noise on each entrant); K-wise rankings are Plackett-Luce draws
  (Gumbel trick) with the same bias and noise, neighbours merged into one tier with
  probability ``kwise_tie``; optionally (all off by default, issue 19) a bias stated as
  ``first_rate`` ("picks the first of two equal answers 70% of the time"), an
  ``item_noise`` shared by the two orders of one pair judgment, and ``graded`` output
  (the first answer's score under the call's probabilities, as a logprob judge reports);
  and (issue 20) a prompt x model interaction, ``prompt_sd``: each model's strength moves
  by its own normal offset on each prompt (the truth stays the mean strength);
- prompts: every call names its prompt, an index into one unbounded sequence whose
  offsets depend on the truth's seed and the index alone, so every strategy meets the
  same prompts. A format's tournament (cycle) plays on the next P prompts of the sequence
  (its own prompt indices 0 .. P - 1 shifted past the earlier cycles'); the other
  strategies put every item (a pair, both orders of a pair, a K-wise group) on a fresh
  prompt, as an arena's stream of user prompts does;
- checkpoints at geometrically spaced call counts (x ``Settings.checkpoint_ratio``, 1.1 by
  default) plus the fixed budgets: the estimator is refitted there only, never after every
  call.

Per checkpoint: Kendall tau-b against the truth, the mean 95% CI width (BT estimators),
whether the true top-5 is the estimated top-5 with intervals separated from the rest, and
whether the estimated best is the true best ("calls to best" is sustained like tau).
``Settings.goal="top"`` stops a run once the top-5 is identified (tau is then not
followed), which keeps top-k benchmarks with large caps affordable; ``goal="tau"`` stops
once the calls to every tau threshold and to the best are known.
"Calls to tau >= t" is the first checkpoint n at which tau >= t holds at every checkpoint
from n to 1.5 n (sustained; the run must have reached 1.5 n). Calls are judge calls: one
pairwise comparison, or one K-wise vote (which reads K answers and implies K(K-1)/2
pairwise comparisons; both are reported).

Adaptive strategies run the adaptive format's own decision code (``adaptive.decide`` on an
incrementally updated ``Tally``), which is what ``Adaptive.next_step`` computes from a
stored state; the other formats are driven through their ``next_step`` as the engine
would, one cycle (tournament) after another until the budget is spent, later cycles seeded
from the current BT ratings where the format supports it.

Against a position-biased judge (issue 19) the same uniform pairs can be spent three
ways: one order per pair, hard verdicts, BT (``uniform_bt``); both orders (two calls, one
item), merged as the product merges them, BT (``both_orders_bt``); both orders, every
order an observation with its graded score, BT with a first-position term
(``both_orders_graded_position``, ``ratings.graded``; it replays ``both_orders_bt``'s
draws, so the two see the very same verdicts).

``planner.plan`` answers "how many calls (and dollars) for this M and strategy to reach
tau >= t or a mean CI half-width <= X", from the same runs.

One module per job: ``judge`` (truth and judge model), ``estimators``, ``strategies``
(``STRATEGIES``), ``runs`` (``Settings``, ``run``, ``run_all``), ``summaries`` (medians and
bootstrap gains), ``planner`` and ``tables`` (text output). ``manage.py simulate`` and
``benchmarks/sample_efficiency.py`` drive them.
"""

from __future__ import annotations
