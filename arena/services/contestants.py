"""Contestants: create one (validated whole, nothing half-saved) and react to its arrival.

A tournament whose config says ``"rerun_on_new_contestant": true`` is a template: each new
contestant starts a fresh run of it with that contestant added (the automated "re-judge
when a model is added" of a scheduled arena).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from arena.models import Contestant, Tournament
from arena.queueing import enqueue_contestant_added
from arena.services.tournaments import tournament_rerun

log = logging.getLogger(__name__)

FIELDS = ("name", "backend", "base_url", "model_id", "api_key_env", "generation", "queue")


def contestant_create(**fields: Any) -> Contestant:
    """Save a contestant after the model's own validation; errors name the field."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValidationError({unknown[0]: [f"unknown field; one of {', '.join(FIELDS)}"]})
    contestant = Contestant(**fields)
    contestant.full_clean()
    with transaction.atomic():
        contestant.save()
        enqueue_contestant_added(contestant.pk)
    return contestant


def contestant_added(*, contestant_id: int) -> list[int]:
    """Start a run of every template tournament with the new contestant; the new runs' ids."""
    contestant = Contestant.objects.get(pk=contestant_id)
    templates = Tournament.objects.filter(config__rerun_on_new_contestant=True).order_by("pk")
    started = []
    for template in templates:
        if template.contestants.filter(pk=contestant.pk).exists():
            continue
        try:
            started.append(tournament_rerun(tournament=template, add_contestants=[contestant]).pk)
        except ValidationError as error:
            if "judge" not in error.message_dict:
                raise
            # The newcomer is the template's judge's own model: it may not judge itself,
            # and the other templates still take it in.
            log.warning("no run of %s for %s: %s", template.pk, contestant.name, error)
    return started
