"""One error tree for the whole package.

Every error evergreen raises on purpose is a class below, and its class names its stable,
machine-readable ``code``: a raise site picks the class, never a code string. The CLI maps an error
to its exit code and the HTTP API to its status, each in exactly one place (``exit_code`` /
``http_status`` here); :func:`one_line` is the one line a person reads.

    EvergreenError                      internal_error        exit 1  HTTP 500
    ├── BadInputError                   bad_input             exit 2  HTTP 422
    │   ├── ConfigError                 config_invalid
    │   ├── DataValidationError         data_invalid
    │   ├── NoDataError                 no_data
    │   ├── IncompatibleSchemaError     incompatible_schema
    │   ├── InvalidRequestError         invalid_request
    │   │   ├── MalformedJSONError      malformed_json                HTTP 400
    │   │   │   ├── JSONTooDeepError    json_too_deep
    │   │   │   └── DuplicateKeyError   duplicate_key
    │   │   ├── IncompleteBodyError     incomplete_body               HTTP 400
    │   │   ├── TooManyRecordsError     too_many_records
    │   │   ├── InvalidRecordError      invalid_record
    │   │   └── InvalidLabelError       invalid_label
    │   ├── ModelInputError             model_rejected_record
    │   ├── BodyTooLargeError           body_too_large                HTTP 413
    │   ├── InvalidHeaderError          invalid_header                HTTP 400
    │   ├── UnsupportedMediaTypeError   unsupported_media_type        HTTP 415
    │   └── UnservableVersionError      version_unservable
    ├── NotFoundError                   not_found             exit 2  HTTP 404
    │   └── UnknownPredictionError      unknown_prediction
    ├── MethodNotAllowedError           method_not_allowed    exit 2  HTTP 405
    ├── ConflictError                   conflict                      HTTP 409
    │   ├── LockHeldError               lock_held
    │   ├── ModelsBusyError             models_busy
    │   ├── LeaseLostError              lease_lost
    │   ├── RunStoppedError             run_stopped
    │   ├── RunEndedError               run_ended
    │   └── AlreadyLabelledError        already_labelled
    ├── RateLimitedError                rate_limited                  HTTP 429
    ├── TrainingError                   training_failed
    ├── RegistryError                   registry_error                HTTP 503
    │   └── ChampionUnavailableError    champion_unavailable
    │       ├── UntrustedModelError     untrusted_model
    │       ├── ModelFilesMissingError  model_files_missing
    │       ├── NotReadyError           not_ready
    │       ├── ShuttingDownError       shutting_down
    │       └── ModelFailedError        model_failed
    ├── StoreError                      store_error                   HTTP 503
    │   ├── PredictionNotStoredError    prediction_not_stored
    │   └── SchemaError                 schema_mismatch
    ├── NotConfiguredError              not_configured
    └── AuthError                       unauthorized          exit 2  HTTP 401
        └── ForbiddenError              forbidden                     HTTP 403
            ├── ControlAPIDisabledError control_api_disabled
            ├── UnknownTokenError       unknown_token
            ├── ForeignHostError        foreign_host
            └── ForeignOriginError      foreign_origin

A subclass keeps its parent's exit code and status unless the tree says otherwise. ``HTTP_ERROR``
is the code of an HTTP error no class above describes (a status Starlette raised itself).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "HTTP_ERROR",
    "AlreadyLabelledError",
    "AuthError",
    "BadInputError",
    "BodyTooLargeError",
    "ChampionUnavailableError",
    "ConfigError",
    "ConflictError",
    "ControlAPIDisabledError",
    "DataValidationError",
    "DuplicateKeyError",
    "EvergreenError",
    "ForbiddenError",
    "ForeignHostError",
    "ForeignOriginError",
    "IncompatibleSchemaError",
    "IncompleteBodyError",
    "InvalidHeaderError",
    "InvalidLabelError",
    "InvalidRecordError",
    "InvalidRequestError",
    "JSONTooDeepError",
    "LeaseLostError",
    "LockHeldError",
    "MalformedJSONError",
    "MethodNotAllowedError",
    "ModelFailedError",
    "ModelFilesMissingError",
    "ModelInputError",
    "ModelsBusyError",
    "NoDataError",
    "NotConfiguredError",
    "NotFoundError",
    "NotReadyError",
    "PredictionNotStoredError",
    "RateLimitedError",
    "RegistryError",
    "RunEndedError",
    "RunStoppedError",
    "SchemaError",
    "ShuttingDownError",
    "StoreError",
    "TooManyRecordsError",
    "TrainingError",
    "UnknownPredictionError",
    "UnknownTokenError",
    "UnservableVersionError",
    "UnsupportedMediaTypeError",
    "UntrustedModelError",
    "is_transient",
    "one_line",
]

HTTP_ERROR = "http_error"


class EvergreenError(Exception):
    """Base of every error evergreen raises on purpose."""

    code = "internal_error"
    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
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
    """A batch broke the data contract; ``details`` holds file, column and reason code."""

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
        super().__init__(message, details=details)
        self.reason = reason
        self.file = file
        self.column = column


class NoDataError(BadInputError):
    """There is nothing to work on yet (e.g. no champion predictions in a monitoring window)."""

    code = "no_data"


class IncompatibleSchemaError(BadInputError):
    """A model's signature cannot be served (no columns, or a column of no scalar type)."""

    code = "incompatible_schema"


class InvalidRequestError(BadInputError):
    """A request body has the wrong shape; ``details["field"]`` names the field."""

    code = "invalid_request"


class MalformedJSONError(InvalidRequestError):
    """The request body is not JSON we accept: empty, unparsable, too deep or with a repeated key."""

    code = "malformed_json"
    http_status = 400


class JSONTooDeepError(MalformedJSONError):
    """The request body nests deeper than any record of flat fields could."""

    code = "json_too_deep"


class DuplicateKeyError(MalformedJSONError):
    """The request body repeats a key in one object (which value would the model see?)."""

    code = "duplicate_key"


class IncompleteBodyError(InvalidRequestError):
    """The client closed the connection before sending the whole body its Content-Length announced."""

    code = "incomplete_body"
    http_status = 400


class TooManyRecordsError(InvalidRequestError):
    """A request carries more records than the server takes at once."""

    code = "too_many_records"


class InvalidRecordError(InvalidRequestError):
    """A record breaks the model's input schema; ``details["errors"]`` names each field and problem."""

    code = "invalid_record"


class InvalidLabelError(InvalidRequestError):
    """A feedback label is not one the model can be scored on."""

    code = "invalid_label"


class ModelInputError(BadInputError):
    """The model itself refused this record (the other requests batched with it were answered)."""

    code = "model_rejected_record"


class BodyTooLargeError(BadInputError):
    """A request body is larger than ``serving.max_body_bytes``."""

    code = "body_too_large"
    http_status = 413


class InvalidHeaderError(BadInputError):
    """A request header is not of its HTTP form (a negative Content-Length); ``details`` names it."""

    code = "invalid_header"
    http_status = 400


class UnsupportedMediaTypeError(BadInputError):
    """A request body is not ``application/json`` where only JSON is taken (``details`` names the type)."""

    code = "unsupported_media_type"
    http_status = 415


class UnservableVersionError(BadInputError):
    """A person named a model version that exists but cannot be served (files gone, not evergreen's)."""

    code = "version_unservable"


class NotFoundError(EvergreenError):
    """What was asked for (a run, a version, an alert, a route) does not exist."""

    code = "not_found"
    exit_code = 2
    http_status = 404


class UnknownPredictionError(NotFoundError):
    """Feedback names a prediction id the log never stored."""

    code = "unknown_prediction"


class MethodNotAllowedError(EvergreenError):
    """The route exists but not for this HTTP method."""

    code = "method_not_allowed"
    exit_code = 2
    http_status = 405


class ConflictError(EvergreenError):
    """The action is valid but the current state forbids it (e.g. approving a stale candidate)."""

    code = "conflict"
    exit_code = 1
    http_status = 409


class LockHeldError(ConflictError):
    """Another live process holds the project's retrain lock."""

    code = "lock_held"


class ModelsBusyError(ConflictError):
    """The models lease stayed held for all of an automated caller's wait: nothing moved, try again."""

    # A retrain about to promote or retention about to delete a version waited out a person's promote,
    # approve or rollback. Unlike LockHeldError (another retrain runs), the same work can succeed soon.
    code = "models_busy"


class LeaseLostError(ConflictError):
    """This process no longer holds the retrain lease (another took it over): the run stops, abandoned."""

    code = "lease_lost"


class RunStoppedError(ConflictError):
    """The process was asked to stop (SIGTERM) and the run ended between two stages, abandoned."""

    code = "run_stopped"


class RunEndedError(ConflictError):
    """A stage was asked to work on a run that has already ended: it does not run again."""

    # An orchestrator retrying a task after the run was recorded failed (a deterministic error, or
    # the last attempt) or abandoned: moving the champion for it now would contradict that record.
    code = "run_ended"


class AlreadyLabelledError(ConflictError):
    """Feedback labels a prediction that already has a label (``serving.feedback_relabel: refuse``)."""

    code = "already_labelled"


class RateLimitedError(EvergreenError):
    """Too many requests (a token's over ``auth.rate_limit_per_minute``, failed log-ins); with Retry-After."""

    code = "rate_limited"
    http_status = 429


class TrainingError(EvergreenError):
    """No candidate could be trained or scored."""

    code = "training_failed"


class RegistryError(EvergreenError):
    """MLflow could not be reached or refused an operation."""

    code = "registry_error"
    http_status = 503


class ChampionUnavailableError(RegistryError):
    """The champion model cannot be loaded or used."""

    code = "champion_unavailable"


class UntrustedModelError(ChampionUnavailableError):
    """A model version failed a trust check (sha256, skops only, trusted types) and is never loaded."""

    code = "untrusted_model"


class ModelFilesMissingError(ChampionUnavailableError):
    """A model version's files are not in the artifact store (collected by mlflow gc, deleted by hand)."""

    code = "model_files_missing"


class NotReadyError(ChampionUnavailableError):
    """The server has not loaded a champion yet."""

    code = "not_ready"


class ShuttingDownError(ChampionUnavailableError):
    """The server is stopping and takes no new predictions."""

    code = "shutting_down"


class ModelFailedError(ChampionUnavailableError):
    """The model call failed for a reason that is not the request's fault."""

    code = "model_failed"


class StoreError(EvergreenError):
    """The metadata database could not be reached or refused a statement."""

    code = "store_error"
    http_status = 503


class PredictionNotStoredError(StoreError):
    """Feedback names a prediction the log has not stored yet (database or disk unavailable)."""

    code = "prediction_not_stored"


class SchemaError(StoreError):
    """The metadata database's schema is newer than this code, or its upgrade failed (rolled back)."""

    code = "schema_mismatch"


class NotConfiguredError(EvergreenError):
    """A component was started without what it needs (e.g. an app with no project)."""

    code = "not_configured"


class AuthError(EvergreenError):
    """No credentials, or credentials nobody issued."""

    code = "unauthorized"
    exit_code = 2
    http_status = 401


class ForbiddenError(AuthError):
    """The caller is known but its role is too low for the action."""

    code = "forbidden"
    http_status = 403


class ControlAPIDisabledError(ForbiddenError):
    """The control API has no tokens configured and is not opened to loopback clients."""

    code = "control_api_disabled"


class UnknownTokenError(ForbiddenError):
    """A data endpoint that requires a token got one nobody issued."""

    code = "unknown_token"


class ForeignHostError(ForbiddenError):
    """A local-only server (``--insecure-local``) got a request whose Host is not a loopback name."""

    code = "foreign_host"


class ForeignOriginError(ForbiddenError):
    """A local-only server (``--insecure-local``) got a request sent by a page of another origin."""

    code = "foreign_origin"


def is_transient(exc: BaseException) -> bool:
    """Whether the same work can succeed later: the database or MLflow unreachable, or the models
    lease held past an automated caller's wait. Anything else is deterministic."""
    if isinstance(exc, ModelsBusyError):
        return True
    # A champion that cannot be loaded is a property of the stored model, not of the connection.
    return isinstance(exc, StoreError | RegistryError) and not isinstance(exc, ChampionUnavailableError)


def one_line(exc: BaseException, *, with_code: bool = False) -> str:
    """The one line a person reads about ``exc``.

    An evergreen error is its message (``code: message`` with ``with_code``, as run records keep it);
    Ctrl-C is ``interrupted``; anything else is ``TypeName: first line of its text``.
    """
    if isinstance(exc, EvergreenError):
        text = _first_line(exc.message) or exc.code
        return f"{exc.code}: {text}" if with_code else text
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = _first_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


SHOWN_CHARS = 80


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A value someone sent, as an error message quotes it back: its ``repr`` (quoted and escaped, so
    no line break or control character gets through), cut to about ``limit`` characters; a cut
    string keeps its quotes."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + "…"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def shown_json(value: object, limit: int = SHOWN_CHARS) -> str:
    """A value a JSON client sent (or may send), quoted back as JSON: ``null``, ``true``, ``"yes"``,
    ``["no", "yes"]``, never Python's ``None``, ``True``, ``'yes'``; escaped and cut like
    :func:`shown`. numpy scalars (a model's classes) are shown as the plain values they hold."""
    import json

    def plain(v: Any) -> Any:
        item = getattr(v, "item", None)
        if callable(item):
            return item()
        raise TypeError(type(v).__name__)

    if isinstance(value, str) and len(value) > limit:
        return json.dumps(value[:limit]) + "…"
    try:
        text = json.dumps(value, default=plain)
    except (TypeError, ValueError):
        return shown(value, limit)
    return text if len(text) <= limit else text[:limit] + "…"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):
        # A first line that only announces what follows (MLflow's "The following failures occurred
        # while downloading one or more artifacts from <uri>:"): the first failure, then where. Its
        # "##### File x #####" headings are not the failure, nor is a traceback after it.
        said = [line for line in lines[1:] if not line.startswith("#") and not line.startswith("Traceback")]
        if said:
            return f"{said[0]} ({lines[0].rstrip(':')})"
    return lines[0] if lines else ""
