"""Write operations. Keyword-only functions named ``<entity>_<action>``."""
