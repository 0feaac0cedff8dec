"""Entry point for ``python -m fim_tray``: the same as the ``fim-tray`` command."""

import sys

from fim_tray.cli import main

if __name__ == "__main__":
    sys.exit(main())
