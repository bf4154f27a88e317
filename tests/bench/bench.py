"""make bench (tests/bench.sh runs this with any python3; PyTorch's side
runs under /usr/bin/python3 with Debian's python3-torch): gevo's engine
against PyTorch on the same machine, in the same run, alternating sides,
and the ratios against the goals of the engine's speed issue. The machine
may be shared: compare ratios of one run, not times across runs.

What it measures (BENCH_* variables below change it):
- the sgemm rate of the linked OpenBLAS (tests/bench/engine_sgemm.c);
- training images/s, one pass over BENCH_IMAGES images at batch 128 on
  BENCH_THREADS threads: gevo train, and PyTorch in both memory formats
  (contiguous and channels_last; the faster is the reference), for
  exquisitenetv2 and smallcnn on Fashion-MNIST and exquisitenetv2 on
  3x32x32 images (CIFAR-10 from BENCH_CIFAR, else synthetic CIFAR-10
  batches that both sides read); peak resident memory of each run;
- inference images/s on the 10,000 test images: gevo's evaluation against
  PyTorch's eval mode under no_grad, at the same batch, each side the
  fastest of BENCH_EVAL_PASSES passes (gevo: its training run's test pass,
  then gevo eval of the weights it saved; a pass takes a quarter of a
  second, and one slow stretch of a shared machine would decide a single
  one);
- test accuracy after the pass (parity, at 60,000 images): one epoch's
  accuracy moves by 1-2 points between seeds on either side, so parity
  is the mean over BENCH_SEEDS seeds of each side (the rows' seeds, then
  accuracy-only runs against PyTorch's faster format), with its standard
  error;
- the quick-preset candidate's time split: quick.net, 10,000 images, one
  epoch with validation, run as the evaluator runs it (one thread);
- optionally (BENCH_PAIR=1) two candidates at once on one thread each
  against one at a time on two threads.

Environment: BENCH_IMAGES (60000), BENCH_REPEAT (1: rows per network; the
goals use the median; row r runs seed r + 1), BENCH_SEEDS (6: seeds of
the accuracy parity; three leave a standard error of about two points,
more than the tolerance), BENCH_NETS ("exquisitenetv2 smallcnn cifar"),
BENCH_THREADS (2), BENCH_DATA (Fashion-MNIST), BENCH_CIFAR (a folder of
CIFAR-10 binary batches), BENCH_CIFAR_IMAGES (12800), BENCH_EVAL_BATCH
(gevo's default, the batch), BENCH_EVAL_PASSES (3), BENCH_QUICK (1), BENCH_PAIR (0),
BENCH_TORCH (1; 0 runs gevo's side only), BENCH_CORETYPE (empty: the
faster of the environment's OPENBLAS_CORETYPE and OpenBLAS's own choice,
for both sides; "env": the environment's; a name: that one). A bench
asserts nothing and no test depends on it."""
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
GEVO = os.path.join(ROOT, BUILD, "gevo")
BENCH_BIN = os.path.join(ROOT, BUILD, "tests", "bench")
TORCH_PY = "/usr/bin/python3"
REFERENCE = os.path.join(ROOT, "tests", "reference", "bench.py")


def env(name, default):
    v = os.environ.get(name)
    return v if v not in (None, "") else default


IMAGES = int(env("BENCH_IMAGES", "60000"))
REPEAT = int(env("BENCH_REPEAT", "1"))
SEEDS = int(env("BENCH_SEEDS", "6"))
NETS = env("BENCH_NETS", "exquisitenetv2 smallcnn cifar").split()
THREADS = int(env("BENCH_THREADS", "2"))
DATA = env("BENCH_DATA", "/usr/share/datasets/fashion-mnist")
CIFAR = env("BENCH_CIFAR", "")
CIFAR_IMAGES = int(env("BENCH_CIFAR_IMAGES", "12800"))
EVAL_BATCH = env("BENCH_EVAL_BATCH", "")
EVAL_PASSES = max(1, int(env("BENCH_EVAL_PASSES", "3")))
QUICK = env("BENCH_QUICK", "1") == "1"
PAIR = env("BENCH_PAIR", "0") == "1"
TORCH = env("BENCH_TORCH", "1") == "1"
BENCH_CORETYPE = env("BENCH_CORETYPE", "")
FORMATS = ("contiguous", "channels_last")

# the goals (ratios in one run, same network, batch 128, against PyTorch's
# faster memory format)
GOALS = {"exquisitenetv2": (5.0, 0.40), "smallcnn": (3.5, 0.65)}
GOAL_RSS_MB = 200
GOAL_INFER = 3.0
GOAL_QUICK_SHARE = 0.25
GOAL_PARITY = 0.015


class Failed(Exception):
    pass


def run(cmd, out_path, cwd=ROOT, extra_env=None):
    """Runs cmd with stdout to out_path; returns (wall seconds, peak RSS MB)."""
    e = dict(os.environ)
    e.update(extra_env or {})
    with open(out_path, "w") as out, open(out_path + ".err", "w") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=e)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0,):
        with open(out_path + ".err") as f:
            tail = f.read().strip().splitlines()[-3:]
        raise Failed("%s failed (exit %d): %s" % (" ".join(cmd[:3]), p.returncode, " | ".join(tail)))
    return wall, usage.ru_maxrss / 1024


def last_json(path):
    with open(path) as f:
        text = f.read()
    start = text.find("{")
    if start < 0:
        raise Failed("%s: no JSON" % path)
    # gevo prints one indented object, PyTorch's side one line
    try:
        return json.loads(text[start:])
    except ValueError:
        return json.loads(text.strip().splitlines()[-1])


def synthetic_cifar(folder, n_train):
    """CIFAR-10 binary batches of random pixels (label, then 3x32x32
    bytes): the paper's shape when the real data set is absent."""
    os.makedirs(folder, exist_ok=True)
    rnd = random.Random(0)
    for name, n in (("data_batch_1.bin", n_train), ("test_batch.bin", 10000)):
        with open(os.path.join(folder, name), "wb") as f:
            for i in range(n):
                f.write(bytes([i % 10]) + rnd.randbytes(3072))
    return folder


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


TMP = tempfile.mkdtemp(prefix="gevo-bench.")


def main():
    tmp = TMP
    if not os.access(GEVO, os.X_OK):
        sys.exit("bench: %s missing (make gevo)" % GEVO)
    if not os.path.isdir(DATA):
        sys.exit("bench: no data in %s (apt-get install dataset-fashion-mnist)" % DATA)
    load0 = os.getloadavg()
    sgemm, core, kernels = choose_kernels(tmp)
    torch_version = None
    if TORCH:
        try:
            out = subprocess.run([TORCH_PY, "-c", "import torch; print(torch.__version__)"],
                                 capture_output=True, text=True, check=True)
            torch_version = out.stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    print("bench: %d cores, load %.2f %.2f %.2f, %d images, batch 128, %d threads; OpenBLAS %s "
          "kernels; PyTorch %s" % (os.cpu_count(), *load0, IMAGES, THREADS, core,
                                   torch_version or "absent: gevo's side only"))
    if kernels:
        print("kernels: " + kernels)
    if sgemm:
        print("sgemm: %.1f GFLOP/s on %d threads (%s kernels)" % (sgemm, THREADS, core))

    cifar = CIFAR
    if "cifar" in NETS and not (cifar and os.path.exists(os.path.join(cifar, "data_batch_1.bin"))):
        cifar = synthetic_cifar(os.path.join(tmp, "cifar"), CIFAR_IMAGES)
        print("cifar: no CIFAR-10 in BENCH_CIFAR: %d synthetic images of 3x32x32 (accuracy "
              "meaningless), the same files for both sides" % CIFAR_IMAGES)
    # label, network, data, input shape, images
    plans = {"exquisitenetv2": ("exquisitenetv2", "exquisitenetv2", DATA, "1x28x28", IMAGES),
             "smallcnn": ("smallcnn", "smallcnn", DATA, "1x28x28", IMAGES),
             "quick": ("quick", "quick", DATA, "1x28x28", IMAGES),
             "cifar": ("exq 3x32x32", "exquisitenetv2", cifar, "3x32x32", CIFAR_IMAGES)}
    rows = []
    for r in range(REPEAT):
        for k, name in enumerate(NETS):
            label, net, data, shape, n = plans[name]
            cache = {"GEVO_CACHE_DIR": os.path.join(tmp, "cache")} if data == cifar else {}
            sides = ["gevo"] + (list(FORMATS) if torch_version else [])
            if (r + k) % 2:
                sides.reverse()  # alternate who goes first: the load drifts
            row = {"label": label, "net": net, "torch": {}}
            for side in sides:
                out = os.path.join(tmp, "%s-%s-%d.json" % (name, side, r))
                if side == "gevo":
                    weights = out + ".weights"
                    wall, rss = run(gevo_cmd(net, data, shape, n, r + 1, weights), out,
                                    extra_env=cache)
                    g = last_json(out)
                    note(label, "gevo", g["images_per_sec"])
                    secs = [g["timing"]["test"]] + gevo_eval_secs(net, data, shape, weights, out,
                                                                  cache)
                    secs = [t for t in secs if t]
                    row.update(gevo=g["images_per_sec"], flops=g["flops"], gevo_mb=rss,
                               gevo_acc=g["test_acc"],
                               gevo_eval=10000 / min(secs) if secs else None)
                else:
                    wall, rss = run(torch_cmd(net, data, n, side, r + 1), out)
                    t = last_json(out)
                    note(label, "torch " + side, t["images_per_second"])
                    row["torch"][side] = {"ips": t["images_per_second"], "mb": rss,
                                          "acc": t["test_accuracy"],
                                          "eval": t["eval_images_per_second"]}
            derive(row, sgemm)
            rows.append(row)

    if rows:
        tables(rows)
    parity = accuracy_seeds(rows, plans, tmp) if torch_version else {}
    quick = quick_split(tmp) if QUICK else None
    if PAIR:
        pair(tmp)
    goals(rows, sgemm, quick, parity)
    load1 = os.getloadavg()
    print("bench: load %.2f %.2f %.2f at the end" % load1)


def sgemm_rate(tmp, coretype):
    """engine_sgemm's (GFLOP/s, core name) with OPENBLAS_CORETYPE set to
    coretype, or unset (OpenBLAS's own choice, or gevo's where OpenBLAS
    falls back to SSE3: ops_blas_init) when coretype is None."""
    exe = os.path.join(BENCH_BIN, "engine_sgemm")
    if not os.access(exe, os.X_OK):
        return None, "?"
    saved = os.environ.pop("OPENBLAS_CORETYPE", None)
    if coretype:
        os.environ["OPENBLAS_CORETYPE"] = coretype
    try:
        out = os.path.join(tmp, "sgemm-%s.json" % (coretype or "auto"))
        run([exe, str(THREADS)], out)
        s = last_json(out)
    finally:
        os.environ.pop("OPENBLAS_CORETYPE", None)
        if saved is not None:
            os.environ["OPENBLAS_CORETYPE"] = saved
    return s["sgemm_gflops"], s["core"]


def choose_kernels(tmp):
    """Both sides run with the faster of the OpenBLAS kernels the
    environment asks for (OPENBLAS_CORETYPE) and the ones chosen for the
    CPU without it: a CORETYPE of narrower vectors than the CPU has (a
    Haswell setting on an AVX-512 CPU) halves sgemm, and PyTorch's
    convolutions (oneDNN) use the CPU's widest vectors whatever it says.
    BENCH_CORETYPE=env keeps the environment's, BENCH_CORETYPE=NAME forces
    one. The sgemm rate the goals compare with is the chosen kernels'.
    Returns (GFLOP/s, core, a line saying what was chosen, or None)."""
    want, env_core = BENCH_CORETYPE, os.environ.get("OPENBLAS_CORETYPE")
    if want == "env" or (not want and not env_core):
        rate, core = sgemm_rate(tmp, env_core)
        return rate, core, None
    if want:
        os.environ["OPENBLAS_CORETYPE"] = want
        rate, core = sgemm_rate(tmp, want)
        return rate, core, "OPENBLAS_CORETYPE=%s (BENCH_CORETYPE)" % want
    env_rate, _ = sgemm_rate(tmp, env_core)
    auto_rate, auto_core = sgemm_rate(tmp, None)
    if env_rate is None or auto_rate is None or env_rate >= auto_rate:
        return env_rate, env_core, ("OPENBLAS_CORETYPE=%s from the environment (%s GFLOP/s; "
                                    "unset: %s, %s)" % (env_core, env_rate, auto_core, auto_rate))
    os.environ.pop("OPENBLAS_CORETYPE", None)
    return auto_rate, auto_core, (
        "%s, OpenBLAS's choice for this CPU, %.1f GFLOP/s, for both sides: the environment's "
        "OPENBLAS_CORETYPE=%s gives %.1f (BENCH_CORETYPE=env keeps it)" % (
            auto_core, auto_rate, env_core, env_rate))


def gevo_cmd(net, data, shape, n, seed, weights=None):
    cmd = [GEVO, "train", "engine/nets/%s.net" % net, "--data", data, "--input", shape,
           "--subset", str(n), "--val-split", "0", "--set", "schedule=constant",
           "--threads", str(THREADS), "--seed", str(seed), "--quiet"]
    cmd += ["--weights", weights] if weights else []
    return cmd + (["--eval-batch", EVAL_BATCH] if EVAL_BATCH else [])


def gevo_eval_secs(net, data, shape, weights, out, extra_env):
    """Seconds of the test set's passes after the training run's: gevo
    eval of the saved weights, at the training run's evaluation batch."""
    secs = []
    for k in range(EVAL_PASSES - 1):
        path = "%s.eval%d" % (out, k)
        run([GEVO, "eval", "engine/nets/%s.net" % net, weights, "--data", data, "--input", shape,
             "--threads", str(THREADS), "--batch", EVAL_BATCH or "128"], path, extra_env=extra_env)
        secs.append(last_json(path)["seconds"])
    return secs


def torch_cmd(net, data, n, fmt_name, seed):
    return [TORCH_PY, REFERENCE, "--model", net, "--data", data, "--images", str(n),
            "--threads", str(THREADS), "--memory-format", fmt_name, "--seed", str(seed),
            "--eval-batch", EVAL_BATCH or "128", "--eval-passes", str(EVAL_PASSES)]


def mean_se(xs):
    """(mean, standard error of the mean) of xs; se None for one value."""
    m = statistics.fmean(xs)
    return m, (statistics.stdev(xs) / len(xs) ** 0.5 if len(xs) > 1 else None)


def accuracy_seeds(rows, plans, tmp):
    """Test accuracy over seeds 1..SEEDS on both sides, for the networks of
    the goals at 60,000 images: the rows give their seeds, accuracy-only
    runs the rest, PyTorch in the format that trained faster in the rows.
    Returns {net: (mean difference, its standard error, seeds)}."""
    if IMAGES < 60000:
        return {}
    found = {}
    for net in GOALS:
        mine = [r for r in rows if r["label"] == net and r["torch"]]
        if not mine:
            continue
        f, _ = best_format(mine[0], "ips")
        g = {k + 1: r["gevo_acc"] for k, r in enumerate(mine)}
        t = {k + 1: r["torch"][f]["acc"] for k, r in enumerate(mine) if f in r["torch"]}
        _, _, data, shape, n = plans[net]
        for seed in range(1, SEEDS + 1):
            out = os.path.join(tmp, "acc-%s-%d.json" % (net, seed))
            if seed not in g:
                run(gevo_cmd(net, data, shape, n, seed), out)
                g[seed] = last_json(out)["test_acc"]
            if seed not in t:
                run(torch_cmd(net, data, n, f, seed), out)
                t[seed] = last_json(out)["test_accuracy"]
            print("bench: %s accuracy, seed %d: gevo %.4f, torch %s %.4f" % (
                net, seed, g[seed], f, t[seed]), file=sys.stderr, flush=True)
        seeds = sorted(set(g) & set(t))
        gm, gse = mean_se([g[s] for s in seeds])
        tm, tse = mean_se([t[s] for s in seeds])
        se = (gse ** 2 + tse ** 2) ** 0.5 if gse is not None else None
        found[net] = (gm - tm, se, len(seeds))
        print("accuracy %s over seeds %s: gevo %s (mean %.4f), torch %s %s (mean %.4f): "
              "difference %+.2f%s points" % (
                  net, ",".join(map(str, seeds)), " ".join("%.4f" % g[s] for s in seeds), gm,
                  f, " ".join("%.4f" % t[s] for s in seeds), tm, 100 * (gm - tm),
                  " +- %.2f" % (100 * se) if se is not None else ""))
    sys.stdout.flush()
    return found


def note(label, side, ips):
    print("bench: %s, %s: %.0f img/s" % (label, side, ips), file=sys.stderr, flush=True)


def best_format(row, key):
    """The faster PyTorch format for key (ips or eval), and its value."""
    t = row["torch"]
    if not t:
        return None, None
    f = max(t, key=lambda k: t[k][key])
    return f, t[f][key]


def derive(row, sgemm):
    """Ratios of a row against the faster PyTorch format."""
    _, best = best_format(row, "ips")
    _, best_eval = best_format(row, "eval")
    row["gflops"] = 3 * row["flops"] * row["gevo"] / 1e9  # training: about three forward passes
    row["ratio"] = row["gevo"] / best if best else None
    row["frac"] = row["gflops"] / sgemm if sgemm else None
    row["infer_ratio"] = row["gevo_eval"] / best_eval if best_eval and row["gevo_eval"] else None
    # the ratios the arithmetic allows: gevo running every multiply-add at
    # the sgemm rate (training three forward passes, inference one)
    rate = sgemm * 1e9 if sgemm else None
    row["bound"] = rate / (3 * row["flops"]) / best if rate and best else None
    row["infer_bound"] = rate / row["flops"] / best_eval if rate and best_eval else None


def tables(rows):
    print("(bound: the ratio if every multiply-add of gevo's ran at the sgemm rate; a goal above "
          "it needs fewer multiplies, not faster ones)")
    print("training, one pass, batch 128, %d threads (img/s; ratio against the faster PyTorch "
          "format):" % THREADS)
    print("  %-14s %8s %8s %8s %6s %6s %8s %8s %8s %8s" % (
        "network", "gevo", "torch", "torch_cl", "ratio", "bound", "GFLOP/s", "of_sgemm",
        "gevo_MB", "torch_MB"))
    for row in rows:
        t = row["torch"]
        c, cl = t.get("contiguous", {}), t.get("channels_last", {})
        print("  %-14s %8.0f %8s %8s %6s %6s %8.1f %8s %8.0f %8s" % (
            row["label"], row["gevo"], fmt(c.get("ips"), ".0f"), fmt(cl.get("ips"), ".0f"),
            fmt(row["ratio"], ".2f"), fmt(row["bound"], ".2f"), row["gflops"],
            fmt(row["frac"] and 100 * row["frac"], ".1f") + "%", row["gevo_mb"],
            fmt(max([x["mb"] for x in t.values()], default=None), ".0f")))
    print("inference on the 10,000 test images, eval mode, batch %s (img/s, the fastest of %d "
          "passes), and test accuracy after the pass:" % (EVAL_BATCH or "128", EVAL_PASSES))
    print("  %-14s %8s %8s %8s %6s %6s %8s %8s %8s" % (
        "network", "gevo", "torch", "torch_cl", "ratio", "bound", "acc", "t_acc", "t_acc_cl"))
    for row in rows:
        t = row["torch"]
        c, cl = t.get("contiguous", {}), t.get("channels_last", {})
        print("  %-14s %8s %8s %8s %6s %6s %8s %8s %8s" % (
            row["label"], fmt(row["gevo_eval"], ".0f"), fmt(c.get("eval"), ".0f"),
            fmt(cl.get("eval"), ".0f"), fmt(row["infer_ratio"], ".2f"),
            fmt(row["infer_bound"], ".2f"),
            fmt(row["gevo_acc"], ".4f"), fmt(c.get("acc"), ".4f"), fmt(cl.get("acc"), ".4f")))
    sys.stdout.flush()


def quick_split(tmp):
    """The quick-preset candidate as the evaluator runs it
    (core/evaluator.c, core/evolve.c): where its wall time goes."""
    out = os.path.join(tmp, "quick.json")
    cmd = [GEVO, "train", "--progress", "--out", out + ".result", "--threads", "1",
           "--time-limit", "900", "--data", DATA, "--subset", "10000", "--epochs", "1",
           "--seed", "1", "--no-test", "engine/nets/quick.net"]
    run(cmd, out)  # a first run decodes the data into its cache if it is not there yet
    wall, _ = run(cmd, out)
    with open(out + ".result") as f:
        res = json.load(f)
    t = res["timing"]
    parts = [("start-up", t["startup"]), ("data loading", t["data_load"] + t["data_batches"]),
             ("training steps", t["train_steps"]), ("validation", t["validation"])]
    rest = wall - sum(v for _, v in parts)
    parts.append(("result and exit", rest))
    share = 1 - t["train_steps"] / wall
    print("quick-preset candidate (quick.net, 10,000 images, one epoch, validation on the "
          "held-out 10%%, 1 thread, data cache %s): %.2f s: %s; not training %.0f%%" % (
              "hit" if not res.get("data_cache", {}).get("decoded") else "decoded",
              wall, ", ".join("%s %.2f s (%.0f%%)" % (k, v, 100 * v / wall) for k, v in parts),
              100 * share))
    return share


def pair(tmp):
    """The evaluator's choice: two candidates at once on one thread each,
    or one at a time on two threads (same work, start-up included)."""
    n = "12800"
    cmd = lambda th: [GEVO, "train", "engine/nets/exquisitenetv2.net", "--input", "1x28x28",
                      "--data", DATA, "--subset", n, "--val-split", "0", "--no-test", "--set",
                      "schedule=constant", "--threads", th, "--quiet"]
    t0 = time.monotonic()
    for i in range(2):
        run(cmd("2"), os.path.join(tmp, "p%d.json" % i))
    t1 = time.monotonic()
    procs = [subprocess.Popen(cmd("1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              cwd=ROOT) for _ in range(2)]
    for p in procs:
        p.wait()
    t2 = time.monotonic()
    s, p = 2 * int(n) / (t1 - t0), 2 * int(n) / (t2 - t1)
    print("pair (exquisitenetv2, 2 x %s images, start-up included): one at a time on 2 threads "
          "%.0f img/s, two at once on 1 thread %.0f img/s (%.2fx)" % (n, s, p, p / s))


def goals(rows, sgemm, quick, parity):
    def med(net, key):
        return median([r.get(key) for r in rows if r["label"] == net])

    out = []

    def goal(text, value, ok, shown):
        out.append("%s: %s (%s)" % (text, "-" if value is None else "met" if ok else "not met",
                                    shown if value is not None else "not measured"))

    for net, (ratio, frac) in GOALS.items():
        v = med(net, "ratio")
        goal("%s >= %.1fx" % (net, ratio), v, v is not None and v >= ratio, fmt(v, ".2f") + "x")
        v = med(net, "frac")
        goal("%s >= %.0f%% of sgemm" % (net, 100 * frac), v, v is not None and v >= frac,
             fmt(v and 100 * v, ".1f") + "%")
    v = med("exquisitenetv2", "gevo_mb")
    goal("exquisitenetv2 peak RSS <= %d MB" % GOAL_RSS_MB, v, v is not None and v <= GOAL_RSS_MB,
         fmt(v, ".0f") + " MB")
    for net in GOALS:
        v = med(net, "infer_ratio")
        goal("%s inference >= %.0fx" % (net, GOAL_INFER), v, v is not None and v >= GOAL_INFER,
             fmt(v, ".2f") + "x")
    goal("quick candidate not training <= %.0f%%" % (100 * GOAL_QUICK_SHARE), quick,
         quick is not None and quick <= GOAL_QUICK_SHARE, fmt(quick and 100 * quick, ".0f") + "%")
    for net in GOALS:
        v, se, k = parity.get(net, (None, None, 0))
        shown = "needs 60000 images" if IMAGES < 60000 else (
            "mean of %d seeds %+.2f%s points" % (k, 100 * v, " +- %.2f" % (100 * se) if se else "")
            if v is not None else "")
        goal("%s accuracy within %.1f points" % (net, 100 * GOAL_PARITY), v,
             v is not None and abs(v) <= GOAL_PARITY, shown)
    print("goals: " + "; ".join(out))


if __name__ == "__main__":
    try:
        main()
    except Failed as e:
        sys.exit("bench: %s" % e)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
