"""How the app is served, apart from what it does: the ASGI application and its fast vote
transport, the shared Redis pools of the cache and the channel layer, the embedded worker
(and its sweep timer) of embedded mode, and concurrent index builds for migrations. Nothing
here decides anything about tournaments; the domain is in arena/ and arena/services/."""
