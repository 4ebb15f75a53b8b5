"""Live events, stream keys and the nginx-rtmp publish hooks.

Public face: `service.get_event` / `find_event` / `listing` / `on_air` (the shows on air, up
to `ON_AIR_TTL_S` old) return the typed `event.Event`, whose methods are the event's rules
(`is_open`, `is_free`, `is_cancelled`, `is_run_by`, `is_managed_by`) and its JSON (`to_json`);
`service.ensure_owner`; `STATUS_LISTENERS` and `STATUS_OUTBOX` for work that follows a status
change; `sweeper.setup` schedules the end of shows whose publisher left unheard.
"""
