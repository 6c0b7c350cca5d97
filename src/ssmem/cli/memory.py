"""``ssmem memory``: exact memory functions of eigenvalue sets; JSON results and the paper's Fig. 1."""

from __future__ import annotations

import argparse

from .._io import atomic_write_text
from . import CLIError, mf_threshold, nonnegative_int, positive_float, positive_int, seed_int

HELP = "exact memory function (MF) and capacity of eigenvalue sets; table, JSON and Fig. 1 plot"
DEFAULT_SETS = "s4d-inv,s4d-lin,random,lin,step"
TABLE_DELAYS = (0, 10, 100, 500)


def _horizon(text: str) -> int | None:
    if text.lower() in ("inf", "infinite", "none"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"horizon must be a positive integer or 'inf'; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"horizon must be a positive integer or 'inf'; got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--eigs", default=None,
        help=f"comma-separated set names, eigenvalue files or training run directories; default {DEFAULT_SETS} "
             "(none when only --eigs-file is given)",
    )
    parser.add_argument(
        "--eigs-file", action="append", default=[], metavar="F",
        help="a file of user eigenvalues (.npy/.json/.txt/.csv; complex text such as 0.9+0.1j; JSON "
             '{"real": [...], "imag": [...]}; repeatable) or a training run directory; discrete unless the file '
             "says otherwise",
    )
    parser.add_argument(
        "--checkpoint", choices=("best", "last"), default="best",
        help="for a training run directory: best = best validation weights (default), last = newest step checkpoint; "
             "each channel of every SSM layer is its own set (RUN:L<layer>c<channel>)",
    )
    parser.add_argument(
        "--model", metavar="RUN_DIR", default=None,
        help="a training run (any model.layer): MF of every SSM layer (exact for s4d/s4/lru/s5, empirical for "
             "mamba) and the IPC of its outputs, driven with seeded noise; replaces the eigenvalue sets",
    )
    parser.add_argument("--ipc-degree", type=positive_int, default=2, help="with --model: highest IPC degree; default 2")
    parser.add_argument("--ipc-delays", type=positive_int, default=20,
                        help="with --model: IPC delays 0..N-1; default 20")
    parser.add_argument("--samples", type=positive_int, default=4000,
                        help="with --model: samples of the empirical MF and of the IPC; default 4000")
    parser.add_argument("--d-state", type=positive_int, default=None,
                        help="real state size N (N/2 complex modes); default 32 for named sets, a file's own size")
    parser.add_argument("--dt", type=positive_float, default=0.01, help="step size Δ for continuous sets; default 0.01")
    parser.add_argument("--discretization", default="zoh", choices=("zoh", "bilinear"),
                        help="how continuous-time sets become discrete eigenvalues; default zoh")
    parser.add_argument("--horizon", type=_horizon, default=1024, help="T, or 'inf' for the stationary system; default 1024")
    parser.add_argument(
        "--max-delay", type=nonnegative_int, default=None,
        help="last delay written (default T-1, or until the tail is negligible)"
    )
    parser.add_argument("--seed", type=seed_int, default=0, help="seed for random sets; default 0")
    parser.add_argument("--threshold", type=mf_threshold, default=0.01, help="MF threshold of the memory length; default 0.01")
    parser.add_argument("--json", metavar="OUT.json", help="write the results as JSON")
    parser.add_argument("--plot", metavar="OUT.png",
                        help="write the Fig. 1 plot (|A_bar| by index, MF by delay); .png, .pdf or .svg")
    parser.add_argument("--linear-delay", action="store_true", help="linear delay axis in the plot (default: log)")
    parser.add_argument("--ignore-memory-check", action="store_true",
                        help="compute even when the estimated memory exceeds what the machine has available")


def _sets_of(entry: str, checkpoint: str, *, named: bool) -> list:
    """The eigenvalue sets an ``--eigs`` entry (``named``) or ``--eigs-file`` entry stands for: a training run
    directory gives one set per channel of every SSM layer; anything else is one set name or file."""
    from pathlib import Path

    from .._registry import UnknownNameError
    from ..eigs import load_eigenvalues, resolve_set
    from ..eigs.user import ACCEPTED_FORMS
    from ..train.trained import run_eigenvalue_sets

    try:
        if Path(entry).is_dir():
            return run_eigenvalue_sets(entry, checkpoint=checkpoint)
        return [resolve_set(entry) if named else load_eigenvalues(entry)]
    except (UnknownNameError, FileNotFoundError) as err:
        # a name that is no set, a file that is not there, a folder that is no run: show every form that works
        reason = str(err).rstrip(".")
        raise CLIError(f"{'--eigs' if named else '--eigs-file'} {entry}: {reason}; {ACCEPTED_FORMS}") from None


def _finite_or_none(values) -> list:
    return [float(v) if v != float("inf") else None for v in values]


def _run_model(args: argparse.Namespace) -> int:
    """``--model RUN_DIR``: every SSM layer of a trained run, by :func:`ssmem.memory.driven.driven_memory`."""
    import json
    from pathlib import Path

    from ..memory.driven import driven_memory, plot_driven_memory
    from ..train.trained import load_trained_model

    if args.eigs is not None or args.eigs_file:
        raise CLIError("--model measures a trained run; it does not take --eigs or --eigs-file")
    if not Path(args.model).exists():
        raise CLIError(f"--model {args.model}: no such training run directory (or exported file)")
    model, cfg = load_trained_model(args.model, checkpoint=args.checkpoint, device="cpu")
    if not hasattr(model, "ssm_layers"):
        raise CLIError(f"--model {args.model}: the model ({cfg.model.layer}) has no SSM layers to measure")
    model = model.double()  # analysis in float64
    max_delay = 50 if args.max_delay is None else args.max_delay
    results = [driven_memory(layer, name=f"layer{i}", max_delay=max_delay, ipc_degree=args.ipc_degree,
                             ipc_delays=args.ipc_delays, n_samples=args.samples, seed=args.seed)
               for i, layer in enumerate(model.ssm_layers())]
    run = Path(args.model).resolve().name
    if args.json:
        payload = {"run": str(args.model), "checkpoint": args.checkpoint, "layer": cfg.model.layer, "seed": args.seed,
                   "layers": [r.summary() for r in results]}
        atomic_write_text(Path(args.json), json.dumps(payload, indent=1, allow_nan=False))
    if args.plot:
        plot_driven_memory(results, args.plot, title=f"{run} ({args.checkpoint}): MF and IPC per layer")
    degrees = "".join(f"{'IPC d' + str(d):>9}" for d in range(1, args.ipc_degree + 1))
    print(f"memory of run {run} ({args.checkpoint}, model.layer={cfg.model.layer}), seed = {args.seed}")
    print(f"{'layer':<8}{'kind':<7}{'method':>10}{'MC(0..' + str(max_delay) + ')':>11}{'MF(1)':>8}{'IPC':>8}{degrees}")
    for r in results:
        by_degree = "".join(f"{c:>9.3f}" for c in r.ipc.by_degree)
        print(f"{r.name:<8}{r.kind:<7}{r.method:>10}{r.capacity:>11.3f}{r.mf[min(1, r.mf.size - 1)]:>8.3f}"
              f"{r.ipc.total:>8.3f}{by_degree}")
    print("MF: exact state MF (channel mean) or empirical MF of the outputs; IPC: of the outputs, the layer driven "
          "along one seeded direction")
    return 0


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    if args.model is not None:
        return _run_model(args)

    from .._io import figure_format
    from ..eigs import discrete_eigenvalues
    from ..memory import memory_function
    from ..memory.plot import plot_memory_profiles
    from ..resources import check_memory, memory_function_estimate

    for flag, target in (("--json", args.json), ("--plot", args.plot)):
        if target is not None and Path(target).is_dir():
            raise CLIError(f"{flag} {target} is a folder; name the file to write")
    if args.plot is not None:
        figure_format(args.plot)

    if args.horizon is not None and args.max_delay is not None and args.max_delay >= args.horizon:
        raise CLIError(f"--max-delay must be < --horizon ({args.horizon}); got {args.max_delay}")
    eigs = args.eigs if args.eigs is not None else ("" if args.eigs_file else DEFAULT_SETS)
    names = [n.strip() for n in eigs.split(",") if n.strip()]
    # (set, its state size): a named set takes --d-state (default 32), a file (by --eigs or --eigs-file) its own
    # size unless --d-state is given
    named = [s for name in names for s in _sets_of(name, args.checkpoint, named=True)]
    sets = [(s, args.d_state or (2 * s.n_modes if s.n_modes else 32)) for s in named]
    files = [s for entry in args.eigs_file for s in _sets_of(entry, args.checkpoint, named=False)]
    sets += [(s, args.d_state or 2 * s.n_modes) for s in files]
    if not sets:
        raise CLIError("no eigenvalue sets: give --eigs and/or --eigs-file")
    if not args.ignore_memory_check:  # the largest set decides the basis; every set keeps its MF
        largest = max(d for _, d in sets)
        check_memory(memory_function_estimate(largest, args.horizon, max_delay=args.max_delay, n_sets=len(sets)))

    results, profiles = [], []
    for eig_set, d_state in sets:
        modes = discrete_eigenvalues(eig_set, d_state, dt=args.dt, discretization=args.discretization, seed=args.seed)
        profile = memory_function(modes, horizon=args.horizon, max_delay=args.max_delay)
        profiles.append(profile)
        mi = profile.mutual_information
        results.append(
            {
                "eigs": eig_set.name,
                "d_state": d_state,
                "dt": args.dt,
                "discretization": args.discretization,
                "horizon": args.horizon,
                "seed": args.seed,
                "method": profile.method,
                "discrete_eigenvalues": [[z.real, z.imag] for z in profile.eigenvalues],
                "mf": profile.mf.tolist(),
                "mutual_information": _finite_or_none(mi),
                "capacity": profile.capacity,
                "rank": profile.rank,
                "memory_length": profile.memory_length(args.threshold),
                "threshold": args.threshold,
                "accuracy": profile.accuracy(min(10, profile.mf.size)),
            }
        )

    if args.json:
        atomic_write_text(Path(args.json), json.dumps({"results": results}, indent=1, allow_nan=False))
    if args.plot:
        horizon = "inf" if args.horizon is None else args.horizon
        sizes = sorted({d for _, d in sets})
        size = f"N = {sizes[0]}" if len(sizes) == 1 else "N = " + "/".join(map(str, sizes))
        title = f"{size}, dt = {args.dt:g}, T = {horizon}, {args.discretization}"
        plot_memory_profiles(profiles, [r["eigs"] for r in results], args.plot, title=title, log_delay=not args.linear_delay)
    # the table goes to the terminal whether or not files are written too
    horizon = "inf" if args.horizon is None else args.horizon
    print(f"memory function: T = {horizon}, dt = {args.dt:g}, {args.discretization}, seed = {args.seed}")
    delay_heads = "".join(f"{'MF(' + str(d) + ')':>10}" for d in TABLE_DELAYS)
    print(f"{'eigs':<14}{'d_state':>8}{'rank':>6}{'capacity':>11}{'length':>8}{'accuracy':>10}{delay_heads}")
    for r, p in zip(results, profiles):
        cells = "".join(f"{p.mf[d]:>10.4f}" if d < p.mf.size else f"{'—':>10}" for d in TABLE_DELAYS)
        numbers = f"{r['d_state']:>8}{r['rank']:>6}{r['capacity']:>11.4f}{r['memory_length']:>8}{r['accuracy']:>10.4f}"
        print(f"{r['eigs']:<14}{numbers}{cells}")
    n_accuracy = min(10, min(p.mf.size for p in profiles))
    written = "" if args.max_delay is None else f" (over the delays written, 0..{args.max_delay})"
    print(f"length: largest delay with MF > {args.threshold:g}, -1 if none{written}; accuracy: mean MF over "
          f"delays 0..{n_accuracy - 1}")
    for r, p in zip(results, profiles):
        if args.max_delay is None and p.written_capacity < 0.99 * p.capacity:  # the infinite horizon's cap
            print(f"note: {r['eigs']}: delays 0..{p.max_delay} hold {p.written_capacity:.4g} of the capacity "
                  f"{p.capacity:.4g}; its memory reaches further than the delays written")
    return 0


