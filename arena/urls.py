from django.contrib import admin
from django.urls import include, path

from arena import views
from arena.api import api
from arena.views import accounts

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz/", views.healthz, name="healthz"),
    path("livez/", views.livez, name="livez"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("vote/", views.vote_any, name="vote_any"),
    path("me/", views.my_votes, name="my_votes"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("staff/voters/", views.staff_voters, name="staff_voters"),
    path("leaderboard/data.json", views.leaderboard_json, name="leaderboard_json"),
    path("leaderboard/judges/", views.leaderboard_judges, name="leaderboard_judges"),
    path("leaderboard/overall/", views.leaderboard_overall, name="leaderboard_overall"),
    path(
        "leaderboard/overall.json", views.leaderboard_overall_json, name="leaderboard_overall_json"
    ),
    path("tournaments/new/", views.tournament_new, name="tournament_new"),
    path("tournaments/<int:tournament_id>/", views.tournament_detail, name="tournament"),
    path("tournaments/<int:tournament_id>/vote/", views.vote, name="vote"),
    path(
        "tournaments/<int:tournament_id>/rounds/",
        views.tournament_rounds_fragment,
        name="tournament_rounds",
    ),
    path(
        "tournaments/<int:tournament_id>/charts.json",
        views.tournament_charts_json,
        name="tournament_charts",
    ),
    path(
        "tournaments/<int:tournament_id>/plan/",
        views.tournament_plan_request,
        name="tournament_plan",
    ),
    path(
        "tournaments/<int:tournament_id>/<str:action>/",
        views.tournament_action,
        name="tournament_action",
    ),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
]

from arena.views import data as data_views  # noqa: E402  (data import/export pages)

urlpatterns += [
    path(
        "tournaments/<int:tournament_id>/export/<str:kind>/",
        data_views.data_export,
        name="data_export",
    ),
    path("data/import/answers/", data_views.data_import_answers, name="data_import_answers"),
    path("data/import/prompts/", data_views.data_import_prompts, name="data_import_prompts"),
]
