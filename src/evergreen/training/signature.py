"""The model's input example in the types users have, so its MLflow signature describes their data.

Ingest turns every numeric column into float64 and every category into its canonical string; a
signature inferred from that frame would declare an integer column ``double`` and a boolean one
``string``, and MLflow refuses a user's own frame (``int64`` into ``double`` is "not safe"). The data
contract remembers each column's family as it arrived, so the example is cast back to it. Pure.
"""

from __future__ import annotations

import pandas as pd

from evergreen.data.contract import Contract

_BOOL_TEXT = {"True": True, "False": False}


def signature_example(frame: pd.DataFrame, contract: Contract, rows: int = 5) -> pd.DataFrame:
    """``rows`` rows of ``frame`` (post-ingest) with integer and boolean columns in their arrival types.

    Rows without a gap in those columns are preferred: MLflow cannot hold a null in a ``long``, so a
    column with a missing value in the example keeps its ingest type (as pandas would read it too).
    """
    families = {c.name: c.dtype for c in contract.features}
    typed = [c for c in frame.columns if families.get(str(c)) in ("integer", "bool")]
    complete = frame.dropna(subset=typed) if typed else frame
    out = (complete if len(complete) else frame).head(rows).copy()
    for name in typed:
        col = out[name]
        if col.isna().any():
            continue
        if families[str(name)] == "integer":
            if pd.api.types.is_numeric_dtype(col) and bool((col == col.round()).all()):
                out[name] = col.astype("int64")
        elif not pd.api.types.is_bool_dtype(col):
            values = col.tolist()
            if all(v in _BOOL_TEXT or isinstance(v, bool) for v in values):
                out[name] = pd.Series([_BOOL_TEXT.get(v, v) for v in values], index=col.index, dtype=bool)
    return out
