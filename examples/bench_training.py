"""
====================================================
Training and prediction speed against PyTorch's RNN
====================================================

A benchmark, not a tutorial: it times one training epoch of
:class:`~sklearn_elman.ElmanClassifier` (one ``partial_fit`` over the whole training
set: Adam at 1e-3, mini-batches of 64, float32, the estimator's default gradient
clipping and thread policy) against the same network in PyTorch
(``torch.nn.RNN(nonlinearity="tanh", batch_first=True)`` plus ``torch.nn.Linear``,
Adam, one torch thread), measured in the same run with the epochs interleaved, and
the time and peak memory of ``predict_proba`` on the whole training set. PyTorch is
optional: without it only this package is measured.

The task: three classes; each sequence is standard normal noise of shape (T, d)
with a class-specific motif of three steps of +-2 entries added at a random
position in the second half, so that the class can only be read by a network that
remembers. Sizes: S (1000 sequences, T=20, d=4, 32 hidden units), M (5000, 50, 8,
64) and L (20000, 100, 16, 128).

A second, per-call section times the streaming use: a stateful
:class:`~sklearn_elman.ElmanClassifier` (one row of ``X`` is one time step of 8
features, 32 hidden units), fitted on a short stream, then ``predict_proba`` and
``partial_fit`` called on one row at a time, against a fitted
:class:`~sklearn.neural_network.MLPClassifier` with 32 hidden units on the same rows,
in the same run. It reports the median time per call over blocks of calls.

Run ``python examples/bench_training.py --sizes S,M,L`` (the default), or
``--per-call-only`` for the second section alone; ``--calls`` and ``--blocks`` set its
number of calls. The test suite runs ``--sizes S --calls 100 --blocks 3`` as a smoke
test. It prints tables and saves ``bench_training.png``.
"""

# %%
import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_elman import ElmanClassifier

SIZES = {
    # name: (n_sequences, n_steps, n_features, hidden_units, timed epochs)
    "S": (1000, 20, 4, 32, 7),
    "M": (5000, 50, 8, 64, 5),
    "L": (20000, 100, 16, 128, 3),
}
N_CLASSES = 3
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
# The network torch.nn.RNN computes: every step read, the output on the last state.
SAME_NETWORK = {"patch_size": 1, "readout": "last"}

# The per-call section: features per step, hidden units, steps of the fitting stream.
PER_CALL_FEATURES = 8
PER_CALL_HIDDEN = 32
PER_CALL_FIT_STEPS = 1000

# What ``--help`` shows: plain text (the module docstring is Sphinx markup).
DESCRIPTION = """\
Time sklearn_elman's ElmanClassifier against the same network in PyTorch
(torch.nn.RNN, one thread, optional): one training epoch (Adam at 1e-3,
mini-batches of 64, float32) and predict_proba on the whole training set, at
sizes S (1000 sequences x 20 steps x 4 features, 32 hidden units), M (5000 x 50
x 8, 64) and L (20000 x 100 x 16, 128). Then time the streaming use, one row
(one time step) per call: predict_proba and partial_fit of a stateful
ElmanClassifier against MLPClassifier. Prints tables and saves
bench_training.png in the current directory."""


def make_data(n_sequences, n_steps, n_features, seed=0):
    """Noise with a class-specific 3-step motif somewhere in the second half."""
    rng = np.random.default_rng(seed)
    motifs = rng.choice([-2.0, 2.0], size=(N_CLASSES, 3, n_features))
    y = rng.integers(0, N_CLASSES, size=n_sequences)
    X = rng.standard_normal((n_sequences, n_steps, n_features), dtype=np.float32)
    start = rng.integers(n_steps // 2, n_steps - 2, size=n_sequences)
    steps = start[:, None] + np.arange(3)
    X[np.arange(n_sequences)[:, None], steps] += motifs[y].astype(np.float32)
    return X, y


def gemm_flops_per_epoch(n_sequences, n_steps, n_features, hidden):
    """Floating-point operations of the matrix products of one training epoch.

    Per step: the forward product [h, x, 1] @ W (2 * C * h with C = h + d + 1), the
    backward recurrence (2 * h * h) and the share of the weight gradient (2 * C * h);
    per sequence: the output layer forward and backward (6 * h * K).
    """
    stacked = hidden + n_features + 1
    per_step = 2 * stacked * hidden + 2 * hidden * hidden + 2 * stacked * hidden
    return n_sequences * (n_steps * per_step + 6 * hidden * N_CLASSES)


def large_gemm_gflops(threads=1, size=2048):
    """numpy's float32 matrix-product rate on large matrices, with ``threads``."""
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    with threadpool_limits(threads, user_api="blas"):
        a @ a
        start = time.perf_counter()
        for _ in range(3):
            a @ a
        seconds = (time.perf_counter() - start) / 3
    return 2 * size**3 / seconds / 1e9


def import_torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


NO_TORCH_NOTE = "PyTorch was not installed, so only sklearn_elman was timed."


class TorchRNN:
    """The same network in PyTorch, trained the way the estimator trains."""

    def __init__(self, torch, n_features, hidden, seed=0):
        torch.manual_seed(seed)
        self.torch = torch
        self.rnn = torch.nn.RNN(
            n_features, hidden, nonlinearity="tanh", batch_first=True
        )
        self.out = torch.nn.Linear(hidden, N_CLASSES)
        parameters = list(self.rnn.parameters()) + list(self.out.parameters())
        self.optimizer = torch.optim.Adam(parameters, lr=LEARNING_RATE)
        self.loss = torch.nn.CrossEntropyLoss()

    def epoch(self, X, y):
        torch = self.torch
        order = torch.randperm(len(X))
        total = 0.0
        for start in range(0, len(X), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            self.optimizer.zero_grad()
            states, _ = self.rnn(X[rows])
            loss = self.loss(self.out(states[:, -1]), y[rows])
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach()) * len(rows)
        return total / len(X)

    def predict_proba(self, X):
        torch = self.torch
        with torch.no_grad():
            states, _ = self.rnn(X)
            return torch.softmax(self.out(states[:, -1]), dim=1)


def time_training(size, torch):
    n_sequences, n_steps, n_features, hidden, n_epochs = SIZES[size]
    X, y = make_data(n_sequences, n_steps, n_features)
    ours = ElmanClassifier(
        hidden_units=hidden,
        batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE,
        random_state=0,
        **SAME_NETWORK,
    )
    ours.partial_fit(X, y, classes=np.arange(N_CLASSES))  # warm-up epoch
    theirs = None
    if torch is not None:
        X_torch, y_torch = torch.from_numpy(X), torch.from_numpy(y)
        theirs = TorchRNN(torch, n_features, hidden)
        theirs.epoch(X_torch, y_torch)  # warm-up epoch
    our_times, their_times, their_loss = [], [], float("nan")
    for _ in range(n_epochs):
        start = time.perf_counter()
        ours.partial_fit(X, y)
        our_times.append(time.perf_counter() - start)
        if theirs is not None:
            start = time.perf_counter()
            their_loss = theirs.epoch(X_torch, y_torch)
            their_times.append(time.perf_counter() - start)
    return {
        "ours": float(np.median(our_times)),
        "torch": float(np.median(their_times)) if their_times else None,
        "our_loss": float(ours.loss_),
        "torch_loss": their_loss,
        "gflop": gemm_flops_per_epoch(n_sequences, n_steps, n_features, hidden) / 1e9,
    }


# %%
# The subnormal trap: once a network is confident, the gradients reaching early
# steps fall below float32's smallest normal number, where x86 CPUs compute many
# times more slowly. The estimator flushes them to zero while it computes; this
# times one mini-batch of confident outputs with and without that guard. It uses
# the package's private maths module to isolate the batch.


def subnormal_trap(size, margin_scale=80.0, repeats=5):
    from sklearn_elman import _elman, _runtime

    _, n_steps, n_features, hidden, _ = SIZES[size]
    X, _ = make_data(BATCH_SIZE, n_steps, n_features)
    params = _elman.init_params(
        n_features, hidden, N_CLASSES, np.random.default_rng(0), np.float32
    )
    # Scaling the output weights makes every output certain of its class.
    params.output_weights[...] *= margin_scale
    last = _elman.run_hidden(params, X).last_hidden()
    Y = np.eye(N_CLASSES, dtype=np.float32)[np.argmax(last @ params.output_weights, 1)]

    def time_gradients():
        _elman.loss_and_gradient(params, X, Y)
        start = time.perf_counter()
        for _ in range(repeats):
            _elman.loss_and_gradient(params, X, Y)
        return (time.perf_counter() - start) / repeats

    with threadpool_limits(1, user_api="blas"):
        # The estimators' own guard (BLAS is limited above, for both).
        guarded = _runtime.run_with_settings(None, time_gradients)
        plain = time_gradients()
    return guarded, plain, _runtime.subnormals_flushed_here()


# %%
# Peak memory is measured in a fresh process per library: the peak resident set
# is reset just before the call (Linux's /proc/self/clear_refs), so that what the
# data and the model already hold is not counted.


def _resident_bytes(field):
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def measure_prediction(size, library):
    """Run in a child process: time and peak memory of one prediction."""
    n_sequences, n_steps, n_features, hidden, _ = SIZES[size]
    X, y = make_data(n_sequences, n_steps, n_features)
    if library == "ours":
        model = ElmanClassifier(
            hidden_units=hidden, batch_size=BATCH_SIZE, **SAME_NETWORK
        )
        model.partial_fit(X[:BATCH_SIZE], y[:BATCH_SIZE], classes=np.arange(3))
        model.predict_proba(X[:BATCH_SIZE])
        data = X
    else:
        torch = import_torch()
        model = TorchRNN(torch, n_features, hidden)
        data = torch.from_numpy(X)
        model.predict_proba(data[:BATCH_SIZE])
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        pass
    before = _resident_bytes("VmRSS")
    start = time.perf_counter()
    model.predict_proba(data)
    seconds = time.perf_counter() - start
    peak = _resident_bytes("VmHWM")
    extra = None if before is None or peak is None else max(peak - before, 0)
    print(json.dumps({"seconds": seconds, "peak_bytes": extra}))


def prediction_in_child(size, library):
    result = subprocess.run(
        [sys.executable, __file__, "--predict-child", size, library],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


# %%
# Per call, on a live stream: a stateful estimator reads one row (one time step) per
# call, so what counts there is the fixed cost of a call, not the throughput of the
# maths. Both models are first fitted on a short stream; each block then replays the
# same rows from the start of a new stream (``reset_context()``), and each
# ``partial_fit`` call takes one Adam step on one row. The classes are named in a first
# ``partial_fit`` call of each model (a fitted model knows them already).


def time_per_call(n_calls=2000, n_blocks=5, warm_up=50):
    """Median microseconds per call of predict_proba and partial_fit on one row."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    n_features, n_fit = PER_CALL_FEATURES, PER_CALL_FIT_STEPS
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_fit + n_calls, n_features))
    # The class of a step is the sign of the first feature of the step before.
    y = np.r_[0, X[:-1, 0] > 0].astype(int)
    classes = np.array([0, 1])
    ours = ElmanClassifier(
        stateful=True,
        n_features_per_step=n_features,  # one row of X is one time step
        readout="last",  # a row's only state: pooling it would only cost time
        hidden_units=PER_CALL_HIDDEN,
        max_iter=20,
        random_state=0,
    )
    mlp = MLPClassifier(
        hidden_layer_sizes=(PER_CALL_HIDDEN,), max_iter=20, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X[:n_fit], y[:n_fit])
        mlp.fit(X[:n_fit], y[:n_fit])
    rows = [X[i : i + 1] for i in range(n_fit, n_fit + n_calls)]
    targets = [y[i : i + 1] for i in range(n_fit, n_fit + n_calls)]
    accuracy = {  # the Elman network continues the stream it was fitted on
        "ours": float(np.mean(ours.predict(X[n_fit:]) == y[n_fit:])),
        "mlp": float(np.mean(mlp.predict(X[n_fit:]) == y[n_fit:])),
    }
    for model in (ours, mlp):
        model.partial_fit(rows[0], targets[0], classes=classes)

    def run(model, method, n):
        call = getattr(model, method)
        if model is ours:
            ours.reset_context()  # every block replays the same stream
        start = time.perf_counter()
        if method == "predict_proba":
            for row in rows[:n]:
                call(row)
        else:
            for row, target in zip(rows[:n], targets[:n]):
                call(row, target)
        return (time.perf_counter() - start) / n

    cases = [
        (method, name, model)
        for method in ("predict_proba", "partial_fit")
        for name, model in (("ours", ours), ("mlp", mlp))
    ]
    for method, _, model in cases:
        run(model, method, min(warm_up, n_calls))
    times = {(method, name): [] for method, name, _ in cases}
    for _ in range(n_blocks):  # the cases interleaved, so that they share the noise
        for method, name, model in cases:
            times[method, name].append(run(model, method, n_calls))
    return {
        "us": {key: float(np.median(values)) * 1e6 for key, values in times.items()},
        "spread": {
            key: (min(values) * 1e6, max(values) * 1e6) for key, values in times.items()
        },
        "accuracy": accuracy,
        "n_calls": n_calls,
        "n_blocks": n_blocks,
    }


def print_per_call(result):
    us, spread = result["us"], result["spread"]
    print(
        f"\nPer call on one row of a stream ({PER_CALL_FEATURES} features, "
        f"{PER_CALL_HIDDEN} hidden units, float64): median of {result['n_blocks']} "
        f"blocks of {result['n_calls']} calls, microseconds per call"
    )
    print(
        f"{'call':<14} {'ours (stateful)':>15} {'MLPClassifier':>13} {'ours/MLP':>8}"
        f"   {'ours min-max':>13} {'MLP min-max':>13}"
    )
    for method in ("predict_proba", "partial_fit"):
        ours, mlp = us[method, "ours"], us[method, "mlp"]
        low_ours, high_ours = spread[method, "ours"]
        low_mlp, high_mlp = spread[method, "mlp"]
        print(
            f"{method:<14} {ours:>15.0f} {mlp:>13.0f} {ours / mlp:>8.2f}"
            f"   {low_ours:>6.0f}-{high_ours:<6.0f} {low_mlp:>6.0f}-{high_mlp:<6.0f}"
        )
    accuracy = result["accuracy"]
    print(
        "ours/MLP below 1: ours is faster. Accuracy on the timed rows after fitting "
        f"(ours {accuracy['ours']:.2f}, MLP {accuracy['mlp']:.2f}):\nthe class is "
        "the sign of a feature one step back, which only the Elman network remembers."
    )


def cpu_description():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in info
                if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def machine_description(torch):
    blas = next(
        (lib for lib in threadpool_info() if "numpy" in lib.get("filepath", "")), {}
    )
    return (
        f"{cpu_description()}; numpy {np.__version__} with "
        f"{blas.get('internal_api', '?')} {blas.get('version', '')} "
        f"({blas.get('architecture', '?')}); "
        + (f"torch {torch.__version__}" if torch is not None else "torch not installed")
    )


def _cell(value, spec):
    """``value`` formatted with ``spec``, or a dash of the same width if None."""
    if value is None:
        return format("-", ">" + spec.split(".")[0])
    return format(value, spec)


def _ratio(ours, theirs):
    return ours / theirs if theirs else None


def _megabytes(prediction):
    if prediction is None or prediction["peak_bytes"] is None:
        return None
    return prediction["peak_bytes"] / 2**20


def main(sizes):
    torch = import_torch()
    print(machine_description(torch))
    peak_rate = large_gemm_gflops(threads=1)
    print(f"numpy large-GEMM rate (float32, 2048^2, 1 thread): {peak_rate:.0f} GFLOP/s")
    header = (
        f"{'size':4} {'ours s/ep':>10} {'torch s/ep':>10} {'ratio':>6} "
        f"{'GFLOP/s':>8} {'of peak':>7} {'pred ours':>9} {'pred torch':>10} "
        f"{'ratio':>6} {'peak MB':>8} {'torch MB':>8}"
    )
    print(header)
    rows = {}
    for size in sizes:
        train = time_training(size, torch)
        pred_ours = prediction_in_child(size, "ours")
        pred_torch = prediction_in_child(size, "torch") if torch else None
        rows[size] = (train, pred_ours, pred_torch)
        rate = train["gflop"] / train["ours"]
        cells = [
            f"{size:4}",
            f"{train['ours']:10.4f}",
            _cell(train["torch"], "10.4f"),
            _cell(_ratio(train["ours"], train["torch"]), "6.2f"),
            f"{rate:8.1f}",
            f"{rate / peak_rate:7.0%}",
            f"{pred_ours['seconds']:9.3f}",
            _cell(pred_torch and pred_torch["seconds"], "10.3f"),
            _cell(
                _ratio(pred_ours["seconds"], pred_torch and pred_torch["seconds"]),
                "6.2f",
            ),
            _cell(_megabytes(pred_ours), "8.0f"),
            _cell(_megabytes(pred_torch), "8.0f"),
        ]
        print(" ".join(cells))
    guarded, unguarded, active = subnormal_trap(sizes[-1])
    print(
        f"subnormal trap, one batch of confident outputs at size {sizes[-1]}: "
        f"{guarded * 1e3:.1f} ms with the guard, {unguarded * 1e3:.1f} ms without"
        + ("" if active else " (the guard is inactive on this platform)")
    )
    print(
        "ratio = ours / torch (below 1: ours is faster); loss after the last epoch: "
        + ", ".join(
            f"{size} ours {train['our_loss']:.3f}"
            + (f" torch {train['torch_loss']:.3f}" if train["torch"] else "")
            for size, (train, _, _) in rows.items()
        )
    )
    return rows, torch is not None


def _bar_labels(ax, bars, values, unit):
    labels = [
        f"{value:.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"
        for value in values
    ]
    ax.bar_label(bars, labels, padding=2)
    ax.margins(y=0.15)  # room for the labels above the bars


def plot(rows, torch_installed, per_call, machine):
    import matplotlib.pyplot as plt

    n_panels = len(rows) + (per_call is not None)
    fig, axes = plt.subplots(
        1, n_panels, figsize=(3.4 * n_panels + 0.6, 4.4), layout="constrained"
    )
    axes = np.atleast_1d(axes)
    for ax, (size, (train, _, _)) in zip(axes, rows.items()):
        n_sequences, n_steps, n_features, hidden, _ = SIZES[size]
        seconds = [train["ours"]] + ([train["torch"]] if train["torch"] else [])
        # Milliseconds for short epochs, so that the axis reads in plain numbers.
        scale, unit = (1e3, "ms") if max(seconds) < 1 else (1.0, "s")
        values = [value * scale for value in seconds]
        names = ["sklearn_elman", "PyTorch nn.RNN\n(1 thread)"][: len(values)]
        bars = ax.bar(
            np.arange(len(values)),
            values,
            width=0.6,
            color=["tab:blue", "tab:gray"][: len(values)],
        )
        _bar_labels(ax, bars, values, unit)
        ax.set_xticks(np.arange(len(values)), names)
        ax.set_xlim(-0.7, 1.7)  # the same bar width with or without PyTorch
        ax.set_ylabel(f"time per training epoch ({unit})")
        title = (
            f"One training epoch, size {size}\n{n_sequences} sequences x {n_steps} "
            f"steps x {n_features} features\n{hidden} hidden units"
        )
        if train["torch"]:
            title += f"; ours / PyTorch = {train['ours'] / train['torch']:.2f}"
        ax.set_title(title, fontsize=9)
        if not torch_installed:
            ax.text(  # where the PyTorch bar would be
                0.71,
                0.5,
                "PyTorch\nnot installed:\nnot timed",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="tab:red",
                bbox={"facecolor": "white", "edgecolor": "tab:red"},
            )
    if per_call is not None:
        ax = axes[-1]
        methods = ("predict_proba", "partial_fit")
        x = np.arange(len(methods))
        for offset, name, label, color in (
            (-0.2, "ours", "ElmanClassifier (stateful)", "tab:blue"),
            (0.2, "mlp", "MLPClassifier", "tab:orange"),
        ):
            values = [per_call["us"][method, name] for method in methods]
            bars = ax.bar(x + offset, values, width=0.4, label=label, color=color)
            _bar_labels(ax, bars, values, "µs")
        ax.set_xticks(x, [f"{method}\n(one row)" for method in methods])
        ax.set_ylabel("time per call (µs, median of blocks)")
        ax.set_title(
            f"Streaming: one row (one time step) per call\n{PER_CALL_FEATURES} "
            f"features, {PER_CALL_HIDDEN} hidden units; median of\n"
            f"{per_call['n_blocks']} blocks of {per_call['n_calls']} calls",
            fontsize=9,
        )
        ax.legend(loc="upper left", fontsize=8)
    suptitle = f"Lower is faster; measured on {machine}"
    if rows:
        suptitle += "\nTraining: Adam at 1e-3, mini-batches of 64, float32"
    fig.suptitle(suptitle, fontsize=9)
    if not torch_installed:
        fig.supxlabel(NO_TORCH_NOTE, color="tab:red")
    fig.savefig("bench_training.png", dpi=100)
    print(f"Saved the figure to {os.path.abspath('bench_training.png')}")


# %%
if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default="S,M,L",
        help="comma-separated training sizes, of S, M, L (default: S,M,L)",
    )
    parser.add_argument(
        "--per-call-only",
        action="store_true",
        help="run only the per-call streaming section",
    )
    parser.add_argument(
        "--calls",
        type=int,
        default=2000,
        help="per-call section: calls per block (default: 2000)",
    )
    parser.add_argument(
        "--blocks",
        type=int,
        default=5,
        help="per-call section: blocks, of which the median is reported (default: 5)",
    )
    parser.add_argument("--predict-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.predict_child:
        measure_prediction(*args.predict_child)
    else:
        sizes = [size.strip().upper() for size in args.sizes.split(",")]
        unknown = sorted(set(sizes) - set(SIZES))
        if unknown:
            parser.error(f"unknown size(s) {unknown}; choose among {sorted(SIZES)}")
        if args.calls < 1 or args.blocks < 1:
            parser.error("--calls and --blocks must be at least 1")
        if args.per_call_only:  # PyTorch plays no part in this section
            print(machine_description(import_torch()))
            rows, torch_installed = {}, True
        else:
            rows, torch_installed = main(sizes)
        per_call = time_per_call(args.calls, args.blocks)
        print_per_call(per_call)
        if not torch_installed:
            print(NO_TORCH_NOTE)
        plot(rows, torch_installed, per_call, cpu_description())
