"""The evaluation label table against its sources: every SNOMED CT code in the Challenge Dx mapping with the
stated abbreviation, every SCP code among PTB-XL's 71 statements with the stated superclass, every rule in the
engine's criteria table."""
from __future__ import annotations

import csv
import math

import pytest

from workbench.ecg.tables import load_table
from workbench.eval.datasets.ptbxl import read_statements
from workbench.eval.labels import load_label_map


@pytest.fixture(scope="module")
def snomed(ecg_data) -> dict[str, str]:
    names = {}
    for path in sorted((ecg_data / "dx_mapping").glob("*.csv")):
        with path.open(newline="") as handle:
            names |= {row["SNOMEDCTCode"].strip(): row["Abbreviation"].strip() for row in csv.DictReader(handle)}
    return names


@pytest.fixture(scope="module")
def scp(ecg_data) -> dict[str, str]:
    return read_statements(ecg_data / "ptbxl" / "scp_statements.csv")


def test_every_label_code_exists_in_its_source(snomed, scp):
    label_map = load_label_map()
    criteria = load_table("criteria")
    assert len(scp) == 71
    for lab in label_map.labels:
        assert lab.rule in criteria, lab
        assert lab.snomed and all(code in snomed for code in lab.snomed), lab
        assert snomed[lab.snomed[0]] == lab.abbr, lab
        assert criteria[lab.rule]["code"] in lab.snomed, lab  # the finding code is one of the truth codes
        assert all(code in scp for code in lab.scp), lab
        diagnostic = {scp[c] for c in lab.scp if scp[c]}
        if diagnostic:  # where PTB-XL gives a class, ours is that class
            assert diagnostic == {lab.superclass}, lab
        elif lab.superclass:
            assert lab.superclass_source.startswith("workbench:"), lab  # our assignment, said so
    for code, row in label_map.snomed_superclass.items():
        assert snomed[code] == row["abbr"] and scp[row["scp"]] == row["superclass"], code
    assert set(label_map.superclasses) == {c for c in scp.values() if c}


def test_truth_and_superclass_scores():
    label_map = load_label_map()
    truth = label_map.truth_from_snomed(["59118001", "164865005"])  # RBBB + MI
    assert truth["RBBB"] == 1 and truth["sc_CD"] == 1 and truth["sc_MI"] == 1 and truth["sc_NORM"] == 0
    assert "sc_NORM" not in label_map.truth_from_snomed(["426783006"])  # sinus rhythm alone: NORM unknown
    scores = {lab.id: 0.0 for lab in label_map.labels} | {"NSR": 0.9, "RBBB": 0.7, "LQT": math.nan}
    sc = label_map.superclass_scores(scores)
    assert sc["sc_CD"] == 0.7 and sc["sc_STTC"] == 0.0
    assert sc["sc_NORM"] == pytest.approx(0.3)  # min(0.9, 1 - 0.7)
    assert label_map.labels_for_code("164931005") == ["STE"]
