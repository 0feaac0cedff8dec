"""fim-tray: a File Integrity Monitor for the desktop tray and the command line."""

__version__ = "0.1.0"
APP_NAME = "fim-tray"
