"""The exceptions daekit raises. Every message names the thing at fault."""

from __future__ import annotations


class DaekitError(Exception):
    """Base class of every error daekit raises on purpose."""


class ConfigError(DaekitError):
    """A configuration, option or usage problem; carries every bad field at once.

    Args:
        problems: One line per bad field, each naming the field and its value.
    """

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class PluginError(DaekitError):
    """A plugin failed to import, declared a bad hook, or registered a bad component."""


class UnknownComponentError(ConfigError):
    """A component name that no loaded plugin registered."""


class DataError(DaekitError):
    """A missing, truncated or malformed data file, named with what was expected."""


class ModelFileError(DaekitError):
    """A saved model that cannot be read, or that needs a plugin that is not installed."""


class ExportError(DaekitError):
    """An export that could not be written, needs a package that is not installed, or whose
    output differs from the model's."""


class CheckpointError(DaekitError):
    """No intact checkpoint to resume from, or one that could not be written."""


class NonFiniteError(DaekitError):
    """Training produced a non-finite loss or non-finite weights; names the epoch and step."""


class RunInUseError(DaekitError):
    """Another process is writing the run directory."""


class Preempted(DaekitError):
    """SIGTERM or SIGINT stopped the run after it saved a checkpoint.

    Attributes:
        signal: The signal number; the CLI exits with 128 + it (143 or 130).
    """

    def __init__(self, message: str, signal: int):
        super().__init__(message)
        self.signal = signal
