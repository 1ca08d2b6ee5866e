"""Exception types. Every error a user can cause names the problem and, where possible, the fix."""


class ArenaError(Exception):
    """Base class for errors the CLI reports as a one-line message (exit code 2)."""


class ConfigError(ArenaError, ValueError):
    """A config file or value is invalid (unknown key, wrong type, bad combination)."""


class DataError(ArenaError, ValueError):
    """A dataset file is missing, malformed, or fails its checksum."""


class ModelError(ArenaError):
    """A model cannot be loaded, trained, or found in the registry."""
