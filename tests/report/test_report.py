"""The report on fabricated sweep outputs: numbers, claims, and the written files."""

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from ssmem.report import (
    Stat,
    memory_extension,
    paired_verdict,
    sweep_findings,
    generalization_gap,
    group_runs,
    load_runs,
    lra_findings,
    mass_delay,
    steps_to_fraction,
    task_name,
    write_report,
)
from ssmem.report.collect import Curve, RunData
from ssmem.report.tables import decay_times
from ssmem.sweep import Store, parse_grid

SEEDS = (1, 2, 3)
TASKS = ("listops", "text", "retrieval")
# test accuracy per (task, train mode, seed): RC matches on text and retrieval, loses on listops
TEST_ACC = {
    ("listops", "all"): (0.40, 0.42, 0.44), ("listops", "reservoir"): (0.30, 0.31, 0.32),
    ("text", "all"): (0.70, 0.71, 0.72), ("text", "reservoir"): (0.71, 0.72, 0.73),
    ("retrieval", "all"): (0.60, 0.62, 0.64), ("retrieval", "reservoir"): (0.61, 0.63, 0.64),
}
STEPS = np.array([100, 200, 300, 400])


def val_curve(mode, final):
    # learnable reaches 95% of its final value at step 400, reservoir already at step 200
    fractions = (0.5, 0.7, 0.9, 1.0) if mode == "all" else (0.6, 0.96, 0.98, 1.0)
    return [final * f for f in fractions]


def fabricate(tmp_path, *, trained_mf_scale=1.0, decay_factor=1.0, rotation=0.02):
    """A store of a small LRA grid; learnable runs' modes (|Ā| = 0.99) turn by ``rotation`` radians and their
    decay times grow ``decay_factor``-fold (a reservoir's stay put)."""
    grid = parse_grid({
        "name": "fab", "seeds": list(SEEDS),
        "studies": [
            {"name": "main", "recipes": [f"lra/{t}-cpu" for t in TASKS], "eigs": ["s4d-inv"],
             "train": ["all", "reservoir"]},
            {"name": "freeze-fraction", "recipes": ["lra/listops-cpu"], "eigs": ["s4d-inv"], "seeds": [1, 2],
             "axes": {"model.freeze_fraction": [0.0, 0.5, 1.0]}},
        ],
    })
    store = Store(tmp_path / "runs.db")
    store.add_runs(grid.runs())
    ids = [s.run_id for s in grid.runs()]
    for spec in grid.runs():
        claim = store.claim([spec.run_id], worker="w:1")
        run_dir = tmp_path / "runs" / spec.run_id
        run_dir.mkdir(parents=True)
        store.set_run_dir(claim, run_dir)
        task = task_name(spec.recipe)
        if spec.study == "main":
            test = TEST_ACC[(task, spec.train_mode)][SEEDS.index(spec.seed)]
            mode = spec.train_mode
        else:
            test = 0.4 + 0.1 * spec.params["model.freeze_fraction"] + 0.01 * spec.seed
            mode = "all"
        val = val_curve(mode, test)
        train_final = test + (0.20 if mode == "all" else 0.05)  # learnable overfits more
        lines = []
        for step, v in zip(STEPS, val):
            lines.append({"step": int(step), "split": "train", "loss": 2.0 - v, "accuracy": v + 0.1, "lr": 1e-3})
            lines.append({"step": int(step), "split": "val", "loss": 2.1 - v, "accuracy": v})
        lines[-2]["accuracy"] = train_final
        lines.append({"step": 400, "split": "test", "loss": 1.0, "accuracy": test, "weights": "best"})
        (run_dir / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"step": 4')
        mf0 = np.zeros(64)
        mf0[:20] = 1.0  # memory length (90% of the sum) = 17
        mf1 = np.zeros(64)
        mf1[: int(20 * trained_mf_scale)] = 1.0
        initial = np.full((2, 3), 0.99 + 0j)  # (H, n_modes)
        trained = initial
        if mode == "all":  # ln|Ā| divided by the factor: decay times τ = -1/ln|Ā| multiplied by it
            trained = np.abs(initial) ** (1 / decay_factor) * np.exp(1j * (np.angle(initial) + rotation))
        eigenvalues = {"layer0_eigenvalues": np.stack([initial, trained])}
        np.savez(run_dir / "memory_endpoints.npz", step=np.array([0, 400]),
                 layer0_mf=np.stack([mf0, mf1]), layer0_capacity=np.array([[20.0, 20.0], [20.0, 20.0]]),
                 layer1_mf=np.stack([mf0, mf1]), layer1_capacity=np.array([[20.0, 20.0], [20.0, 20.0]]),
                 **eigenvalues)
        frozen = 1000 if spec.train_mode == "reservoir" else 0
        store.finish(claim, {
            "status": "completed", "steps": 400, "metric": "accuracy", "higher_is_better": True,
            "test_metric": test, "best_val_metric": val[-1], "final_val_metric": val[-1], "task": f"lra/{task}",
            "param_counts": {"trainable": 9000 - frozen, "frozen": frozen}, "wall_time_s": 12.0,
        })
    # one failed run, which the report lists and leaves out of the numbers
    store.add_runs(parse_grid({"name": "x", "recipes": ["lra/text-cpu"], "seeds": [9]}).runs())
    extra = [r.run_id for r in store.runs(status="pending")]
    store.fail(store.claim(extra, worker="w:1"), "RuntimeError: out of memory")
    store.close()
    assert len(ids) == 18 + 6
    return tmp_path / "runs.db"


def test_stat_and_per_run_measures():
    s = Stat.of([0.40, 0.42, 0.44, None])
    assert s.n == 3 and s.mean == pytest.approx(0.42) and s.std == pytest.approx(0.02)
    assert s.fmt(100) == "42.00 ± 2.00" and Stat.of([0.5]).fmt(100) == "50.00" and Stat.of([]).fmt() == "–"
    run = RunData(run_id="r", study="main", recipe="lra/listops-cpu", task="listops", eigs="s4d-inv",
                  train_mode="all", seed=1, params={}, status="done", metric="accuracy", higher_is_better=True,
                  test_metric=0.6, best_val_metric=0.6, final_val_metric=0.6, steps=40, wall_time_s=1.0,
                  trainable=1, frozen=0, curves={
                      "val": {"accuracy": Curve(np.array([10, 20, 30, 40]), np.array([0.2, 0.5, 0.58, 0.6]))},
                      "train": {"accuracy": Curve(np.array([10, 40]), np.array([0.5, 0.9]))}})
    assert steps_to_fraction(run) == 30  # 0.95 * 0.6 = 0.57 first reached at step 30
    assert steps_to_fraction(run, 0.8) == 20
    assert generalization_gap(run) == pytest.approx(0.3)
    assert mass_delay(np.ones(10)) == 8  # cumsum reaches 9 = 90% of 10 at delay 8
    assert mass_delay(np.r_[np.ones(3), np.zeros(5)]) == 2


def test_groups_claims_and_curves_from_fabricated_store(tmp_path):
    runs = load_runs(fabricate(tmp_path))
    assert len(runs) == 24  # the failed run is not loaded
    main = [r for r in runs if r.study == "main"]
    rows = group_runs(main)
    assert [(r.task, r.train_mode) for r in rows] == [(t, m) for t in TASKS for m in ("all", "reservoir")]
    for r in rows:
        expected = np.array(TEST_ACC[(r.task, r.train_mode)])
        assert r.test.mean == pytest.approx(expected.mean()) and r.test.std == pytest.approx(expected.std(ddof=1))
        assert r.convergence_steps.mean == (400 if r.train_mode == "all" else 200)
        assert r.gap.mean == pytest.approx(0.20 if r.train_mode == "all" else 0.05)
        assert r.memory_length_initial.mean == 17 and r.capacity_trained.mean == 20.0
    # the -cpu recipes' data are stand-ins: no published number beside them
    assert all(r.published is None and not r.lra_data for r in rows)
    assert all(len(r.curve("val", "accuracy").steps) == 4 for r in main)  # the torn last line is skipped
    findings = lra_findings(rows)
    statuses = [f.status for f in findings]
    # faster, overfits less, matches on most tasks (2 of 3), ListOps exception, ~10% frozen, memory barely grows
    assert statuses == ["confirmed", "confirmed", "confirmed", "confirmed", "confirmed", "confirmed"]
    faster, overfits, match, listops = findings[:4]
    assert "Student t 95% interval of the mean per-seed paired difference" in faster.evidence
    assert "listops/s4d-inv: -200 steps [95% CI -200, -200], n = 3 → confirmed" in faster.evidence
    assert faster.evidence.endswith("pairs: 3 confirmed of 3 (majority rule)")
    # gaps 0.05 vs 0.20 in every seed, in accuracy points
    assert "text/s4d-inv: -15.00 pp [95% CI -15.00, -15.00], n = 3 → confirmed" in overfits.evidence
    # retrieval: seed differences +1, +1, 0 pp; mean 0.67, t_{0.975,2} · 0.577 / √3 = 1.43
    assert "retrieval/s4d-inv: +0.67 pp [95% CI -0.77, +2.10], n = 3" in match.evidence
    assert "listops/s4d-inv: -11.00 pp [95% CI -13.48, -8.52], n = 3" in match.evidence
    assert "per task (majority of its pairs): listops not confirmed, text confirmed, retrieval confirmed" in match.evidence
    assert "learnable − RC +11.00 pp [95% CI +8.52, +13.48], n = 3 → confirmed" in listops.evidence
    assert "one LRA block (H = 256, N = 64, bidirectional S4D + GLU + norm) in reservoir mode: 8.4% frozen" in findings[4].evidence
    assert "listops/s4d-inv: 1,000 of 9,000 (11.1%)" in findings[4].evidence
    assert "listops/s4d-inv: memory time ×1.00 [95% CI ×1.00, ×1.00], n = 3 runs" in findings[5].evidence


def test_published_numbers_only_beside_runs_on_the_lra_data(tmp_path):
    """A run's config.yaml decides: the paper-scale ListOps recipe is the LRA data; the paper-scale text recipe
    reads Shakespeare unless pointed at IMDB."""
    import yaml

    from ssmem.train import load_recipe
    from ssmem.train.config import config_to_dict

    fabricate(tmp_path)
    for run_dir in (tmp_path / "runs").iterdir():
        task = next(t for t in TASKS if f"-{t}-" in run_dir.name)
        config = config_to_dict(load_recipe(f"lra/{task}"))
        if task == "retrieval":
            config["task"]["params"]["source"] = "aan"
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    rows = group_runs([r for r in load_runs(tmp_path / "runs.db") if r.study == "main"])
    lra = {(r.task, r.train_mode): (r.lra_data, r.published) for r in rows}
    assert lra[("listops", "all")] == (True, 60.18) and lra[("listops", "reservoir")] == (True, None)
    assert lra[("text", "all")] == (False, None)  # Shakespeare, not IMDB
    assert lra[("retrieval", "all")] == (True, 91.09)


@pytest.mark.parametrize("rotation, status", [(0.004, "confirmed"), (1e-4, "inconclusive")])
def test_rc_comparisons_need_learnable_eigenvalues_that_moved(tmp_path, rotation, status):
    """Eigenvalues that hardly moved (below 5% of 1 - |Ā|) make RC and learnable nearly the same model."""
    rows = group_runs([r for r in load_runs(fabricate(tmp_path, rotation=rotation)) if r.study == "main"])
    findings = lra_findings(rows)
    assert [f.status for f in findings[:4]] == [status] * 4
    moved = "moved a median 1.0% of their distance" in findings[0].evidence  # |Δ| = 0.99 · 1e-4 of 0.01
    assert moved == ("under 5%" in findings[0].evidence) == (status == "inconclusive")
    assert findings[4].status == "confirmed"  # the frozen share stands
    assert findings[5].status == status  # memory cannot have grown with eigenvalues that did not move


def _pair(task, metric, higher, learnable, reservoir, *, recipe=None, learnable_seeds=None):
    """A grouped learnable/reservoir pair of ``task`` with the given test values per seed (seeds 0, 1, ...)."""
    def run(mode, seed, value):
        return RunData(run_id=f"{mode}{seed}", study="main", recipe=recipe or f"lra/{task}", task=task,
                       eigs="s4d-inv", train_mode=mode, seed=seed, params={}, status="done", metric=metric,
                       higher_is_better=higher, test_metric=value, best_val_metric=value, final_val_metric=value,
                       steps=10, wall_time_s=1.0, trainable=1, frozen=0)

    seeds = learnable_seeds or range(len(learnable))
    return [run("all", i, v) for i, v in zip(seeds, learnable)] + [run("reservoir", i, v) for i, v in enumerate(reservoir)]


def _forecast_match(learnable, reservoir):
    rows = group_runs(_pair("vic_elec", "mse", False, learnable, reservoir, recipe="forecast/vic_elec-cpu"))
    (finding,) = [f for f in sweep_findings(rows) if f.source == "forecasting sweep" and "matches" in f.claim]
    return finding


def test_matching_follows_the_metric_direction_and_needs_seeds_on_both_sides():
    # mean squared error: RC five times worse must not "match or beat" (it did: 0.50 >= 0.10 - 0.01)
    match = _forecast_match((0.10, 0.11), (0.50, 0.52))
    assert match.status == "not confirmed"
    assert match.claim == "RC matches or beats learnable eigenvalues (final test metric) on most forecasting tasks"
    assert "vic_elec/s4d-inv: -0.41 [95% CI -0.47, -0.34], n = 2 (RC 0.51 ± 0.01 vs learnable 0.11 ± 0.01; " \
           "tolerance −0.00105, mse: lower is better) → not confirmed" in match.evidence
    assert _forecast_match((0.50, 0.52), (0.10, 0.11)).status == "confirmed"
    # 0.9% worse in both seeds: within 1% of the learnable value
    assert _forecast_match((1.000, 1.000), (1.009, 1.009)).status == "confirmed"
    # 5x worse, though by less than 0.01: the tolerance is relative
    assert _forecast_match((0.001, 0.001), (0.005, 0.005)).status == "not confirmed"
    # one learnable seed left (the others failed): one pair, no interval, nothing confirmed
    few = lra_findings(group_runs(_pair("listops", "accuracy", True, (0.30,), (0.40, 0.41, 0.42))))
    assert [f.status for f in few[:4]] == ["inconclusive"] * 4
    assert "listops/s4d-inv: +10.00 pp, n = 1 (no interval from one pair)" in few[2].evidence
    # seeds that ran in one arm only are no pairs
    apart = lra_findings(group_runs(_pair("text", "accuracy", True, (0.3, 0.3), (0.4, 0.4), learnable_seeds=(7, 8))))
    assert apart[2].status == "inconclusive" and "text/s4d-inv: no pairs" in apart[2].evidence


def test_an_interval_that_straddles_the_tolerance_is_inconclusive():
    # RC − learnable: +3, −4, +2 pp; mean +0.33 pp, 95% CI about ±9.4 pp around it: contains −1 pp
    rows = group_runs(_pair("text", "accuracy", True, (0.50, 0.60, 0.55), (0.53, 0.56, 0.57)))
    match = lra_findings(rows)[2]
    assert match.status == "inconclusive"
    assert "text/s4d-inv: +0.33 pp [95% CI -9.07, +9.74], n = 3" in match.evidence
    # the same spread around a clear gain is confirmed, around a clear loss refuted
    assert lra_findings(group_runs(_pair("text", "accuracy", True, (0.50, 0.60, 0.55),
                                         (0.73, 0.76, 0.77))))[2].status == "confirmed"
    assert lra_findings(group_runs(_pair("text", "accuracy", True, (0.50, 0.60, 0.55),
                                         (0.33, 0.36, 0.37))))[2].status == "not confirmed"


def test_ties_count_neither_way():
    rows = group_runs(_pair("text", "accuracy", True, (0.9, 0.9), (0.9, 0.9)))
    # matching: a tie is within the tolerance; ListOps-style "ahead by more than 1 pp" or faster: not shown
    assert lra_findings(rows)[2].status == "confirmed"
    assert paired_verdict([0.0, 0.0], 0.0, "below").status == "inconclusive"


@pytest.mark.parametrize("factor, status", [(10.0, "not confirmed"), (1.5, "not confirmed"), (1.0, "confirmed"),
                                            (1.1, "confirmed")])
def test_memory_extension_reads_slower_decay_as_extended(tmp_path, factor, status):
    """Decay rates divided by 10 (τ = -1/ln|Ā| ten times longer) must read as extended, not barely."""
    rows = group_runs([r for r in load_runs(fabricate(tmp_path, decay_factor=factor)) if r.study == "main"])
    learnable = [r for r in rows if r.train_mode == "all"]
    assert all(r.memory_extension.mean == pytest.approx(factor) for r in learnable)
    assert all(r.memory_extension.mean == pytest.approx(1.0) for r in rows if r.train_mode == "reservoir")
    finding = lra_findings(rows)[5]
    assert finding.status == status
    assert f"listops/s4d-inv: memory time ×{factor:.2f} [95% CI ×{factor:.2f}, ×{factor:.2f}], n = 3 runs" in finding.evidence
    # the 90%-capacity delay of the finite-horizon MF, the rule this replaces, did not move at all here
    assert all(r.memory_length_initial.mean == r.memory_length_trained.mean for r in learnable)


def test_memory_extension_closed_form():
    modes = np.array([0.99, 0.9 * np.exp(0.3j), 0.5j])
    slower = np.abs(modes) ** 0.1 * np.exp(1j * np.angle(modes))  # ln|Ā| / 10
    assert memory_extension(modes, slower) == pytest.approx(10.0)
    assert memory_extension(modes, modes * np.exp(0.2j)) == pytest.approx(1.0)  # a turn keeps every decay rate
    # one of three modes ten times slower: the geometric mean 10^(1/3)
    assert memory_extension(modes, np.r_[slower[:1], modes[1:]]) == pytest.approx(10 ** (1 / 3))
    assert decay_times(np.array([np.exp(-0.01)])) == pytest.approx([100.0])
    with pytest.raises(ValueError, match=r"differ in shape: \(3,\) vs \(2,\)"):
        memory_extension(modes, modes[:2])


def test_write_report_files(tmp_path):
    store = fabricate(tmp_path)
    exp_dir = tmp_path / "experiments" / "fig1"
    exp_dir.mkdir(parents=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    fig.savefig(exp_dir / "fig1.png")
    plt.close(fig)
    (exp_dir / "results.json").write_text(json.dumps({
        "name": "fig1", "description": "MF of five sets", "quick": True, "seed": 0, "wall_time_s": 3.2,
        "figures": ["fig1.png"], "results": {"capacity_s4d_inv": 32.0,
                                             "table": [{"set": "s4d-inv", "capacity": 32.0}]},
        "findings": [{"claim": "HiPPO sets have long, low MF", "status": "confirmed", "evidence": "MF(500) > 0"}],
    }))
    report = write_report(store, tmp_path / "report", experiments_dir=tmp_path / "experiments")
    md = report.markdown_path.read_text()
    page = report.html_path.read_text()
    assert "| listops | s4d-inv | all | stand-in | 3 | accuracy (%) | 42.00 ± 2.00 | 42.00 ± 2.00 | – (other data) |" in md
    assert "Grid `fab` (24 runs)." in md and "| main | lra/listops-cpu, lra/text-cpu, lra/retrieval-cpu | s4d-inv |" in md
    assert "| listops | s4d-inv | reservoir | 9,000 | 1,000 | 11.1% |" not in md  # trainable is 8,000 for RC
    assert "| listops | s4d-inv | reservoir | 8,000 | 1,000 | 11.1% |" in md
    assert "| confirmed | HiPPO sets have long, low MF | MF(500) > 0 | experiment fig1 |" in md
    assert "| capacity_s4d_inv | 32 |" in md
    assert "## Ablation: freeze-fraction" in md and "Varied: model.freeze_fraction." in md
    # freeze fraction 0.5, seeds 1 and 2: 0.45 + 0.01 s -> mean 46.5, std 0.71
    assert "| listops | s4d-inv | recipe | 0.5 | 2 | 46.50 ± 0.71 |" in md
    assert "RuntimeError: out of memory" in md
    # every figure is a PNG, linked from the Markdown and embedded in the HTML
    names = {p.relative_to(report.out_dir).as_posix() for p in report.figures}
    assert names == {"figures/lra_test.png", "figures/convergence.png", "figures/curves_listops.png",
                     "figures/curves_text.png", "figures/curves_retrieval.png", "figures/memory_listops.png",
                     "figures/memory_text.png", "figures/memory_retrieval.png",
                     "figures/ablation_freeze-fraction_model.freeze_fraction.png",
                     "figures/experiments/fig1/fig1.png"}
    for name in names:
        data = (report.out_dir / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert f"]({name})" in md
    embedded = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(embedded) == len(names)
    assert all(base64.b64decode(e)[:4] == b"\x89PNG" for e in embedded)
    assert "<td class='confirmed'>confirmed</td>" in page


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results store at"):
        write_report(tmp_path / "nope.db", tmp_path / "out")


def test_several_stores_are_pooled(tmp_path):
    first = fabricate(tmp_path / "a")
    second = tmp_path / "b" / "shard1.db"
    with Store(second) as store:
        store.add_runs(parse_grid({"name": "s", "studies": [{"name": "main", "recipes": ["lra/image-cpu"],
                                                             "seeds": [5]}]}).runs())
        claim = store.claim([r.run_id for r in store.runs()], worker="w:2")
        store.finish(claim, {"test_metric": 0.875, "metric": "accuracy", "task": "lra/image"})
    report = write_report([first, second], tmp_path / "report")
    assert report.n_runs == {"pending": 0, "running": 0, "done": 25, "failed": 1}
    assert "| image | recipe | recipe | stand-in | 1 | accuracy (%) | 87.50 | – | – |" in report.markdown_path.read_text()


def test_a_store_given_twice_counts_each_run_once(tmp_path):
    import shutil

    first = fabricate(tmp_path)
    copy = tmp_path / "copy.db"
    shutil.copyfile(first, copy)
    report = write_report([first, copy], tmp_path / "report")
    assert report.n_runs == {"pending": 0, "running": 0, "done": 24, "failed": 1}
    assert "25 runs found in more than one store are counted once" in report.markdown_path.read_text()
    assert all(r.test.n == 3 for r in report.lra_rows)


def test_runs_that_differ_in_more_than_the_seed_are_not_pooled(tmp_path):
    path = tmp_path / "runs.db"
    grid = parse_grid({"name": "lr", "studies": [
        {"name": "main", "recipes": ["lra/image-cpu"], "seeds": [1, 2], "axes": {"optim.lr": [0.01, 0.003]}},
        {"name": "main-listops", "recipes": ["lra/listops-cpu"], "seeds": [1, 2], "train": ["all", "reservoir"]},
    ]})
    with Store(path) as store:
        store.add_runs(grid.runs())
        for spec in grid.runs():
            claim = store.claim([spec.run_id], worker="w:1")
            if "optim.lr" in spec.params:
                test, task = (0.5 if spec.params["optim.lr"] == 0.01 else 0.7) + 0.01 * spec.seed, "lra/image"
            else:
                test, task = 0.4 + 0.01 * spec.seed, "lra/listops"
            store.finish(claim, {"test_metric": test, "metric": "accuracy", "task": task,
                                 "param_counts": {"trainable": 100, "frozen": 0}})
    report = write_report(path, tmp_path / "report")
    md = report.markdown_path.read_text()
    assert "| task | set | train | setting | data | n | metric | test | best val | published S4D |" in md
    # the parameter table keeps one row per setting too (the second lr's row was dropped)
    assert "| task | set | train | setting | trainable | frozen | frozen share |" in md
    assert "| image | recipe | recipe | optim.lr=0.003 | 100 |" in md and "| image | recipe | recipe | optim.lr=0.01 | 100 |" in md
    assert "| image | recipe | recipe | optim.lr=0.003 | stand-in | 2 | accuracy (%) | 71.50 ± 0.71 |" in md
    assert "| image | recipe | recipe | optim.lr=0.01 | stand-in | 2 | accuracy (%) | 51.50 ± 0.71 |" in md
    # a second setting of image does not split listops: its modes are still compared
    assert "| listops | recipe | all | – | stand-in | 2 |" in md
    assert "listops/recipe: +0.00 pp [95% CI +0.00, +0.00], n = 2" in report.findings[2].evidence


def test_a_damaged_memory_record_costs_only_its_run(tmp_path, capsys):
    path = fabricate(tmp_path)
    damaged = sorted((tmp_path / "runs").glob("*/memory_endpoints.npz"))[0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    report = write_report(path, tmp_path / "report")
    assert f"ssmem report: skipping {damaged}: not a readable memory record" in capsys.readouterr().err
    assert report.markdown_path.is_file() and len(report.findings) > 0


def test_experiment_results_render_as_tables_and_a_missing_figure_is_named(tmp_path, capsys):
    store = fabricate(tmp_path)
    exp_dir = tmp_path / "experiments" / "equivalence"
    exp_dir.mkdir(parents=True)
    (exp_dir / "results.json").write_text(json.dumps({
        "name": "equivalence", "quick": True, "seed": 0, "wall_time_s": 1.0, "figures": ["gone.png"],
        "results": {
            "dt": 0.01,
            "rows": {"8": [{"system": "S4", "d_state": 8, "capacity": 8.0}],
                     "16": [{"system": "S4", "d_state": 16, "capacity": 16.0}]},
            "sets": {"s4d-inv": {"capacity": 32.0, "rank": 32, "mf_at": {"0": 0.27}}},
            "memory_length": {"s4d-inv": 584, "random": 75},
            "table": "| system | capacity |\n|---|---|\n| S4 | 8 |",
            "curve": [0.1, 0.2, 0.3],
        },
    }))
    md = write_report(store, tmp_path / "report", experiments_dir=tmp_path / "experiments").markdown_path.read_text()
    assert "| system | d_state | capacity |" in md and "| S4 | 16 | 16 |" in md  # keyed record lists, concatenated
    assert "|  | capacity | rank |\n|---|---|---|\n| s4d-inv | 32 | 32 |" in md  # records per key; nested dicts left out
    assert "| s4d-inv | 584 |" in md and "| random | 75 |" in md  # a mapping of scalars
    assert "\\|---\\|" not in md  # a pre-rendered Markdown table is not pasted into a cell
    assert f"ssmem report: {exp_dir / 'gone.png'} is missing" in capsys.readouterr().err


def test_reservoir_runs_that_keep_the_recipe_value_pair_with_the_learnable_runs_that_ran_it():
    """A key swept only among the learnable runs (optim.ssm_lr) pairs by the value the reservoir runs ran with."""
    from ssmem.report.tables import cell_varied_keys, reservoir_vs_learnable

    def run(mode, seed, params, test):
        return RunData(run_id=f"{mode}-{seed}-{params}", study="main", recipe="lra/text-cpu", task="text",
                       eigs="s4d-inv", train_mode=mode, seed=seed, params=params, status="done", metric="accuracy",
                       higher_is_better=True, test_metric=test, best_val_metric=test, final_val_metric=test, steps=4,
                       wall_time_s=1.0, trainable=1, frozen=0, config={"optim": {"ssm_lr": 0.001, "lr": 0.01}})

    runs = [run("all", s, {"optim.ssm_lr": lr}, 0.5 + lr + 0.01 * s) for s in (1, 2) for lr in (0.001, 0.01)]
    runs += [run("reservoir", s, {}, 0.4 + 0.01 * s) for s in (1, 2)]
    rows = group_runs(runs, extra_keys=cell_varied_keys(runs))
    assert sorted(r.setting for r in rows) == ["optim.ssm_lr=0.001", "optim.ssm_lr=0.01", "optim.ssm_lr=recipe"]
    (pair,) = reservoir_vs_learnable(rows)
    assert pair.learnable.extra == (("optim.ssm_lr", 0.001),) and pair.reservoir.extra == (("optim.ssm_lr", None),)
    assert pair.learnable.test.mean == pytest.approx(0.516) and pair.reservoir.test.mean == pytest.approx(0.415)
    # runs whose configs disagree on the value stay unpaired rather than guessed
    runs[-1].config = {"optim": {"ssm_lr": 0.01}}
    assert reservoir_vs_learnable(group_runs(runs, extra_keys=cell_varied_keys(runs))) == []


def test_experiment_folders_of_either_layout_are_read_and_unreadable_ones_named(tmp_path, capsys):
    from ssmem.report.collect import load_experiments

    one = tmp_path / "one"  # `ssmem experiment fig1 --out one`
    one.mkdir()
    (one / "results.json").write_text(json.dumps({"name": "fig1", "results": {}, "findings": []}))
    assert [e["name"] for e in load_experiments(one)] == ["fig1"]
    paper = tmp_path / "paper"  # `ssmem paper`'s experiments/<name>/results.json
    for name, text in (("gradient", json.dumps({"name": "gradient"})), ("fig1", json.dumps({"name": "fig1"})),
                       ("broken", "{not json")):
        (paper / name).mkdir(parents=True)
        (paper / name / "results.json").write_text(text)
    assert [e["name"] for e in load_experiments(paper)] == ["fig1", "gradient"]  # the main job's order
    assert f"skipping {paper / 'broken' / 'results.json'}: not valid JSON" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert load_experiments(tmp_path / "empty") == []
    assert f"no experiment results under {tmp_path / 'empty'}" in capsys.readouterr().err


def test_a_store_moved_with_its_run_folders_keeps_them(tmp_path, capsys):
    import shutil

    fabricate(tmp_path / "here")
    shutil.move(str(tmp_path / "here"), str(tmp_path / "there"))  # e.g. copied off a cluster
    runs = load_runs(tmp_path / "there" / "runs.db")
    assert all(r.curve("val", "accuracy") is not None and r.memory is not None for r in runs)  # were all lost
    assert all(Path(r.run_dir).parent == tmp_path / "there" / "runs" for r in Store(tmp_path / "there" / "runs.db").runs(status="done"))
    gone = next((tmp_path / "there" / "runs").iterdir())
    shutil.rmtree(gone)
    runs = load_runs(tmp_path / "there" / "runs.db")
    assert sum(r.curve("val", "accuracy") is None for r in runs) == 1
    assert f"run {gone.name}: its folder {gone} is missing" in capsys.readouterr().err


def test_every_table_of_groups_names_the_setting(tmp_path):
    """Runs of one cell that differ in a key are rows of their own in each table, with the setting shown."""
    from ssmem.report.collect import MemoryEndpoints
    from ssmem.report.blocks import Table
    from ssmem.report.writer import _convergence_section, _memory_section

    def run(seed, lr):
        curve = Curve(np.array([1, 2]), np.array([0.3, 0.6]))
        return RunData(run_id=f"r{seed}{lr}", study="main", recipe="lra/listops-cpu", task="listops", eigs="s4d-inv",
                       train_mode="all", seed=seed, params={"optim.lr": lr}, status="done", metric="accuracy",
                       higher_is_better=True, test_metric=0.6, best_val_metric=0.6, final_val_metric=0.6, steps=2,
                       wall_time_s=1.0, trainable=1, frozen=0, curves={"val": {"accuracy": curve},
                                                                       "train": {"accuracy": curve}},
                       memory=MemoryEndpoints(np.array([0, 2]), np.ones((2, 8)), np.array([8.0, 8.0])))

    rows = group_runs([run(s, lr) for lr in (0.1, 0.2) for s in (1, 2)], extra_keys=["optim.lr"])
    for section in (_convergence_section, _memory_section):
        table = next(b for b in section(rows, tmp_path, []) if isinstance(b, Table))
        assert table.headers[:4] == ("task", "set", "train", "setting")
        assert [r[3] for r in table.rows] == ["optim.lr=0.1", "optim.lr=0.2"]


def test_plots_show_what_the_tables_do():
    from ssmem.report.plots import _mean_curve, ablation_series

    def run(seed, extra, value):
        return RunData(run_id=f"r{seed}{extra}", study="s", recipe="lra/listops-cpu", task="listops", eigs="s4d-inv",
                       train_mode="all", seed=seed, params=dict(extra), status="done", metric="accuracy",
                       higher_is_better=True, test_metric=value, best_val_metric=value, final_val_metric=value,
                       steps=2, wall_time_s=1.0, trainable=1, frozen=0,
                       curves={"val": {"accuracy": Curve(np.array([1, 2]), np.array([value / 2, value]))}})

    runs = [run(s, (("model.d_model", d), ("optim.lr", lr)), v)
            for (d, lr, v) in [(8, 0.1, 0.4), (16, 0.1, 0.5), (8, 0.2, 0.7), (16, 0.2, 0.8)] for s in (1, 2)]
    runs[0].test_metric = runs[0].curves["val"]["accuracy"].values[-1] = 0.38
    rows = group_runs(runs, extra_keys=["model.d_model", "optim.lr"])
    spread = next(r for r in rows if r.test.std)
    _, mean, std = _mean_curve(spread, "val", "accuracy")
    assert std[-1] == pytest.approx(spread.test.std)  # the band is the tables' sample std (was ddof = 0)
    series = ablation_series("model.d_model", rows)  # one line per lr (was one zig-zag line over both)
    assert sorted(series) == ["listops s4d-inv / all (lr=0.1)", "listops s4d-inv / all (lr=0.2)"]
    assert sorted((x, round(y, 6)) for x, y, _ in series["listops s4d-inv / all (lr=0.2)"]) == [(8, 70.0), (16, 80.0)]


def test_a_run_two_studies_share_counts_in_both(tmp_path, capsys):
    grid = parse_grid({"name": "g", "recipes": ["lra/listops-cpu"], "seeds": [1, 2], "studies": [
        {"name": "main", "eigs": ["s4d-inv"]},
        {"name": "sets", "eigs": ["s4d-inv", "s4d-lin"]},  # its s4d-inv runs are main's: they run once
    ]})
    specs = grid.runs()
    assert len(specs) == 4 and [s.also_in for s in specs if s.eigs == "s4d-inv"] == [("sets",), ("sets",)]
    path = tmp_path / "runs.db"
    with Store(path) as store:
        store.add_runs(specs)
        store.add_runs(specs)  # again: memberships are not doubled
        for spec in specs:
            claim = store.claim([spec.run_id], worker="w:1")
            store.finish(claim, {"test_metric": 0.5 if spec.eigs == "s4d-inv" else 0.6, "metric": "accuracy",
                                 "task": "lra/listops"})
        assert [r.studies for r in store.runs()][:2] == [("main", "sets"), ("main", "sets")]
    # a later grid that lists the shared runs under `sets` first keeps both memberships (it doubled `main`)
    later = parse_grid({"name": "g", "recipes": ["lra/listops-cpu"], "seeds": [1, 2], "studies": [
        {"name": "sets", "eigs": ["s4d-inv", "s4d-lin"]}, {"name": "main", "eigs": ["s4d-inv"]}]})
    with Store(path) as store:
        store.add_runs(later.runs())
        assert [r.studies for r in store.runs()][:2] == [("main", "sets"), ("main", "sets")]
    from ssmem.cli import main as cli

    assert cli(["runs", "--store", str(path), "--filter", "study=sets", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 4  # the shared runs too (2 of 4 were listed)
    md = write_report(path, tmp_path / "report").markdown_path.read_text()
    ablation = md[md.index("## Ablation: sets"):]
    assert "| listops | s4d-inv | recipe | 2 | 50.00 ± 0.00 |" in ablation  # was missing: the run sat in main only
    assert "| listops | s4d-lin | recipe | 2 | 60.00 ± 0.00 |" in ablation
