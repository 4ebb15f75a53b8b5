"""Accounts, passwords, JWT access tokens and rotating refresh tokens.

Public face: `tokens.Principal` (the caller; `is_admin`, `is_staff`), `auth.require_user`,
`service.find_account` (a typed `account.Account`, never a users row), `service.display_names`
(and `service.recent_display_names`, up to `NAMES_TTL_S` old) and `auth.REVOCATION_LISTENERS`.
"""
