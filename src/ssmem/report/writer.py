"""Assemble the report (``index.html`` with embedded PNGs, and ``report.md`` with the PNGs beside it): its
sections as :mod:`~ssmem.report.blocks`, built from the store, the run directories and the experiments'
``results.json``."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._io import atomic_write_text
from ..sweep.postgres import display_url
from ..sweep.store import Store, is_database_url
from . import plots
from .blocks import Block, Figure, Heading, Paragraph, Table, render_html, render_markdown
from .claims import Finding, experiment_findings, sweep_findings
from ..sweep.grid import load_grid
from ..sweep.store import STATUSES, RunRecord
from .collect import RunData, load_experiments, run_data
from .published import LRA_TASKS, PUBLISHED_S4D
from .tables import GroupRow, cell_varied_keys, fmt_metric, group_runs, varied_keys

MAIN_STUDY = "main"
_AXIS_KEYS = ("model.init", "model.train", "seed")  # shown in their own columns


@dataclass
class Report:
    """What :func:`write_report` wrote and found."""

    out_dir: Path
    html_path: Path
    markdown_path: Path
    figures: list[Path]
    findings: list[Finding]
    lra_rows: list[GroupRow]
    n_runs: dict[str, int] = field(default_factory=dict)


def write_report(store: str | Path | Sequence[str | Path], out_dir: str | Path, *,
                 experiments_dir: str | Path | None = None,
                 title: str = "ssmem: learnable vs reservoir eigenvalues") -> Report:
    """Write ``out_dir/index.html`` and ``out_dir/report.md`` (figures under ``out_dir/figures``).

    ``store`` may be several stores (e.g. one per shard of a cluster sweep); their runs are pooled.
    """
    out_dir = Path(out_dir)
    listed = [store] if isinstance(store, (str, Path)) else list(store)
    stores = [s if is_database_url(s) else Path(s) for s in listed]  # a database server's URL stays as written
    for path in stores:
        if isinstance(path, Path) and not path.is_file():
            raise FileNotFoundError(f"no results store at {path}")
    if experiments_dir is not None and not Path(experiments_dir).is_dir():
        raise FileNotFoundError(f"no experiments directory at {experiments_dir}")
    records, repeated = pooled_records(stores)
    counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    failed = [r for r in records if r.status == "failed"]
    runs = [run_data(r) for r in records if r.status == "done"]
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    experiments = load_experiments(experiments_dir)

    names = ", ".join(f"`{display_url(p) if isinstance(p, str) else p}`" for p in stores)
    twice = f" {repeated} runs found in more than one store are counted once." if repeated else ""
    blocks: list[Block] = [Heading(title, 1), Paragraph(
        f"Store {names}: {len(records)} runs ({', '.join(f'{k} {v}' for k, v in counts.items())}).{twice} "
        f"Written {time.strftime('%Y-%m-%d %H:%M')}. Numbers are mean ± std over seeds (n = seeds)."
    )]
    blocks += _what_ran_section(records, runs, experiments)
    main = [r for r in runs if any(_is_main(s) for s in r.studies)] or runs
    rows = group_runs(main, extra_keys=cell_varied_keys(main))
    figures: list[Path] = []

    # a family with no run in a main study (an `lm` study beside the LRA ones) is judged on all its runs
    main_families = {r.family for r in main}
    claim_runs = main + [r for r in runs if r.family not in main_families]
    claim_rows = rows if len(claim_runs) == len(main) else group_runs(claim_runs,
                                                                      extra_keys=cell_varied_keys(claim_runs))
    findings = sweep_findings(claim_rows) + experiment_findings(experiments)
    blocks += [Heading("Claims of the paper, checked at this scale"), Paragraph(
        "Sweep claims are decided from per-seed paired differences (a reservoir and a learnable run of the same "
        "task, set, setting and seed): the Student t 95% interval of the mean difference must lie wholly on the "
        "claim's side of its tolerance to confirm it, wholly on the other side to refute it; with fewer than 2 "
        "pairs, an interval that contains the tolerance, or learnable eigenvalues that did not move, the pair is "
        "inconclusive. Claims over several pairs or tasks follow the majority of their verdicts."
    ), _findings_table(findings)]
    blocks += _lra_section(rows, fig_dir, figures)
    blocks += _curves_section(rows, fig_dir, figures)
    blocks += _convergence_section(rows, fig_dir, figures)
    blocks += _params_section(rows)
    blocks += _memory_section(rows, fig_dir, figures)
    blocks += _ablation_sections(runs, fig_dir, figures)
    blocks += _experiment_sections(experiments, fig_dir, figures)
    if failed:
        blocks += [Heading("Failed runs"), Table(("run", "error"), tuple(
            (r.run_id, (r.error or "").splitlines()[0][:200] if r.error else "") for r in failed))]

    md_path, html_path = out_dir / "report.md", out_dir / "index.html"
    atomic_write_text(md_path, render_markdown(blocks))
    atomic_write_text(html_path, render_html(blocks, out_dir, title=title))
    return Report(out_dir, html_path, md_path, figures, findings, rows, counts)


def pooled_records(stores: Sequence[str | Path]) -> tuple[list[RunRecord], int]:
    """Every run of the stores, each run id once (a finished record is preferred), and how many ids repeated."""
    chosen: dict[str, RunRecord] = {}
    repeated = set()
    for path in stores:
        with Store(path, create=False) as db:
            for record in db.runs():
                held = chosen.get(record.run_id)
                if held is not None:
                    repeated.add(record.run_id)
                    if held.status == "done" or record.status != "done":
                        continue
                chosen[record.run_id] = record
    return list(chosen.values()), len(repeated)


def _what_ran_section(records: Sequence[RunRecord], runs: Sequence[RunData], experiments: list[dict]) -> list[Block]:
    """The grids (with their own description), each study's recipes and overrides, the training time."""
    if not records and not experiments:
        return []
    blocks: list[Block] = [Heading("What was run")]
    for grid in dict.fromkeys(r.grid for r in records):
        members = [r for r in records if r.grid == grid]
        described = _grid_description(grid)
        blocks.append(Paragraph(f"Grid `{grid}` ({len(members)} runs)" + (f": {described}" if described else ".")))
        table = []
        for study in dict.fromkeys(s for r in members for s in r.studies):
            in_study = [r for r in members if study in r.studies]
            table.append((study, ", ".join(dict.fromkeys(r.recipe for r in in_study)),
                          ", ".join(dict.fromkeys(str(r.eigs) for r in in_study)),
                          ", ".join(dict.fromkeys(str(r.train_mode) for r in in_study)),
                          str(len({r.seed for r in in_study})),
                          " ".join(dict.fromkeys(o for r in in_study for o in r.overrides
                                                 if o.split("=")[0] not in _AXIS_KEYS)) or "–"))
        blocks.append(Table(("study", "recipes", "sets", "train", "seeds", "overrides"), tuple(table)))
    seconds = sum(r.wall_time_s or 0.0 for r in runs)
    if runs:
        blocks.append(Paragraph(f"Training time of the {len(runs)} finished runs: {seconds / 60:.1f} min in all "
                                "(wall time on the machine that ran them; it varies with the load)."))
    sizes = {("quick size" if e.get("quick") else "full size") for e in experiments}
    if experiments:
        blocks.append(Paragraph(f"Theory experiments: {len(experiments)} ({', '.join(sorted(sizes))}), "
                                f"{sum(float(e.get('wall_time_s', 0)) for e in experiments) / 60:.1f} min."))
    return blocks


def _grid_description(name: str) -> str:
    """A shipped grid's own description (``""`` for a grid file that is not shipped)."""
    try:
        return " ".join(load_grid(name).description.split())
    except (ValueError, OSError, AttributeError):
        return ""


def _is_main(study: str) -> bool:
    """Studies named ``main`` or ``main-*`` make the LRA table; every other study is an ablation."""
    return study == MAIN_STUDY or study.startswith(MAIN_STUDY + "-")


# -- sections ----------------------------------------------------------------------------------------------


def _findings_table(findings: Sequence[Finding]) -> Table:
    return Table(("status", "claim", "evidence", "source"),
                 tuple((f.status, f.claim, f.evidence, f.source) for f in findings))


def _cells(rows: Sequence[GroupRow]) -> tuple[tuple[str, ...], Callable[[GroupRow], tuple[str, ...]]]:
    """The leading columns naming a group: task, set, train mode and, when any group has one, its setting (runs
    that differ in more than the seed are rows of their own); the header and the cells of a row."""
    settings = any(r.extra for r in rows)
    head = ("task", "set", "train", *(("setting",) if settings else ()))
    return head, lambda r: (r.task, r.eigs, r.train_mode, *((r.setting or "–",) if settings else ()))


def _lra_section(rows: list[GroupRow], fig_dir: Path, figures: list[Path]) -> list[Block]:
    if not rows:
        return [Heading("LRA results"), Paragraph("No finished runs.")]
    table_rows = []
    head, cells = _cells(rows)
    lra_tasks = any(r.task in LRA_TASKS for r in rows)  # the data column: LRA data or a stand-in
    for r in rows:
        scale, unit = fmt_metric(r.metric)
        reference = "–" if r.published is None else f"{r.published:.2f}"
        if r.published is None and not r.lra_data and r.train_mode == "all" and r.task in LRA_TASKS:
            reference = "– (other data)"
        data = (("LRA" if r.lra_data else "stand-in" if r.task in LRA_TASKS else "–"),) if lra_tasks else ()
        table_rows.append((*cells(r), *data, str(r.test.n), f"{r.metric}{unit}",
                           r.test.fmt(scale), r.best_val.fmt(scale), reference))
    stand_ins = any(not r.lra_data and r.task in LRA_TASKS for r in rows)
    blocks: list[Block] = [
        Heading("LRA results"),
        Paragraph("Test metric (accuracy in %; the weights of the best validation step) per task, eigenvalue "
                  "set and train mode: `all` = learnable eigenvalues, `reservoir` = eigenvalues and steps "
                  "frozen (RC), `readout` = the whole SSM kernel frozen. The published column is S4D with "
                  "learnable eigenvalues at full scale (arXiv 2206.11893), shown only for runs on the LRA data "
                  "(data column `LRA`: the paper-scale recipes, with the IMDB and AAN releases for text and "
                  "retrieval); runs with a smaller model are not expected to reach it."
                  + (" Rows marked `stand-in` ran on the -cpu recipes' data (8 x 8 digits for image, Shakespeare "
                     "and Bible chunks for text and retrieval, short ListOps expressions, small Pathfinder "
                     "images): their numbers measure the same models on easier or different data and are not "
                     "comparable with the published ones." if stand_ins else "")),
        Table((*head, *(("data",) if lra_tasks else ()), "n", "metric", "test", "best val", "published S4D"),
              tuple(table_rows)),
        _published_table(),
    ]
    figures.append(plots.accuracy_bars(rows, fig_dir / "lra_test.png"))
    marks = "black marks: published S4D with learnable eigenvalues, for runs on the LRA data"
    blocks.append(Figure("figures/lra_test.png", f"Test metric per task (bars: mean ± std over seeds; {marks}"
                                                 f"{'; none here: every run is on stand-in data' if all(r.published is None for r in rows) else ''})."))
    return blocks


def _published_table() -> Table:
    return Table(("published S4D", *LRA_TASKS), tuple(
        (name, *("fails" if v is None else f"{v:.2f}" for v in (vals[t] for t in LRA_TASKS)))
        for name, vals in PUBLISHED_S4D.items()))


def _curves_section(rows: list[GroupRow], fig_dir: Path, figures: list[Path]) -> list[Block]:
    blocks: list[Block] = [Heading("Training curves")]
    for task in dict.fromkeys(r.task for r in rows):
        groups = [r for r in rows if r.task == task]
        if not any(run.curves for g in groups for run in g.runs):
            continue
        path = plots.training_curves(task, groups, fig_dir / f"curves_{task}.png")
        figures.append(path)
        blocks.append(Figure(f"figures/{path.name}", f"{task}: loss and {groups[0].metric} vs step, train and "
                                                     "validation (mean ± std over seeds)."))
    return blocks if len(blocks) > 1 else []


def _convergence_section(rows: list[GroupRow], fig_dir: Path, figures: list[Path]) -> list[Block]:
    useful = [r for r in rows if r.convergence_steps.mean is not None or r.gap.mean is not None]
    if not useful:
        return []
    head, cells = _cells(useful)
    table = Table((*head, "steps to 95% of final val", "train − val gap", "wall time (s)"),
                  tuple((*cells(r), r.convergence_steps.fmt(digits=0),
                         r.gap.fmt(fmt_metric(r.metric)[0]),
                         _mean_fmt([x.wall_time_s for x in r.runs], 0)) for r in useful))
    figures.append(plots.convergence_and_gap(useful, fig_dir / "convergence.png"))
    return [Heading("Convergence speed and overfitting"),
            Paragraph("Convergence: the first evaluated step whose validation metric reaches 95% of the run's "
                      "final validation metric. Overfitting: the last logged training metric minus the last "
                      "validation metric (percentage points for accuracy)."),
            table, Figure("figures/convergence.png", "Convergence speed (left) and train − validation gap "
                                                     "(right), mean ± std over seeds.")]


def _params_section(rows: list[GroupRow]) -> list[Block]:
    useful = [r for r in rows if r.trainable is not None]
    if not useful:
        return []
    head, cells = _cells(useful)
    seen, table_rows = set(), []
    for r in useful:
        if cells(r) in seen:
            continue
        seen.add(cells(r))
        frozen = r.frozen or 0
        table_rows.append((*cells(r), f"{r.trainable:,}", f"{frozen:,}",
                           f"{100 * frozen / max(r.trainable + frozen, 1):.1f}%"))
    return [Heading("Trainable and frozen parameters"),
            Table((*head, "trainable", "frozen", "frozen share"), tuple(table_rows))]


def _memory_section(rows: list[GroupRow], fig_dir: Path, figures: list[Path]) -> list[Block]:
    useful = [r for r in rows if r.capacity_initial.mean is not None]
    if not useful:
        return []
    head, cells = _cells(useful)
    blocks: list[Block] = [
        Heading("Memory of the trained eigenvalues"),
        Paragraph("Decay time of a mode: τ = −1/ln|Ā| steps (its state shrinks by 1/e in τ steps); the median over "
                  "the recorded modes of all layers and channels, before and after training. Memory time ×: per "
                  "run the geometric mean over the modes of τ_trained / τ_initial (1 = unchanged; 10 = every mode "
                  "remembers ten times longer). The figures show the exact MF (horizon T = 1024) before and after "
                  "training, averaged over channels and layers (its sum, the capacity, is the number of distinct "
                  "eigenvalues whatever training does, so it is no measure of memory growth)."),
        Table((*head, "decay time initial", "decay time trained", "memory time ×"),
              tuple((*cells(r), r.decay_time_initial.fmt(digits=0), r.decay_time_trained.fmt(digits=0),
                     r.memory_extension.fmt(digits=2)) for r in useful)),
    ]
    for task in dict.fromkeys(r.task for r in useful):
        path = plots.trained_memory(task, [r for r in useful if r.task == task], fig_dir / f"memory_{task}.png")
        figures.append(path)
        blocks.append(Figure(f"figures/{path.name}", f"{task}: MF before (dotted) and after training "
                                                     "(the rise as τ nears T is the edge of the finite horizon)."))
    return blocks


def _ablation_sections(runs: list[RunData], fig_dir: Path, figures: list[Path]) -> list[Block]:
    blocks: list[Block] = []
    studies = [s for s in dict.fromkeys(s for r in runs for s in r.studies) if not _is_main(s)]
    for study in studies:
        members = [r for r in runs if study in r.studies]  # a run two studies share counts in both
        keys = varied_keys(members)
        rows = group_runs(members, extra_keys=keys)
        blocks += [Heading(f"Ablation: {study}"),
                   Paragraph(f"Varied: {', '.join(keys) or 'nothing beyond set and train mode'}.")]
        headers = ("task", "set", "train", *[k.split(".")[-1] for k in keys], "n", "test", "steps to 95%", "gap")
        blocks.append(Table(headers, tuple(
            (r.task, r.eigs, r.train_mode, *[str(v) for _, v in r.extra], str(r.test.n),
             r.test.fmt(fmt_metric(r.metric)[0]), r.convergence_steps.fmt(digits=0),
             r.gap.fmt(fmt_metric(r.metric)[0])) for r in rows)))
        for key in keys:
            path = plots.ablation(f"{study}: test metric vs {key}", key, rows, fig_dir / f"ablation_{study}_{key}.png")
            figures.append(path)
            blocks.append(Figure(f"figures/{path.name}", f"{study}: test metric against {key} (mean ± std)."))
        if any(r.capacity_initial.mean is not None for r in rows):
            mem_rows = [r for r in rows if r.capacity_initial.mean is not None]
            blocks.append(Table(("task", "set", "train", *[k.split(".")[-1] for k in keys], "decay time initial → "
                                 "trained", "memory time ×"), tuple(
                (r.task, r.eigs, r.train_mode, *[str(v) for _, v in r.extra],
                 f"{r.decay_time_initial.fmt(digits=0)} → {r.decay_time_trained.fmt(digits=0)}",
                 r.memory_extension.fmt(digits=2))
                for r in mem_rows)))
    return blocks


def _experiment_sections(experiments: list[dict], fig_dir: Path, figures: list[Path]) -> list[Block]:
    if not experiments:
        return []
    blocks: list[Block] = [Heading("Theory experiments")]
    for exp in experiments:
        name = str(exp.get("name", Path(exp["_dir"]).name))
        size = "quick size" if exp.get("quick") else "full size"
        blocks += [Heading(name, 3), Paragraph(
            f"{exp.get('description', '')} ({size}, seed {exp.get('seed', '?')}, "
            f"{float(exp.get('wall_time_s', 0)):.0f} s)")]
        for rel in exp.get("figures", []):
            src = Path(exp["_dir"]) / rel
            if not src.is_file():
                print(f"ssmem report: {src} is missing; the figure is left out (rerun the experiment to redraw it)",
                      file=sys.stderr)
                continue
            dest = fig_dir / "experiments" / name / Path(rel).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            figures.append(dest)
            blocks.append(Figure(str(dest.relative_to(fig_dir.parent)), f"{name}: {Path(rel).stem}"))
        tables = _result_tables(exp.get("results", {}))
        blocks += tables
        if exp.get("findings"):
            blocks.append(_findings_table(experiment_findings([exp])))
    return blocks


def _result_tables(results: dict) -> list[Block]:
    """An experiment's results as tables: the scalars as key/value rows; then each entry that is a list of flat
    records (the S4 ≡ S4D rows), a mapping of such lists (concatenated), a mapping of scalars, or a mapping of
    flat records (one row per key, e.g. per eigenvalue set). Curves (lists of numbers) and pre-rendered
    Markdown tables (the same data as a structured entry beside them) are left to the figures and the JSON."""
    blocks: list[Block] = []
    scalars = [(k, v) for k, v in results.items() if _is_scalar(v) and not _is_markdown_table(v)]
    if scalars:
        blocks.append(Table(("result", "value"), tuple((k, _fmt_value(v)) for k, v in scalars)))
    for key, value in results.items():
        table = _records_table(value)
        if table is not None:
            blocks += [Paragraph(f"`{key}`"), table]
    return blocks


def _is_scalar(value: object) -> bool:
    return isinstance(value, (int, float, str, bool)) or value is None


def _is_markdown_table(value: object) -> bool:
    return isinstance(value, str) and "\n|---" in value


def _is_record(value: object) -> bool:
    return isinstance(value, dict) and any(_is_scalar(v) and not _is_markdown_table(v) for v in value.values())


def _records_table(value: object, max_rows: int = 60) -> Table | None:
    """A table for a list of records, a mapping of record lists, a mapping of scalars or of records."""
    if isinstance(value, dict) and value and all(isinstance(v, list) for v in value.values()):
        lists = list(value.values())
        if all(v and all(_is_record(x) for x in v) for v in lists):
            # keyed lists (e.g. rows per N): one table, with the key as a column unless a field already holds it
            keyed = [(str(k), x) for k, v in value.items() for x in v]
            named = all(any(_is_scalar(val) and str(val) == k for val in x.values()) for k, x in keyed)
            value = [x if named else {"key": k, **x} for k, x in keyed]
    if isinstance(value, list) and value and all(_is_record(x) for x in value):
        records = value
    elif isinstance(value, dict) and value and all(_is_record(v) for v in value.values()):
        records = [{"": k, **v} for k, v in value.items()]
    elif isinstance(value, dict) and value and all(_is_scalar(v) for v in value.values()) and not any(
            _is_markdown_table(v) for v in value.values()):
        records = [{"": k, "value": v} for k, v in value.items()]
    else:
        return None
    cols = list(dict.fromkeys(c for x in records for c in x if _is_scalar(x[c]) and not _is_markdown_table(x[c])))
    if not cols or len(records) > max_rows:
        return None
    return Table(tuple(cols), tuple(tuple(_fmt_value(x.get(c)) for c in cols) for x in records))


def _fmt_value(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "–" if v is None else str(v)


def _mean_fmt(values: Sequence[float | None], digits: int) -> str:
    xs = [v for v in values if v is not None]
    return f"{sum(xs) / len(xs):.{digits}f}" if xs else "–"


def findings_json(findings: Sequence[Finding]) -> str:
    return json.dumps([f.__dict__ for f in findings], indent=2)
