"""Entry point of the frozen build: the same `main` as `desktop-app` and `python -m desktop_app`."""

import multiprocessing
import sys

from desktop_app.__main__ import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
