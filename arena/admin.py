from typing import Any

from django import forms
from django.contrib import admin
from django.db import models as django_models
from django.http import HttpRequest

from arena import models
from arena.queueing import enqueue_contestant_added
from arena.services.backends import judge_comparator
from judges.backends.base import BackendError

# A base URL typed without a scheme is read as https (Django 6's default; 5.2 warns).
URL_FIELDS: dict[Any, dict[str, Any]] = {django_models.URLField: {"assume_scheme": "https"}}


@admin.register(models.Contestant)
class ContestantAdmin(admin.ModelAdmin):
    formfield_overrides = URL_FIELDS
    list_display = ["name", "backend", "model_id", "queue", "api_key_env"]
    list_filter = ["backend", "queue"]
    search_fields = ["name", "model_id"]

    def save_model(
        self, request: HttpRequest, obj: models.Contestant, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if not change:  # a newcomer joins the tournaments that ask for it (after commit)
            enqueue_contestant_added(obj.pk)


class PromptInline(admin.TabularInline):
    model = models.Prompt
    extra = 0
    fields = ["external_id", "category", "text"]


@admin.register(models.PromptSet)
class PromptSetAdmin(admin.ModelAdmin):
    list_display = ["name", "source", "created_at"]
    inlines = [PromptInline]


class JudgeAdminForm(forms.ModelForm):
    """Builds the judge from the form's values, so bad settings (an unknown panel member,
    a panel that includes itself, a typo in a setting) are refused on save, on the field
    the error names, instead of failing every match of a tournament later."""

    # Declared so the scheme a bare host gets is explicit: local servers (vLLM, Ollama)
    # usually speak plain http.
    base_url = forms.URLField(required=False, assume_scheme="http", max_length=200)

    class Meta:
        model = models.Judge
        fields = ["name", "kind", "base_url", "model_id", "api_key_env", "settings", "queue"]
        help_texts = {
            "settings": (
                "openai / transformers: judge settings (judges.judge_settings; transformers "
                'also device, dtype, verdict "generate" or "score"). panel: {"members": '
                '[judge names], "combine": "majority" or "probability", "weights": '
                '[numbers] | {name: number} | "human_agreement"}.'
            )
        }

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.errors:
            return cleaned
        judge = models.Judge(**{f: cleaned.get(f) for f in self.Meta.fields if f in cleaned})
        judge.pk = self.instance.pk
        try:
            judge_comparator(judge=judge, contestants=[])
        except BackendError as error:
            message = str(error)
            named = [f for f in ("queue", "model_id", "base_url") if f in message]
            self.add_error(named[0] if named else "settings", message)
        return cleaned


@admin.register(models.Judge)
class JudgeAdmin(admin.ModelAdmin):
    form = JudgeAdminForm  # declares its own base_url field
    list_display = ["name", "kind", "model_id", "queue", "api_key_env"]


@admin.register(models.Tournament)
class TournamentAdmin(admin.ModelAdmin):
    list_display = ["name", "format", "status", "seed", "budget", "created_at"]
    list_filter = ["status", "format"]
    filter_horizontal = ["contestants"]


class EntryInline(admin.TabularInline):
    model = models.MatchEntry
    extra = 0
    raw_id_fields = ["response"]


@admin.register(models.Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = ["id", "tournament", "round", "slot", "status", "attempts", "finished_at"]
    list_filter = ["status"]
    inlines = [EntryInline]


@admin.register(models.Judgment)
class JudgmentAdmin(admin.ModelAdmin):
    list_display = ["match", "judge", "ranking", "both_bad", "cost", "created_at"]


@admin.register(models.Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["contestant", "prompt", "settings_hash", "completion_tokens", "latency_ms"]
    list_filter = ["contestant"]


admin.site.register(models.Vote)
admin.site.register(models.Standing)
admin.site.register(models.LeaderboardSnapshot)


@admin.register(models.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made with `manage.py create_api_token USER`; here they can be revoked."""

    list_display = ["user", "name", "created_at", "last_used_at"]
    readonly_fields = ["user", "name", "digest", "created_at", "last_used_at"]

    def has_add_permission(self, request: object) -> bool:
        return False
