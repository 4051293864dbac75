"""Voyage log: parsing, validation errors naming file and line, the shipped log."""

from __future__ import annotations

import collections
import datetime as dt

import pytest

from detector.errors import LabelError
from detector.labels.voyages import Voyage, parse_voyages, read_voyages
from detector.paths import labels_dir


def test_shipped_log_has_the_published_64_voyages():
    voyages = read_voyages(labels_dir() / "voyages.csv")
    assert len(voyages) == 64
    assert [v.voyage for v in voyages] == list(range(1, 65))
    per_ship = collections.Counter(v.ship for v in voyages)
    assert per_ship == {"Angara": 21, "Maria": 20, "Lady R": 14, "Maia-1": 9}
    per_month = collections.Counter(v.month for v in voyages)
    assert per_month["2024-01"] == 7 and max(per_month.values()) == 7
    assert per_month["2025-02"] == 4 and per_month["2025-03"] == 2
    assert voyages[0] == Voyage(1, "Angara", dt.date(2023, 9, 3))


def test_ship_names_are_canonicalised_and_extra_columns_ignored():
    v = parse_voyages(
        "voyage,ship,rajin_date,note\n2, lady  r ,2024-01-05,x\n1,MAIA-1,2024-01-02,\n"
    )
    assert v == (Voyage(1, "Maia-1", dt.date(2024, 1, 2)), Voyage(2, "Lady R", dt.date(2024, 1, 5)))


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("voyage,ship,rajin_date\n1,Angara,2023-09-03\n2,Titanic,2023-09-05\n", 3, "unknown ship"),
        ("voyage,ship,rajin_date\n1,Angara,2023-09-03\n2,Maria,03/09/2023\n", 3, "not a date"),
        (
            "voyage,ship,rajin_date\n1,Angara,2023-09-03\n\n1,Maria,2023-09-05\n",
            4,
            "duplicate voyage 1",
        ),
        ("voyage,ship\n1,Angara\n", 1, "missing column(s) rajin_date"),
        ("voyage,ship,rajin_date\nx,Angara,2023-09-03\n", 2, "not an integer"),
        ("voyage,ship,rajin_date\n1,,2023-09-03\n", 2, "empty 'ship'"),
        ("voyage,ship,rajin_date\n0,Angara,2023-09-03\n", 2, ">= 1"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, text, line, words):
    p = tmp_path / "log.csv"
    p.write_text(text)
    with pytest.raises(LabelError) as err:
        read_voyages(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}: line {line}: "), msg
    assert words in msg
    assert "\n" not in msg


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(LabelError, match="voyage log not found"):
        read_voyages(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(LabelError, match="empty voyage log"):
        read_voyages(tmp_path / "empty.csv")
    (tmp_path / "head.csv").write_text("voyage,ship,rajin_date\n")
    with pytest.raises(LabelError, match="no voyages"):
        read_voyages(tmp_path / "head.csv")


def test_cli_reports_a_bad_log_with_exit_2(tmp_path, capsys):
    from detector.cli.main import main

    bad = tmp_path / "bad.csv"
    bad.write_text("voyage,ship,rajin_date\n1,Angara,2023-13-01\n")
    rc = main(["reconcile", str(tmp_path), "--voyages", str(bad)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert (
        err
        == f"ccount reconcile: error: {bad}: line 2: rajin_date '2023-13-01' is not a date YYYY-MM-DD"
    )
