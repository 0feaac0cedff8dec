"""Entry point for ``python -m fim_tray``: the same as the ``fim-tray`` command."""

from fim_tray.cli.main import run

if __name__ == "__main__":
    run()
