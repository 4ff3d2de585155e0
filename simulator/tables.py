"""Text output: the benchmark's Markdown table of summaries and the planner's lines."""

from __future__ import annotations

import math
from collections.abc import Sequence

from simulator.planner import Plan
from simulator.strategies import TOP
from simulator.summaries import Summary


def _calls(value: int | None, cap: int) -> str:
    return f">{cap:,}" if value is None else f"{value:,}"


def format_table(summaries: Sequence[Summary]) -> str:
    """A Markdown table of summaries (one row per strategy)."""
    if not summaries:
        return ""
    first = summaries[0]
    thresholds = sorted(first.calls_to_tau)
    budgets = sorted(first.tau_at)
    head = ["strategy", "M", "seeds", "cap"]
    head += [f"calls to τ≥{t:g}" for t in thresholds]
    head += [f"pair-eq to τ≥{thresholds[0]:g}", f"answers read to τ≥{thresholds[0]:g}"]
    head += [f"τ @{b:,}" for b in budgets]
    head += [f"CI width @{budgets[-1]:,}", f"calls to top-{TOP}", "calls to best"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * (len(head) - 3)]
    for s in summaries:
        first_calls = s.calls_to_tau[thresholds[0]]
        truths = str(s.seeds) if s.streams == 1 else f"{s.seeds}×{s.streams}"
        row = [s.strategy, str(s.n_models), truths, f"{s.cap:,}"]
        if s.goal == "top":  # stopped at top-k identification: tau was not followed
            row += ["n/m"] * (len(thresholds) + 2)
            row += [f"{s.tau_at[b]:.3f}" if not math.isnan(s.tau_at[b]) else "—" for b in budgets]
            width = s.ci_width_at[budgets[-1]]
            row += ["—" if math.isnan(width) else f"{width:.0f}", _calls(s.top_calls, s.cap)]
            row.append("n/m")
            lines.append("| " + " | ".join(row) + " |")
            continue
        for t in thresholds:
            reached = "" if s.reached_tau[t] == s.runs else f" ({s.reached_tau[t]}/{s.runs})"
            row.append(_calls(s.calls_to_tau[t], s.cap) + reached)
        for factor in (s.pairs_per_call, s.answers_per_call):
            row.append(
                _calls(None if first_calls is None else first_calls * factor, s.cap * factor)
            )
        row += ["—" if math.isnan(s.tau_at[b]) else f"{s.tau_at[b]:.3f}" for b in budgets]
        width = s.ci_width_at[budgets[-1]]
        row.append("—" if math.isnan(width) else f"{width:.0f}")
        followed = s.goal != "tau"  # a tau run stops before the top-k is separated
        top = "—" if math.isnan(width) else _calls(s.top_calls, s.cap) if followed else "n/m"
        row.append(top)
        best = _calls(s.best_calls, s.cap)
        if s.reached_best is not None and s.reached_best != s.runs:
            best += f" ({s.reached_best}/{s.runs})"
        row.append(best)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def format_plan(p: Plan) -> str:
    def money(value: float | None) -> str:
        return "not reached" if value is None else f"${value:,.2f}"

    lines = [
        f"plan: {p.strategy}, M = {p.n_models}, median of {p.seeds} seeds",
        f"  tau >= {p.tau:g}: "
        + ("not reached within the cap" if p.calls_to_tau is None else f"{p.calls_to_tau:,} calls")
        + f", {money(p.dollars_to_tau)} at ${p.price_per_call:g} per call",
    ]
    if p.half_width is not None:
        reached = p.calls_to_half_width
        lines.append(
            f"  mean CI half-width <= ±{p.half_width:g} Elo: "
            + ("not reached within the cap" if reached is None else f"{reached:,} calls")
            + f", {money(p.dollars_to_half_width)}"
        )
    return "\n".join(lines)
