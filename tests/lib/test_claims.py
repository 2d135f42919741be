"""rnnlib.claims and rnnlib.calibration: each statistic, the messages, the log record, and the
failure-rate arithmetic against exact formulas."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from rnnlib import calibration
from rnnlib.claims import claim, exact


@pytest.fixture(autouse=True)
def no_calibration(monkeypatch, tmp_path):
    """Claims in these tests read calibration from an empty folder unless a test writes one."""
    monkeypatch.setenv("RNNLIB_CALIBRATION_DIR", str(tmp_path / "calibration"))
    monkeypatch.delenv("RNNLIB_CLAIMS_LOG", raising=False)
    monkeypatch.delenv("RNNLIB_CLAIMS_MODE", raising=False)
    monkeypatch.delenv("RNNLIB_SEED_OFFSET", raising=False)


# --- statistics ---------------------------------------------------------------------------------
def test_median_claim_holds_when_the_median_is_below_the_bound(capsys):
    record = claim("ch00.t.median", "small", [0.1, 0.9, 0.2], statistic="median", below=0.5)
    assert record.holds and record["value"] == pytest.approx(0.2)
    assert capsys.readouterr().out.startswith("holds: ch00.t.median: median 0.2 < 0.5 over 3 seeds")


def test_median_claim_fails_when_most_draws_cross_the_bound():
    with pytest.raises(AssertionError, match=r"median 0\.8, claimed < 0\.5"):
        claim("ch00.t.median", "small", [0.1, 0.9, 0.8], statistic="median", below=0.5)


def test_mean_claim_uses_the_mean_not_the_median():
    claim("ch00.t.mean", "m", [0.0, 0.0, 3.0], statistic="mean", above=0.9)
    with pytest.raises(AssertionError):
        claim("ch00.t.mean", "m", [0.0, 0.0, 3.0], statistic="median", above=0.9)


def test_every_claim_fails_on_one_draw_and_names_the_worst():
    claim("ch00.t.every", "e", [2.0, 3.0], statistic="every", above=1.0)
    with pytest.raises(AssertionError, match=r"worst of 3 seeds 0\.5, claimed > 1"):
        claim("ch00.t.every", "e", [2.0, 0.5, 3.0], statistic="every", above=1.0)


def test_at_least_claim_counts_passing_draws():
    record = claim("ch00.t.k", "k", [1, 2, 3, 4, 5], statistic="at_least", at_least=3, above=2.5)
    assert record["value"] == 3
    with pytest.raises(AssertionError, match="2 of 5 seeds > 3.5, claimed at least 3"):
        claim("ch00.t.k", "k", [1, 2, 3, 4, 5], statistic="at_least", at_least=3, above=3.5)


def test_band_claim_needs_both_sides():
    claim("ch00.t.band", "b", [0.5, 0.6, 0.4], statistic="median", above=0.3, below=0.7)
    with pytest.raises(AssertionError):
        claim("ch00.t.band", "b", [0.8, 0.9, 0.4], statistic="median", above=0.3, below=0.7)


def test_versus_compares_the_same_seeds_by_ratio_and_difference():
    lstm, rnn = [1.0, 2.0, 3.0], [10.0, 10.0, 1.0]
    ratio = claim("ch00.t.vs", "r", lstm, versus=rnn, by="ratio", statistic="median", below=0.5)
    assert ratio["values"] == pytest.approx([0.1, 0.2, 3.0])
    diff = claim("ch00.t.vs", "d", lstm, versus=rnn, statistic="at_least", at_least=2, below=0)
    assert diff["values"] == pytest.approx([-9.0, -8.0, 2.0])
    assert diff["versus"]["versus"] == rnn


def test_a_non_finite_draw_never_passes():
    with pytest.raises(AssertionError, match="nan"):
        claim("ch00.t.nan", "n", [0.1, float("nan")], statistic="every", below=1.0)


def test_tensors_are_accepted_as_values():
    record = claim("ch00.t.tensor", "t", torch.tensor([0.1, 0.2]), statistic="mean", below=1.0)
    assert record["k"] == 2


# --- exact claims -------------------------------------------------------------------------------
def test_exact_claim_with_tolerance_on_tensors(capsys):
    exact("ch00.t.x", "equal", torch.ones(3), equals=torch.ones(3) + 1e-7, atol=1e-6)
    assert "exact (holds whatever the seed)" in capsys.readouterr().out
    with pytest.raises(AssertionError, match=r"max \|difference\| 0\.001"):
        exact("ch00.t.x", "equal", torch.ones(3), equals=torch.ones(3) + 1e-3, atol=1e-6)


def test_a_large_array_is_recorded_by_its_shape_a_small_one_as_it_is():
    big = exact("ch00.t.big", "equal", torch.zeros(50, 40), equals=torch.zeros(50, 40))
    assert big["equals"] == "array of shape (50, 40)"
    small = exact("ch00.t.small", "equal", torch.ones(3), equals=torch.ones(3))
    assert small["equals"] == [1.0, 1.0, 1.0]


def test_exact_claim_on_shapes_bounds_and_truth():
    exact("ch00.t.shape", "shape", (2, 3), equals=(2, 3))
    exact("ch00.t.small", "small", [1e-9, 2e-9], below=1e-6)
    exact("ch00.t.true", "true", True)
    with pytest.raises(AssertionError, match="claimed true"):
        exact("ch00.t.true", "true", False)
    with pytest.raises(AssertionError):
        exact("ch00.t.shape", "shape", (2, 3), equals=(3, 2))


# --- the failure message, the log, record mode --------------------------------------------------
def test_failure_message_is_one_line_with_sentence_value_bound_and_draws():
    with pytest.raises(AssertionError) as failure:
        claim("ch00.t.msg", "LSTMs solve it", [0.9, 0.95, 0.1], statistic="median", below=0.5)
    message = str(failure.value)
    assert "\n" not in message
    parts = ["ch00.t.msg", "'LSTMs solve it'", "median 0.9", "< 0.5", "per seed: 0.9, 0.95, 0.1"]
    assert all(part in message for part in parts), message


def test_records_are_appended_to_the_claims_log(monkeypatch, tmp_path):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("RNNLIB_CLAIMS_LOG", str(log))
    monkeypatch.setenv("RNNLIB_SEED_OFFSET", "300")
    claim("ch00.t.log", "logged", [1.0, 2.0], statistic="median", below=5.0)
    exact("ch00.t.log2", "logged", 1, equals=1)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["name"] for r in lines] == ["ch00.t.log", "ch00.t.log2"]
    first = lines[0]
    assert first["chapter"] == "ch00" and first["statistic"] == "median"
    assert first["below"] == 5.0 and first["values"] == [1.0, 2.0] and first["seed_offset"] == 300


def test_record_mode_logs_a_failing_claim_instead_of_raising(monkeypatch, capsys):
    monkeypatch.setenv("RNNLIB_CLAIMS_MODE", "record")
    record = claim("ch00.t.rec", "r", [9.0, 9.0, 9.0], statistic="median", below=1.0)
    assert not record.holds
    assert "failed" in capsys.readouterr().out


def test_the_calibrated_range_and_estimate_are_printed(tmp_path, capsys):
    folder = tmp_path / "calibration"
    folder.mkdir()
    values = list(np.linspace(0.01, 0.07, 60))
    stored = {"code_hash": "x", "runs": [], "claims": {"ch00.t.cal": {"values": values}}}
    (folder / "ch00.json").write_text(json.dumps(stored))
    record = claim("ch00.t.cal", "c", [0.03] * 5, statistic="median", below=0.1)
    line = capsys.readouterr().out
    assert "calibrated 0.01-0.07 (60 draws)" in line
    assert record["calibration"]["estimate"] == pytest.approx(10 * (1 / 62) ** 3, rel=0.05)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"statistic": "mode", "below": 1.0},
        {"statistic": "median"},
        {"statistic": "median", "below": 1.0, "above": 2.0},
        {"statistic": "at_least", "below": 1.0},
        {"statistic": "at_least", "at_least": 9, "below": 1.0},
        {"statistic": "median", "at_least": 2, "below": 1.0},
        {"statistic": "median", "below": "1"},
        {"statistic": "median", "below": 1.0, "versus": [1.0]},
    ],
)
def test_malformed_claims_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        claim("ch00.t.bad", "b", [1.0, 2.0], **kwargs)


@pytest.mark.parametrize("name", ["adding", "ch5.x", "CH05.x", "ch05", "ch05.Adding"])
def test_names_must_start_with_their_chapter(name):
    with pytest.raises(ValueError, match="chapter"):
        claim(name, "s", [1.0], statistic="median", below=2.0)


# --- failure-rate arithmetic --------------------------------------------------------------------
def test_binomial_tail_matches_the_formula():
    p = 0.02
    expected = sum(math.comb(5, j) * p**j * (1 - p) ** (5 - j) for j in (3, 4, 5))
    assert calibration.binomial_tail(5, p, 3) == pytest.approx(expected)
    assert calibration.binomial_tail(4, 0.3, 0) == pytest.approx(1.0)


def test_median_of_five_needs_about_fifty_clean_draws():
    clean = np.zeros(50)
    assert calibration.failure_probability("median", 5, clean, below=1.0) < 1e-4
    assert calibration.failure_probability("median", 5, clean[:40], below=1.0) > 1e-4
    one_out = np.r_[np.zeros(59), 2.0]
    assert calibration.failure_probability("median", 5, one_out, below=1.0) > 1e-4
    assert calibration.failure_probability("median", 7, one_out, below=1.0) < 1e-4


def test_every_draw_of_five_needs_tens_of_thousands_of_draws():
    assert calibration.failure_probability("every", 5, np.zeros(1000), below=1.0) > 1e-3


def test_at_least_uses_the_number_of_allowed_failures():
    values = np.zeros(100)
    p = 1 / 102
    estimate = calibration.failure_probability("at_least", 5, values, below=1.0, at_least=4)
    assert estimate == pytest.approx(calibration.binomial_tail(5, p, 2))


def test_mean_estimate_shrinks_with_the_distance_to_the_bound():
    values = np.random.default_rng(0).normal(size=100)
    near = calibration.failure_probability("mean", 5, values, below=0.5)
    far = calibration.failure_probability("mean", 5, values, below=3.0)
    assert 0.05 < near < 0.5 and far < 1e-4


def test_code_hash_ignores_comments_and_formatting_but_not_code():
    def notebook(source):
        return {"cells": [{"cell_type": "code", "source": source}]}

    base = calibration.code_hash(notebook("x = 1\ny = x + 1\n"))
    assert calibration.code_hash(notebook("# a comment\nx = 1\n\ny = x + 1  # two\n")) == base
    assert calibration.code_hash(notebook("x = 1\ny = x + 2\n")) != base
