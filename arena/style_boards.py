"""Style-controlled global boards (interim: fitted per pair judged, from the stored
answer styles; to be replaced by the fit from the cells' style moments)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from arena import evidence
from arena.models import Judgment, MatchEntry
from arena.standings import LeaderboardRow, style_controlled_rows
from ratings.data import battles_from_arrays, ranking_to_pairs


def style_controlled(
    rows: list[LeaderboardRow], *, source: str, category: str
) -> tuple[list[LeaderboardRow], dict[str, float]]:
    verdicts = Judgment.objects.all()
    if source == "humans":
        verdicts = verdicts.filter(judge__isnull=True)
    elif source != "all":
        verdicts = verdicts.filter(judge_id=int(source[6:]))
    if category:
        verdicts = verdicts.filter(match__prompt__category=category)
    picked = dict(verdicts.values_list("match_id", "ranking"))
    style = [f"response__style_{f}" for f in evidence.FEATURES]
    entrants: dict[int, dict[str, tuple[float, ...] | None]] = defaultdict(dict)
    entries = MatchEntry.objects.filter(match_id__in=list(picked)).values_list(
        "match_id", "contestant__name", "contestant_id", *style
    )
    names: dict[int, str] = {}
    for match_id, name, cid, *features in entries:
        names[cid] = name
        known = None if any(v is None for v in features) else tuple(map(float, features))
        entrants[match_id][name] = known
    a_names, b_names, outcomes, fa, fb = [], [], [], [], []
    for match_id, ranking in picked.items():
        styles = entrants[match_id]
        tiers = [[names[c] for c in tier] for tier in ranking]
        for a, b, outcome in ranking_to_pairs(tiers):
            if styles.get(a) is None or styles.get(b) is None:
                continue
            a_names.append(a)
            b_names.append(b)
            outcomes.append(int(outcome))
            fa.append(styles[a])
            fb.append(styles[b])
    models = sorted({r["contestant"] for r in rows})
    battles = battles_from_arrays(
        a_names, b_names, np.asarray(outcomes, dtype=np.int64), models=models
    )
    return style_controlled_rows(rows, battles, np.asarray(fa), np.asarray(fb))
