"""``ssmem validate RECIPE [key=value ...]``: check a recipe and show the model it builds."""

from __future__ import annotations

import argparse

HELP = "check a recipe (with overrides) and print the model's parameter counts and the memory its training needs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", help="a recipe name (see `ssmem recipes`) or a path to a YAML file")
    parser.add_argument(
        "overrides", nargs=argparse.REMAINDER, metavar="key=value", help="e.g. model.init=s4d-lin model.train=reservoir"
    )
    parser.add_argument("--show-config", action="store_true", help="print the resolved configuration (YAML)")
    parser.add_argument("--ignore-memory-check", action="store_true",
                        help="build the model even when the estimated memory of its training exceeds what is available")


def run(args: argparse.Namespace) -> int:
    from ..data.task import task_info
    from ..resources import available_memory, check_training_memory, format_bytes, training_estimate
    from ..ssm import count_parameters
    from ..train.config import OTHER_SSM_LAYERS
    from ..train import architecture_for, build_model, config_to_yaml, load_recipe, task_params
    from ._overrides import split_overrides

    split_overrides(args, {"--show-config": "flag", "--ignore-memory-check": "flag"})
    cfg = load_recipe(args.recipe, args.overrides)
    info = task_info(cfg.task.name, task_params(cfg.task), seed=cfg.seed, data_dir=cfg.task.data_dir)
    if cfg.task.name == "lra/image":  # IDX images of any size: L from the header of the files in task.data_dir too
        from ..data.image import image_info

        info = image_info(task_params(cfg.task), data_dir=cfg.task.data_dir)
    architecture_for(cfg.model, info)  # a model that does not fit the task is named before its size
    # sized from the numbers before anything is built: a model too large for the machine is refused at once
    estimate = training_estimate(cfg, info) if args.ignore_memory_check else check_training_memory(cfg, info)
    model = build_model(cfg.model, info, seed=cfg.seed, device="cpu")
    counts = count_parameters(model)
    if args.show_config:
        print(config_to_yaml(cfg))
    m = cfg.model
    print(f"recipe {args.recipe}: ok")
    print(f"task   {cfg.task.name}: {info.objective}, L = {info.seq_len}, metric {info.metric}")
    if m.layer == "linear":  # no SSM: one map from the lookback to the horizon
        trend = f", trend (moving average of {m.trend_kernel}) and remainder mapped apart" if m.trend_kernel else ""
        horizon = info.extra.get("horizon", "?")
        print(f"model  linear forecaster: lookback {info.seq_len} -> horizon {horizon} "
              f"({'one map per column' if m.linear_per_channel else 'one map shared by the columns'}{trend})")
    else:
        wrapped = [f"{m.instance_norm} per window"] if m.instance_norm != "none" else []
        wrapped += ["each column alone"] if m.channels == "independent" else []
        forecaster = f"forecaster ({', '.join(wrapped)}) over a " if wrapped else ""
        # LRU, S5 and Mamba start from their own initialisations (ring, HiPPO-N, S4D-Real): no eigenvalue set
        init = "" if m.layer in OTHER_SSM_LAYERS else f"init {m.init}, "
        print(
            f"model  {forecaster}{architecture_for(m, info)}: {m.n_layers} x {m.layer} (H = {m.d_model}, "
            f"N = {m.d_state}, {init}train {m.train}{', bidirectional' if m.bidirectional else ''})"
        )
    print(counts)
    print(f"trainable {counts.trainable}  frozen {counts.frozen}")
    available = available_memory()
    room = "unknown memory" if available is None else f"{format_bytes(available)}"
    print(f"memory {estimate.summary()} at the peak of training; {room} available")
    return 0
