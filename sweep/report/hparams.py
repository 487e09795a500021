"""Every configuration of the grid as a session of TensorBoard's HParams dashboard.

Ray Tune's TensorBoard logger writes one HParams session per Tune trial, so with packs a
row there is a pack, not a configuration. This module writes, from the results table
alone, one session per *configuration* into ``<experiment>/hparams/``: its settings (the
family and every setting that varies across the grid: model, the Table 1 axes, margin,
seed...), its status, trial key and pack id as hyperparameters, and I, FD and the iterations done as metrics. The
HParams dashboard then lists every configuration, sortable and filterable, with its
parallel-coordinates and scatter views (`make tensorboard` serves it beside Tune's loss
curves). A failed configuration has no I or FD (blank cells; filter on status).

Written with TensorBoard's own protos and record writer (no TensorFlow, no torch, no
Ray), into a new folder swapped in place of the old one, so a TensorBoard reading it
never sees half of it. `sweep collect` and `sweep histograms` rewrite it.
"""
from __future__ import annotations

import math
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pandas as pd

from models.config import AXIS_KEYS

FOLDER = "hparams"
SETTINGS = ("family", "model", *AXIS_KEYS, "seed")
TEXT = ("trial_key", "status", "pack_id")          # hparams shown as text, for filtering
METRICS = {"I": ("score", "modified inception score I (higher is better)"),
           "FD": ("fd", "Frechet distance FD (lower is better)"),
           "iterations": ("iterations_done", "iterations trained")}


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return v


def _summary(tag: str, data: Any) -> Any:
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import metadata
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(
        tag=tag, metadata=metadata.create_summary_metadata(data),
        tensor=metadata.NULL_TENSOR)])


def _set_value(value: Any, v: Any) -> None:
    """A google.protobuf Value from a bool, number or string."""
    if isinstance(v, bool):
        value.bool_value = v
    elif isinstance(v, (int, float)):
        value.number_value = float(v)
    else:
        value.string_value = str(v)


def _hparam_infos(df: pd.DataFrame, names: list[str]) -> list[Any]:
    from tensorboard.plugins.hparams import api_pb2
    infos = []
    for name in names:
        values = sorted({_plain(v) for v in df[name]} - {None}, key=repr)
        if name in TEXT or not values:
            kind = api_pb2.DATA_TYPE_STRING
        elif all(isinstance(v, bool) for v in values):
            kind = api_pb2.DATA_TYPE_BOOL
        elif all(isinstance(v, (int, float)) for v in values):
            kind = api_pb2.DATA_TYPE_FLOAT64
        else:
            kind = api_pb2.DATA_TYPE_STRING
        info = api_pb2.HParamInfo(name=name, type=kind)
        if name not in ("trial_key", "pack_id") and len(values) <= 64:  # filter checkboxes
            for v in values:
                _set_value(info.domain_discrete.values.add(), v)
        infos.append(info)
    return infos


class _Events:
    """One tfevents file, written with TensorBoard's record writer."""

    def __init__(self, folder: Path):
        from tensorboard.summary.writer.record_writer import RecordWriter
        folder.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.hparams"
        self._file = open(folder / name, "wb")
        self._writer = RecordWriter(self._file)
        self.add(file_version="brain.Event:2")

    def add(self, summary: Any = None, step: int = 0, **fields: Any) -> None:
        from tensorboard.compat.proto import event_pb2
        event = event_pb2.Event(wall_time=time.time(), step=step, summary=summary, **fields)
        self._writer.write(event.SerializeToString())

    def close(self) -> None:
        self._writer.close()


def _session(folder: Path, row: pd.Series, names: list[str]) -> None:
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
    start = plugin_data_pb2.SessionStartInfo(group_name=folder.name, start_time_secs=time.time())
    for name in names:
        v = _plain(row.get(name))
        if v is not None:
            _set_value(start.hparams[name], str(v) if name in TEXT else v)
    ev = _Events(folder)
    try:
        ev.add(_summary(metadata.SESSION_START_INFO_TAG,
                        plugin_data_pb2.HParamsPluginData(session_start_info=start)))
        for tag, (col, _) in METRICS.items():
            v = _plain(row.get(col))
            if isinstance(v, (int, float)) and (col != "score" and col != "fd"
                                                or row.get("status") == "ok"):
                ev.add(summary_pb2.Summary(value=[summary_pb2.Summary.Value(
                    tag=tag, simple_value=float(v))]))
        status = api_pb2.STATUS_SUCCESS if row.get("status") == "ok" else api_pb2.STATUS_FAILURE
        ev.add(_summary(metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(
            session_end_info=plugin_data_pb2.SessionEndInfo(status=status,
                                                            end_time_secs=time.time()))))
    finally:
        ev.close()


def columns(df: pd.DataFrame) -> list[str]:
    """The hyperparameters shown: family, status, trial key, the settings that vary across
    the table (a constant one, e.g. beta1, would only take a column) and the pack id when
    any configuration has one."""
    keep = []
    for c in (*SETTINGS, *TEXT):
        if c not in df.columns or df[c].isna().all():
            continue
        if c in ("family", "status", "trial_key") or c == "pack_id" or df[c].nunique() > 1:
            keep.append(c)
    return keep


def session_name(row: pd.Series) -> str:
    """'<family>-<trial_key>': the same name as the trial's Ray Tune folder starts with."""
    return f"{row.get('family')}-{row.get('trial_key')}"


def write_hparams(exp_dir: str | Path, trials: pd.DataFrame | None = None) -> tuple[Path, int]:
    """Write one HParams session per row of the results table (``trials.parquet`` unless
    ``trials`` is given) into ``exp_dir/hparams``; return (that folder, sessions written)."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
    exp = Path(exp_dir)
    df = pd.read_parquet(exp / "trials.parquet") if trials is None else trials
    names = columns(df)
    final = exp / FOLDER
    tmp = exp / f".{FOLDER}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    experiment = api_pb2.Experiment(
        description="One session per configuration of the grid (sweep/report/hparams.py)",
        time_created_secs=time.time(), hparam_infos=_hparam_infos(df, names),
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag), display_name=tag,
                                         description=text) for tag, (_, text) in METRICS.items()])
    top = _Events(tmp)
    try:
        top.add(_summary(metadata.EXPERIMENT_TAG,
                         plugin_data_pb2.HParamsPluginData(experiment=experiment)))
    finally:
        top.close()
    for _, row in df.iterrows():
        _session(tmp / session_name(row), row, names)
    old = exp / f".{FOLDER}.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final, len(df)
