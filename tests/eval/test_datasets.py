"""Dataset adapters on the real shared folders and on generated fixtures, and their early, typed errors."""
from __future__ import annotations

import json
import shutil

import pytest

from workbench.errors import InputError
from workbench.eval.datasets import DatasetError, open_dataset, parse_spec

from .fixtures import image_folder, instruct_jsonl, store_with_validations, tiny_ptbxl


# ====================================================================== shared data
def test_cinc2021_records_carry_their_dx_labels(ecg_data):
    records = {r.id: r for r in open_dataset(f"cinc2021:{ecg_data / 'cinc2021'}")}
    assert len(records) == 25
    e = records["cinc2021/E07500"]  # LAE, SB; 78 Male
    assert (e.age, e.sex) == (78, "M")
    assert e.labels["SB"] == 1 and e.labels["NSR"] == 0 and e.labels["sc_HYP"] == 1 and e.labels["sc_NORM"] == 0
    assert records["cinc2021/E07510"].labels["RBBB"] == 1
    assert records["cinc2021/JS20004"].labels["LVH"] == 1  # LVHV counts as LVH
    assert sum(r.labels["STach"] for r in records.values()) == 10
    assert "sc_NORM" not in records["cinc2021/HR06004"].labels  # NSR alone: 'normal ECG' unknown


def test_cpsc2021_record_level_af_and_per_second_episodes(ecg_data):
    records = {r.id: r for r in open_dataset(f"cpsc2021:{ecg_data / 'cpsc2021'}")}
    assert len(records) == 9
    assert sum(r.labels["AF"] for r in records.values()) == 6
    assert list(records["cpsc2021/data_21_7"].labels) == ["AF"]  # nothing else is known
    non_af, parox, persistent = records["cpsc2021/data_21_7"], records["cpsc2021/data_101_6"], records["cpsc2021/data_84_1"]
    assert non_af.extra["af_truth_episodes"] == []
    n = parox.extra["n_seconds"]
    assert 0 < sum(b - a for a, b in parox.extra["af_truth_episodes"]) < n
    assert sum(b - a for a, b in persistent.extra["af_truth_episodes"]) > 0.95 * persistent.extra["n_seconds"]


def test_ptbxl_excerpt_and_ptb_diagnostic(ecg_data):
    (x,) = open_dataset(f"ptbxl:{ecg_data / 'ptbxl'}")
    assert x.id == "ptbxl/00001" and (x.age, x.sex) == (56, "F") and x.extra["strat_fold"] == 3
    assert x.labels["NSR"] == 1 and x.labels["LQRSV"] == 1 and x.labels["sc_NORM"] == 1 and x.labels["sc_MI"] == 0
    assert "LAD" not in x.labels  # PTB-XL has no axis statement: unknown, not negative
    (p,) = open_dataset(f"ptbdb:{ecg_data / 'ptbdb'}")
    assert p.labels == {"sc_NORM": 0, "sc_MI": 1} and (p.age, p.sex) == (81, "F")


# ====================================================================== generated fixtures
def test_tiny_ptbxl_folder(tmp_path, ecg_data):
    folder = tiny_ptbxl(tmp_path / "ptbxl", ecg_data / "ptbxl" / "scp_statements.csv")
    records = {r.id: r for r in open_dataset(f"ptbxl:{folder}")}
    assert list(records) == ["ptbxl/00001", "ptbxl/00002", "ptbxl/00003"]
    two, three = records["ptbxl/00002"], records["ptbxl/00003"]
    assert two.labels["LBBB"] == 1 and two.labels["AF"] == 1 and two.labels["sc_MI"] == 1 and two.labels["sc_CD"] == 1
    assert two.labels["sc_NORM"] == 0 and two.age == 90 and two.sex == "M"  # 300 = anonymised > 89
    assert three.labels["LVH"] == 1 and three.labels["TAb"] == 1 and three.labels["sc_HYP"] == 1 and three.labels["sc_STTC"] == 1
    assert [r.id for r in open_dataset(f"ptbxl:{folder}?folds=9,10")] == ["ptbxl/00002", "ptbxl/00003"]
    with pytest.raises(DatasetError, match="lacks 3 record"):
        open_dataset(f"ptbxl:{folder}?rate=hr")


def test_ptbxl_errors_name_what_is_missing(tmp_path, ecg_data):
    folder = tiny_ptbxl(tmp_path / "ptbxl", ecg_data / "ptbxl" / "scp_statements.csv")
    (folder / "records100" / "00000" / "00002_lr.dat").unlink()
    with pytest.raises(DatasetError, match=r"lacks 1 record\(s\) named in ptbxl_database.csv: records100/00000/00002_lr"):
        open_dataset(f"ptbxl:{folder}")
    (folder / "scp_statements.csv").unlink()
    with pytest.raises(DatasetError, match="lacks scp_statements.csv"):
        open_dataset(f"ptbxl:{folder}")
    with pytest.raises(DatasetError, match="does not exist"):
        open_dataset(f"ptbxl:{tmp_path / 'nowhere'}")
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(ecg_data / "ptbxl" / "scp_statements.csv", empty)
    with pytest.raises(DatasetError, match="has no ptbxl_database.csv"):
        open_dataset(f"ptbxl:{empty}")


def test_wfdb_folder_errors(tmp_path, ecg_data):
    folder = tmp_path / "cinc"
    folder.mkdir()
    with pytest.raises(DatasetError, match="contains no WFDB header"):
        open_dataset(f"cinc2021:{folder}")
    shutil.copy(ecg_data / "cinc2021" / "E07500.hea", folder)
    with pytest.raises(DatasetError, match="lacks signal files named by its headers: E07500: E07500.mat"):
        open_dataset(f"cinc2021:{folder}")
    cpsc = tmp_path / "cpsc"
    cpsc.mkdir()
    for suffix in (".hea", ".dat"):
        shutil.copy(ecg_data / "cpsc2021" / f"data_21_7{suffix}", cpsc)
    with pytest.raises(DatasetError, match="lacks annotation files: data_21_7.atr"):
        open_dataset(f"cpsc2021:{cpsc}")


def test_instruct_jsonl_both_shapes(tmp_path):
    path = instruct_jsonl(tmp_path)
    a, b = open_dataset(f"ecginstruct:{path}")
    assert a.question == "Interpret this ECG." and "right bundle branch block" in a.reference
    assert a.labels["NSR"] == 1 and a.labels["RBBB"] == 1 and a.labels["STE"] == 0  # denied ST elevation
    assert b.question == "What is the rhythm?" and b.labels["AF"] == 1 and b.labels["LVH"] == 1
    assert b.path.endswith("img/b.png")


@pytest.mark.parametrize("line, message", [
    ("{not json", "line 1 is not valid JSON"),
    (json.dumps({"id": "x", "image": "img/a.png", "question": "q"}), "has no reference answer"),
    (json.dumps({"id": "x", "image": "img/missing.png", "question": "q", "answer": "AF"}), "missing.png does not exist"),
])
def test_instruct_jsonl_errors(tmp_path, line, message):
    instruct_jsonl(tmp_path)
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(DatasetError, match=message):
        open_dataset(f"jsonl:{path}")


def test_image_folder_with_labels_csv(tmp_path):
    one, two = open_dataset(f"images:{image_folder(tmp_path)}")
    assert one.id == "images/one" and (one.age, one.sex) == (70, "M")
    assert one.labels["AF"] == 1 and one.labels["RBBB"] == 1 and one.labels["NSR"] == 0 and "sc_MI" not in one.labels
    assert two.id == "images/sub/two" and two.labels["AF"] == 0 and two.labels["sc_MI"] == 1 and two.sex == "F"


def test_image_folder_errors(tmp_path):
    image_folder(tmp_path)
    (tmp_path / "sub" / "two.jpg").unlink()
    with pytest.raises(DatasetError, match="names pictures missing from .*: sub/two.jpg"):
        open_dataset(f"images:{tmp_path}")
    (tmp_path / "labels.csv").write_text("name,codes\nx.png,AF\n")
    with pytest.raises(DatasetError, match="has no 'file' column"):
        open_dataset(f"images:{tmp_path}")
    (tmp_path / "labels.csv").unlink()
    with pytest.raises(DatasetError, match="has no labels table labels.csv"):
        open_dataset(f"images:{tmp_path}")


def test_store_cases_with_validations(tmp_path):
    db, _ = store_with_validations(tmp_path)
    (record,) = open_dataset(f"store:{db}")
    assert record.labels == {"NSR": 1, "RBBB": 0, "AF": 0, "LQT": 1}
    assert (record.age, record.sex) == (60, "M") and record.path.endswith(".csv")
    by_code = {v["code"]: v for v in record.extra["validations"]}
    assert by_code["164873001"]["clinician"] is None and by_code["59118001"]["stated"] is True


def test_store_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        open_dataset(f"store:{tmp_path / 'none.db'}")
    from workbench.store import CaseStore

    CaseStore(tmp_path / "empty.db").close()
    with pytest.raises(DatasetError, match="holds no run with a clinician's verdict"):
        open_dataset(f"store:{tmp_path / 'empty.db'}")


def test_specs_and_errors_are_input_errors():
    assert parse_spec("ptbxl:/data/ptb-xl?folds=10&rate=hr")[2] == {"folds": "10", "rate": "hr"}
    with pytest.raises(DatasetError, match="must be given as KIND:PATH"):
        open_dataset("cinc2021")
    with pytest.raises(DatasetError, match="Unknown dataset kind 'mimic'") as err:
        open_dataset("mimic:/x")
    assert isinstance(err.value, InputError)
