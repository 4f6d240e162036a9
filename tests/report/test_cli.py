"""`nextbest evaluate` and `nextbest report` on the command line: their output, the HTML
file, and errors that name the file without a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from simulated_experiment import (
    Arm,
    assign,
    demo_population,
    history_records,
    serve,
    simulation_rng,
    write_history,
)

from helpers import DEMO_BUNDLE
from nextbest.bundle import Bundle
from nextbest.cli import main


@pytest.fixture(scope="module")
def experiment_log(tmp_path_factory: pytest.TempPathFactory, demo_bundle: Bundle) -> Path:
    arms = [
        Arm("control", 0.2, "none"),
        Arm("ranked", 0.4, "ranked", demo_bundle),
        Arm("explore", 0.4, "uniform", demo_bundle),
    ]
    rng = simulation_rng(8)
    population = demo_population(300, 8)
    rows = assign(arms, 300, rng)
    served = [s for arm in arms for s in serve(population, rows[arm.name], arm, rng)]
    return write_history(
        tmp_path_factory.mktemp("log"), history_records(population, served, rng, "exp-1")
    )


def test_report_prints_the_table_and_writes_one_self_contained_page(
    experiment_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    assert main(["report", "--history", str(experiment_log), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "experiment exp-1 (control: control)" in out
    assert "acceptance (accepted offers per decision)" in out
    assert f"wrote {page}" in out
    html = page.read_text()
    assert html.count("<svg") == 4
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert "<script" not in html
    assert "<link" not in html


def test_report_of_one_experiment_and_an_unknown_one(
    experiment_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = str(tmp_path / "r.html")
    assert (
        main(["report", "--history", str(experiment_log), "--experiment", "exp-1", "--html", page])
        == 0
    )
    capsys.readouterr()
    assert (
        main(["report", "--history", str(experiment_log), "--experiment", "nope", "--html", page])
        == 2
    )
    assert "carries experiment 'nope'" in capsys.readouterr().err


def test_an_unknown_control_arm_is_named(
    experiment_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "report",
            "--history",
            str(experiment_log),
            "--control",
            "nobody",
            "--html",
            str(tmp_path / "r.html"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--control" in err
    assert "no arm 'nobody'" in err


def test_evaluate_prints_every_estimator(
    experiment_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "evaluate",
            "--history",
            str(experiment_log),
            "--bundle",
            str(DEMO_BUNDLE),
            "--resamples",
            "100",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    for estimator in ("logged", "IPS", "SNIPS", "DR"):
        assert f"acceptance  {estimator}" in out
        assert f"value       {estimator}" in out
    assert "100 resamples, seed 0" in out
    assert "no contact pressure replayed" in out
    assert "warning: no overlap" in out  # the ranked arm's propensity-1 slots


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "--history", "{missing}", "--bundle", str(DEMO_BUNDLE)],
        ["evaluate", "--history", "{log}", "--bundle", "{missing}"],
        ["report", "--history", "{missing}"],
        ["evaluate", "--history", "{garbage}", "--bundle", str(DEMO_BUNDLE)],
        ["report", "--history", "{garbage}", "--html", "{tmp}/r.html"],
        ["report", "--history", "{log}", "--html", "{tmp}/no/such/dir/r.html"],
    ],
)
def test_errors_name_the_file_without_a_traceback(
    args: list[str],
    experiment_log: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("not a record\n")
    places = {
        "missing": str(tmp_path / "nowhere"),
        "log": str(experiment_log),
        "garbage": str(garbage),
        "tmp": str(tmp_path),
    }
    argv = [a.format(**places) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    named = next(a for a in argv if "nowhere" in a or "garbage" in a or "no/such" in a)
    assert named in err or Path(named).name in err
