"""The `fim-tray` command line: parser and dispatch, what commands print, command groups."""
