"""The tournament form: collects fields; the service validates and saves."""

from __future__ import annotations

from typing import Any

from django import forms

from arena.formats import FORMATS
from arena.models import Contestant, Judge, PromptSet


class TournamentForm(forms.Form):
    name = forms.CharField(max_length=200)
    format = forms.ChoiceField(choices=[(name, name.replace("_", " ")) for name in FORMATS])
    contestants = forms.ModelMultipleChoiceField(
        queryset=Contestant.objects.all(), widget=forms.CheckboxSelectMultiple
    )
    prompt_set = forms.ModelChoiceField(queryset=PromptSet.objects.all())
    judge = forms.ModelChoiceField(
        queryset=Judge.objects.all(), required=False, empty_label="humans (browser votes)"
    )
    k = forms.IntegerField(
        required=False, label="Answers per match (K)", help_text="Empty: the format's default."
    )
    rounds = forms.IntegerField(required=False, help_text="Prompts to play; empty for the default.")
    seed = forms.IntegerField(initial=0)
    budget = forms.IntegerField(required=False, help_text="Most judge calls; empty for no cap.")
    budget_usd = forms.DecimalField(
        required=False, label="Budget (USD)", help_text="Most money to spend; empty for no cap."
    )
    options = forms.JSONField(
        required=False,
        initial=dict,
        help_text='Other format options as JSON, e.g. {"third_place": true, "seeding": "rating"} '
        'or {"anchor": "gpt-3.5-turbo"}.',
    )

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        config: dict[str, Any] = dict(data.get("options") or {})
        for key in ("k", "rounds"):
            if data.get(key) is not None:
                config[key] = data[key]
        return {
            "name": data["name"],
            "format": data["format"],
            "contestants": [c.pk for c in data["contestants"]],
            "prompt_set": data["prompt_set"].pk,
            "judge": data["judge"].pk if data["judge"] else None,
            "config": config,
            "seed": data["seed"],
            "budget": data["budget"],
            "budget_usd": data.get("budget_usd"),
        }
