"""The `frontdesk` command: serve, demo, migrate, create-operator, set-password, set-role,
deactivate-operator, activate-operator, end-sessions, revoke-visitor, create-site, update-site, show-identity-secret, create-webhook, list-webhooks.

Every setting is a FRONTDESK_* environment variable, read by every command, and a flag of
the commands that use it (flags win; server/config.py says which). Every mistake a user
can make here ends in one line on stderr that names what to change, not a traceback.
"""

from .main import main
from .parser import build_parser
from .support import opened

__all__ = ["build_parser", "main", "opened"]
