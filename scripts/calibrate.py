"""Calibrate the book's claims: run chapters at many seed offsets, keep every claim's per-draw
values, and estimate how often each statistical claim would fail for a new reader.

Usage:
    python scripts/calibrate.py chapters/05_lstm.ipynb [...] [--runs 12] [--jobs 2]
                                [--threads 1 2] [--append]

Each run executes one chapter (nbclient, a fresh kernel) with ``RNNLIB_SEED_OFFSET`` set to
``--first-offset + i * --stride`` (spaced so that no seed repeats between runs: the chapters use
seeds below 20,000) and ``RNNLIB_CPU_THREADS`` cycling through ``--threads``, with
``RNNLIB_CLAIMS_MODE=record`` so that a failing claim is logged and the run goes on. Runs go in
parallel (``--jobs``). ``--append`` adds runs to an existing calibration of the same code
(new offsets continue after the stored ones).

Writes ``calibration/chNN.json`` per chapter: the chapter's code hash, the runs, and per claim
its statistic and bound, the pooled per-draw values (n, min, 2nd percentile, median, 98th
percentile, max), the runs in which it failed, and its estimated failure probability per chapter
run (``rnnlib.calibration.failure_probability``). Prints a table; exits 1 when a claim failed in
some run, has fewer than 40 draws, or an estimate over 1e-4.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rnnlib import calibration  # noqa: E402

#: Fewest pooled draws behind a statistical claim's bound.
MIN_DRAWS = 40


def chapter_id(notebook: Path) -> str:
    """``chapters/05_lstm.ipynb`` -> ``ch05``."""
    return "ch" + notebook.name[:2]


def run_chapter(notebook: str, offset: int, threads: int, log: str) -> dict:
    """Execute one chapter in a fresh kernel; the claims it makes are appended to ``log``."""
    import nbclient
    import nbformat

    os.environ.update(
        RNNLIB_SEED_OFFSET=str(offset),
        RNNLIB_CPU_THREADS=str(threads),
        RNNLIB_CLAIMS_MODE="record",
        RNNLIB_CLAIMS_LOG=log,
        TQDM_DISABLE="1",
        MPLBACKEND="Agg",
        CI="true",
        # the kernel imports this checkout's rnnlib (a git worktree's, not the installed one)
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    start = time.perf_counter()
    nb = nbformat.read(notebook, as_version=4)
    error = None
    try:
        client = nbclient.NotebookClient(
            nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": "chapters"}}
        )
        client.execute(cwd=str(ROOT / "chapters"))
    except Exception as exc:  # a broken run is reported, not hidden
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}"
    return {
        "offset": offset,
        "threads": threads,
        "seconds": round(time.perf_counter() - start, 1),
        "error": error,
    }


def read_log(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as log:
        return [json.loads(line) for line in log if line.strip()]


def aggregate(previous: dict | None, runs: list[dict], records: list[list[dict]]) -> dict:
    """Pool the runs' claim records (and a previous calibration of the same code) per claim."""
    claims: dict[str, dict] = defaultdict(dict)
    if previous:
        for name, entry in previous["claims"].items():
            claims[name] = dict(entry)
    for run_records in records:
        for record in run_records:
            entry = claims[record["name"]]
            entry.update(
                kind=record["kind"],
                says=record["says"],
                statistic=record["statistic"],
                below=record["below"],
                above=record["above"],
            )
            entry["runs"] = entry.get("runs", 0) + 1
            entry["observed_failures"] = entry.get("observed_failures", 0) + (not record["holds"])
            if record["kind"] == "statistical":
                entry.update(at_least=record["at_least"], k=record["k"], draws=record["draws"])
                entry["values"] = entry.get("values", []) + record["values"]
    for entry in claims.values():
        if entry["kind"] != "statistical":
            entry["estimate"] = 0.0
            continue
        values = entry["values"]
        passes = calibration.draw_passes(values, entry["below"], entry["above"])
        entry["exceedances"] = int((~passes).sum())
        entry.update(calibration.summarize(values))
        entry["estimate"] = calibration.failure_probability_of(entry, values)
    return dict(sorted(claims.items()))


def verdict(entry: dict, total_runs: int) -> str:
    problems = []
    if entry.get("observed_failures"):
        problems.append(f"failed in {entry['observed_failures']} run(s)")
    if entry.get("runs", 0) < total_runs:
        problems.append(f"made in only {entry.get('runs', 0)} of {total_runs} runs")
    if entry["kind"] == "statistical":
        if entry["n"] < MIN_DRAWS:
            problems.append(f"only {entry['n']} draws (< {MIN_DRAWS})")
        if entry["estimate"] > calibration.BUDGET:
            problems.append(f"estimate {entry['estimate']:.1e} > {calibration.BUDGET:g}")
    return "; ".join(problems) or "ok"


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def print_table(chapter: str, result: dict) -> bool:
    total = len(result["runs"])
    print(f"\n{chapter}: {total} runs, code {result['code_hash']}")
    header = (
        f"{'claim':<52} {'stat':<8} {'k':>3} {'n':>5} {'min':>9} {'median':>9} {'max':>9} "
        f"{'bound':>14} {'estimate':>9}  verdict"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for name, entry in result["claims"].items():
        bound = " ".join(
            part
            for part in (
                f"> {fmt(entry['above'])}" if entry.get("above") is not None else "",
                f"< {fmt(entry['below'])}" if entry.get("below") is not None else "",
            )
            if part
        )
        if entry["kind"] != "statistical":
            blank = " " * (3 + 5 + 9 * 3 + 14 + 5)
            row = f"{name:<52} {'exact':<8} {blank} {'0':>9}"
        else:
            stat = entry["statistic"]
            if stat == "at_least":
                stat = f">={entry['at_least']}/{entry['k']}"
            row = (
                f"{name:<52} {stat:<8} {entry['k']:>3} {entry['n']:>5} {fmt(entry['min']):>9} "
                f"{fmt(entry['median']):>9} {fmt(entry['max']):>9} {bound:>14} "
                f"{entry['estimate']:>9.1e}"
            )
        problem = verdict(entry, total)
        ok &= problem == "ok"
        print(f"{row}  {problem}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=12, help="runs per chapter (default 12)")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--first-offset", type=int, default=1_000_000)
    parser.add_argument("--stride", type=int, default=100_000)
    parser.add_argument(
        "--append", action="store_true", help="add runs to a calibration of the same code"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "calibration")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.jobs < 1:
        parser.error("--runs and --jobs must be at least 1")

    args.out.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="calibrate-"))
    plans = []
    for notebook in args.chapters:
        notebook = notebook.resolve()
        chapter = chapter_id(notebook)
        code = calibration.code_hash(notebook)
        previous = calibration.load(chapter, args.out) if args.append else None
        if previous and previous["code_hash"] != code:
            print(f"{chapter}: the code changed since its calibration; recalibrating from scratch")
            previous = None
        first = len(previous["runs"]) if previous else 0
        jobs = []
        for i in range(first, first + args.runs):
            offset = args.first_offset + i * args.stride
            threads = args.threads[i % len(args.threads)]
            log = str(tmp / f"{chapter}_o{offset}_t{threads}.jsonl")
            jobs.append((str(notebook), offset, threads, log))
        plans.append((notebook, chapter, code, previous, jobs))

    all_jobs = [job for *_, jobs in plans for job in jobs]
    print(f"calibrate: {len(all_jobs)} runs, {args.jobs} at a time, logs in {tmp}", flush=True)
    results = {}
    if args.jobs > 1:
        # runs share the cores: OpenMP threads then wait by sleeping, not spinning (a spinning
        # 2-thread run beside another run takes many times longer; a lone one is faster
        # spinning, so a single job keeps the default). The results are the same either way.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {job: pool.submit(run_chapter, *job) for job in all_jobs}
        for job, future in futures.items():
            run = future.result()
            results[job] = run
            name = Path(job[0]).stem
            status = "ok" if run["error"] is None else f"ERROR {run['error']}"
            where = f"{name} offset {job[1]} threads {job[2]}"
            print(f"  {where}: {run['seconds']} s {status}", flush=True)

    import torch

    ok = True
    for notebook, chapter, code, previous, jobs in plans:
        runs = [results[job] for job in jobs]
        records = [read_log(job[3]) for job in jobs]
        for run_records in records:
            wrong = {r["name"] for r in run_records if r["chapter"] != chapter}
            if wrong:
                raise SystemExit(f"{notebook.name}: claims named for another chapter: {wrong}")
        result = {
            "chapter": chapter,
            "notebook": str(notebook.relative_to(ROOT)),
            "code_hash": code,
            "budget": calibration.BUDGET,
            "torch": torch.__version__,
            "runs": (previous["runs"] if previous else []) + runs,
            "claims": aggregate(previous, runs, records),
        }
        broken = [run for run in result["runs"] if run["error"]]
        (args.out / f"{chapter}.json").write_text(json.dumps(result, indent=1) + "\n")
        ok &= print_table(chapter, result) and not broken
        if broken:
            print(f"{chapter}: {len(broken)} run(s) stopped with an error (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
