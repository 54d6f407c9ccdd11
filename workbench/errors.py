"""One exception hierarchy whose messages a clinician can read.

Every error raised on purpose by the workbench derives from `WorkbenchError`; the UI and CLI show
`str(err)` as-is, so messages say what went wrong and what to do, in plain words, without jargon.
"""
from __future__ import annotations


class WorkbenchError(Exception):
    """Base class: anything the workbench refuses or cannot do, explained in plain words."""

    #: short category shown in front of the message in the UI / CLI
    title = "Workbench error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, str]:
        return {"type": type(self).__name__, "title": self.title, "message": str(self)}


class ConfigError(WorkbenchError):
    title = "Configuration problem"


class InputError(WorkbenchError):
    """The file or value given cannot be used."""

    title = "Input problem"


class UnsupportedFormatError(InputError):
    title = "Unsupported file"


class CorruptFileError(InputError):
    title = "Damaged file"


class FileTooLargeError(InputError):
    title = "File too large"


class SignalError(InputError):
    """The recording is readable but not analysable (too short, flat, non-finite...)."""

    title = "Unusable recording"


class AnalysisError(WorkbenchError):
    title = "Analysis failed"


class ModelError(WorkbenchError):
    title = "Model problem"


class ImageQualityError(InputError):
    """The image is readable but cannot be digitized (blurred, blank, not an ECG...)."""

    title = "Unusable image"
