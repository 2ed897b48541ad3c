"""Settings models for ``evergreen.yaml`` (DESIGN.md §3).

Loaded once at an entry point with :func:`load_settings` and passed down as frozen objects.
Precedence: built-in defaults < YAML file < ``EVERGREEN_<SECTION>__<KEY>`` environment variables.
``${VAR}`` (and ``${VAR:-default}``) inside the YAML is replaced from the environment.
"""

from __future__ import annotations

import functools
import math
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit

import yaml
from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from evergreen.errors import ConfigError, one_line, shown
from evergreen.layout import CONFIG_FILE as CONFIG_FILE
from evergreen.layout import STATE_DIR as STATE_DIR

ENV_PREFIX = "EVERGREEN_"

Task = Literal["binary", "multiclass", "regression"]
Level = Literal["info", "warning", "alert", "critical"]

# Metrics where a smaller value is better; everything else is "higher is better".
LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss", "mse"})

# The metrics a holdout is scored on (evaluation.metrics.compute_metrics), by kind of task; a test
# there keeps the two in step. Classification also has one per class: f1_class_<label>, ...
CLASSIFICATION_METRICS = frozenset(
    {
        "accuracy",
        *(f"{m}_{avg}" for m in ("precision", "recall", "f1") for avg in ("macro", "weighted")),
        "roc_auc",
        "log_loss",
    }
)
# The label part is any text label_key gives: empty, or with line breaks (hence .* and DOTALL).
PER_CLASS_METRIC = re.compile(r"(?:f1|precision|recall)_class_.*", re.DOTALL)
REGRESSION_METRICS = frozenset({"rmse", "mae", "r2"})


def metric_range(name: str) -> tuple[float | None, float | None]:
    """The values a model's ``name`` score can take: rates and ROC AUC in [0, 1]; errors and the log
    loss from 0; R² up to 1."""
    if name in ("rmse", "mae", "log_loss"):
        return 0.0, None
    if name == "r2":
        return None, 1.0
    return 0.0, 1.0


def gate_problem(name: str, bound: float) -> str | None:
    """Why a value gate of ``bound`` on ``name`` can never be met, or is met by every model (None:
    it can be either): ``accuracy: 2`` rejected every candidate, for good, with no word at load."""
    low, high = metric_range(name)
    if (low is not None and bound < low) or (high is not None and bound > high):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        return f"{name} {bound:g} is outside the values a model can score, [{lo}, {hi}]"
    return None


def metric_unknown(name: str, task: str | None = None) -> str | None:
    """Why ``name`` is not a metric evergreen scores a ``task`` model on (None: any task); None if it is.

    A misspelt name would never be found: a value gate on it fails every candidate ("no value"), a
    trigger on it never fires. So it is refused where it is written.
    """
    classification = name in CLASSIFICATION_METRICS or PER_CLASS_METRIC.fullmatch(name) is not None
    regression = name in REGRESSION_METRICS
    fits = {None: classification or regression, "regression": regression}.get(task, classification)
    if fits:
        return None
    per_class = ", f1_class_<label>, precision_class_<label>, recall_class_<label>"
    if task is None:
        known, what = sorted(CLASSIFICATION_METRICS | REGRESSION_METRICS), "a model"
    elif task == "regression":
        known, what, per_class = sorted(REGRESSION_METRICS), "a regression model", ""
    else:
        known, what = sorted(CLASSIFICATION_METRICS), f"a {task} model"
    return f"{shown(name)} is not a metric evergreen scores {what} on (known: {', '.join(known)}{per_class})"


def _known_metric(name: str) -> str:
    problem = metric_unknown(name)
    if problem is not None:
        raise ValueError(problem)
    return name


MetricName = Annotated[str, AfterValidator(_known_metric)]


def _open_end(value: float) -> float | None:
    if math.isnan(value):
        raise ValueError("NaN is no bound: write null for none")
    return None if math.isinf(value) else value


# A range's bound: an infinity is an open end, kept as null (no JSON column stores an infinity);
# NaN is refused like everywhere else.
Bound = Annotated[float, AllowInfNan(True), AfterValidator(_open_end)]


def _cron(expr: str) -> str:
    # Checked where it is written: a bad cron would otherwise surface at the scheduler's first tick as
    # croniter's own error, naming no key. Imported here: only a project that sets a schedule pays.
    from croniter import croniter

    hint = "(minute hour day-of-month month day-of-week, e.g. '0 2 * * 1')"
    # Five fields: croniter also takes a sixth (seconds) and seventh (year), so a Quartz-style
    # "0 0 2 * * 1" was read as something else than "Mondays at 02:00", silently.
    named = expr.strip().startswith("@")  # @daily, @hourly...
    if not (named or len(expr.split()) == 5) or not croniter.is_valid(expr):
        raise ValueError(f"{shown(expr)} is not a cron expression of five fields {hint}")
    try:  # valid but never due ("0 0 30 2 *": February 30th) failed every scheduler tick
        croniter(expr, datetime(2000, 1, 1)).get_next(datetime)
    except Exception:
        raise ValueError(f"{shown(expr)} never fires: no date matches it") from None
    return expr


Cron = Annotated[str, AfterValidator(_cron)]

_WINDOW_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_WINDOW_BATCH = re.compile(r"^\s*(?:batch[:=]?)?\s*(\d+)\s*$")
WINDOW_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_BATCH_ID = 2**31 - 1  # an id column of PostgreSQL's integer (SQLite's is wider)


def read_window(text: str) -> tuple[int, str]:
    """A monitoring window's text as ``(amount, unit)`` (unit s/m/h/d/w) or ``(batch id, "batch")``.

    ``ValueError`` saying why it is not one: pure, so ``monitoring.window`` is checked where it is
    written and ``evergreen monitor --window`` by the same rule.
    """
    if m := _WINDOW_DURATION.match(text):
        amount, unit = int(m.group(1)), m.group(2)
        if amount <= 0:
            raise ValueError("the duration must be positive")
        if amount * WINDOW_UNIT_SECONDS[unit] > MAX_DAYS * 86400:  # else timedelta overflows
            raise ValueError(f"the duration must be at most {MAX_DAYS}d")
        return amount, unit
    if m := _WINDOW_BATCH.match(text):
        if int(m.group(1)) > MAX_BATCH_ID:
            raise ValueError("no such batch")
        return int(m.group(1)), "batch"
    raise ValueError("expected a duration such as 7d, 24h, 90m, 2w or a batch id such as batch:12")


def _window(text: str) -> str:
    read_window(text)
    return text


WindowText = Annotated[str, AfterValidator(_window)]

# The longest durations keys may hold. Larger values (1e308 minutes, say) pass a float field but
# overflow the datetime and timeout arithmetic they are used in, far from the key: an interval (a
# hundred years) stays below threading.TIMEOUT_MAX, an age in days (a thousand years) keeps
# ``now - age`` and ``now + age`` inside datetime's years 1-9999.
MAX_SECONDS = 100 * 365 * 86_400
MAX_MINUTES = MAX_SECONDS // 60
MAX_DAYS = 365_000


class _Frozen(BaseModel):
    # defer_build: each section's validator is built when first used, not at import; loading the
    # settings builds the one for the whole tree (about 0.05 s less CLI start-up, issue 9). So the
    # sections' defaults below are made with ``model_construct()``: a default is not validated (no
    # validator of a section runs on its own defaults) and ``XConfig()`` would build XConfig's
    # validator at import, for each of the 16 sections.
    # allow_inf_nan=False: a NaN compares false with everything, so `min_improvement: .nan` or a
    # NaN metric gate passed the load and then promoted nothing, ever.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True, allow_inf_nan=False)


class FeaturesConfig(_Frozen):
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: tuple[str, ...] = ()

    def all(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical, *self.text)


class PIIConfig(_Frozen):
    drop: tuple[str, ...] = ()
    hash: tuple[str, ...] = ()
    scrub_text: tuple[str, ...] = ()
    salt_env: str = "EVERGREEN_PII_SALT"


class WindowConfig(_Frozen):
    max_age_days: float | None = Field(365, gt=0, le=MAX_DAYS)
    max_batches: int | None = Field(None, ge=1)


_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<netloc>[^/]*)")
# The object stores evergreen documents and tests (s3fs, gcsfs, the local filesystem). Any other
# fsspec scheme (http://, memory://, ftp://, zip://, …) would be listed, read and "moved" with
# semantics nobody checked: refused when the config is read.
LANDING_SCHEMES = frozenset({"s3", "s3a", "gs", "gcs", "file"})
_SCHEME_NO_SLASHES = re.compile(rf"^({'|'.join(sorted(LANDING_SCHEMES))}):(?!//)", re.IGNORECASE)


def _data_conflict(data: DataConfig) -> str | None:
    """Settings of ``data`` that contradict one another, as the one line that says which."""
    roles = [
        ("target", data.target),
        ("id_column", data.id_column),
        ("timestamp_column", data.timestamp_column),
    ]
    for key, column in roles:
        if column is not None and column in data.pii.drop:
            return f"pii.drop drops {shown(column)}, the {key}: nothing could be read from it"
    if data.target in data.pii.hash:
        return f"pii.hash hashes {shown(data.target)}, the target: the classes would be hashes"
    if data.features is not None:
        named = data.features.all()
        twice = sorted({c for c in named if named.count(c) > 1})
        if twice:
            return f"features lists {shown(twice[0])} under two kinds"
        if data.target in named:
            return f"features lists {shown(data.target)}, the target: a model cannot take its own label"
    for column, (low, high) in data.ranges.items():
        if low is not None and high is not None and low > high:
            return f"ranges of {shown(column)}: the lower bound {low} is above the upper {high}"
    return None


class DataConfig(_Frozen):
    # A directory, or an fsspec URL (s3://bucket/prefix/, gs://…, file:///…) kept as the URL string.
    landing: Path | str = Path("landing")
    # When a landed file is complete: unchanged for triggers.settle_seconds, or a _SUCCESS marker
    # beside it (object stores: newer than the file). What happens to an object-store file after
    # ingest: moved under <prefix>/.processed/ (or .quarantine/), or kept where it is (read-only
    # buckets; the (key, version) record alone keeps it from being ingested twice).
    landing_ready: Literal["settle", "marker"] = "settle"
    landing_after: Literal["move", "keep"] = "move"
    target: str
    id_column: str | None = None
    timestamp_column: str | None = None
    features: FeaturesConfig | None = None
    pii: PIIConfig = PIIConfig.model_construct()
    window: WindowConfig = WindowConfig.model_construct()
    # Contract knobs beyond what is inferred from the first batch.
    ranges: dict[str, tuple[Bound | None, Bound | None]] = Field(default_factory=dict)
    categories: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    allow_new_categories: bool = True
    max_null_rate: float = Field(0.5, ge=0.0, le=1.0)
    duplicate_rows: Literal["reject", "drop"] = "reject"
    max_file_mb: float = Field(512.0, gt=0)

    @field_validator("landing", mode="before")
    @classmethod
    def _landing(cls, v: Any) -> Any:
        url = _URL.match(v) if isinstance(v, str) else None
        if url is not None:
            # The messages never repeat the value: it may hold a secret. A ':' there is one too: no
            # bucket name holds it, and a secret key's '/' ends the authority before its '@'
            # (s3://KEY:SEC/RET@bucket/).
            if url["scheme"].lower() not in LANDING_SCHEMES:
                allowed = ", ".join(f"{s}://" for s in sorted(LANDING_SCHEMES))
                raise ValueError(f"the landing URL scheme {url['scheme']}:// is not one of {allowed}")
            if "@" in url["netloc"] or ":" in url["netloc"]:
                raise ValueError(
                    "credentials in the landing URL are refused (they would sit in the config and "
                    "every copy of it); give them in the environment: AWS_ACCESS_KEY_ID / "
                    "AWS_SECRET_ACCESS_KEY / AWS_PROFILE, or GOOGLE_APPLICATION_CREDENTIALS"
                )
            return v if v.endswith("/") else v + "/"  # a prefix: "s3://b/in" and "s3://b/in/" alike
        scheme = _SCHEME_NO_SLASHES.match(v) if isinstance(v, str) else None
        if scheme is not None:
            # "s3:/bucket/in" was a local directory named "s3:" (made by the scheduler), watched in
            # silence while the files landed in the bucket.
            raise ValueError(f"the landing URL needs '//' after {scheme[1]}: (e.g. s3://bucket/prefix/)")
        if isinstance(v, str) and not v.strip():
            # Path("") is the project directory: its files were ingested and moved away.
            raise ValueError("the landing path is empty: name a directory or an s3:// / gs:// / file:// URL")
        return Path(v) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _consistent(self) -> DataConfig:
        # Each of these loaded and then refused every file, or stored no label, with no word on why.
        problem = _data_conflict(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def landing_url(self) -> str | None:
        """The fsspec URL of an object-store (or ``file://``) landing; None for a plain directory."""
        return self.landing if isinstance(self.landing, str) else None

    @property
    def landing_dir(self) -> Path | None:
        """The landing directory when it is a plain path (watched with filesystem events)."""
        return self.landing if isinstance(self.landing, Path) else None


class TrainingConfig(_Frozen):
    candidates: tuple[str, ...] = ("logistic_regression", "random_forest", "hist_gradient_boosting")
    selection_metric: MetricName | None = None
    holdout_fraction: float = Field(0.2, gt=0.0, lt=0.9)
    validation_fraction: float = Field(0.2, gt=0.0, lt=0.9)
    seed: int = Field(42, ge=0, le=2**32 - 1)  # numpy and scikit-learn take no other seed
    timeout_minutes: float = Field(30.0, gt=0, le=MAX_MINUTES)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Where the candidates are fitted (joblib's backend): loky, forked processes of this machine one
    # at a time (killed past the timeout); dask or ray, every candidate at once on that cluster.
    parallel_backend: Literal["loky", "dask", "ray"] = "loky"
    cluster_address: str | None = None  # dask: tcp://scheduler:8786, ray: ray://head:10001; unset: local
    # Extra skops types a custom candidate needs ("pkg.module.Class"); evergreen's own list is built in.
    # Listing a type lets its code run when a model is loaded: list only code you trust.
    trusted_types: tuple[str, ...] = ()


class RecentConfig(_Frozen):
    """Which rows are "the newest data": the newest ``batches`` labelled batches, or (when ``days`` is
    set) the rows of the last ``days`` days before the run's ``as_of``."""

    batches: int = Field(1, ge=1)
    days: float | None = Field(None, gt=0, le=MAX_DAYS)


class WatchConfig(_Frozen):
    """After a promotion the replaced champion keeps scoring live traffic in shadow until ``rows``
    paired predictions were logged or ``days`` went by; ``min_labels`` labelled pairs are needed
    before the two are judged (fewer: no verdict, no rollback)."""

    # Bounded: the judge's paired bootstrap holds a bootstrap_samples x rows count matrix (16 bytes a
    # cell: 50 000 rows is 0.8 GB at the default 1 000 samples; 10 million would be 160 GB).
    rows: int = Field(2000, ge=1, le=50_000)
    days: float = Field(7.0, gt=0, le=MAX_DAYS)
    min_labels: int = Field(200, ge=2)


class PromotionConfig(_Frozen):
    metric: MetricName | None = None
    min_metrics: dict[MetricName, float] = Field(default_factory=dict)
    min_improvement: float = 0.0

    @field_validator("min_metrics")
    @classmethod
    def _gates_can_be_met(cls, gates: dict[str, float]) -> dict[str, float]:
        for name, bound in gates.items():
            problem = gate_problem(name, bound)
            if problem is not None:
                raise ValueError(problem)
        return gates

    significance: float | None = Field(0.05, gt=0.0, lt=1.0)
    bootstrap_samples: int = Field(1000, ge=100)
    max_slice_regression: float | None = Field(None, ge=0.0)  # a regression allowed, not a gain required
    slice_columns: tuple[str, ...] = ()
    min_slice_rows: int = 30
    require_approval: bool = False
    # The champion could not be scored (its artifact was refused as untrusted, or it cannot read the
    # current columns): judge the candidate on the value gates alone, or reject it and keep the champion.
    unscorable_champion: Literal["value_gates", "reject"] = "value_gates"
    # Which holdout rows decide: the whole window's, the newest data's, or (auto) the newest data's
    # only when the champion's metric there moved beyond its band or a drift trigger fired.
    evaluate_on: Literal["window", "recent", "auto"] = "auto"
    recent: RecentConfig = RecentConfig.model_construct()
    # After a detected change of concept, train on the newest data only (not the whole window).
    train_on_change: bool = True
    watch: WatchConfig = WatchConfig.model_construct()
    auto_rollback: bool = True


class NewDataTrigger(_Frozen):
    min_rows: int = Field(1000, ge=1)  # 0 would fire at every tick, on rows already trained on


# Every kind a run's trigger can be (recorded on the run and its version), in priority order.
TRIGGER_KINDS = ("manual", "performance", "drift", "new_data", "schedule")
DEFAULT_DRIFT_SHARE = 0.3


class DriftTrigger(_Frozen):
    # A share of the input columns, as monitoring.drift_share: 30 (meant as 30 %) never fired and
    # silently turned off dataset drift too; 0 fired on every report. null: this trigger is off (the
    # monitoring still reports drift, at monitoring.drift_share or the default).
    share: float | None = Field(DEFAULT_DRIFT_SHARE, gt=0.0, le=1.0)


class PerformanceTrigger(_Frozen):
    metric: MetricName | None = None
    min: float | None = None


class TriggersConfig(_Frozen):
    schedule: Cron | None = None
    new_data: NewDataTrigger = NewDataTrigger.model_construct()
    drift: DriftTrigger = DriftTrigger.model_construct()
    performance: PerformanceTrigger = PerformanceTrigger.model_construct()
    cooldown_minutes: float = Field(60, ge=0, le=MAX_MINUTES)
    # Scheduler loop: how often it looks at the landing dir and the triggers without a file event,
    # whether it listens for file events at all, and how long a new file must stay unchanged.
    scan_interval_seconds: float = Field(10.0, gt=0, le=MAX_SECONDS)
    watch_landing: bool = True
    settle_seconds: float = Field(0.2, ge=0, le=MAX_SECONDS)
    # Transient failures (database or MLflow unreachable): retries with exponential backoff.
    max_retries: int = Field(3, ge=0)
    backoff_seconds: float = Field(30.0, ge=0, le=MAX_SECONDS)
    backoff_max_seconds: float = Field(600.0, ge=0, le=MAX_SECONDS)
    # `evergreen scheduler` serves Prometheus metrics on this port when set (off by default: the
    # embedded scheduler of `evergreen serve --scheduler` is exported on the app's /metrics).
    metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"


class MonitoringConfig(_Frozen):
    schedule: Cron | None = "0 */6 * * *"
    window: WindowText = "7d"
    # Windows the scheduled job reports on at each tick (sliding, ending at the tick).
    scheduled_windows: tuple[WindowText, ...] = ("7d", "30d")
    # Dataset drift when at least this share of columns drifted; None: triggers.drift.share.
    drift_share: float | None = Field(None, gt=0.0, le=1.0)
    # Per-column overrides of the automatic drift test and its threshold.
    methods: dict[str, str] = Field(default_factory=dict)
    thresholds: dict[str, Annotated[float, Field(ge=0.0)]] = Field(default_factory=dict)
    # Live performance: metric watched (None: triggers.performance.metric, else promotion metric),
    # the drop below the champion's holdout value that is reported, and the labels needed first.
    metric: MetricName | None = None
    performance_drop: float = Field(0.05, ge=0.0)
    min_labels: int = Field(30, ge=1)
    # Evidence before a verdict: a window with fewer rows gets no drift or performance verdict
    # ("insufficient_data"), no alert and no trigger; the estimate needs this many scored rows too.
    min_rows: int = Field(500, ge=1)
    # Bands: value ± band_sigmas · sampling error; degraded only when the whole band is worse.
    band_sigmas: float = Field(3.0, gt=0.0, le=10.0)
    # Domain-classifier ROC AUC above which the inputs drifted as a whole (0.5: indistinguishable).
    multivariate_threshold: float = Field(0.55, gt=0.5, lt=1.0)
    # HTML reports kept in storage.reports_dir; older files are deleted (their DB rows stay).
    keep_reports: int = Field(100, ge=1)


DRIFT_LEVELS = ("warning", "alert", "critical")


def _check_levels(levels: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(levels) - set(DRIFT_LEVELS))
    if unknown:
        raise ValueError(f"unknown level {unknown[0]!r} (use {', '.join(DRIFT_LEVELS)})")
    values = [levels[k] for k in DRIFT_LEVELS if k in levels]
    if values != sorted(values):
        raise ValueError("levels must not decrease from warning to alert to critical")
    return levels


def _url_parts(url: str) -> SplitResult | None:
    """``url`` split, or None when its port is not a number, out of range, or 0."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for a port that is not a number, or out of range
    except ValueError:
        return None
    return None if port == 0 else parts


def _http_url(url: str) -> bool:
    parts = _url_parts(url)
    return parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)


def _smtp_url(url: str) -> bool:
    parts = _url_parts(url)
    return parts is not None and bool(parts.hostname) and parts.path in ("", "/") and not parts.query


def _has_control(text: str) -> bool:
    """A line break or another control character: a header injection, or a secret file's newline."""
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _one_address(text: str) -> bool:
    """One mailbox as a header holds it: no line break or control character (a header injection),
    no second address, a name@domain inside."""
    from email.utils import getaddresses

    if _has_control(text):
        return False
    found = getaddresses([text])
    return len(found) == 1 and "@" in found[0][1].strip("@")


class ChannelConfig(_Frozen):
    """One alert channel. URLs, passwords and tokens are secrets: never logged or returned."""

    type: Literal["log", "webhook", "slack", "email"]
    min_level: Level = "warning"
    name: str | None = None  # shown in logs and delivery rows instead of the (secret) URL
    url: SecretStr | None = None  # webhook / slack incoming-webhook URL
    token: SecretStr | None = None  # webhook: sent as "Authorization: Bearer <token>"
    smtp: str | None = None  # email: smtp://host:port (smtps:// for implicit TLS)
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "evergreen@localhost"
    to: tuple[str, ...] = ()
    timeout_seconds: float = Field(10.0, gt=0, le=MAX_SECONDS)
    # A password over plain SMTP crosses the network readable: refused unless the user says so.
    allow_plaintext_auth: bool = False

    def shown_name(self, position: int) -> str:
        """How logs, delivery rows and the dashboard name the channel: ``name``, or type and position."""
        return self.name or f"{self.type}-{position}"

    @model_validator(mode="before")
    @classmethod
    def _split_smtp_credentials(cls, data: Any) -> Any:
        # smtp://user:pass@host:25 is accepted, but the password must not stay in a plain string.
        if isinstance(data, dict) and isinstance(data.get("smtp"), str) and "@" in data["smtp"]:
            from urllib.parse import unquote, urlsplit

            parts = urlsplit(data["smtp"])
            data = dict(data)
            # host[:port] as written: hostname would drop an IPv6 address's brackets ([::1]:587).
            data["smtp"] = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
            if parts.username and not data.get("username"):
                data["username"] = unquote(parts.username)
            if parts.password and not data.get("password"):
                data["password"] = unquote(parts.password)
        return data

    @model_validator(mode="after")
    def _required(self) -> ChannelConfig:
        if self.type in ("webhook", "slack") and self.url is None:
            raise ValueError(f"a {self.type} channel needs url")
        if self.type == "email" and (not self.smtp or not self.to):
            raise ValueError("an email channel needs smtp and to")
        if self.smtp and not self.smtp.startswith(("smtp://", "smtps://")):
            raise ValueError("smtp must look like smtp://host:port or smtps://host:port")
        # What could never deliver is refused here: accepted, it failed every delivery at send time
        # and the first real alert was the first sign.
        for key, secret in (("url", self.url), ("token", self.token), ("password", self.password)):
            # A secret read from a file often ends in a newline: httpx then refused the header and
            # quoted it ("Illegal header value b'Bearer <token>\\n'") into the delivery row and the log.
            if secret is not None and _has_control(secret.get_secret_value()):
                raise ValueError(
                    f"{key}: holds a line break or another control character (a trailing newline "
                    "from a secret file?); the value is not shown: it is a secret"
                )
        if self.url is not None and not _http_url(self.url.get_secret_value()):
            raise ValueError(
                "url: must be an http:// or https:// address with a host (not shown: it is a secret)"
            )
        if self.smtp and not _smtp_url(self.smtp):
            raise ValueError("smtp: must be smtp://host[:port] or smtps://host[:port], a port of 1 to 65535")
        for key, addresses in (("to", self.to), ("sender", (self.sender,))):
            for address in addresses:
                if not _one_address(address):
                    raise ValueError(
                        f"{key}: {address[:80]!r} is not one e-mail address (name@domain, or "
                        f"Name <name@domain>; a list of addresses is one entry each)"
                    )
        tls = bool(self.smtp and self.smtp.startswith("smtps://")) or self.starttls
        if self.password is not None and not tls and not self.allow_plaintext_auth:
            raise ValueError(
                "password: an SMTP password needs TLS (smtp: smtps://… or starttls: true); "
                "set allow_plaintext_auth: true to send it in clear anyway"
            )
        return self


class AlertsConfig(_Frozen):
    # Drift levels on the report's data_drift_score; score_levels adds or overrides them per score
    # (data_drift_score, prediction_drift_score, performance_drift_score).
    levels: dict[str, float] = Field(default_factory=lambda: {"warning": 0.1, "alert": 0.2, "critical": 0.3})
    score_levels: dict[str, dict[str, float]] = Field(default_factory=dict)
    channels: tuple[ChannelConfig, ...] = ()
    repeat_interval_minutes: float = Field(
        240.0, gt=0, le=MAX_MINUTES
    )  # an open alert is sent again after this
    retry_count: int = Field(3, ge=0)  # delivery retries after the first attempt
    retry_backoff_seconds: float = Field(2.0, ge=0, le=MAX_SECONDS)  # doubles at each retry
    retry_backoff_max_seconds: float = Field(300.0, ge=0, le=MAX_SECONDS)
    dashboard_url: str | None = None  # default: where serving listens (alerts.service.dashboard_url)

    @field_validator("dashboard_url")
    @classmethod
    def _dashboard_url(cls, v: str | None) -> str | None:
        # Every alert links to it: a link without http(s) and a host led nowhere, and a "|", "<", ">"
        # or space in it broke Slack's <url|text> markup.
        if v is not None and (not _http_url(v) or any(c in v for c in "|<> \t\r\n?#")):
            # ?query or #fragment: the links append /alerts?alert=7 after them, to no page.
            raise ValueError(
                "must be an http:// or https:// address with a host and no ?query or #fragment, "
                "e.g. https://evergreen.example.com"
            )
        return v

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_levels(v)

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, v: tuple[ChannelConfig, ...]) -> tuple[ChannelConfig, ...]:
        # A channel is known by its name in delivery rows, logs and the dashboard (its URL is secret):
        # two of one name (a block copied with its name kept) could not be told apart.
        names = [c.shown_name(i) for i, c in enumerate(v)]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"two channels are named {twice[0]!r}: give each channel its own name")
        if "log" in names and not any(c.type == "log" for c in v):
            # The built-in log channel (added when none is configured) is named "log".
            raise ValueError("a channel not of type log is named 'log', as the built-in log channel is")
        return v

    @field_validator("score_levels")
    @classmethod
    def _score_levels(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        known = ("data_drift_score", "prediction_drift_score", "performance_drift_score")
        for score, levels in v.items():
            if score not in known:
                raise ValueError(f"unknown score {score!r} (use {', '.join(known)})")
            _check_levels(levels)
        return v

    def levels_by_score(self) -> dict[str, dict[str, float]]:
        return {"data_drift_score": dict(self.levels), **{k: dict(v) for k, v in self.score_levels.items()}}


class ServingConfig(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)  # else uvicorn binds the port modulo 65536
    reload_interval_seconds: float = Field(2.0, gt=0, le=MAX_SECONDS)
    shadow: bool = False
    shadow_version: str | None = None  # score this version in shadow instead of the pending candidate
    max_batch_records: int = Field(1000, ge=1)  # records in one /predict request
    max_body_bytes: int = Field(1_048_576, ge=1024)  # larger request bodies get 413
    extra_fields: Literal["refuse", "ignore"] = "refuse"  # fields outside the model's signature
    batch_max_size: int = Field(64, ge=1)  # records coalesced into one model call
    batch_max_wait_ms: float = Field(
        2.0, ge=0, le=MAX_SECONDS * 1000
    )  # how long a model call waits for more records
    log_queue_size: int = Field(100_000, ge=1)  # prediction-log records held in memory before spilling
    log_batch_size: int = Field(1000, ge=1)  # records per database write
    spill_path: Path | None = None  # default: <state dir>/prediction_spill.jsonl
    feedback_batch_interval_seconds: float = Field(300.0, gt=0, le=MAX_SECONDS)
    feedback_batch_min_rows: int = Field(100, ge=1)
    # A second label for the same prediction: refuse (409) or latest (the newest label replaces it).
    feedback_relabel: Literal["refuse", "latest"] = "refuse"


class RetentionConfig(_Frozen):
    """How long evergreen keeps what it no longer needs (DESIGN.md §3; `evergreen gc`)."""

    keep_versions: int = Field(10, ge=1)  # newest N versions, plus every aliased or pending one
    min_version_age_days: float = Field(30.0, ge=0, le=MAX_DAYS)  # never delete a version younger than this
    predictions_days: float = Field(
        90.0, ge=0, le=MAX_DAYS
    )  # prediction log + feedback rows older than this go
    # Ingested landing files (landing/.processed) and quarantine files: raw user bytes, PII included.
    processed_days: float = Field(7.0, ge=0, le=MAX_DAYS)
    schedule: Cron | None = "30 3 * * *"  # the scheduler's daily pass (cron); null: only `evergreen gc`


class StorageConfig(_Frozen):
    database_url: str = f"sqlite:///{STATE_DIR}/evergreen.db"
    mlflow_tracking_uri: str = f"sqlite:///{STATE_DIR}/mlflow.db"
    artifact_root: Path = Path(STATE_DIR) / "mlartifacts"
    data_dir: Path = Path(STATE_DIR) / "data"
    quarantine_dir: Path = Path(STATE_DIR) / "quarantine"
    reports_dir: Path = Path(STATE_DIR) / "reports"


class AuthConfig(_Frozen):
    tokens_env: str = "EVERGREEN_TOKENS"  # "name:role:token,..." roles client < viewer < operator < admin
    # Data endpoints that need a token of role client or higher (default: open to anyone).
    require_token_for: tuple[Literal["predict", "feedback"], ...] = ()
    rate_limit_per_minute: int | None = Field(None, ge=1)  # per token; beyond it 429 with Retry-After
    # The dashboard's session cookie is signed with this variable's value; unset, a random secret per
    # process (a restart logs everyone out). A session lasts at most session_max_age_seconds.
    session_secret_env: str = "EVERGREEN_SESSION_SECRET"
    session_max_age_seconds: int = Field(8 * 3600, ge=60, le=30 * 86400)


class Settings(_Frozen):
    project: str
    task: Task
    data: DataConfig
    training: TrainingConfig = TrainingConfig.model_construct()
    promotion: PromotionConfig = PromotionConfig.model_construct()
    triggers: TriggersConfig = TriggersConfig.model_construct()
    monitoring: MonitoringConfig = MonitoringConfig.model_construct()
    alerts: AlertsConfig = AlertsConfig.model_construct()
    serving: ServingConfig = ServingConfig.model_construct()
    retention: RetentionConfig = RetentionConfig.model_construct()
    storage: StorageConfig = StorageConfig.model_construct()
    auth: AuthConfig = AuthConfig.model_construct()
    # Directory holding evergreen.yaml; every relative path is resolved against it.
    root: Path = Path(".")

    @field_validator("project")
    @classmethod
    def _project_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", v):
            raise ValueError("must be letters, digits, '_', '-' or '.', starting with a letter or digit")
        return v

    @model_validator(mode="after")
    def _metrics_of_the_task(self) -> Settings:
        problem = metrics_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _one_watched_metric(self) -> Settings:
        # The monitoring report holds one performance metric; a trigger watching another one would
        # find nothing in it and never fire, silently.
        watched, trigger = self.monitoring.metric, self.triggers.performance.metric
        if watched is not None and trigger is not None and watched != trigger:
            raise ValueError(
                f"triggers.performance.metric ({trigger}) differs from monitoring.metric ({watched}): "
                "the performance trigger judges the metric monitoring watches; set one of them, or both alike"
            )
        return self

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        # Build new section objects: defaults are shared instances and must never be mutated.
        root = self.root.resolve()
        data = self.data
        if isinstance(data.landing, Path) and not data.landing.is_absolute():
            data = data.model_copy(update={"landing": root / data.landing})
        st = self.storage
        update: dict[str, Any] = {
            name: root / getattr(st, name)
            for name in ("artifact_root", "data_dir", "quarantine_dir", "reports_dir")
            if not getattr(st, name).is_absolute()
        }
        update["database_url"] = _resolve_sqlite(st.database_url, root)
        update["mlflow_tracking_uri"] = _resolve_sqlite(st.mlflow_tracking_uri, root)
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "storage", st.model_copy(update=update))
        return self

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def selection_metric(self) -> str:
        return self.training.selection_metric or default_metric(self.task)

    @property
    def promotion_metric(self) -> str:
        return self.promotion.metric or default_metric(self.task)


def metrics_problem(settings: Settings) -> str | None:
    """The first metric named in ``settings`` that its task's models are not scored on (None: none)."""
    named = [
        ("training.selection_metric", settings.training.selection_metric),
        ("promotion.metric", settings.promotion.metric),
        *(("promotion.min_metrics", name) for name in settings.promotion.min_metrics),
        ("triggers.performance.metric", settings.triggers.performance.metric),
        ("monitoring.metric", settings.monitoring.metric),
    ]
    for key, name in named:
        problem = None if name is None else metric_unknown(name, settings.task)
        if problem is not None:
            return f"{key}: {problem}"
    return None


def default_metric(task: str) -> str:
    return "rmse" if task == "regression" else "f1_macro"


def _resolve_sqlite(url: str, root: Path) -> str:
    """Make ``sqlite:///relative.db`` relative to the project, not to the current directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(root / url[len(prefix) :])
    return url


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


# Far above any real config (a few hundred values), far below what YAML aliases can expand to: nine
# anchors of ten aliases each ("billion laughs", 1.7 KB) ran for 53 s and then out of memory.
MAX_CONFIG_VALUES = 100_000


def interpolate(value: Any, env: dict[str, str], max_values: int = MAX_CONFIG_VALUES) -> Any:
    """Replace ``${VAR}``/``${VAR:-default}`` in every string of a parsed YAML tree (ConfigError
    when the tree, its aliases expanded, holds more than ``max_values`` values)."""
    seen = 0

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(
            f"environment variable {name} is not set (used as ${{{name}}})", details={"variable": name}
        )

    def walk(v: Any) -> Any:
        nonlocal seen
        seen += 1
        if seen > max_values:
            raise ConfigError(
                f"the config holds more than {max_values} values once its YAML aliases are expanded "
                "(aliases that repeat one another?)"
            )
        if isinstance(v, str):
            return _VAR.sub(sub, v)
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value)


def env_overrides(env: dict[str, str]) -> dict[str, Any]:
    """``EVERGREEN_STORAGE__DATABASE_URL=...`` → ``{"storage": {"database_url": ...}}``.

    Values are parsed as YAML scalars/lists so ``EVERGREEN_PROMOTION__MIN_IMPROVEMENT=0.05`` is a float.
    Single-level names are only taken for top-level keys to avoid picking up unrelated variables.
    """
    top = set(Settings.model_fields)
    out: dict[str, Any] = {}
    paths = {key: key[len(ENV_PREFIX) :].lower().split("__") for key in env if key.startswith(ENV_PREFIX)}
    paths = {k: p for k, p in paths.items() if p[0] in top and p[0] != "root"}
    for key, path in paths.items():
        # EVERGREEN_DATA beside EVERGREEN_DATA__TARGET: one would silently drop the other, which
        # one depending on the order of the environment.
        for other, longer in paths.items():
            if len(longer) > len(path) and longer[: len(path)] == path:
                raise ConfigError(f"${key} sets a whole section that ${other} sets a key of: unset one")
    for key, path in sorted(paths.items()):
        raw = env[key]
        try:
            value = yaml.safe_load(raw) if raw != "" else raw
        except (yaml.YAMLError, ValueError):  # ValueError: an integer of more than 4300 digits
            value = raw
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = _merge(merged[k], v)
        else:
            merged[k] = v
    return merged


def find_config(start: Path | None = None) -> Path:
    """Walk up from ``start`` (default: cwd) to the first directory with ``evergreen.yaml``."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_FILE).is_file():
            return d / CONFIG_FILE
    raise ConfigError(f"no {CONFIG_FILE} found in {here} or its parents (run `evergreen init`)")


# pydantic reads its switch from the process environment: one lock for every thread that flips it.
_PLUGIN_SWITCH = threading.Lock()


@contextmanager
def _without_pydantic_plugins() -> Iterator[None]:
    """Validate the settings with no pydantic plugin installed (the first validation builds them).

    The settings hold secrets (database URLs with passwords, tokens, webhook URLs), and a pydantic
    plugin (an observability one, say) sees every input a model validates. It also spares each CLI
    command pydantic's plugin discovery, which reads every installed package's entry points (~0.03 s).
    The environment switch is pydantic's own; typer flips it the same way around its adapters.
    """
    with _PLUGIN_SWITCH:
        previous = os.environ.get("PYDANTIC_DISABLE_PLUGINS")
        os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("PYDANTIC_DISABLE_PLUGINS", None)
            else:
                os.environ["PYDANTIC_DISABLE_PLUGINS"] = previous


def settings_from_dict(raw: dict[str, Any], root: Path, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    overrides = env_overrides(env)
    data = _merge(interpolate(raw, env), overrides)
    data["root"] = root
    try:
        with _without_pydantic_plugins():
            return Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        # No inputs in the details: a rejected value may be a webhook URL or a password.
        details = exc.errors(include_url=False, include_input=False)
        raise ConfigError(
            f"config key {key}: {err['msg']}{_from_env(overrides, err['loc'])}", details=details
        ) from None


def _from_env(overrides: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """The note ``(from $EVERGREEN_A__B)`` when the refused value came from that variable, else "":
    the file may be right, and the reader would look for the key there in vain."""
    node: Any = overrides
    for depth, part in enumerate(loc, start=1):
        if not isinstance(node, dict) or part not in node:
            return ""
        node = node[part]
        if not isinstance(node, dict):  # the variable set this key (or a list / value above it)
            return f" (from ${ENV_PREFIX}{'__'.join(str(p).upper() for p in loc[:depth])})"
    return ""


def _refuse_repeated_keys(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    """A mapping whose key appears twice is an error, not "the last one wins": a second
    ``promotion:`` section would silently drop every key of the first (a JSON body repeating a
    key is refused the same way, 400 ``duplicate_key``). Merge keys (``<<``) may still be overridden."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool):  # an unhashable key is PyYAML's error
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


@functools.cache  # one class per process: every load_settings reuses it
def _unique_key_loader() -> type[yaml.SafeLoader]:
    # libyaml's safe loader when PyYAML has it: the same documents, ~10x faster than the pure-Python
    # one (a commented evergreen.yaml costs the latter ~0.01 s of each command).
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class UniqueKeyLoader(base):  # type: ignore[misc, valid-type]
        pass

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _refuse_repeated_keys)
    return UniqueKeyLoader


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What is wrong and where, in one line: PyYAML's text starts with the context ("while parsing
    a flow node"), the problem and its line come after it."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return f"{exc.problem}{where}"
    return one_line(exc)


def load_settings(path: Path | str | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read, interpolate, override from the environment and validate ``evergreen.yaml``."""
    cfg_path = Path(path) if path else find_config()
    if cfg_path.is_dir():
        cfg_path = cfg_path / CONFIG_FILE
    if not cfg_path.is_file():
        raise ConfigError(f"{cfg_path}: config file not found")
    try:
        raw = yaml.load(cfg_path.read_text(encoding="utf-8"), Loader=_unique_key_loader()) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{cfg_path}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except OSError as exc:  # a directory named evergreen.yaml, no permission to read it
        raise ConfigError(f"{cfg_path}: cannot be read: {exc.strerror or one_line(exc)}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{cfg_path}: invalid YAML: {_yaml_problem(exc)}") from None
    except ValueError as exc:  # a number of more than 4300 digits, a date of February 30th
        raise ConfigError(f"{cfg_path}: invalid YAML: {one_line(exc)[:200]}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{cfg_path}: top level must be a mapping")
    return settings_from_dict(raw, cfg_path.parent, env)
