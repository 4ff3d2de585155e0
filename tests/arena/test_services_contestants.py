from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from arena.models import Contestant, Tournament, TournamentStatus
from arena.services.contestants import contestant_added, contestant_create
from arena.services.tournaments import tournament_create

pytestmark = pytest.mark.django_db


def template(name: str, people: list[Contestant], *, rerun: bool) -> Tournament:
    return tournament_create(
        name=name,
        format="round_robin",
        contestants=[c.name for c in people],
        prompt_set="tiny",
        judge="sim-judge",
        config={"rounds": 1, "rerun_on_new_contestant": rerun},
    )


def test_a_contestant_is_validated_whole_and_its_arrival_is_announced_after_commit(
    django_capture_on_commit_callbacks, monkeypatch
) -> None:
    announced: list[int] = []
    monkeypatch.setattr("arena.tasks.contestant_added.delay", announced.append)
    with django_capture_on_commit_callbacks(execute=True):
        new = contestant_create(name="fresh", backend="simulated", generation={"strength": 1100})
    assert announced == [new.pk]
    with pytest.raises(ValidationError) as bad:
        contestant_create(name="keyed", backend="openai", api_key_env="sk-live-123")
    assert "api_key_env" in bad.value.message_dict
    with pytest.raises(ValidationError) as unknown:
        contestant_create(name="x", backend="simulated", api_key="sk-live-123")
    assert "api_key" in unknown.value.message_dict
    assert not Contestant.objects.filter(name__in=["keyed", "x"]).exists()


def test_a_new_contestant_starts_a_run_of_each_template_tournament_that_asks_for_it(
    contestants, prompt_set, judge
) -> None:
    people = contestants(3)
    asks = template("nightly", people, rerun=True)
    template("one-off", people, rerun=False)
    newcomer = Contestant.objects.create(name="newcomer", backend="simulated")

    runs = contestant_added(contestant_id=newcomer.pk)

    assert len(runs) == 1
    run = Tournament.objects.get(pk=runs[0])
    assert run.name == "nightly (run 2)" and run.status == TournamentStatus.RUNNING
    assert set(run.contestants.values_list("name", flat=True)) == {
        *(c.name for c in people),
        "newcomer",
    }
    # The run is a copy, not a template: a later arrival does not rerun the run.
    assert "rerun_on_new_contestant" not in run.config
    assert asks.config["rerun_on_new_contestant"] is True
    later = Contestant.objects.create(name="later", backend="simulated")
    assert len(contestant_added(contestant_id=later.pk)) == 1


def test_the_engine_option_must_be_a_boolean(contestants, prompt_set, judge) -> None:
    with pytest.raises(ValidationError) as bad:
        tournament_create(
            name="t",
            format="round_robin",
            contestants=[c.name for c in contestants(2)],
            prompt_set="tiny",
            judge="sim-judge",
            config={"rerun_on_new_contestant": "yes"},
        )
    assert "rerun_on_new_contestant" in bad.value.message_dict


def test_a_contestant_added_in_the_admin_is_announced_but_an_edit_is_not(
    admin_client, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    announced: list[int] = []
    monkeypatch.setattr("arena.tasks.contestant_added.delay", announced.append)
    form = {"name": "via-admin", "backend": "simulated", "generation": "{}", "queue": "default"}
    with django_capture_on_commit_callbacks(execute=True):
        added = admin_client.post("/admin/arena/contestant/add/", form)
    assert added.status_code == 302, added.content.decode()[:2000]
    new = Contestant.objects.get(name="via-admin")
    assert announced == [new.pk]
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/admin/arena/contestant/{new.pk}/change/", form | {"model_id": "x"})
    assert announced == [new.pk]


@pytest.mark.parametrize("variable", ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_a_key_variable_outside_the_allowlist_is_refused_naming_the_field(variable: str) -> None:
    with pytest.raises(ValidationError) as refused:
        contestant_create(
            name="leaky", backend="openai", base_url="http://127.0.0.1:9/v1", api_key_env=variable
        )
    assert "ARENA_KEY_VARIABLES" in refused.value.message_dict["api_key_env"][0]
    assert not Contestant.objects.filter(name="leaky").exists()


def test_the_allowlist_is_a_setting_of_shell_patterns(settings) -> None:
    settings.KEY_VARIABLES = ["TEAM_*"]
    contestant_create(
        name="ok", backend="openai", base_url="http://h.test/v1", api_key_env="TEAM_A"
    )
    with pytest.raises(ValidationError, match="OPENAI_API_KEY is not a key variable"):
        contestant_create(
            name="no", backend="openai", base_url="http://h.test/v1", api_key_env="OPENAI_API_KEY"
        )


@pytest.mark.parametrize(
    ("base_url", "why"),
    [
        ("http://127.0.0.1:6379/v1", "own database or Redis"),
        ("http://localhost:5432/v1", "own database or Redis"),
        ("http://169.254.169.254/latest/meta-data", "denied network"),
        ("http://user:secret@models.test/v1", "user or password"),
    ],
)
def test_a_base_url_into_the_servers_own_services_or_a_denied_network_is_refused(
    settings, base_url: str, why: str
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.DATABASE_URL = "postgres://arena@127.0.0.1:5432/arena"
    with pytest.raises(ValidationError) as refused:
        contestant_create(name="probe", backend="openai", base_url=base_url)
    assert why in refused.value.message_dict["base_url"][0]


def test_a_local_model_server_is_fine(settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    made = contestant_create(name="ollama", backend="openai", base_url="http://127.0.0.1:11434/v1")
    assert made.pk
