"""Alert channels: where each new change is sent beyond the desktop (people through apprise,
machines through RFC 5424 syslog and ECS JSON lines), and the durable outbox that keeps what
could not be sent yet. Stands on the ground floor only (errors, models, logs, jsonio, display)."""
