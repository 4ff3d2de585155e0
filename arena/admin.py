from django.contrib import admin

from arena import models


@admin.register(models.Contestant)
class ContestantAdmin(admin.ModelAdmin):
    list_display = ["name", "backend", "model_id", "queue", "api_key_env"]
    list_filter = ["backend", "queue"]
    search_fields = ["name", "model_id"]


class PromptInline(admin.TabularInline):
    model = models.Prompt
    extra = 0
    fields = ["external_id", "category", "text"]


@admin.register(models.PromptSet)
class PromptSetAdmin(admin.ModelAdmin):
    list_display = ["name", "source", "created_at"]
    inlines = [PromptInline]


@admin.register(models.Judge)
class JudgeAdmin(admin.ModelAdmin):
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
