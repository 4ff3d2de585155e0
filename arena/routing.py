from django.urls import path

from arena.consumers import LeaderboardConsumer, TournamentConsumer

# Channels routes ASGI applications through Django's path(), whose stub takes views only.
websocket_urlpatterns = [
    path("ws/tournaments/<int:tournament_id>/", TournamentConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/leaderboard/", LeaderboardConsumer.as_asgi()),  # type: ignore[arg-type]
]
