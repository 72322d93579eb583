"""``python -m kiosk`` is ``huduma-kiosk``."""

from kiosk.app import main

main()
