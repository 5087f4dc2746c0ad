"""The README's Python snippets run as written (the user's own training loop, the quickstarts)."""

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_training_beta_stcvae_in_your_own_loop():
    block = next(b for b in BLOCKS if "loss_fn.after_step(out)" in b)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    parts = scope["parts"]
    assert {"recon", "mi", "tc_groups", "tc_within", "dim_kl", "elbo"} <= set(parts)
    assert all(abs(v) < 1e6 for v in parts.values())


def test_every_python_block_compiles():
    # a snippet with a syntax error fails here before a user copies it
    for block in BLOCKS:
        compile(block, "README.md", "exec")


@pytest.mark.parametrize("title", ["A Gaussian, in closed form"])
def test_quickstart_snippets(title, capsys):
    section = README.split(f"### {title}", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})
    assert "0.5635" in capsys.readouterr().out


def test_metrics_snippet_prints_what_its_comment_says(capsys):
    section = README.split("### Metrics of a trained model", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "0.958 ['factor_entropy', 'mi', 'mig', 'per_factor']"
    assert lines[1] == "['dci', 'sap', 'modularity', 'factorvae', 'betavae']"


def test_named_columns_snippet_runs_and_draws(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    section = README.split("### Named columns, a test of independence, pictures", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "I(age, income; score, noise)" in out and "independence test (copula, 199 permutations)" in out
    for picture in ("tree.png", "mi.png"):
        assert (tmp_path / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_trust_snippet_prints_what_its_comments_say(capsys):
    section = README.split("### How far to trust a number", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})
    notes, tc, test = capsys.readouterr().out.splitlines()
    assert notes.startswith("auto chose copula:")
    # the resampled rows come from scipy's bootstrap, whose draws may differ between scipy versions
    value, stderr, low, high = (float(t) for t in re.findall(r"\d+\.\d+", tc))
    assert value == 0.3679 and stderr == pytest.approx(0.016, rel=0.2)
    assert low < 0.3466 < high and high - low == pytest.approx(4 * stderr, rel=0.25)
    assert test.endswith("p = 0.005")
