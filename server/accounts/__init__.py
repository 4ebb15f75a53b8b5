"""Accounts, passwords, JWT access tokens and rotating refresh tokens."""
