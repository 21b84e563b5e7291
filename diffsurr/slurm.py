"""A one-node Slurm on this machine for the study's cluster profile (``make slurm-check``).

``tools/slurm-local.sh`` installs and starts the daemons; this module writes their
``slurm.conf``, derives the local profile ``workflow/slurm-local`` from the cluster one
(``workflow/slurm``), collects the Slurm jobs of a run and compares its results with a local
run's. Extension beyond the preprint (see the book's differences page).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

from . import io

NODE = "localhost"
CPUS = 2
MEM_MB = 8000                       # what the node offers the scheduler (RealMemory)
# The cluster profile's partitions and their local stand-ins, all on the one node.
PARTITIONS = {"cpu": "local-cpu", "gpu": "local-gpu"}
CLUSTER_PROFILE = io.REPO_ROOT / "workflow" / "slurm" / "config.yaml"
LOCAL_PROFILE = io.REPO_ROOT / "workflow" / "slurm-local" / "config.yaml"
# The executor's settings for a Slurm without slurmdbd or accounts: job states from squeue,
# which sees finished jobs for MinJobAge seconds; status checks from 10 s after a submission.
LOCAL_SETTINGS = {"slurm-status-command": "squeue", "slurm-no-account": True,
                  "slurm-init-seconds-before-status-checks": 10}
# Result files that hold timings only: measured, never equal between two runs.
TIMING_FILES = ("benchmark-*.nc", "payoff-*.nc")


def slurm_conf(state: str | Path, node: str = NODE, cpus: int = CPUS, mem_mb: int = MEM_MB,
               partitions=tuple(PARTITIONS.values())) -> str:
    """``slurm.conf`` of a one-node cluster on ``node`` with ``cpus`` CPUs; daemons' files
    (state, logs, pids, the job-completion record) under ``state``."""
    state = Path(state)
    lines = [
        "# written by diffsurr.slurm (make slurm-check): a one-node Slurm on this machine",
        "ClusterName=diffsurr-local",
        f"SlurmctldHost={node}",
        "SlurmUser=root",
        "AuthType=auth/munge",
        "SlurmctldPort=6817",
        "SlurmdPort=6818",
        f"StateSaveLocation={state}/ctld",
        f"SlurmdSpoolDir={state}/d",
        f"SlurmctldPidFile={state}/slurmctld.pid",
        f"SlurmdPidFile={state}/slurmd.pid",
        f"SlurmctldLogFile={state}/slurmctld.log",
        f"SlurmdLogFile={state}/slurmd.log",
        # no cgroups in a container: track processes by their parent, bind no tasks
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        # no slurmdbd (so no sacct): squeue shows finished jobs for MinJobAge seconds, and
        # slurmctld appends every finished job to the job-completion record
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/filetxt",
        f"JobCompLoc={state}/jobcomp.txt",
        "MinJobAge=86400",
        "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "ReturnToService=2",
        "MpiDefault=none",
        f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN",
    ]
    for i, name in enumerate(partitions):
        default = " Default=YES" if i == 0 else ""
        lines.append(f"PartitionName={name} Nodes={node}{default} MaxTime=INFINITE State=UP")
    return "\n".join(lines) + "\n"


def parse_conf(text: str) -> dict[str, list[dict[str, str]]]:
    """``slurm.conf`` lines as {first key: [its key=value pairs, one dict a line]}."""
    out: dict[str, list[dict[str, str]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        pairs = dict(p.split("=", 1) for p in line.split())
        out.setdefault(line.split("=", 1)[0], []).append(pairs)
    return out


def local_profile(cluster: dict, cpus: int = CPUS, mem_mb: int = MEM_MB,
                  partitions: dict[str, str] = PARTITIONS) -> dict:
    """The cluster profile for the one-node Slurm: the same settings and rules, partitions
    renamed, no GPUs asked for (none here), at most ``cpus`` CPUs and ``mem_mb`` per job.

    One CPU per job by default, so two jobs run side by side as ``--cores 2`` runs locally.
    """
    def fit(res: dict, default_cpus: int | None) -> dict:
        res = {k: v for k, v in res.items() if k != "gres"}
        if "slurm_partition" in res:
            res["slurm_partition"] = partitions[res["slurm_partition"]]
        if "mem_mb" in res:
            res["mem_mb"] = min(int(res["mem_mb"]), mem_mb)
        if "cpus_per_task" in res or default_cpus:
            res["cpus_per_task"] = min(int(res.get("cpus_per_task", 1)), cpus,
                                       default_cpus or cpus)
        return res

    out = {k: v for k, v in cluster.items() if k not in ("default-resources", "set-resources")}
    if "cores" in out:
        out["cores"] = min(int(out["cores"]), cpus)
    out["default-resources"] = fit(cluster.get("default-resources", {}), default_cpus=1)
    out["set-resources"] = {rule: fit(res, None)
                            for rule, res in cluster.get("set-resources", {}).items()}
    return out | LOCAL_SETTINGS


def profile_text(profile: dict) -> str:
    """The local profile as committed in ``workflow/slurm-local/config.yaml``."""
    head = ("# The one-node Slurm of `make slurm-check` (tools/slurm-local.sh): workflow/slurm\n"
            "# with local partitions, no GPU and at most the node's 2 CPUs and "
            f"{MEM_MB} MB a job.\n"
            "# Written by `python -m diffsurr.slurm profile`; tests check it matches.\n")
    return head + yaml.safe_dump(profile, sort_keys=False)


_SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) "
                        r"\(log: (\S+)\)")


def submitted_jobs(log_text: str) -> list[dict]:
    """Snakemake's Slurm submissions in its log: job id, rule and wildcards (from the
    Slurm log's path, ``.../rule_<name>/<wildcards>/<id>.log``)."""
    jobs = []
    for m in _SUBMITTED.finditer(log_text):
        parts = Path(m.group(3)).parts
        rule_i = next(i for i, p in enumerate(parts) if p.startswith("rule_"))
        jobs.append({"slurm_job": int(m.group(2)), "rule": parts[rule_i][len("rule_"):],
                     "wildcards": "/".join(parts[rule_i + 1:-1]), "log": m.group(3)})
    return jobs


def parse_jobcomp(text: str) -> dict[int, dict[str, str]]:
    """Slurm's job-completion record (jobcomp/filetxt), one job a line, by job id."""
    out = {}
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" in fields:
            out[int(fields["JobId"])] = fields
    return out


def squeue(job_ids: list[int]) -> dict[int, dict[str, str]]:
    """slurmctld's record of each job (kept MinJobAge seconds after it ends; without slurmdbd
    ``sacct`` has none): partition, state, node, start, end, time used."""
    cols = ["JobID", "Partition", "State", "NodeList", "Start", "End", "Elapsed"]
    res = subprocess.run(["squeue", "-h", "--states=all", "-o", "%i|%P|%T|%N|%S|%e|%M", "-j",
                          ",".join(map(str, job_ids))], capture_output=True, text=True,
                         check=True)
    rows = (dict(zip(cols, line.split("|"))) for line in res.stdout.splitlines() if line)
    return {int(r["JobID"]): r for r in rows if r["JobID"].isdigit()}


def _timing_var(name: str) -> bool:
    return name.endswith("_s") or "rss" in name or "peak" in name


def compare_netcdf(a: Path, b: Path) -> dict:
    """Every variable and coordinate of two result files, exactly; timings (``*_s``, memory
    peaks) and provenance attributes are left out, and named. ``max_abs_diff`` where they
    differ."""
    with xr.open_dataset(a) as da, xr.open_dataset(b) as db:
        names = sorted(set(da.variables) | set(db.variables))
        skipped = [n for n in names if _timing_var(n)]
        differ = {}
        for n in names:
            if n in skipped:
                continue
            if n not in da.variables or n not in db.variables:
                differ[n] = "missing in one"
                continue
            x, y = da[n].values, db[n].values
            if x.shape != y.shape:
                differ[n] = f"shapes {x.shape} and {y.shape}"
            elif x.dtype.kind in "fc":
                if not np.array_equal(x, y, equal_nan=True):
                    differ[n] = float(np.nanmax(np.abs(x - y)))
            elif not np.array_equal(x, y):
                differ[n] = "values differ"
        sha = {k: (da.attrs[k], db.attrs.get(k)) for k in da.attrs if k.endswith("sha256")}
        differ.update({k: "attribute differs" for k, (u, v) in sha.items() if u != v})
    return {"equal": not differ, "compared": len(names) - len(skipped) + len(sha),
            "timings_left_out": skipped, "differ": differ}


def compare_weights(a: Path, b: Path) -> dict:
    """Two weight files byte for byte; where they differ, their tensors (``max_abs_diff``)."""
    sa, sb = io.sha256_file(a), io.sha256_file(b)
    if sa == sb:
        return {"equal": True, "sha256": sa}
    try:
        ta, tb = io.load_checkpoint(a)["state"], io.load_checkpoint(b)["state"]
        diff = (max(float((ta[k].double() - tb[k].double()).abs().max()) for k in ta)
                if set(ta) == set(tb) else "different tensors")
    except (ValueError, KeyError, TypeError, RuntimeError):
        diff = "bytes differ"
    return {"equal": False, "differ": {"state": diff}}


def compare_roots(a: str | Path, b: str | Path) -> dict:
    """Two results roots of one profile, file by file: netCDF files as ``compare_netcdf``,
    weights (``*.pt``) as ``compare_weights``, timing-only files listed and left out."""
    a, b = Path(a), Path(b)
    files = sorted(
        {p.relative_to(a).as_posix() for p in a.rglob("*") if p.suffix in (".nc", ".pt")}
        | {p.relative_to(b).as_posix() for p in b.rglob("*") if p.suffix in (".nc", ".pt")})
    out = {"files": {}, "timing_files": [], "missing": []}
    for rel in files:
        pa, pb = a / rel, b / rel
        if any(Path(rel).match(g) for g in TIMING_FILES):
            out["timing_files"].append(rel)
        elif not (pa.exists() and pb.exists()):
            out["missing"].append(rel)
        elif rel.endswith(".pt"):
            out["files"][rel] = compare_weights(pa, pb)
        else:
            out["files"][rel] = compare_netcdf(pa, pb)
    out["all_equal"] = (not out["missing"] and bool(out["files"])
                        and all(f["equal"] for f in out["files"].values()))
    return out


def evidence(log_text: str, jobcomp_text: str, squeue_rows: dict, wall_s: float,
             comparison: dict, **about) -> dict:
    """The record of a Slurm run: each submitted job with its Slurm state (squeue and the
    job-completion record), whether every job completed on Slurm, the wall time and the
    comparison with the local run."""
    comp = parse_jobcomp(jobcomp_text)
    jobs = []
    for job in submitted_jobs(log_text):
        jid = job["slurm_job"]
        s, c = squeue_rows.get(jid, {}), comp.get(jid, {})
        jobs.append(job | {"state": s.get("State"),
                           "jobcomp_state": c.get("JobState"), "exit_code": c.get("ExitCode"),
                           "partition": s.get("Partition") or c.get("Partition"),
                           "node": s.get("NodeList") or c.get("NodeList"),
                           "start": s.get("Start") or c.get("StartTime"),
                           "end": s.get("End") or c.get("EndTime"),
                           "elapsed": s.get("Elapsed")})
    files = {k: v["equal"] for k, v in comparison["files"].items()}
    return about | {
        "n_jobs": len(jobs),
        "all_completed": bool(jobs) and all(j["state"] == "COMPLETED"
                                            and j["jobcomp_state"] == "COMPLETED" for j in jobs),
        "rules": {r: sum(j["rule"] == r for j in jobs) for r in sorted({j["rule"] for j in jobs})},
        "wall_time_s": round(wall_s, 1),
        "comparison": {"all_equal": comparison["all_equal"], "n_files": len(files),
                       "n_equal": sum(files.values()),
                       "timing_files_left_out": comparison["timing_files"],
                       "missing": comparison["missing"],
                       "differ": {k: v for k, v in comparison["files"].items() if not v["equal"]},
                       "timing_variables_left_out": sorted(
                           {n for v in comparison["files"].values()
                            for n in v.get("timings_left_out", [])})},
        "jobs": jobs,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m diffsurr.slurm", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("conf", help="write slurm.conf into STATE")
    c.add_argument("state")
    sub.add_parser("profile", help="write workflow/slurm-local/config.yaml")
    e = sub.add_parser("evidence", help="collect a run's jobs, compare it, write JSON")
    for name in ("snakemake_log", "jobcomp", "slurm_root", "local_root", "out"):
        e.add_argument(name)
    e.add_argument("--wall-s", type=float, required=True)
    e.add_argument("--command", default="")
    e.add_argument("--note", action="append", default=[], help="a sentence for the record")
    args = ap.parse_args(argv)
    if args.cmd == "conf":
        state = Path(args.state)
        with io.atomic_path(state / "slurm.conf") as tmp:
            tmp.write_text(slurm_conf(state.absolute()))
    elif args.cmd == "profile":
        with io.atomic_path(LOCAL_PROFILE) as tmp:
            tmp.write_text(profile_text(local_profile(yaml.safe_load(CLUSTER_PROFILE.read_text()))))
    else:
        log = Path(args.snakemake_log).read_text()
        ids = [j["slurm_job"] for j in submitted_jobs(log)]
        rows = squeue(ids) if ids else {}
        comparison = compare_roots(args.slurm_root, args.local_root)
        ev = evidence(log, Path(args.jobcomp).read_text(), rows, args.wall_s, comparison,
                      command=args.command, notes=args.note, git_commit=io.git_commit(),
                      slurm_version=subprocess.run(["sbatch", "--version"], capture_output=True,
                                                   text=True).stdout.strip())
        with io.atomic_path(args.out) as tmp:
            tmp.write_text(json.dumps(ev, indent=1) + "\n")
        print(f"{ev['n_jobs']} Slurm jobs, all completed: {ev['all_completed']}; "
              f"{ev['comparison']['n_equal']}/{ev['comparison']['n_files']} result files equal "
              f"to the local run's; wall time {ev['wall_time_s']} s")
        return 0 if ev["all_completed"] and ev["comparison"]["all_equal"] else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
