"""fim-tray's state on disk, behind one `Store`: settings, key, baselines, history, copies."""
