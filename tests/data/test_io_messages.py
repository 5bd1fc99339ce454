"""Messages that used to mislead (issue 12): bad byte position, duplicated header, binary files named .csv, cut files."""

from __future__ import annotations

import pandas as pd
import pytest

from modqa_lib.data.io import read_raw_table
from modqa_lib.errors import InputFileError

CSV = "decision_id,label,vendor\nd1,spam_scam,Vendor A\nd2,no_violation,Vendor B\nd3,hate_speech,Vendor C\n"


def _write(tmp_path, data: bytes, name: str = "decisions.csv"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_bad_byte_reported_at_its_line_and_byte(tmp_path):
    data = CSV.encode().replace(b"Vendor B", b"Vendor \xe9B")
    p = _write(tmp_path, data)
    with pytest.raises(InputFileError) as e:
        read_raw_table(p)
    off = data.index(b"\xe9")
    assert f"byte 0xe9 at line 3, byte 24 of the line (offset {off} in the file)" in str(e.value)


def test_bad_byte_far_into_a_big_file(tmp_path):
    rows = "".join(f"d{i},spam_scam,Vendor A\n" for i in range(20000))
    data = ("decision_id,label,vendor\n" + rows).encode() + b"d_x,spam_scam,Vendor \xff\n"
    p = _write(tmp_path, data)
    with pytest.raises(InputFileError, match=r"at line 20002, byte 22 of the line"):
        read_raw_table(p)


def test_duplicated_header_said_as_such(tmp_path):
    p = _write(tmp_path, b"decision_id,label,vendor,label\nd1,spam_scam,Vendor A,spam_scam\n")
    with pytest.raises(InputFileError, match=r"duplicated header: 'label' in columns 2, 4"):
        read_raw_table(p)


def test_parquet_named_csv(tmp_path):
    p = tmp_path / "decisions.csv"
    pd.DataFrame({"a": [1]}).to_parquet(p)
    with pytest.raises(InputFileError, match="this is a parquet file: rename it to .parquet"):
        read_raw_table(p)


def test_xlsx_named_csv(tmp_path):
    p = _write(tmp_path, b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(InputFileError, match=r"Excel/OpenDocument spreadsheet \(.xlsx\)"):
        read_raw_table(p)


def test_csv_cut_short(tmp_path):
    p = _write(tmp_path, CSV.encode() + b"d4,spam_sc")
    with pytest.raises(InputFileError, match=r"last row \(data row 4\) has 2 of 3 fields and no final line break"):
        read_raw_table(p)


def test_complete_csv_without_final_newline_is_read(tmp_path):
    p = _write(tmp_path, CSV.encode().rstrip(b"\n"))
    assert len(read_raw_table(p)) == 3
