"""Dialogs, each run as a child process of the tray that answers with JSON on stdout."""
