"""The arena's tables. Logic about one row lives on its model; work across rows lives in
``arena.services``.

A comparison's outcome is a ranking in tiers, best first, ties in one tier, stored as
contestant ids: ``[[3], [1, 4], [2]]``. Pairwise is ``[[a], [b]]`` or ``[[a, b]]`` (tie);
"both bad" is a tie with ``both_bad`` set.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.crypto import salted_hmac

from arena import evidence
from arena.formats import on_demand
from arena.outbound import base_url_refusal
from ratings.bayesian import WengLinParams
from ratings.style import FEATURES, answer_features

WENG_LIN = WengLinParams()

ENV_VAR_NAME = RegexValidator(
    r"^[A-Z_][A-Z0-9_]*$", "Name an environment variable (A-Z, 0-9, _), never the key itself."
)


def key_variable_refusal(name: str) -> str | None:
    """Why the server may not read this environment variable and send its value to a
    model's server as a key, or None. Only names the operator allows (``ARENA_KEY_VARIABLES``,
    patterns such as ``*_API_KEY``): staff must not be able to have ``DJANGO_SECRET_KEY``
    or ``DATABASE_URL`` sent to a listener of theirs."""
    if not name or any(fnmatch.fnmatchcase(name, p) for p in settings.KEY_VARIABLES):
        return None
    allowed = ", ".join(settings.KEY_VARIABLES) or "none"
    return f"{name} is not a key variable this server sends (ARENA_KEY_VARIABLES: {allowed})"


def _check_outbound(key_variable: str, base_url: str) -> None:
    """What a worker would send where: a key variable the operator allows, to a server that
    is not this one's own database or Redis, nor in a denied network (arena.outbound)."""
    errors = {}
    if refusal := key_variable_refusal(key_variable):
        errors["api_key_env"] = [refusal]
    if refusal := base_url_refusal(base_url):
        errors["base_url"] = [refusal]
    if errors:
        raise ValidationError(errors)


class Queue(models.TextChoices):
    DEFAULT = "default", "default"
    GPU = "gpu", "gpu (local models)"


class BackendKind(models.TextChoices):
    SIMULATED = "simulated", "simulated (no model; for demos and the simulator)"
    OPENAI = "openai", "OpenAI-compatible API"
    PREGENERATED = "pregenerated", "pre-generated answers (imported)"
    TRANSFORMERS = "transformers", "in-process transformers model (model_id = directory; gpu queue)"


class Contestant(models.Model):
    name = models.CharField(max_length=100, unique=True)
    backend = models.CharField(max_length=20, choices=BackendKind.choices)
    base_url = models.URLField(blank=True)
    model_id = models.CharField(max_length=200, blank=True)
    api_key_env = models.CharField(max_length=100, blank=True, validators=[ENV_VAR_NAME])
    generation = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=20, choices=Queue.choices, default=Queue.DEFAULT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _check_outbound(self.api_key_env, self.base_url)

    @property
    def settings_hash(self) -> str:
        """Identifies the generation settings an answer was produced with (the cache key)."""
        blob = json.dumps(
            {"backend": self.backend, "model": self.model_id, "generation": self.generation},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class PromptSet(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Prompt(models.Model):
    prompt_set = models.ForeignKey(PromptSet, on_delete=models.CASCADE, related_name="prompts")
    external_id = models.CharField(max_length=100)
    text = models.TextField()
    category = models.CharField(max_length=100, blank=True, db_index=True)
    reference_answer = models.TextField(blank=True)

    class Meta:
        ordering = ["prompt_set", "id"]
        constraints = [
            models.UniqueConstraint(fields=["prompt_set", "external_id"], name="prompt_unique_id")
        ]

    def __str__(self) -> str:
        return f"{self.prompt_set}#{self.external_id}"


class Response(models.Model):
    """A contestant's answer to a prompt, cached per generation settings."""

    contestant = models.ForeignKey(Contestant, on_delete=models.CASCADE, related_name="responses")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="responses")
    settings_hash = models.CharField(max_length=64)
    text = models.TextField(blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Style features (ratings.style: tokens, markdown headers, list items, bold spans),
    # computed once when the answer is stored; the cells of every verdict on it add them up.
    # Empty for answers stored before they existed (``manage.py aggregates backfill``).
    style_length = models.PositiveIntegerField(null=True, blank=True)
    style_headers = models.PositiveIntegerField(null=True, blank=True)
    style_lists = models.PositiveIntegerField(null=True, blank=True)
    style_bold = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contestant", "prompt", "settings_hash"], name="response_cache_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contestant_id} on {self.prompt_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        fields = kwargs.get("update_fields")
        if fields is None or "text" in fields:  # the style follows the text
            self.set_style()
            if fields is not None:
                kwargs["update_fields"] = {*fields, *(f"style_{name}" for name in FEATURES)}
        super().save(*args, **kwargs)

    def set_style(self) -> None:
        """Compute the style features from the text (bulk_create skips ``save``: call it)."""
        features = answer_features(self.text)
        for name in FEATURES:
            setattr(self, f"style_{name}", int(features[name]))


class AnswerClaim(models.Model):
    """A worker generating this answer right now. Matches that need the same answer wait
    for it instead of paying for it again (arena.services.matches); the row is deleted
    when the answer is stored or the generation failed, and a claim older than
    ``ANSWER_CLAIM_LEASE_SECONDS`` (its worker vanished) may be taken over."""

    # No index of its own: answerclaim_key begins with it.
    contestant = models.ForeignKey(
        Contestant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    settings_hash = models.CharField(max_length=64)
    holder = models.CharField(max_length=32)  # whose claim: only its holder deletes it
    claimed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contestant", "prompt", "settings_hash"], name="answerclaim_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contestant_id} on {self.prompt_id} (generating)"


class JudgeKind(models.TextChoices):
    SIMULATED = "simulated", "simulated (Bradley-Terry draw on hidden strengths)"
    OPENAI = "openai", "LLM judge via an OpenAI-compatible API"
    TRANSFORMERS = "transformers", "LLM judge run in-process with transformers (gpu queue)"
    PANEL = "panel", "panel of judges (settings: members, combine, weights)"
    IMPORTED = "imported", "verdicts imported from a battle file (no model is called)"


class Judge(models.Model):
    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=JudgeKind.choices)
    base_url = models.URLField(blank=True)
    model_id = models.CharField(max_length=200, blank=True)
    api_key_env = models.CharField(max_length=100, blank=True, validators=[ENV_VAR_NAME])
    settings = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=20, choices=Queue.choices, default=Queue.DEFAULT)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        _check_outbound(self.api_key_env, self.base_url)


class TournamentStatus(models.TextChoices):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Tournament(models.Model):
    name = models.CharField(max_length=200)
    format = models.CharField(max_length=40)
    config = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=20, choices=TournamentStatus.choices, default=TournamentStatus.DRAFT
    )
    budget = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most judge calls (matches) to spend; empty for no cap."
    )
    budget_usd = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Most money (USD) to spend on generations and judgments; empty for no cap.",
    )
    prompt_set = models.ForeignKey(PromptSet, on_delete=models.PROTECT, related_name="tournaments")
    judge = models.ForeignKey(
        Judge,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tournaments",
        help_text="Empty: matches wait for human votes.",
    )
    contestants = models.ManyToManyField(Contestant, related_name="tournaments")
    manifest = models.JSONField(
        default=dict, blank=True, help_text="What replays it: frozen at start (see services)."
    )
    planned_matches = models.PositiveIntegerField(
        null=True, blank=True, help_text="Matches the format expects in all, when it knows."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def listwise(self) -> bool:
        """Whether its verdicts rank groups of three or more, which its board fits whole
        (Plackett-Luce, arena.listwise) beside their pairs."""
        k = int(self.config.get("k", 0)) if self.format == "kwise" else 0
        return k >= evidence.KWISE_MIN_ENTRANTS

    @property
    def draws_on_demand(self) -> bool:
        """Whether voters' asks draw its matches (arena.services.draws) rather than the
        engine planning them: a format that can (adaptive), judged by people."""
        return self.judge_id is None and on_demand(self.format)

    @property
    def draw_seed(self) -> int:
        """The seed its format plans with (pairs, prompts, sides). A tournament judged by
        people plans with its seed keyed by the server's secret: the public seed (API,
        manifest, page) must not let a voter work out which models a blind battle shows (a
        script with the public seed named 8 of 8 battles' models and sides). One judged
        by a model plans with its public seed, so that anyone can replay it."""
        if self.judge_id is not None:
            return self.seed
        keyed = salted_hmac("arena.draw-seed", str(self.seed), algorithm="sha256")
        return int.from_bytes(keyed.digest()[:8], "big") >> 1

    @property
    def is_finished(self) -> bool:
        return self.status in {
            TournamentStatus.COMPLETED,
            TournamentStatus.CANCELLED,
            TournamentStatus.FAILED,
        }


class MatchStatus(models.TextChoices):
    PENDING = "pending"
    PLAYING = "playing"
    AWAITING_VOTE = "awaiting_vote"
    COMPLETED = "completed"
    FAILED = "failed"


OPEN_MATCH_STATUSES = (MatchStatus.PENDING, MatchStatus.PLAYING, MatchStatus.AWAITING_VOTE)


class Match(models.Model):
    # What a voter's browser sees instead of the primary key: random, so it maps to no model.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No index of its own: the composite indexes below all begin with it.
    tournament = models.ForeignKey(
        Tournament, on_delete=models.CASCADE, related_name="matches", db_index=False
    )
    round = models.PositiveIntegerField()
    slot = models.PositiveIntegerField()
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="matches")
    # Read with its tournament (match_state below), never alone: no index of its own.
    status = models.CharField(
        max_length=20, choices=MatchStatus.choices, default=MatchStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The probability with which an active sampler drew this pair when a voter asked
    # (arena.services.draws); empty for planned matches. The fit weights the votes on a
    # drawn match by its inverse (Chatbot Arena, section 4).
    draw_probability = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    # A failed judge call's replies, [{"call": "judge" | "repair" | ..., "text": ...}], so
    # that staff can read why no verdict came of them (a verdict keeps its own in Judgment).
    # Model replies only, never a request: no key or header can get in.
    failure_outputs = models.JSONField(null=True, blank=True)
    # A review tournament's match: the judged match whose judge disagreed with itself on it
    # (arena.services.escalations). The people's verdict here stands beside the judge's.
    escalated_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="escalations"
    )
    # A judged match's judge disagreed with itself and its tournament sends such matches to
    # people: "sent", or "not sent: <why>" (empty otherwise).
    escalation = models.CharField(max_length=200, blank=True, db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tournament", "round", "slot"]
        constraints = [
            models.UniqueConstraint(
                fields=["tournament", "round", "slot"], name="match_unique_slot"
            )
        ]
        # Every vote asks whether its tournament has an open match left, and a voter is
        # given the first free battle by (round, public_id) (arena.services.battles). None
        # should scan a tournament's history.
        indexes = [
            models.Index(fields=["tournament", "status"], name="match_state"),
            models.Index(
                fields=["tournament", "round", "public_id"],
                condition=models.Q(status=MatchStatus.AWAITING_VOTE),
                name="match_awaiting",
            ),
            # The tournament page's latest results.
            models.Index(fields=["tournament", "finished_at"], name="match_finished"),
        ]

    def __str__(self) -> str:
        return f"{self.tournament_id} r{self.round} s{self.slot}"


class Assignment(models.Model):
    """A battle shown to a voter (a session, and the user signed in to it, if any).

    Showing a battle takes it from no one: any number of voters may be shown one match, and
    each may vote on it once (unique per match and session). A voter's unvoted assignment
    younger than ``battles.BATTLE_LEASE`` is the battle a reload shows again, and the
    other voters are given battles fewer people hold; an older one is forgotten.
    """

    # No database constraint: a vote's row must not wait on the match row's lock.
    match = models.ForeignKey(
        Match, on_delete=models.CASCADE, related_name="assignments", db_constraint=False
    )
    session_key = models.CharField(max_length=64)
    # The signed-in user, if any: arena.serving.fastvote leaves such a voter's votes to Django,
    # which checks that the session still signs them in. A plain column, as on Vote.
    user_id = models.BigIntegerField(null=True, blank=True)
    shown_at = models.DateTimeField()
    voted = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["match", "session_key"], name="assignment_once")
        ]
        # A voter's battle in hand (a reload, the next battle after a vote).
        indexes = [
            models.Index(
                fields=["session_key", "shown_at"],
                condition=models.Q(voted=False),
                name="assignment_held",
            )
        ]

    def __str__(self) -> str:
        return f"match {self.match_id} shown to {self.session_key[:8]}"


class MatchEntry(models.Model):
    # No index of its own: entry_unique_position begins with it.
    match = models.ForeignKey(
        Match, on_delete=models.CASCADE, related_name="entries", db_index=False
    )
    contestant = models.ForeignKey(Contestant, on_delete=models.PROTECT, related_name="entries")
    position = models.PositiveSmallIntegerField(help_text="0 is shown first (answer A).")
    response = models.ForeignKey(Response, on_delete=models.PROTECT, null=True, blank=True)
    # The answer's style features when the entry has no answer row to keep them (a battle
    # imported from a file: arena.services.battle_imports); otherwise its answer's.
    style_length = models.PositiveIntegerField(null=True, blank=True)
    style_headers = models.PositiveIntegerField(null=True, blank=True)
    style_lists = models.PositiveIntegerField(null=True, blank=True)
    style_bold = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["match", "position"]
        constraints = [
            models.UniqueConstraint(fields=["match", "position"], name="entry_unique_position"),
            models.UniqueConstraint(fields=["match", "contestant"], name="entry_unique_contestant"),
        ]

    def __str__(self) -> str:
        return f"match {self.match_id} #{self.position}"


class Judgment(models.Model):
    """A judge's verdict on a match; one per match, so a replayed task cannot add another."""

    match = models.OneToOneField(Match, on_delete=models.CASCADE, related_name="judgment")
    judge = models.ForeignKey(Judge, on_delete=models.PROTECT, null=True, blank=True)
    ranking = models.JSONField(help_text="Tiers of contestant ids, best first.")
    both_bad = models.BooleanField(default=False)
    probabilities = models.JSONField(null=True, blank=True)
    raw_output = models.TextField(blank=True)
    # What the judge said in each order it saw (judges.backends.base.OrderVerdict.as_json):
    # slots shown, its ranking of them, label, probabilities and raw output.
    orders = models.JSONField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"judgment of match {self.match_id}"


class Vote(models.Model):
    """A human's ranking of a match's entries; the idempotency key makes a replay count once."""

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    session_key = models.CharField(max_length=64, blank=True)
    # A keyed hash of the voter's IP address, for per-IP limits without storing the address.
    ip_hash = models.CharField(max_length=32, blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    ranking = models.JSONField(help_text="Tiers of contestant ids, best first.")
    both_bad = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["session_key", "created_at"]),
            models.Index(fields=["ip_hash", "created_at"]),
            models.Index(fields=["user", "created_at"], name="vote_user_recent"),
        ]

    def __str__(self) -> str:
        return f"vote on match {self.match_id}"


class Standing(models.Model):
    """A contestant's running record in a tournament: the online Elo and its counts."""

    tournament = models.ForeignKey(Tournament, on_delete=models.CASCADE, related_name="standings")
    contestant = models.ForeignKey(Contestant, on_delete=models.CASCADE, related_name="standings")
    elo = models.FloatField(default=1000.0)
    matches = models.PositiveIntegerField(default=0)
    wins = models.FloatField(default=0.0, validators=[MinValueValidator(0)])
    ties = models.PositiveIntegerField(default=0)
    # Weng-Lin Plackett-Luce belief (ratings.bayesian), updated by every verdict in commit
    # order as K-Sort Arena's is: a K-wise board shows mu - 3 sigma. Defaults in the
    # database too: bulk loads (arena.sql.copy_rows) name only the columns they fill.
    wl_mu = models.FloatField(default=WENG_LIN.mu, db_default=WENG_LIN.mu)
    wl_sigma = models.FloatField(default=WENG_LIN.sigma, db_default=WENG_LIN.sigma)

    class Meta:
        ordering = ["-elo", "contestant__name"]
        constraints = [
            models.UniqueConstraint(fields=["tournament", "contestant"], name="standing_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contestant_id} in {self.tournament_id}: {self.elo:.1f}"


class LeaderboardSnapshot(models.Model):
    tournament = models.ForeignKey(
        Tournament, on_delete=models.CASCADE, null=True, blank=True, related_name="snapshots"
    )
    scope = models.CharField(max_length=100, default="tournament")
    method = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True)
    rows = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.method} snapshot {self.created_at:%Y-%m-%d %H:%M}"


TOKEN_SCOPES = ("manage", "vote")


def default_token_scopes() -> list[str]:
    return list(TOKEN_SCOPES)


class ApiToken(models.Model):
    """A bearer token for automation. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # None: never (tokens made before expiry existed); new ones last API_TOKEN_DAYS.
    expires_at = models.DateTimeField(null=True, blank=True)
    # What the token may do (TOKEN_SCOPES): "manage" (what staff do: create and run
    # tournaments, contestants, imports) and "vote" (the battle API, as its user).
    scopes = models.JSONField(default=default_token_scopes)

    def __str__(self) -> str:
        return f"{self.user} · {self.name or 'token'}"

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class PairCell(models.Model):
    """The verdicts between two contestants (``a`` before ``b`` by id) in one tournament, by
    one source (``humans`` or ``judge:<id>``) on prompts of one category, kept as counts
    and sums (arena.evidence): what every leaderboard and judge-quality figure is fitted
    from. Each verdict adds to its cells in its own transaction.

    The evidence tables' foreign keys have no database constraint (the ORM still cascades
    a deleted tournament to them): a vote's first row in a cell would otherwise check the
    tournament row at commit, and wait behind whatever holds that row's lock (an advance of
    a large tournament holds it for seconds)."""

    tournament = models.ForeignKey(
        Tournament, on_delete=models.CASCADE, related_name="cells", db_constraint=False
    )
    source = models.CharField(max_length=32)
    category = models.CharField(max_length=100, blank=True)
    a = models.ForeignKey(
        Contestant, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    b = models.ForeignKey(
        Contestant, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    locals().update({name: models.IntegerField(default=0) for name in evidence.COUNTS})
    locals().update({name: models.FloatField(default=0.0) for name in evidence.SUMS})

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tournament", "source", "category", "a", "b"], name="paircell_key"
            )
        ]
        indexes = [models.Index(fields=["source", "category"], name="paircell_filter")]

    def __str__(self) -> str:
        return f"{self.a_id} v {self.b_id} in {self.tournament_id} ({self.source})"


class RankingCell(models.Model):
    """The K-wise verdicts (three or more entrants) of one source in one tournament on
    prompts of one category, counted per distinct ranking (``ranking``: tiers of contestant
    ids, arena.evidence.ranking_key): what a Plackett-Luce board is fitted from, since its
    likelihood needs whole rankings, not their pairs. K-wise verdicts are unweighted (no
    sampler draws a group with a probability), so a count is all a ranking needs."""

    tournament = models.ForeignKey(
        Tournament, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    source = models.CharField(max_length=32)
    category = models.CharField(max_length=100, blank=True)
    ranking = models.CharField(max_length=1000)
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tournament", "source", "category", "ranking"], name="rankingcell_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ranking} x{self.count} in {self.tournament_id} ({self.source})"


class PromptPairCell(models.Model):
    """The verdicts of one source on one prompt and pair (``a`` before ``b`` by id) in one
    tournament, by the order the answers were shown (arena.evidence.ORDERED): a judge's
    position flips and its agreement with the human votes on the same prompt and pair."""

    tournament = models.ForeignKey(
        Tournament, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    # No index of its own: the unique key below begins with it.
    prompt = models.ForeignKey(
        Prompt, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    source = models.CharField(max_length=32)
    a = models.ForeignKey(
        Contestant, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    b = models.ForeignKey(
        Contestant, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    locals().update({name: models.IntegerField(default=0) for name in evidence.ORDERED})

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "a", "b", "tournament", "source"], name="promptpaircell_key"
            )
        ]
        # The pairs judged in both orders: what a flip rate reads, and only that.
        indexes = [
            models.Index(
                fields=["source"],
                condition=(
                    (
                        models.Q(ab_a_wins__gt=0)
                        | models.Q(ab_b_wins__gt=0)
                        | models.Q(ab_ties__gt=0)
                    )
                    & (
                        models.Q(ba_a_wins__gt=0)
                        | models.Q(ba_b_wins__gt=0)
                        | models.Q(ba_ties__gt=0)
                    )
                ),
                name="promptpaircell_both_orders",
            )
        ]

    def __str__(self) -> str:
        return f"{self.a_id} v {self.b_id} on prompt {self.prompt_id} ({self.source})"


class OrderCell(models.Model):
    """What one source's judgments in one tournament said order by order (judges.orders,
    from ``Judgment.orders``): how many kept their orders, the pairs judged in both orders
    and how many of those flipped, and the decisive pairs the answer shown first won and
    lost. The judges' panel sums these rows, never the judgments."""

    tournament = models.ForeignKey(
        Tournament, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    source = models.CharField(max_length=32)
    judgments = models.IntegerField(default=0)
    both_orders = models.IntegerField(default=0)
    flips = models.IntegerField(default=0)
    first_won = models.IntegerField(default=0)
    first_lost = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tournament", "source"], name="ordercell_key")
        ]

    def __str__(self) -> str:
        return f"orders of {self.source} in tournament {self.tournament_id}"


class PromptPair(models.Model):
    """A prompt and pair some source has judged: ``shared`` once a second source has too
    (the prompts and pairs a judge's agreement with the humans is read on). Verdicts on one
    prompt and pair take this row's lock in turn, so two sources arriving at once cannot
    both miss each other."""

    # No index of its own: the unique key below begins with it.
    prompt = models.ForeignKey(
        Prompt, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    a = models.ForeignKey(
        Contestant, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    b = models.ForeignKey(
        Contestant, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    first_source = models.CharField(max_length=32)
    shared = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prompt", "a", "b"], name="promptpair_key")]
        indexes = [
            models.Index(
                fields=["prompt"], condition=models.Q(shared=True), name="promptpair_shared"
            )
        ]

    def __str__(self) -> str:
        return f"{self.a_id} v {self.b_id} on prompt {self.prompt_id}"


class EloPoint(models.Model):
    """A tournament's online Elo after its first ``verdicts`` verdicts, by contestant id:
    the rating-history chart's points, stored as the results are published (a point each
    time the count has grown by 1%: about 1,000 points for a million verdicts)."""

    tournament = models.ForeignKey(
        Tournament, on_delete=models.CASCADE, related_name="elo_points", db_constraint=False
    )
    verdicts = models.PositiveIntegerField()
    elo = models.JSONField(help_text="{contestant id: Elo}")

    class Meta:
        ordering = ["tournament", "verdicts"]
        constraints = [
            models.UniqueConstraint(fields=["tournament", "verdicts"], name="elopoint_unique")
        ]

    def __str__(self) -> str:
        return f"Elo of {self.tournament_id} after {self.verdicts}"


class Spend(models.Model):
    """What a tournament has spent, kept as it is spent: every call to its judges and every
    answer generated for it, whether or not a verdict or answer was stored of it (an answer
    cached from another run is free). A row of its own, not columns on the tournament, so
    that a save of the tournament cannot write back an old total."""

    tournament = models.OneToOneField(
        Tournament, on_delete=models.CASCADE, primary_key=True, related_name="spend"
    )
    judged_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    answers_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    # Model calls (a verdict, an answer) begun and settled: counted as begun before the
    # call, as settled with its cost when it returns or fails. One never settled was in
    # flight when its worker died: the provider billed it, and its cost is not known.
    calls_begun = models.PositiveIntegerField(default=0)
    calls_settled = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.tournament_id}: ${self.judged_usd + self.answers_usd}"
