"""Frontdesk: a self-hosted front desk (live chat, leads) for business websites."""

__version__ = "0.1.0"
