"""fim-tray's own signed state on disk, behind one `Store` (baselines, pending, history, copies)."""
