"""Settings: defaults, interpolation, environment overrides, path resolution, clear errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from evergreen.config import ChannelConfig, Settings, load_settings, settings_from_dict
from evergreen.errors import ConfigError

MINIMAL = {"project": "churn", "task": "binary", "data": {"target": "churned"}}


def test_defaults_resolve_against_the_project_root(tmp_path: Path):
    s = settings_from_dict(MINIMAL, tmp_path, env={})
    assert s.storage.database_url == f"sqlite:///{tmp_path}/.evergreen/evergreen.db"
    assert s.storage.mlflow_tracking_uri == f"sqlite:///{tmp_path}/.evergreen/mlflow.db"
    assert s.data.landing == tmp_path / "landing"
    assert s.storage.artifact_root == tmp_path / ".evergreen" / "mlartifacts"
    assert s.training.candidates == ("logistic_regression", "random_forest", "hist_gradient_boosting")
    assert s.promotion_metric == "f1_macro" and s.promotion.significance == 0.05
    assert s.serving.reload_interval_seconds == 2.0


def test_regression_default_metric(tmp_path: Path):
    s = settings_from_dict({**MINIMAL, "task": "regression"}, tmp_path, env={})
    assert s.selection_metric == "rmse" == s.promotion_metric


def test_interpolation_and_env_override(tmp_path: Path):
    raw = {
        **MINIMAL,
        "alerts": {"channels": [{"type": "slack", "url": "${HOOK}", "min_level": "alert"}]},
        "storage": {"database_url": "${DB:-sqlite:///x.db}"},
    }
    env = {
        "HOOK": "https://hooks.example/abc",
        "EVERGREEN_PROMOTION__MIN_IMPROVEMENT": "0.05",
        "EVERGREEN_TRAINING__CANDIDATES": "[xgboost, lightgbm]",
    }
    s = settings_from_dict(raw, tmp_path, env=env)
    assert s.alerts.channels[0].url is not None
    assert s.alerts.channels[0].url.get_secret_value() == "https://hooks.example/abc"
    assert s.storage.database_url == f"sqlite:///{tmp_path}/x.db"
    assert s.promotion.min_improvement == 0.05
    assert s.training.candidates == ("xgboost", "lightgbm")


def test_missing_variable_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"environment variable NOPE is not set"):
        settings_from_dict({**MINIMAL, "project": "${NOPE}"}, tmp_path, env={})


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"task": "ranking"}, "task"),
        ({"promotion": {"min_improvement": "lots"}}, "promotion.min_improvement"),
        ({"training": {"holdout_fraction": 1.5}}, "training.holdout_fraction"),
        ({"data": {"target": "y", "landng": "x"}}, "data.landng"),
        ({"project": "bad name!"}, "project"),
        ({"monitoring": {"min_rows": 0}}, "monitoring.min_rows"),
        ({"monitoring": {"band_sigmas": -1}}, "monitoring.band_sigmas"),
        ({"monitoring": {"multivariate_threshold": 0.4}}, "monitoring.multivariate_threshold"),
        ({"promotion": {"watch": {"rows": 10_000_000}}}, "promotion.watch.rows"),
        # Values with no meaning: a negative wait, "retrain on zero new rows" (every tick), no port.
        ({"triggers": {"cooldown_minutes": -5}}, "triggers.cooldown_minutes"),
        ({"triggers": {"new_data": {"min_rows": 0}}}, "triggers.new_data.min_rows"),
        # a share of columns: 30 (meant as 30 %) never fired and turned dataset drift off; 0 always fired
        ({"triggers": {"drift": {"share": 30}}}, "triggers.drift.share"),
        ({"triggers": {"drift": {"share": 0}}}, "triggers.drift.share"),
        ({"serving": {"port": 70000}}, "serving.port"),
        ({"data": {"target": "y", "window": {"max_age_days": -1}}}, "data.window.max_age_days"),
        ({"data": {"target": "y", "window": {"max_batches": 0}}}, "data.window.max_batches"),
        # croniter's own error at the scheduler's first tick named no key (exit 1)
        ({"triggers": {"schedule": "61 * * * *"}}, "triggers.schedule"),
        ({"monitoring": {"schedule": "every day"}}, "monitoring.schedule"),
        ({"retention": {"schedule": "30 3 * *"}}, "retention.schedule"),
        # 1e308 minutes overflowed timedelta in the scheduler and `alerts --check` (exit 1)
        ({"triggers": {"cooldown_minutes": 1e308}}, "triggers.cooldown_minutes"),
        ({"alerts": {"repeat_interval_minutes": 1e308}}, "alerts.repeat_interval_minutes"),
        ({"data": {"target": "y", "window": {"max_age_days": 1e9}}}, "data.window.max_age_days"),
        ({"retention": {"predictions_days": 1e308}}, "retention.predictions_days"),
        ({"serving": {"reload_interval_seconds": 1e12}}, "serving.reload_interval_seconds"),
        # was reported as "--window '7x'" by `evergreen monitor` alone, and never by the scheduler
        ({"monitoring": {"window": "7x"}}, "monitoring.window"),
        ({"monitoring": {"scheduled_windows": ["7d", "month"]}}, "monitoring.scheduled_windows.1"),
        # NaN compares false with everything: it passed the load and then promoted nothing, ever
        ({"promotion": {"min_improvement": float("nan")}}, "promotion.min_improvement"),
        ({"promotion": {"min_metrics": {"accuracy": float("nan")}}}, "promotion.min_metrics.accuracy"),
        # valid to croniter but never due (Feb 30th): every scheduler tick failed
        ({"triggers": {"schedule": "0 0 30 2 *"}}, "triggers.schedule"),
        # six fields: croniter reads the sixth as seconds, not Quartz's day of week
        ({"triggers": {"schedule": "0 0 2 * * 1"}}, "triggers.schedule"),
        # loaded, then the retrain failed "cannot split a validation set" (exit 1)
        ({"training": {"seed": -1}}, "training.seed"),
        # a gate no model can meet: every candidate rejected, for good, with no word at load
        ({"promotion": {"min_metrics": {"accuracy": 2}}}, "promotion.min_metrics"),
        ({"promotion": {"min_metrics": {"f1_macro": -0.1}}}, "promotion.min_metrics"),
        # loaded, then the scheduled drift job refused it
        ({"monitoring": {"thresholds": {"tenure": -1}}}, "monitoring.thresholds.tenure"),
        # Path("") was the project directory: its own files were ingested and moved away
        ({"data": {"target": "y", "landing": ""}}, "data.landing"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, patch, key):
    with pytest.raises(ConfigError, match=rf"config key {key}:"):
        settings_from_dict({**MINIMAL, **patch}, tmp_path, env={})


def test_a_drift_trigger_turned_off_leaves_the_monitoring_its_drift_share(tmp_path: Path) -> None:
    from evergreen.monitoring.job import drift_share

    off = settings_from_dict({**MINIMAL, "triggers": {"drift": {"share": None}}}, tmp_path, env={})
    assert (off.triggers.drift.share, drift_share(off)) == (None, 0.3)
    on = settings_from_dict({**MINIMAL, "triggers": {"drift": {"share": 0.5}}}, tmp_path, env={})
    assert drift_share(on) == 0.5
    own = {**MINIMAL, "triggers": {"drift": {"share": None}}, "monitoring": {"drift_share": 0.2}}
    assert drift_share(settings_from_dict(own, tmp_path, env={})) == 0.2


def test_load_settings_from_file_and_bad_yaml(tmp_path: Path):
    (tmp_path / "evergreen.yaml").write_text("project: p\ntask: multiclass\ndata: {target: y}\n")
    s = load_settings(tmp_path, env={})
    assert s.project == "p" and s.root == tmp_path.resolve()
    (tmp_path / "evergreen.yaml").write_text("project: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_settings(tmp_path / "evergreen.yaml", env={})
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml", env={})


def test_two_projects_do_not_share_default_sections(tmp_path: Path):
    a = settings_from_dict(MINIMAL, tmp_path / "a", env={})
    b = settings_from_dict(MINIMAL, tmp_path / "b", env={})
    assert a.storage.data_dir == (tmp_path / "a").resolve() / ".evergreen" / "data"
    assert b.storage.data_dir == (tmp_path / "b").resolve() / ".evergreen" / "data"
    assert b.data.landing == (tmp_path / "b").resolve() / "landing"


def test_an_smtp_password_without_tls_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    from evergreen.config import settings_from_dict
    from evergreen.errors import ConfigError

    def channel(**extra: object) -> dict[str, object]:
        raw = {"project": "p", "task": "binary", "data": {"target": "y"}}
        email = {"type": "email", "smtp": "smtp://mail.example.com:25", "to": ["a@example.com"], **extra}
        raw["alerts"] = {"channels": [email]}
        return raw

    with pytest.raises(ConfigError) as info:
        settings_from_dict(channel(password="pw-123"), tmp_path, env={})
    assert "alerts.channels.0" in info.value.message and "password" in info.value.message
    assert "starttls" in info.value.message and "pw-123" not in repr(info.value.details)
    with pytest.raises(ConfigError, match="password"):
        settings_from_dict(channel(smtp="smtp://u:pw-123@mail.example.com:25"), tmp_path, env={})
    for ok in (
        {"password": "pw", "starttls": True},
        {"password": "pw", "smtp": "smtps://mail.example.com:465"},
        {"password": "pw", "allow_plaintext_auth": True},
        {},  # no password: nothing to protect
    ):
        settings_from_dict(channel(**ok), tmp_path, env={})


def test_retention_has_the_documented_defaults(tmp_path: Path) -> None:
    from evergreen.config import settings_from_dict

    s = settings_from_dict({"project": "p", "task": "binary", "data": {"target": "y"}}, tmp_path, env={})
    r = s.retention
    assert (r.keep_versions, r.min_version_age_days, r.predictions_days, r.processed_days) == (10, 30, 90, 7)


SPY_PLUGIN = """
SEEN = []


class _Handler:
    def on_enter(self, input, *args, **kwargs):
        SEEN.append(repr(input))


class _Plugin:
    def new_schema_validator(self, schema, schema_type, path, schema_kind, config, plugin_settings):
        return _Handler(), _Handler(), _Handler()


plugin = _Plugin()
"""

PLUGIN_PROBE = """
import json, os, sys
from pathlib import Path
from pydantic import BaseModel
import spy_plugin
from evergreen.config import settings_from_dict

raw = {"project": "churn", "task": "binary", "data": {"target": "churned"},
       "storage": {"database_url": "postgresql+psycopg://evergreen:s3cret-pw@db/evergreen"}}
settings = settings_from_dict(raw, Path(sys.argv[1]), env={})


class Other(BaseModel):
    x: int


Other(x=7)
print(json.dumps({"seen": spy_plugin.SEEN, "switch": os.environ.get("PYDANTIC_DISABLE_PLUGINS")}))
"""


def test_no_pydantic_plugin_sees_the_settings_and_the_switch_is_put_back(tmp_path: Path):
    # A real plugin, installed the way pydantic finds them (an entry point of an installed
    # distribution), in a fresh interpreter: it sees the other model's input, not the settings'.
    site = tmp_path / "site"
    (site / "spy_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "spy_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: spy-plugin\nVersion: 1.0\n"
    )
    (site / "spy_plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[pydantic]\nspy = spy_plugin:plugin\n"
    )
    (site / "spy_plugin.py").write_text(SPY_PLUGIN)
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *sys.path])
    res = subprocess.run(
        [sys.executable, "-c", PLUGIN_PROBE, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["seen"] == ["{'x': 7}"]  # the plugin works, for every model but the settings
    assert out["switch"] is None


def test_a_performance_trigger_on_another_metric_than_monitoring_watches_is_refused(tmp_path: Path):
    # The report holds monitoring.metric only: a trigger on another metric would never fire.
    raw = {
        **MINIMAL,
        "monitoring": {"metric": "accuracy"},
        "triggers": {"performance": {"metric": "f1_macro"}},
    }
    with pytest.raises(
        ConfigError, match=r"triggers.performance.metric \(f1_macro\) differs from monitoring.metric"
    ):
        settings_from_dict(raw, tmp_path, env={})
    same = {
        **MINIMAL,
        "monitoring": {"metric": "accuracy"},
        "triggers": {"performance": {"metric": "accuracy"}},
    }
    assert settings_from_dict(same, tmp_path, env={}).triggers.performance.metric == "accuracy"
    only_trigger = {**MINIMAL, "triggers": {"performance": {"metric": "accuracy", "min": 0.8}}}
    assert settings_from_dict(only_trigger, tmp_path, env={}).monitoring.metric is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"promotion": {"min_metrics": {"f1-macro": 0.5}}}, r"promotion.min_metrics.f1-macro.\[key\]"),
        ({"promotion": {"metric": "f1"}}, r"promotion.metric: .*'f1' is not a metric evergreen scores"),
        ({"training": {"selection_metric": "auc"}}, r"training.selection_metric: .*'auc' is not a metric"),
        ({"monitoring": {"metric": "acc"}}, r"monitoring.metric: .*'acc' is not a metric"),
        ({"triggers": {"performance": {"metric": "Accuracy"}}}, r"triggers.performance.metric: .*'Accuracy'"),
    ],
)
def test_a_misspelt_metric_is_refused_where_it_is_written(
    tmp_path: Path, section: dict[str, Any], message: str
) -> None:
    # Before, it loaded: a value gate on it failed every candidate ("no value"), a trigger never fired.
    with pytest.raises(ConfigError, match=message):
        settings_from_dict({**MINIMAL, **section}, tmp_path, env={})


def test_a_metric_of_another_task_is_refused_and_per_class_metrics_are_known(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"promotion.min_metrics: 'rmse' is not a metric evergreen scores a binary model"
    ):
        settings_from_dict({**MINIMAL, "promotion": {"min_metrics": {"rmse": 0.2}}}, tmp_path, env={})
    regression = {**MINIMAL, "task": "regression", "promotion": {"metric": "f1_macro"}}
    with pytest.raises(ConfigError, match=r"promotion.metric: 'f1_macro' is not .* a regression model"):
        settings_from_dict(regression, tmp_path, env={})
    ok = {
        **MINIMAL,
        "promotion": {"metric": "roc_auc", "min_metrics": {"recall_class_churn": 0.4, "log_loss": 0.6}},
    }
    assert settings_from_dict(ok, tmp_path, env={}).promotion.min_metrics == {
        "recall_class_churn": 0.4,
        "log_loss": 0.6,
    }


README = Path(__file__).resolve().parents[2] / "README.md"


def _yaml_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key a user may write in evergreen.yaml, dotted; a channel's fields are one list row."""
    keys = []
    for name, field in model.model_fields.items():
        if model is Settings and name == "root":  # set by the loader, not written in the file
            continue
        section = [t for t in (field.annotation, *get_args(field.annotation)) if isinstance(t, type)]
        sub = next((t for t in section if issubclass(t, BaseModel) and t is not ChannelConfig), None)
        keys += _yaml_keys(sub, f"{prefix}{name}.") if sub is not None else [prefix + name]
    return keys


def _readme_keys() -> set[str]:
    """The keys the README's configuration reference has a row for (first cell of each row):
    `a.b.c`, `a.b.c` / `.d` (a sibling), `a.{x,y}` (several)."""
    section = README.read_text(encoding="utf-8").split("## Configuration reference", 1)[1]
    section = section.split("\n## ", 1)[0]
    keys: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        base = ""
        for token in re.findall(r"`([^`]+)`", line.split(" | ", 1)[0]):
            several = re.fullmatch(r"(.*)\{(.*)\}", token)
            if several:
                keys |= {several[1] + part.strip() for part in several[2].split(",")}
            elif token.startswith("."):
                keys.add(base.rsplit(".", 1)[0] + token)
            else:
                base = token
                keys.add(token)
    return keys


def test_every_config_key_has_a_row_in_the_readme_reference() -> None:
    # DESIGN.md §3 names the keys; the README's table is where a user looks one up.
    missing = [k for k in _yaml_keys(Settings) if k not in _readme_keys()]
    assert missing == []


def test_valid_schedules_and_long_durations_load(tmp_path: Path) -> None:
    raw = {
        **MINIMAL,
        "triggers": {"schedule": "0 2 * * 1", "cooldown_minutes": 0},
        "monitoring": {"schedule": "@daily"},
        "retention": {"schedule": None, "predictions_days": 3650},
        "serving": {"port": 0},
    }
    s = settings_from_dict(raw, tmp_path, env={})
    assert (s.triggers.schedule, s.monitoring.schedule, s.retention.schedule) == ("0 2 * * 1", "@daily", None)
    assert (s.triggers.cooldown_minutes, s.retention.predictions_days, s.serving.port) == (0, 3650, 0)


def test_an_unreadable_or_broken_file_is_one_line_naming_it_and_where(tmp_path: Path) -> None:
    cfg = tmp_path / "evergreen.yaml"
    cfg.write_bytes(b"\xff\xfeproject: p\n")  # UTF-16 BOM: was a UnicodeDecodeError, exit 1, no file named
    with pytest.raises(ConfigError, match=rf"^{cfg}: not UTF-8 text \(byte 0\)"):
        load_settings(cfg, env={})
    cfg.write_text("project: p\n  task: binary\n")
    # PyYAML's first line was only its context ("while scanning ..."): the problem and its place now
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    assert (
        err.value.message
        == f"{cfg}: invalid YAML: mapping values are not allowed in this context (line 2, column 7)"
    )


def test_a_key_written_twice_is_refused_naming_it_and_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "evergreen.yaml"
    # The second promotion section silently replaced the first: min_improvement went back to 0.
    cfg.write_text(
        "project: p\ntask: binary\ndata: {target: y}\n"
        "promotion:\n  min_improvement: 0.1\npromotion:\n  significance: 0.1\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    assert err.value.message == (
        f"{cfg}: invalid YAML: key 'promotion' appears twice in one mapping (line 6, column 1)"
    )
    # A merge key may still be overridden by the mapping it is merged into.
    cfg.write_text(
        "project: p\ntask: binary\ndata: {target: y}\n"
        "alerts:\n  levels: &lv {warning: 0.1, alert: 0.2, critical: 0.3}\n"
        "  score_levels: {data_drift_score: {<<: *lv, critical: 0.5}}\n"
    )
    assert load_settings(cfg, env={}).alerts.score_levels["data_drift_score"]["critical"] == 0.5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"EVERGREEN_PROMOTION__MIN_IMPROVEMENT": "lots"},
            "config key promotion.min_improvement: Input should be a valid number, unable to parse string "
            "as a number (from $EVERGREEN_PROMOTION__MIN_IMPROVEMENT)",
        ),
        (
            {"EVERGREEN_PROMOTION__MIN_IMPROVMENT": "0.05"},
            "config key promotion.min_improvment: Extra inputs are not permitted "
            "(from $EVERGREEN_PROMOTION__MIN_IMPROVMENT)",
        ),
        (
            {"EVERGREEN_TRAINING__CANDIDATES": "[1]"},
            "config key training.candidates.0: Input should be a valid string "
            "(from $EVERGREEN_TRAINING__CANDIDATES)",
        ),
    ],
)
def test_a_bad_value_from_the_environment_names_the_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    # The file was right: "config key promotion.min_improvement" alone sent the reader to it.
    with pytest.raises(ConfigError) as err:
        settings_from_dict(MINIMAL, tmp_path, env=env)
    assert err.value.message == message
    with pytest.raises(ConfigError) as err:  # from the file: no variable named
        settings_from_dict({**MINIMAL, "promotion": {"min_improvement": "lots"}}, tmp_path, env={})
    assert err.value.message.endswith("unable to parse string as a number")


def test_named_schedules_are_still_taken(tmp_path: Path) -> None:
    settings = settings_from_dict({**MINIMAL, "triggers": {"schedule": "@daily"}}, tmp_path, env={})
    assert settings.triggers.schedule == "@daily"


def test_yaml_aliases_that_repeat_one_another_are_refused_quickly(tmp_path: Path) -> None:
    # "Billion laughs": 1.7 KB, nine anchors of ten aliases each, ran 53 s and then out of memory.
    lines = ["project: x", "a0: &a0 [lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    (tmp_path / "evergreen.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="more than 100000 values once its YAML aliases are expanded"):
        load_settings(tmp_path / "evergreen.yaml", env={})


def test_environment_and_number_mistakes_name_the_variable_or_file(tmp_path: Path) -> None:
    from evergreen.config import env_overrides

    both = r"\$EVERGREEN_DATA sets a whole section that \$EVERGREEN_DATA__TARGET"
    with pytest.raises(ConfigError, match=both):
        env_overrides({"EVERGREEN_DATA": "x", "EVERGREEN_DATA__TARGET": "y"})  # was a TypeError, exit 1
    with pytest.raises(ConfigError, match=both):  # the other order dropped the key, silently
        env_overrides({"EVERGREEN_DATA__TARGET": "y", "EVERGREEN_DATA": "{id_column: z}"})
    assert env_overrides({"EVERGREEN_SERVING__PORT": "9" * 5000}) == {"serving": {"port": "9" * 5000}}
    (tmp_path / "evergreen.yaml").write_text("project: x\nseed: " + "9" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"evergreen\.yaml: invalid YAML: ValueError: Exceeds the limit"):
        load_settings(tmp_path / "evergreen.yaml", env={})  # was a ValueError, exit 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # every batch had 0 labelled rows, with exit 0
        ({"pii": {"drop": ["y"]}}, "pii.drop drops 'y', the target"),
        # every file refused as "missing column customer_id"
        ({"id_column": "customer_id", "pii": {"drop": ["customer_id"]}}, "the id_column"),
        ({"pii": {"hash": ["y"]}}, "pii.hash hashes 'y', the target"),
        # every file refused as wrong_type
        ({"features": {"numeric": ["y", "a"]}}, "features lists 'y', the target"),
        # ValueError: Duplicate column names, exit 1, the file left in the landing
        ({"features": {"numeric": ["a"], "categorical": ["a"]}}, "features lists 'a' under two kinds"),
        # every file refused as out of range
        ({"ranges": {"tenure": [10, 1]}}, "the lower bound 10.0 is above the upper 1.0"),
    ],
)
def test_data_settings_that_contradict_one_another_are_refused(tmp_path: Path, data, message) -> None:
    with pytest.raises(ConfigError, match=r"config key data: Value error, ") as err:
        settings_from_dict({**MINIMAL, "data": {"target": "y", **data}}, tmp_path, env={})
    assert message in err.value.message


def test_a_storage_dir_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    from evergreen.project import open_project

    (tmp_path / "q").write_text("not a directory")
    settings = settings_from_dict({**MINIMAL, "storage": {"quarantine_dir": "q"}}, tmp_path, env={})
    with pytest.raises(
        ConfigError, match=r"^config key storage\.quarantine_dir: .*/q cannot be a directory \(File exists\)"
    ):
        open_project(settings)  # was FileExistsError, exit 1


def test_an_infinite_range_bound_is_an_open_end(tmp_path: Path) -> None:
    # It loaded before NaN and infinities were refused everywhere, and means what null means.
    data = {"target": "y", "ranges": {"age": [0, float("inf")], "debt": [float("-inf"), 3]}}
    settings = settings_from_dict({**MINIMAL, "data": data}, tmp_path, env={})
    assert settings.data.ranges == {"age": (0.0, None), "debt": (None, 3.0)}
    with pytest.raises(ConfigError, match=r"config key data\.ranges\.age\.1: Value error, NaN is no bound"):
        settings_from_dict(
            {**MINIMAL, "data": {"target": "y", "ranges": {"age": [0, float("nan")]}}}, tmp_path, env={}
        )


def test_gates_within_what_a_model_can_score_are_taken(tmp_path: Path) -> None:
    from evergreen.config import gate_problem

    gates = {"accuracy": 1.0, "roc_auc": 0.0, "log_loss": 5.0, "recall_class_churn": 0.4}
    settings = settings_from_dict({**MINIMAL, "promotion": {"min_metrics": gates}}, tmp_path, env={})
    assert settings.promotion.min_metrics == gates
    assert gate_problem("accuracy", 2.0) == "accuracy 2 is outside the values a model can score, [0, 1]"
    assert gate_problem("rmse", -1.0) == "rmse -1 is outside the values a model can score, [0, inf]"
    assert gate_problem("r2", 1.5) == "r2 1.5 is outside the values a model can score, [-inf, 1]"
    assert gate_problem("r2", -3.0) is None and gate_problem("mae", 1e6) is None


@pytest.mark.parametrize(
    ("channel", "words"),
    [
        ({"type": "slack", "url": "hooks.slack.com/services/T0/B0/SECRETX1"}, "url"),
        ({"type": "webhook", "url": "ftp://hooks.example.com/SECRETX1"}, "url"),
        ({"type": "webhook", "url": "https:///SECRETX1"}, "url"),
        ({"type": "email", "smtp": "smtp://mail.example.com:twenty-five", "to": ["a@example.com"]}, "smtp"),
        ({"type": "email", "smtp": "smtp://mail.example.com:99999", "to": ["a@example.com"]}, "smtp"),
        ({"type": "email", "smtp": "smtp://:25", "to": ["a@example.com"]}, "smtp"),
        (
            {
                "type": "email",
                "smtp": "smtp://mail.example.com:25",
                "to": ["a@example.com\r\nBcc: x@evil.test"],
            },
            "to",
        ),
        (
            {"type": "email", "smtp": "smtp://mail.example.com:25", "to": ["a@example.com, b@example.com"]},
            "to",
        ),
        ({"type": "email", "smtp": "smtp://mail.example.com:25", "to": ["team"]}, "to"),
        (
            {
                "type": "email",
                "smtp": "smtp://m.example.com:25",
                "to": ["a@example.com"],
                "sender": "x\nBcc: y@z.io",
            },
            "sender",
        ),
    ],
)
def test_a_channel_that_could_never_deliver_is_a_config_error_naming_the_key_not_a_silent_failure(
    tmp_path: Path, channel: dict[str, Any], words: str
) -> None:
    """Accepted before, each of these failed every delivery at send time (a URL without a scheme, a
    port that is not a number, a line break in an address): the first real alert was the first sign."""
    raw = {"project": "p", "task": "binary", "data": {"target": "y"}, "alerts": {"channels": [channel]}}
    with pytest.raises(ConfigError) as info:
        settings_from_dict(raw, tmp_path, env={})
    assert "alerts.channels.0" in info.value.message and words in info.value.message, info.value.message
    assert "SECRETX1" not in info.value.message + repr(info.value.details)


def test_the_channels_a_user_writes_still_load(tmp_path: Path) -> None:
    channels = [
        {"type": "slack", "url": "https://hooks.slack.com/services/T0/B0/x"},
        {"type": "webhook", "url": "http://127.0.0.1:9000/hook"},
        {"type": "email", "smtp": "smtp://localhost", "to": ["team@example.com", "Ops <ops@example.com>"]},
        {
            "type": "email",
            "smtp": "smtps://mail.example.com:465",
            "to": ["a@example.com"],
            "sender": "E <e@x.io>",
        },
    ]
    raw = {"project": "p", "task": "binary", "data": {"target": "y"}, "alerts": {"channels": channels}}
    assert len(settings_from_dict(raw, tmp_path, env={}).alerts.channels) == 4


def test_an_smtp_url_with_credentials_keeps_an_ipv6_host_and_refuses_port_0(tmp_path: Path) -> None:
    channel = {
        "type": "email",
        "smtp": "smtps://u:p%40ss@[::1]:465",
        "to": ["a@example.com"],
    }
    raw = {"project": "p", "task": "binary", "data": {"target": "y"}, "alerts": {"channels": [channel]}}
    [loaded] = settings_from_dict(raw, tmp_path, env={}).alerts.channels
    assert (loaded.smtp, loaded.username) == ("smtps://[::1]:465", "u")  # the brackets were dropped
    assert loaded.password is not None and loaded.password.get_secret_value() == "p@ss"
    channel["smtp"] = "smtps://mailhost:0"
    with pytest.raises(ConfigError, match="a port of 1 to 65535"):
        settings_from_dict(raw, tmp_path, env={})


@pytest.mark.parametrize(
    "url",
    [
        "dashboard.example.com",
        "javascript:alert(1)",
        "https://eg.example/a|b",
        "https://eg.example/<x>",
        "http://",
        "https://eg.example/#a",  # links became https://eg.example/#a/alerts?alert=7
        "https://eg.example/?x=1",
        "https://eg.example:0/",
    ],
)
def test_a_dashboard_url_the_alerts_could_not_link_to_is_a_config_error(tmp_path: Path, url: str) -> None:
    """The alerts' "open in the dashboard" link is built from it: without http(s) and a host it led
    nowhere, and a ``|`` or ``>`` in it broke Slack's link markup (the rest showed as raw text)."""
    raw = {"project": "p", "task": "binary", "data": {"target": "y"}, "alerts": {"dashboard_url": url}}
    with pytest.raises(ConfigError) as info:
        settings_from_dict(raw, tmp_path, env={})
    assert "alerts.dashboard_url" in info.value.message
    ok = {**raw, "alerts": {"dashboard_url": "https://evergreen.example.com:8443/base/"}}
    assert (
        settings_from_dict(ok, tmp_path, env={}).alerts.dashboard_url
        == "https://evergreen.example.com:8443/base/"
    )


@pytest.mark.parametrize("field", ["token", "url", "password"])
def test_a_channel_secret_with_a_line_break_is_a_config_error_that_does_not_quote_it(
    tmp_path: Path, field: str
) -> None:
    """A secret read from a file often ends in a newline. Accepted, the webhook's token made every
    delivery fail with httpx's "Illegal header value b'Bearer SECRETX1\\n'": the token, in the
    delivery row and the log line (the redactor looks for the secret with its newline)."""
    channel: dict[str, Any] = {"type": "webhook", "url": "https://hooks.example.com/h", "token": "tok-ok-123"}
    if field == "password":
        channel = {
            "type": "email",
            "smtp": "smtps://mail.example.com",
            "to": ["a@example.com"],
            "username": "u",
        }
    channel[field] = {"url": "https://hooks.example.com/SECRETX1\n", "token": "SECRETX1\n"}.get(
        field, "SECRETX1\n"
    )
    raw = {"project": "p", "task": "binary", "data": {"target": "y"}, "alerts": {"channels": [channel]}}
    with pytest.raises(ConfigError) as info:
        settings_from_dict(raw, tmp_path, env={})
    assert "alerts.channels.0" in info.value.message and field in info.value.message, info.value.message
    assert "line break" in info.value.message
    assert "SECRETX1" not in info.value.message + repr(info.value.details)


def test_two_channels_of_one_name_are_a_config_error(tmp_path: Path) -> None:
    """A channel block copied with its name kept: every delivery row and log line of either said
    "ops", and which one failed could not be told (they also shared one delivery queue)."""
    channels = [
        {"type": "slack", "name": "ops", "url": "https://hooks.slack.com/services/T0/B0/x"},
        {"type": "email", "name": "ops", "smtp": "smtp://localhost", "to": ["ops@example.com"]},
    ]
    raw = {"project": "p", "task": "binary", "data": {"target": "y"}, "alerts": {"channels": channels}}
    with pytest.raises(ConfigError) as info:
        settings_from_dict(raw, tmp_path, env={})
    assert "alerts.channels" in info.value.message and "'ops'" in info.value.message, info.value.message
    channels[1]["name"] = "ops-mail"
    assert len(settings_from_dict(raw, tmp_path, env={}).alerts.channels) == 2


def test_a_channel_named_log_that_is_not_the_log_channel_is_a_config_error(tmp_path: Path) -> None:
    # The built-in log channel, added when none is configured, is named "log": two channels "log".
    channels: list[dict[str, Any]] = [
        {"type": "webhook", "name": "log", "url": "https://hooks.example.com/x"}
    ]
    raw = {"project": "p", "task": "binary", "data": {"target": "y"}, "alerts": {"channels": channels}}
    with pytest.raises(ConfigError, match="named 'log'"):
        settings_from_dict(raw, tmp_path, env={})
    channels.append({"type": "log", "name": "audit"})  # a log channel configured: no built-in one
    assert len(settings_from_dict(raw, tmp_path, env={}).alerts.channels) == 2
