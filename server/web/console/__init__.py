"""The operator console: login, inbox, sites."""
