"""One error tree for the whole package.

Every error carries a stable machine-readable ``code``. The CLI maps errors to exit codes and the
HTTP API maps them to statuses, each in exactly one place (``exit_code`` / ``http_status`` here).
"""

from __future__ import annotations

from typing import Any


class EvergreenError(Exception):
    """Base of every error evergreen raises on purpose."""

    code = "internal_error"
    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class BadInputError(EvergreenError):
    """The user gave us something we cannot use: exit 2, HTTP 4xx."""

    code = "bad_input"
    exit_code = 2
    http_status = 422


class ConfigError(BadInputError):
    """evergreen.yaml or an environment override is invalid (names the key)."""

    code = "config_invalid"


class DataValidationError(BadInputError):
    """A batch broke the data contract. ``details`` holds file, column and reason code."""

    code = "data_invalid"

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        file: str | None = None,
        column: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        details: dict[str, Any] = {"reason": reason, "file": file, "column": column}
        if extra:
            details.update(extra)
        super().__init__(message, code="data_invalid", details=details)
        self.reason = reason
        self.file = file
        self.column = column


class NotFoundError(EvergreenError):
    code = "not_found"
    exit_code = 2
    http_status = 404


class ConflictError(EvergreenError):
    """The action is valid but the current state forbids it (e.g. approving a stale candidate)."""

    code = "conflict"
    exit_code = 1
    http_status = 409


class LockHeldError(ConflictError):
    code = "lock_held"


class TrainingError(EvergreenError):
    code = "training_failed"


class RegistryError(EvergreenError):
    """MLflow could not be reached or refused an operation."""

    code = "registry_error"
    http_status = 503


class ChampionUnavailableError(RegistryError):
    code = "champion_unavailable"


class StoreError(EvergreenError):
    code = "store_error"
    http_status = 503


class AuthError(EvergreenError):
    code = "unauthorized"
    exit_code = 2
    http_status = 401


class ForbiddenError(AuthError):
    code = "forbidden"
    http_status = 403


# ---- hostile or broken input on the data endpoints (issue 10) -----------------------------------
class MalformedJSONError(BadInputError):
    """The request body is not JSON we accept: unparsable, too deep or with a repeated key."""

    code = "malformed_json"
    http_status = 400


class JSONTooDeepError(MalformedJSONError):
    code = "json_too_deep"


class DuplicateKeyError(MalformedJSONError):
    code = "duplicate_key"


class InvalidRecordError(BadInputError):
    """A record breaks the model's input schema; ``details.errors`` names each field and problem."""

    code = "invalid_record"


class ModelInputError(BadInputError):
    """The model itself refused this record (its other requests in the same batch were answered)."""

    code = "model_rejected_record"


class PredictionNotStoredError(StoreError):
    """Feedback names a prediction the log has not stored yet (database or disk unavailable)."""

    code = "prediction_not_stored"
