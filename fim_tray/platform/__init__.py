"""What talks to the OS, one backend per OS: start at login, notifications, power, file events,
who writes a file, how a child starts, opening a folder; only the ground floor below."""
