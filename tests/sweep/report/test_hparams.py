"""One TensorBoard HParams session per configuration (sweep/report/hparams.py), read back.

The event files are read with TensorBoard's own loader and the HParams plugin's parsers,
as TensorBoard does; tests/sweep/report/test_hparams_browser.py checks that a running
TensorBoard lists and sorts them in its dashboard (slow, Chromium).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import api_pb2, metadata
from tensorboard.util import tensor_util

from sweep.report.hparams import FOLDER, session_name, write_hparams

ROWS = [  # two finished configurations of a pack, a diverged one, an errored one
    {"trial_key": "aa11", "family": "ebgan", "model": "ebgan", "nLayerG": 2, "nLayerD": 2,
     "sizeG": 400, "sizeD": 128, "dropoutD": True, "optimD": "adam", "optimG": "adam",
     "lr": 0.001, "margin": 10.0, "seed": 0, "status": "ok", "score": 1.75, "fd": 20.5,
     "iterations_done": 40, "pack_id": "p1"},
    {"trial_key": "bb22", "family": "gan", "model": "gan", "nLayerG": 2, "nLayerD": 2,
     "sizeG": 400, "sizeD": 128, "dropoutD": False, "optimD": "sgd", "optimG": "adam",
     "lr": 0.01, "margin": 10.0, "seed": 0, "status": "ok", "score": 0.5, "fd": 80.0,
     "iterations_done": 40, "pack_id": "p1"},
    {"trial_key": "cc33", "family": "gan", "model": "gan", "nLayerG": 3, "nLayerD": 2,
     "sizeG": 400, "sizeD": 128, "dropoutD": False, "optimD": "adam", "optimG": "sgd",
     "lr": 0.01, "margin": 10.0, "seed": 0, "status": "diverged", "score": 9.0, "fd": np.nan,
     "iterations_done": 12, "pack_id": None},
    {"trial_key": "dd44", "family": "gan", "model": "gan", "nLayerG": 3, "nLayerD": 2,
     "sizeG": 400, "sizeD": 128, "dropoutD": True, "optimD": "adam", "optimG": "adam",
     "lr": 0.001, "margin": 10.0, "seed": 0, "status": "error", "score": np.nan, "fd": np.nan,
     "iterations_done": None, "pack_id": None},
]


def read_run(folder):
    """{tag: plugin content bytes or simple value} of the events in one run folder."""
    out = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for v in event.summary.value:  # the loader turns simple values into scalars
                out[v.tag] = tensor_util.make_ndarray(v.tensor).item() \
                    if v.metadata.plugin_data.plugin_name == "scalars" \
                    else v.metadata.plugin_data.content
    return out


def test_one_session_per_configuration(tmp_path):
    pd.DataFrame(ROWS).to_parquet(tmp_path / "trials.parquet")
    folder, n = write_hparams(tmp_path)
    assert folder == tmp_path / FOLDER and n == 4
    runs = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert runs == ["ebgan-aa11", "gan-bb22", "gan-cc33", "gan-dd44"]
    assert session_name(pd.Series(ROWS[0])) == "ebgan-aa11"

    exp = metadata.parse_experiment_plugin_data(read_run(folder)[metadata.EXPERIMENT_TAG])
    infos = {h.name: h for h in exp.hparam_infos}
    assert set(infos) == {"family", "model", "nLayerG", "lr", "dropoutD", "optimD", "optimG",
                          "status", "trial_key", "pack_id"}  # not the constant ones
    assert infos["nLayerG"].type == api_pb2.DATA_TYPE_FLOAT64
    assert [v.number_value for v in infos["nLayerG"].domain_discrete.values] == [2, 3]
    assert infos["dropoutD"].type == api_pb2.DATA_TYPE_BOOL
    assert sorted(v.string_value for v in infos["status"].domain_discrete.values) == \
        ["diverged", "error", "ok"]
    assert [m.name.tag for m in exp.metric_infos] == ["I", "FD", "iterations"]

    ok = read_run(folder / "ebgan-aa11")
    start = metadata.parse_session_start_info_plugin_data(ok[metadata.SESSION_START_INFO_TAG])
    assert start.hparams["lr"].number_value == 0.001
    assert start.hparams["optimD"].string_value == "adam"
    assert start.hparams["dropoutD"].bool_value is True
    assert start.hparams["pack_id"].string_value == "p1"
    assert (ok["I"], ok["FD"], ok["iterations"]) == (1.75, 20.5, 40.0)  # float32-exact
    end = metadata.parse_session_end_info_plugin_data(ok[metadata.SESSION_END_INFO_TAG])
    assert end.status == api_pb2.STATUS_SUCCESS

    diverged = read_run(folder / "gan-cc33")  # its last finite I is not a result
    assert "I" not in diverged and "FD" not in diverged and diverged["iterations"] == 12.0
    assert metadata.parse_session_end_info_plugin_data(
        diverged[metadata.SESSION_END_INFO_TAG]).status == api_pb2.STATUS_FAILURE
    error = read_run(folder / "gan-dd44")
    start = metadata.parse_session_start_info_plugin_data(error[metadata.SESSION_START_INFO_TAG])
    assert start.hparams["status"].string_value == "error" and "pack_id" not in start.hparams


def test_rewriting_replaces_the_sessions(tmp_path):
    pd.DataFrame(ROWS).to_parquet(tmp_path / "trials.parquet")
    write_hparams(tmp_path)
    folder, n = write_hparams(tmp_path, pd.DataFrame(ROWS[:1]))
    assert n == 1 and sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["ebgan-aa11"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".hparams")]
    assert math.isclose(read_run(folder / "ebgan-aa11")["I"], 1.75)
