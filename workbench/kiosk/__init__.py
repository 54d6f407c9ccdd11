"""The clinic kiosk: the Voila app of voila_apps/kiosk.ipynb, locked down (`workbench kiosk`)."""
from .launcher import KioskServer, load_or_create_token, run_kiosk, token_path

__all__ = ["KioskServer", "load_or_create_token", "run_kiosk", "token_path"]
