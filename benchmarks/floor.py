"""How close the Brian2 models run to the simulator's floor: neurosig against plain Brian2.

Two comparisons, each in one process, on the same samples and seeds, one core (the standalone
programs are compiled without OpenMP, numpy's BLAS gets one thread):

1. **LIF.** Three programs on the same network size (``--features`` inputs times
   ``input_copies``, ``--hidden`` LIF units, 10 readout units, ``presentation`` ms per sample at
   ``dt``) and the same Poisson spikes of the data stream:

   * neurosig's LIF training step (``LIFModel.run_chunk(learn=True)``: two streams, the loss,
     the class memories, the per-sample learning of every weight);
   * a *plain* Brian2 C++ standalone network written here in a few lines: the same input units
     replaying the same spike-time table (one stream), the same conductance synapses and LIF
     membrane, one hidden layer and a readout, and one dense weight update per sample through
     ``run_regularly`` (a Hebbian step on every input weight, the delta rule on the readout);
     it carries its weights from chunk to chunk as neurosig does;
   * neurosig's evaluation step (``run_chunk(learn=False)``: the data stream only).

   The neurosig rows are measured for each ``--lif`` configuration (``default``: ``LIFConfig``
   as shipped; ``bare``: without background and lateral inhibition, the two things the plain
   network does not have; ``target-every``: the default with the target stream shown on every
   ``--target-every``-th sample only). The ratio ``x plain`` divides samples/s by the plain
   network's.
2. **Rate.** neurosig's rate model on its two back ends, Brian2 C++ standalone and the numpy
   integrator of the same equations (``target = "reference"``), 784-``--hidden``-10 at the
   defaults of ``RateConfig``, training and evaluation, interleaved repeat by repeat.

Every figure is the median of ``--repeats`` timed chunks after one warm-up chunk (which also
compiles), wall time of whole chunks (input tables, file I/O, the C++ run); each program is built
once. The build (code generation, compile, link) is timed too: ``cold`` where the cache did not
hold the project, else a relink.

    python benchmarks/floor.py                  # 784-500-10, about 10 minutes on 2 cores
    python benchmarks/floor.py --quick          # smoke test (small networks, short chunks)
    python benchmarks/floor.py --skip rate --lif default bare \
        --lif-set input_copies=1 "rate_max=40 Hz"   # one input unit per feature at ~20 Hz

``--lif-set FIELD=VALUE`` changes a field of ``LIFConfig`` (written as in a TOML table) for
every LIF program, the plain network included, so that all rows see the same input.

It prints the tables and writes ``--out`` (Markdown) and ``<out>.csv``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from neurosig.threads import limit_blas_threads  # noqa: E402

limit_blas_threads(1)  # before numpy loads

from common import (  # noqa: E402
    add_allow_dirty,
    check_clean_tree,
    markdown_table,
    write_csv,
    write_report,
)
from speed import load_inputs, measure_size  # noqa: E402

DEFAULT_OUT = Path(__file__).parent / "results" / "floor.md"
N_CLASSES = 10
LIF_VARIANTS = {
    "default": {},
    "bare": {"background_rate": 0.0, "lateral_inhibition": 0.0},
    "target-every": {},  # target_every = --target-every
}
CSV_FIELDS = (
    "section", "program", "config", "network", "phase", "samples_per_second", "min", "max",
    "x_floor", "repeats", "chunk", "build_seconds", "build",
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# The plain single-stream network
# --------------------------------------------------------------------------------------------


def plain_network(cfg: Any, n_in: int, hidden: int, chunk: int, rows: int) -> Any:
    """A BrianProgram of the plain one-stream network (see the module docstring).

    ``n_in`` input units replay a spike-time table (as neurosig's input layer does), excite and
    inhibit ``hidden`` conductance-based LIF units through dense plastic synapses, whose spike
    counts drive a 10-unit readout once per sample. Per sample, in ``run_regularly``: a Hebbian
    step on every input weight (``w += lr (n_post - r0) n_pre``), the delta rule on the readout,
    then the reset of counts and membranes.
    """
    import brian2 as b2
    import numpy as np

    from neurosig.brian import BrianProgram, Built
    from neurosig.config import quantity
    from neurosig.models.lif_network import FAR

    dt = quantity(cfg, "dt")
    steps = round(cfg.presentation / cfg.dt)

    def build() -> Built:
        b2.defaultclock.dt = dt
        sample_dt = steps * dt
        ns = {
            name: quantity(cfg, name)
            for name in ("tau_m", "tau_syn", "v_rest", "v_th", "v_reset", "e_exc", "e_inh")
        }
        ns |= {
            "g_exc": cfg.psp / (cfg.e_exc - cfg.v_rest),
            "g_inh": cfg.psp / (cfg.v_rest - cfg.e_inh),
            "lr": 1e-6,
            "r0": 1.0,
        }
        tab = b2.TimedArray(np.full((rows, n_in), FAR), dt=1 * b2.ms, name="tab_h")
        lab = b2.TimedArray(np.zeros((chunk + 1, N_CLASSES)), dt=sample_dt, name="lab")
        ns |= {"tab_h": tab, "lab": lab}
        inp = b2.NeuronGroup(
            n_in, "next_h : 1\nk_h : 1\nn : 1", threshold="t >= next_h*second",
            reset="k_h += 1\nnext_h = tab_h(k_h*ms, i)\nn += 1", name="layer0", namespace=ns,
        )  # fmt: skip
        hid = b2.NeuronGroup(
            hidden,
            "dv/dt = (v_rest + ge*(e_exc - v) + gi*(e_inh - v) - v)/tau_m : volt (unless "
            "refractory)\ndge/dt = -ge/tau_syn : 1\ndgi/dt = -gi/tau_syn : 1\nn : 1",
            threshold="v > v_th", reset="v = v_reset\nn += 1", refractory=cfg.t_ref * b2.ms,
            method="exponential_euler", name="layer1", namespace=ns,
        )  # fmt: skip
        ro = b2.NeuronGroup(N_CLASSES, "o : 1\ny : 1", dt=sample_dt, name="readout", namespace=ns)
        w1 = b2.Synapses(
            inp, hid, "w : 1", name="w1", namespace=ns,
            on_pre="ge_post += clip(w, 0, inf)*g_exc\ngi_post += clip(-w, 0, inf)*g_inh",
        )  # fmt: skip
        w1.connect()
        w_ro = b2.Synapses(
            hid, ro, "w : 1\no_post = w*n_pre : 1 (summed)", dt=sample_dt, name="w_ro",
            namespace=ns,
        )  # fmt: skip
        w_ro.connect()
        # once per sample, at its first step: learn from what the last sample left, then reset
        ro.run_regularly("y = lab(t, i)", dt=sample_dt, when="start", order=0)
        w_ro.run_regularly("w += -lr*(o_post - y_post)*n_pre", dt=sample_dt, when="start", order=1)
        w1.run_regularly("w += lr*(n_post - r0)*n_pre", dt=sample_dt, when="start", order=1)
        for g in (inp, hid):
            g.run_regularly("n = 0", dt=sample_dt, when="start", order=2)
        hid.run_regularly(
            "v = v_rest\nge = 0\ngi = 0", dt=sample_dt, when="start", order=2, name="layer1_reset"
        )
        mon = b2.StateMonitor(ro, "o", record=True, dt=sample_dt, when="end", name="mon_ro")
        objects = {o.name: o for o in (inp, hid, ro, w1, w_ro, mon)}
        return Built(
            objects=objects, timed={"tab_h": tab, "lab": lab}, duration=(chunk * steps + 1) * dt
        )

    return BrianProgram(
        target="standalone", build=build, key=plain_key(cfg, n_in, hidden, chunk, rows)
    )


def plain_key(cfg: Any, n_in: int, hidden: int, chunk: int, rows: int) -> str:
    """The cache key of the plain network's program."""
    from neurosig.brian import structure_key

    return "floor-" + structure_key(n_in, hidden, chunk, rows, cfg.dt, cfg.presentation)


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


def timed(fn: Any, *args: Any, **kw: Any) -> float:
    start = time.perf_counter()
    fn(*args, **kw)
    return time.perf_counter() - start


def measure_lif(args: argparse.Namespace, x: Any, y: Any) -> list[dict[str, Any]]:
    """The LIF rows: neurosig (each ``--lif`` variant) training and evaluation, then the plain
    network, all on chunk r of the same samples at repeat r."""
    import numpy as np

    from neurosig.brian import project_dir
    from neurosig.models.lif import build_lif
    from neurosig.models.lif_input import make_chunk

    B = args.chunk
    blocks = [(x[r * B : (r + 1) * B], y[r * B : (r + 1) * B]) for r in range(args.repeats + 1)]
    base = args.lif_base
    network = f"{args.features}x{base.input_copies}-{args.hidden}-{N_CLASSES}"
    rows = []
    for variant in args.lif:
        fields = LIF_VARIANTS[variant]
        if variant == "target-every":
            fields = {"target_every": args.target_every}
            variant = f"target_every = {args.target_every}"
        cfg = dataclasses.replace(base, **fields)
        model = build_lif(cfg, args.features, N_CLASSES, np.random.default_rng(0))
        cold = not project_dir(f"{model.PROGRAM_PREFIX}-{model.st.key()}").exists()
        build = timed(model.ensure_program)
        rng = np.random.default_rng(1)
        model.run_chunk(*blocks[0], rng, learn=True)  # warm-up
        train = [B / timed(model.run_chunk, bx, by, rng, learn=True) for bx, by in blocks[1:]]
        evaluate = [B / timed(model.run_chunk, bx, None, rng, learn=False) for bx, _ in blocks[1:]]
        common = {"config": variant, "network": network, "build_seconds": build,
                  "build": "cold" if cold else "relink"}  # fmt: skip
        rows.append({"program": "neurosig LIF", "phase": "training", "rates": train} | common)
        rows.append({"program": "neurosig LIF", "phase": "evaluation", "rates": evaluate} | common)
        model.program.cleanup()
    # the plain network on the same data-stream spikes (the default model's tables)
    model = build_lif(base, args.features, N_CLASSES, np.random.default_rng(0))
    st = model.st
    key = plain_key(base, st.sizes[0], args.hidden, B, st.table_rows)
    cold = not project_dir(key).exists()
    plain = plain_network(base, st.sizes[0], args.hidden, B, st.table_rows)
    build_seconds = plain.compile_seconds
    w1 = np.random.default_rng(0).normal(0, np.sqrt(2 / st.sizes[0]), st.sizes[0] * args.hidden)
    w_ro = np.zeros(args.hidden * N_CLASSES)

    def run(bx: Any, by: Any, rng: Any) -> None:
        nonlocal w1, w_ro
        tab = make_chunk(st, model.state["signal.w"], bx, by, rng).timed
        plain.run(
            {("layer0", "next_h"): tab["tab_h"][0], ("layer0", "k_h"): np.zeros(st.sizes[0]),
             ("w1", "w"): w1, ("w_ro", "w"): w_ro},
            {"tab_h": tab["tab_h"], "lab": tab["lab"]},
        )  # fmt: skip
        w1, w_ro = plain.get("w1", "w"), plain.get("w_ro", "w")

    rng = np.random.default_rng(1)
    run(*blocks[0], rng)  # warm-up
    rates = [B / timed(run, bx, by, rng) for bx, by in blocks[1:]]
    if not np.all(np.isfinite(w1)):
        raise RuntimeError("the plain network's weights are not finite")
    rows.append(
        {"program": "plain Brian2, one stream", "config": "-", "network": network,
         "phase": "training", "rates": rates, "build_seconds": build_seconds,
         "build": "cold" if cold else "relink"}
    )  # fmt: skip
    plain.cleanup()
    floor = statistics.median(rates)
    for row in rows:
        row["x_floor"] = statistics.median(row["rates"]) / floor
    return rows


def measure_rate(args: argparse.Namespace, x: Any, y: Any) -> list[dict[str, Any]]:
    """The rate rows: Brian2 standalone and the numpy integrator, interleaved."""
    chunk = args.rate_chunk
    out = measure_size(args.hidden, x, y, chunk=chunk, chunks=1, repeats=args.repeats, predict=True)
    rows = []
    network = f"784-{args.hidden}-{N_CLASSES}"
    for phase, key in (("training", "train"), ("evaluation", "predict")):
        ref = statistics.median(out[key]["reference"])
        for target, name in (("standalone", "Brian2 standalone"), ("reference", "numpy")):
            rates = out[key][target]
            rows.append(
                {"program": f"neurosig rate, {name}", "config": "default", "network": network,
                 "phase": phase, "rates": rates, "x_floor": statistics.median(rates) / ref,
                 "build_seconds": out["compile_seconds"] if target == "standalone" else 0.0,
                 "build": out["cache"] if target == "standalone" else "-"}
            )  # fmt: skip
    return rows


def measure_profile(model: Any, x: Any, y: Any, top: int) -> list[tuple[str, float, float]]:
    """Brian2's profile of one training chunk of ``model``: (code object, seconds, share) of the
    ``top`` largest, the rest summed (a program of its own: profiling adds timers to the
    code)."""
    import numpy as np

    from neurosig.brian import BrianProgram

    st, build = model.st, type(model).NETWORK
    model.program = BrianProgram(
        target="standalone",
        build=lambda: build(st, False),
        key=f"{model.PROGRAM_PREFIX}-{st.key()}",
        profile=True,
    )
    model.recording = False
    rng = np.random.default_rng(1)
    model.train_batch(x, y, rng)
    seconds = model.program.profile_seconds()
    model.program.cleanup()
    total = sum(seconds.values())
    rows = [(name, t, t / total) for name, t in list(seconds.items())[:top]]
    rest = sum(t for _, t in list(seconds.items())[top:])
    return rows + [(f"the other {len(seconds) - top} code objects", rest, rest / total)]


def profile_table(rows: list[tuple[str, float, float]]) -> str:
    lines = [[name, f"{t:.3g}", f"{100 * share:.1f}"] for name, t, share in rows]
    return markdown_table(["code object", "seconds", "% of the run"], lines)


def profiles(args: argparse.Namespace, x: Any, y: Any) -> str:
    """The profile sections: where one training chunk of each model spends its time."""
    import numpy as np

    from neurosig.models.lif import build_lif
    from neurosig.models.rate import RateConfig, build_rate

    out = []
    if "lif" not in args.skip:
        lif = build_lif(args.lif_base, args.features, N_CLASSES, np.random.default_rng(0))
        rows = measure_profile(lif, x[: args.chunk], y[: args.chunk], args.top)
        out.append(f"### LIF training (default config), one chunk\n\n{profile_table(rows)}")
    if "rate" not in args.skip:
        rate = build_rate(RateConfig(hidden=(args.hidden,), chunk=args.rate_chunk), 784,
                          N_CLASSES, np.random.default_rng(0))  # fmt: skip
        rows = measure_profile(rate, x[: args.rate_chunk], y[: args.rate_chunk], args.top)
        out.append(f"### Rate training (Brian2 standalone), one chunk\n\n{profile_table(rows)}")
    return "## Where the time goes (Brian2's profile, `profile = True`)\n\n" + "\n\n".join(out)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def table(rows: list[dict[str, Any]], floor_name: str) -> str:
    headers = ["program", "config", "network", "phase", "samples/s (median)", "range",
               f"x {floor_name}", "build s"]  # fmt: skip
    lines = []
    for r in rows:
        rates = r["rates"]
        build = f"{r['build_seconds']:.1f} ({r['build']})" if r["build"] != "-" else "-"
        lines.append([
            r["program"], r["config"], r["network"], r["phase"],
            f"{statistics.median(rates):.1f}", f"{min(rates):.1f}-{max(rates):.1f}",
            f"{r['x_floor']:.2f}", build,
        ])  # fmt: skip
    return markdown_table(headers, lines)


def csv_rows(section: str, rows: list[dict[str, Any]], chunk: int) -> list[dict[str, Any]]:
    return [
        {"section": section, "program": r["program"], "config": r["config"],
         "network": r["network"], "phase": r["phase"],
         "samples_per_second": round(statistics.median(r["rates"]), 2),
         "min": round(min(r["rates"]), 2), "max": round(max(r["rates"]), 2),
         "x_floor": round(r["x_floor"], 3), "repeats": len(r["rates"]), "chunk": chunk,
         "build_seconds": round(r["build_seconds"], 1), "build": r["build"]}
        for r in rows
    ]  # fmt: skip


def lif_base(p: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The LIFConfig every LIF program starts from: ``--hidden``, ``--chunk`` and the
    ``--lif-set`` changes, validated as a ``[model]`` table of a TOML file is."""
    from neurosig.config import from_dict, toml_value
    from neurosig.errors import ConfigError
    from neurosig.models.lif import LIFConfig

    table: dict[str, Any] = {"hidden": [args.hidden], "chunk": args.chunk}
    for item in args.lif_set:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            p.error(f"--lif-set {item!r}: write FIELD=VALUE, e.g. --lif-set input_copies=1")
        table[key.strip()] = toml_value(text)  # a bare string stays one: "40 Hz", poisson
    try:
        return from_dict(LIFConfig, table, "lif")
    except ConfigError as err:
        p.error(f"--lif-set: {err}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=500, help="hidden units (default 500)")
    p.add_argument("--features", type=int, default=784, help="input features (default 784)")
    p.add_argument("--chunk", type=int, default=100, help="LIF samples per chunk (default 100)")
    p.add_argument("--rate-chunk", type=int, default=200, help="rate samples per chunk")
    p.add_argument("--repeats", type=int, default=3, help="timed chunks (default 3)")
    p.add_argument("--lif", nargs="+", default=list(LIF_VARIANTS), choices=list(LIF_VARIANTS))
    p.add_argument("--skip", nargs="*", default=[], choices=["lif", "rate"])
    p.add_argument("--target-every", type=int, default=10, help="target_every of that variant")
    p.add_argument(
        "--lif-set",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help='LIFConfig changes for every LIF program, e.g. input_copies=1 "rate_max=40 Hz"',
    )
    p.add_argument("--top", type=int, default=8, help="code objects listed in the profiles")
    p.add_argument("--quick", action="store_true", help="smoke test: tiny networks and chunks")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    add_allow_dirty(p)
    args = p.parse_args()
    commit = check_clean_tree(p, args.allow_dirty)
    if args.quick:
        args.hidden, args.chunk, args.rate_chunk, args.repeats = 20, 10, 5, 2
    args.lif_base = lif_base(p, args)

    n = max(args.chunk, args.rate_chunk) * (args.repeats + 1)
    x, y, source = load_inputs(n)
    x = x[:, : args.features]
    sections, csv = [], []
    if "lif" not in args.skip:
        lif = measure_lif(args, x, y)
        cfg = args.lif_base
        changed = f"; changed: {', '.join(args.lif_set)}" if args.lif_set else ""
        sections.append(
            f"## LIF, {cfg.presentation:g} ms per sample at dt = {cfg.dt:g} ms, chunks of "
            f"{args.chunk}{changed}\n\n{table(lif, 'plain')}"
        )
        csv += csv_rows("lif", lif, args.chunk)
    if "rate" not in args.skip:
        rate = measure_rate(args, x, y)
        sections.append(f"## Rate, chunks of {args.rate_chunk}\n\n{table(rate, 'numpy')}")
        csv += csv_rows("rate", rate, args.rate_chunk)
    sections.append(profiles(args, x, y))
    intro = (
        f"- commit {commit}; inputs: {source}; median of {args.repeats} timed chunks after a "
        "warm-up chunk; one core (no OpenMP, one BLAS thread); `x plain` / `x numpy`: "
        "samples/s over the floor's samples/s in this run"
    )
    write_report(args.out, "The simulator's floor: neurosig against plain Brian2", intro,
                 "\n\n".join(sections))  # fmt: skip
    write_csv(args.out.with_suffix(".csv"), csv, CSV_FIELDS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
