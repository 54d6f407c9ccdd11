"""AI4Cardio Workbench: offline decision support for reading ECGs together with blood reports.

Decision support only: nothing this package produces is a diagnosis.
"""
import logging

__version__ = "0.1.0"

DISCLAIMER = (
    "Decision support only - not a diagnosis. Every output must be reviewed by a qualified clinician "
    "before any clinical decision."
)

# Quiet by default (library convention); `workbench.config.configure_logging` switches it on.
logging.getLogger(__name__).addHandler(logging.NullHandler())
