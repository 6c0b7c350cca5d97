"""``ssmem eigs``: list the eigenvalue sets, or print the eigenvalues of one."""

from __future__ import annotations

import argparse
import json

from . import positive_float, positive_int, seed_int

HELP = "list the eigenvalue sets, or print one set's eigenvalues"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="a set name (see the list) or an eigenvalue file; omit to list the sets")
    parser.add_argument("--d-state", type=positive_int, default=None,
                        help="real state size N (N/2 complex modes); default 64, or a file's own size")
    parser.add_argument("--dt", type=positive_float, default=0.01, help="step size used for the discrete view; default 0.01")
    parser.add_argument("--discretization", default="zoh", choices=("zoh", "bilinear"),
                        help="how continuous-time sets become discrete eigenvalues; default zoh")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed for random sets; default 0")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--ignore-memory-check", action="store_true",
                        help="compute even when the estimated memory exceeds what the machine has available")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..eigs import EIGENVALUE_SETS, continuous_eigenvalues, discrete_eigenvalues, resolve_set
    from ..resources import check_memory, eigenvalues_estimate

    if args.name is None:
        if args.json:
            print(json.dumps({name: s.description for name, s in EIGENVALUE_SETS.items()}, indent=2))
            return 0
        width = max(len(name) for name in EIGENVALUE_SETS)
        for name, eig_set in EIGENVALUE_SETS.items():
            print(f"{name:<{width}}  [{eig_set.domain:<10}]  {eig_set.description}")
        print("\nor pass a file (.npy, .json, .txt, .csv) of your own eigenvalues.")
        return 0

    eig_set = resolve_set(args.name)
    if args.d_state is None:  # a file fixes its own size
        args.d_state = 2 * eig_set.n_modes if eig_set.n_modes is not None else 64
    if not args.ignore_memory_check:
        check_memory(eigenvalues_estimate(args.d_state, as_json=args.json))
    kw = dict(dt=args.dt, discretization=args.discretization, seed=args.seed)
    A = continuous_eigenvalues(eig_set, args.d_state, **kw)
    A_bar = discrete_eigenvalues(eig_set, args.d_state, **kw)
    if args.json:
        out = {
            "eigs": eig_set.name,
            "d_state": args.d_state,
            "dt": args.dt,
            "discretization": args.discretization,
            "continuous_eigenvalues": [[z.real, z.imag] for z in A],
            "discrete_eigenvalues": [[z.real, z.imag] for z in A_bar],
        }
        print(json.dumps(out, indent=2))
        return 0
    print(f"{eig_set.name}: {eig_set.description}")
    print(f"d_state = {args.d_state} ({A.size} modes), dt = {args.dt}, {args.discretization}\n")
    print(f"{'n':>4}  {'Re A':>12}  {'Im A':>12}  {'|A_bar|':>10}  {'arg A_bar':>10}")
    for n, (a, ab) in enumerate(zip(A, A_bar)):
        print(f"{n:>4}  {a.real:>12.6g}  {a.imag:>12.6g}  {abs(ab):>10.6f}  {np.angle(ab):>10.6f}")
    return 0
