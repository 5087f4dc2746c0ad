"""Named columns: DataFrames and columns= in, names in every table, dict and JSON, groups by name; the MI
matrix against its terms; the pictures render to PNG."""

import json

import numpy as np
import pytest

from tcdecomp import Samples

pd = pytest.importorskip("pandas")

NAMES = ["age", "income", "score", "noise"]


def frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    cov = np.eye(4) + 0.5 * (np.eye(4, k=1) + np.eye(4, k=-1))
    return pd.DataFrame(rng.multivariate_normal(np.zeros(4), cov, n), columns=NAMES)


def test_a_dataframe_gives_the_same_numbers_with_its_names():
    df = frame()
    named, plain = Samples(df), Samples(df.to_numpy())
    assert float(named.total_correlation()) == float(plain.total_correlation())
    assert named.columns == tuple(NAMES) and "columns=['age'" in repr(named)
    dec = named.decompose("line")
    assert dec.total == pytest.approx(plain.decompose("line").total, abs=1e-12)
    table = dec.table()
    assert "I(age; income)" in table and "I(age, income, score; noise)" in table
    d = json.loads(dec.to_json())
    assert d["columns"] == NAMES and d["terms"][0]["names"] == [["age"], ["income"]]
    assert d["terms"][0]["groups"] == [[0], [1]]  # the indices stay beside the names


def test_groups_and_orders_by_name():
    df = frame(seed=1)
    s = Samples(df, method="copula")
    assert float(s.multi_information([["age", "income"], ["score"]])) == float(s.multi_information([[0, 1], [2]]))
    grouped = s.decompose("grouped", groups=[["age", "income"], ["score", "noise"]])
    assert grouped.total == pytest.approx(s.decompose("grouped", groups=[[0, 1], [2, 3]]).total, abs=1e-12)
    line = s.decompose("line", order=["noise", "score", "income", "age"])
    assert line.term_label(line.plan.terms[0]) == "I(noise; score)"  # the order given, by name
    assert line.plan.terms == s.decompose("line", order=[3, 2, 1, 0]).plan.terms
    unnamed = Samples(df.to_numpy(), columns=NAMES)
    assert unnamed.columns == tuple(NAMES)


def test_independence_test_by_name_on_some_columns():
    s = Samples(frame(seed=5), method="copula")
    chained = s.independence_test(groups=[["age"], ["income"]], permutations=39)
    assert chained.groups == (("age",), ("income",)) and chained.p_value == 1 / 40
    apart = s.independence_test(groups=[["age"], ["noise"]], permutations=39)  # 3 links apart: independent
    assert apart.statistic == pytest.approx(float(s.multi_information([[0], [3]])), rel=1e-12)
    assert apart.p_value > 0.05


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Samples(frame().assign(city="x")), "column 'city'"),
        (lambda: Samples(frame().assign(flag=True)), "boolean"),
        (lambda: Samples(frame().set_axis(["a", "a", "b", "c"], axis=1)), "repeat"),
        (lambda: Samples(frame(), columns=NAMES), "leave columns= unset"),
        (lambda: Samples(frame().to_numpy(), columns=NAMES[:3]), "3 names for the 4 columns"),
        (lambda: Samples(frame()).multi_information([["age"], ["height"]]), "no column named 'height'"),
        (lambda: Samples(frame().to_numpy()).multi_information([["age"], [1]]), "no column names"),
        (lambda: Samples(frame()).mi_matrix(groups=[["age", "income"]]), "at least 2"),
        (lambda: Samples(frame()[["age"]], method="copula").mi_matrix(), "needs at least 2 columns"),
        (lambda: Samples(frame().iloc[:0]), "but no rows"),
        (lambda: Samples(frame()).mi_matrix(groups=[["age", "income"], ["income"]]), "disjoint"),
        (lambda: Samples(frame()).decompose("line", order=["age", "income", "score", "weight"]), "'weight'"),
        # pandas' missing value in a nullable column, named (it used to surface as "not a numeric array")
        (
            lambda: Samples(frame().astype({"age": "Float64"}).assign(age=lambda f: f.age.where(f.index != 7))),
            r"column 'age' holds NaN, inf or a missing value \(first at row 7\)",
        ),  # fmt: skip
        (lambda: Samples(frame().assign(income=np.inf)), "column 'income' holds NaN, inf"),
        (lambda: Samples(np.where(np.arange(4) == 2, np.nan, frame().to_numpy()), columns=NAMES), "column 'score'"),
        (lambda: Samples(frame().set_axis(["", "b", "c", "d"], axis=1)), "x's column names must hold non-empty"),
        # integer labels that are not the positions: a pandas user means the label, an index the position
        (
            lambda: Samples(frame().set_axis([3, 2, 1, 0], axis=1)).multi_information([[0], [1]]),
            "0 is the position of column '3' and the name of column 3; give the column by name as a string",
        ),  # fmt: skip
    ],
)
def test_bad_names_are_one_line_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("method", ["gaussian", "copula", "knn"])
def test_mi_matrix_holds_every_pairwise_term(method):
    s = Samples(frame(seed=2), method=method)
    m = s.mi_matrix()
    assert m.labels == tuple(NAMES) and m.values.shape == (4, 4)
    np.testing.assert_array_equal(m.values, m.values.T)
    assert np.all(np.diag(m.values) == 0)
    for i in range(4):
        for j in range(i + 1, 4):
            mi = s.multi_information([[i], [j]])
            assert m.values[i, j] == pytest.approx(float(mi), abs=1e-12)
            assert m.stderr[i, j] == pytest.approx(mi.stderr, abs=1e-12)
    by_group = s.mi_matrix(groups=[["age", "income"], ["score"], ["noise"]])
    assert by_group.labels == ("age, income", "score", "noise")
    assert by_group.values[0, 1] == pytest.approx(float(s.multi_information([[0, 1], [2]])), abs=1e-12)
    assert json.dumps(by_group.to_dict()) and "age, income" in by_group.table()


def test_pictures_render_to_png(tmp_path):
    pytest.importorskip("matplotlib")
    s = Samples(frame(seed=3))
    for path in ("bottom_up", "line", "top_down"):
        s.decompose(path).plot(tmp_path / f"{path}.png")
        assert (tmp_path / f"{path}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    s.decompose("grouped", groups=[["age", "income"], ["score", "noise"]]).plot(tmp_path / "grouped.png")
    s.mi_matrix().plot(tmp_path / "mi.png")
    assert (tmp_path / "mi.png").stat().st_size > 2000
    with pytest.raises(ValueError, match="png"):
        s.mi_matrix().plot(tmp_path / "mi.jpg")
    # nothing is replaced unless asked, and the path is checked before any drawing
    before = (tmp_path / "mi.png").read_bytes()
    with pytest.raises(ValueError, match="exists; pass overwrite=True"):
        s.mi_matrix().plot(tmp_path / "mi.png")
    assert (tmp_path / "mi.png").read_bytes() == before
    with pytest.raises(ValueError, match="exists; pass overwrite=True"):
        s.decompose("line").plot(tmp_path / "line.png")
    s.decompose("line").plot(tmp_path / "line.png", overwrite=True)
    with pytest.raises(ValueError, match="folder .* does not exist"):
        s.mi_matrix().plot(tmp_path / "missing" / "mi.png")


def test_the_command_line_checks_the_plot_path_first(tmp_path, capsys):
    from tcdecomp.cli import main

    frame(seed=4).to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "tree.png").write_bytes(b"keep")
    assert main(["estimate", str(tmp_path / "data.csv"), "--plot", str(tmp_path / "tree.png")]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "tree.png").read_bytes() == b"keep"
    pytest.importorskip("matplotlib")
    assert main(["estimate", str(tmp_path / "data.csv"), "--plot", str(tmp_path / "tree.png"), "--overwrite"]) == 0
    assert (tmp_path / "tree.png").read_bytes()[:4] == b"\x89PNG"


def test_csv_through_the_command_line(tmp_path, capsys):
    from tcdecomp.cli import main

    frame(seed=4).to_csv(tmp_path / "data.csv", index=False)
    assert main(["estimate", str(tmp_path / "data.csv"), "--method", "copula", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["decomposition"]["columns"] == NAMES
    args = ["estimate", str(tmp_path / "data.csv"), "--test-independence", "--permutations", "19"]
    assert main([*args, "--plot", str(tmp_path / "tree.png")]) == 0
    text = capsys.readouterr().out
    assert "independence test (gaussian, 19 permutations)" in text and "p = 0.05" in text
    assert (tmp_path / "tree.png").exists()
    (tmp_path / "bad.csv").write_text("a,b\n1,x\n2,y\n")
    assert main(["estimate", str(tmp_path / "bad.csv")]) == 2
    assert "column 'b'" in capsys.readouterr().err


def test_data_checks_name_the_columns():
    # the degenerate-data refusals and the tie warning speak in the data's names, not its positions
    df = frame()
    with pytest.raises(ValueError, match=r"constant columns \['score'\]"):
        Samples(df.assign(score=1.0))
    with pytest.raises(ValueError, match=r"linearly dependent columns \['age', 'noise'\]"):
        Samples(df.assign(noise=2 * df.age - 1))
    with pytest.raises(ValueError, match=r"columns \['income', 'noise'\] are strictly monotone"):
        Samples(df.assign(noise=np.exp(df.income)), method="copula")
    with pytest.warns(UserWarning, match=r"columns \['score'\] of x repeat many values"):
        Samples(df.assign(score=np.round(df.score)), method="copula")


def test_integer_labels_beyond_the_positions_are_the_labels():
    # columns labelled 10, 20, 30, 40: 30 is no position, so it can only mean the label (it was refused as out of
    # range); the same frame labelled by its positions gives the same number
    df = frame()
    labelled = Samples(df.set_axis([10, 20, 30, 40], axis=1), method="copula")
    by_position = Samples(df, method="copula")
    assert float(labelled.multi_information([[10], [30, 40]])) == float(by_position.multi_information([[0], [2, 3]]))
    with pytest.raises(ValueError, match="column 50 is out of range"):
        labelled.multi_information([[10], [50]])


def test_integer_labels_equal_to_positions_need_no_quotes():
    df = frame().set_axis([0, 1, 2, 3], axis=1)
    s = Samples(df, method="copula")
    assert float(s.multi_information([[0], [1]])) == float(s.multi_information([["0"], ["1"]]))
