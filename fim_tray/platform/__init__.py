"""Platform features (start at login, notifications, power, file events): one backend per OS."""
