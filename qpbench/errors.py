"""Exceptions with messages that name the problem and the fix."""


class QPBenchError(Exception):
    """Base class of every error qpbench raises on purpose."""


class ConfigError(QPBenchError):
    """A setting (option, ini key, target, weight) is invalid."""


class WorkloadError(QPBenchError):
    """The model factory, checkpoint or dataset of a workload is unusable."""


class VariantError(QPBenchError):
    """A variant name is unknown or its builder failed."""


class VariantUnavailable(VariantError):
    """A technique does not apply here (a package is missing, the model cannot be
    traced, ...). The run goes on: the variant is skipped and the reason recorded."""


class RecordError(QPBenchError):
    """A saved run record (JSON) cannot be read: missing, corrupt, truncated or not of the schema.

    ``problem`` says which, so a reader with more context (a baseline, a package) can add its own
    advice: "missing", "unreadable", "empty", "not_json", "no_version", "other_version", "invalid".
    """

    def __init__(self, message: str, problem: str = "invalid", detail: str = "") -> None:
        super().__init__(message)
        self.problem = problem
        self.detail = detail  # the parser's or validator's own words, without the file name
