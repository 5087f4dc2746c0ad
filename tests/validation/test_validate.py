import pytest

from tcdecomp.cli import main
from tcdecomp.validation.report import Row


@pytest.mark.slow
def test_small_validation_passes_and_writes_the_report(tmp_path, capsys):
    # CI's small version of `tcdecomp validate`; the full one is `tcdecomp validate --full`.
    assert main(["validate", "--out-dir", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "every estimator inside its band" in report
    for family in ("gaussian-random", "gaussian-equicorrelated", "gaussian-blocks", "student-t", "mixture"):
        assert family in report
    for png in ("error_vs_budget.png", "estimate_vs_truth.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    assert "report" in capsys.readouterr().out


def test_a_row_outside_its_band_fails():
    assert not Row("f", "knn", 10, 1.0, 1.5, 0.5, 0.01, 0.1, 0.5, band=0.35).ok
    assert Row("f", "mws", 10, 1.0, 9.0, 8.0, 0.01, 0.1, 8.0, band=None).ok


def test_a_folder_holding_a_report_is_refused_unless_overwrite(tmp_path, capsys):
    (tmp_path / "report.md").write_text("an earlier report\n")
    (tmp_path / "estimate_vs_truth.png").write_bytes(b"\x89PNG old")
    assert main(["validate", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--overwrite" in err, err
    assert (tmp_path / "report.md").read_text() == "an earlier report\n"  # untouched
