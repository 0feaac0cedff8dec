"""End-to-end tests of the tray on a real (virtual) desktop."""
