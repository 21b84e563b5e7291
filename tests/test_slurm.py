"""The one-node Slurm of ``make slurm-check``: its slurm.conf and local profile (always), and
the real run of the smoke study through sbatch (opt-in: DIFFSURR_SLURM=1; over an hour)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
import yaml

from diffsurr import slurm
from diffsurr.io import write_netcdf

ROOT = Path(__file__).resolve().parent.parent


def _profile(name: str) -> dict:
    return yaml.safe_load((ROOT / "workflow" / name / "config.yaml").read_text())


def test_slurm_conf_is_one_node_on_localhost_with_two_cpus(tmp_path):
    conf = slurm.parse_conf(slurm.slurm_conf(tmp_path))
    assert conf["SlurmctldHost"] == [{"SlurmctldHost": "localhost"}]
    (node,) = conf["NodeName"]
    assert node["NodeName"] == "localhost" and node["CPUs"] == "2"
    assert node["NodeAddr"] == "127.0.0.1"
    parts = {p["PartitionName"]: p for p in conf["PartitionName"]}
    assert set(parts) == set(slurm.PARTITIONS.values())
    assert all(p["Nodes"] == "localhost" and p["State"] == "UP" for p in parts.values())
    assert sum(p.get("Default") == "YES" for p in parts.values()) == 1
    # every file of the daemons in the state folder, none in the system's
    files = [v[0][k] for k, v in conf.items() if k.endswith(("Location", "Dir", "File", "Loc"))]
    assert len(files) == 7 and all(f.startswith(f"{tmp_path}/") for f in files)


def test_the_committed_local_profile_is_the_cluster_profile_made_local():
    """workflow/slurm-local is generated from workflow/slurm (`python -m diffsurr.slurm
    profile`): the two cannot drift apart."""
    text = (ROOT / "workflow" / "slurm-local" / "config.yaml").read_text()
    assert text == slurm.profile_text(slurm.local_profile(_profile("slurm")))


def test_the_local_profile_asks_only_for_what_the_node_has():
    local, cluster = _profile("slurm-local"), _profile("slurm")
    conf = slurm.parse_conf(slurm.slurm_conf("/tmp/x"))
    node = conf["NodeName"][0]
    partitions = {p["PartitionName"] for p in conf["PartitionName"]}
    resources = [local["default-resources"], *local["set-resources"].values()]
    assert all(r.get("slurm_partition", "local-cpu") in partitions for r in resources)
    assert not any("gres" in r for r in resources)
    assert all(r.get("mem_mb", 0) <= int(node["RealMemory"]) for r in resources)
    assert all(r.get("cpus_per_task", 1) <= int(node["CPUs"]) for r in resources)
    assert local["cores"] <= int(node["CPUs"])
    # the same rules are placed apart, and every other setting is the cluster's
    assert set(local["set-resources"]) == set(cluster["set-resources"])
    assert local["set-resources"]["train"]["slurm_partition"] == slurm.PARTITIONS["gpu"]
    same = set(cluster) - {"default-resources", "set-resources", "cores"}
    assert {k: local[k] for k in same} == {k: cluster[k] for k in same}
    # no slurmdbd here: job states come from squeue
    assert local["slurm-status-command"] == "squeue"


@pytest.mark.parametrize("name", ["slurm", "slurm-local"])
def test_cluster_profiles_set_cores(name):
    """A real run of a remote executor stops at the benchmark rule (`threads: workflow.cores`)
    without --cores: a dry run does not show it (it takes 1)."""
    assert _profile(name)["cores"] >= 1


def test_the_local_profile_plans_the_smoke_study(tmp_path):
    res = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "-n", "--snakefile",
         str(ROOT / "Snakefile"), "--profile", str(ROOT / "workflow" / "slurm-local"),
         "--config", "profile=smoke", "--", "results"],
        capture_output=True, text=True, cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "DIFFSURR_RESULTS"}
        | {"DIFFSURR_RESULTS": str(tmp_path)})
    assert res.returncode == 0, res.stderr[-3000:]
    counts = {line.split()[0]: int(line.split()[1]) for line in res.stdout.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert counts["train"] == 16 and counts["evaluate"] == 16 and counts["data"] == 1
    assert "slurm_partition=local-gpu" in res.stdout and "gres=" not in res.stdout


LOG = """\
Job 3 has been submitted with SLURM jobid 17 (log: /s/logs/rule_train/run=model_01/17.log).
Job 0 has been submitted with SLURM jobid 16 (log: /s/logs/rule_data/data/16.log).
"""
JOBCOMP = """\
JobId=16 UserId=root(0) GroupId=root(0) Name=u JobState=COMPLETED Partition=local-cpu \
StartTime=2026-12-06T13:00:00 EndTime=2026-12-06T13:01:00 NodeList=localhost ExitCode=0:0
JobId=17 UserId=root(0) GroupId=root(0) Name=u JobState=FAILED Partition=local-gpu \
StartTime=2026-12-06T13:01:00 EndTime=2026-12-06T13:02:00 NodeList=localhost ExitCode=1:0
"""


def test_the_jobs_of_a_run_and_their_slurm_states():
    jobs = slurm.submitted_jobs(LOG)
    assert [(j["slurm_job"], j["rule"], j["wildcards"]) for j in jobs] == [
        (17, "train", "run=model_01"), (16, "data", "data")]
    comp = slurm.parse_jobcomp(JOBCOMP)
    assert comp[17]["JobState"] == "FAILED" and comp[16]["NodeList"] == "localhost"
    same = {"all_equal": True, "files": {"a.nc": {"equal": True}}, "timing_files": [],
            "missing": []}
    squeue = {16: {"State": "COMPLETED"}, 17: {"State": "COMPLETED"}}
    ev = slurm.evidence(LOG, JOBCOMP, squeue, 61.0, same)
    assert ev["n_jobs"] == 2 and ev["rules"] == {"data": 1, "train": 1}
    assert not ev["all_completed"]          # the completion record says job 17 failed
    ok = JOBCOMP.replace("JobState=FAILED", "JobState=COMPLETED")
    assert slurm.evidence(LOG, ok, squeue, 61.0, same)["all_completed"]
    assert not slurm.evidence(LOG, ok, {16: {"State": "COMPLETED"}}, 61.0, same)["all_completed"]


def _root(path: Path, values: np.ndarray, wall: float, weights: bytes) -> Path:
    ds = xr.Dataset({"mean_res": ("x", values), "wall_time_s": ("x", np.full(3, wall))},
                    attrs={"created": str(wall), "model_sha256": "abc"})
    write_netcdf(ds, path / "smoke" / "model_01" / "eval.nc")
    write_netcdf(ds, path / "smoke" / "benchmark-cpu.nc")
    (path / "smoke" / "model_01" / "model.pt").write_bytes(weights)
    return path / "smoke"


def test_results_are_compared_exactly_timings_left_out(tmp_path):
    a = _root(tmp_path / "a", np.array([1.0, 2.0, np.nan]), 1.0, b"w")
    b = _root(tmp_path / "b", np.array([1.0, 2.0, np.nan]), 9.0, b"w")
    out = slurm.compare_roots(a, b)
    assert out["all_equal"] and out["timing_files"] == ["benchmark-cpu.nc"]
    assert out["files"]["model_01/eval.nc"]["timings_left_out"] == ["wall_time_s"]
    c = _root(tmp_path / "c", np.array([1.0, 2.0 + 1e-7, np.nan]), 1.0, b"v")
    out = slurm.compare_roots(a, c)
    assert not out["all_equal"] and not out["files"]["model_01/model.pt"]["equal"]
    assert out["files"]["model_01/model.pt"]["differ"] == {"state": "bytes differ"}
    assert out["files"]["model_01/eval.nc"]["differ"]["mean_res"] == pytest.approx(1e-7)
    torch.save({"state": {"w": torch.zeros(2)}}, a / "model_01" / "model.pt")
    torch.save({"state": {"w": torch.tensor([0.0, 0.5])}}, c / "model_01" / "model.pt")
    assert slurm.compare_roots(a, c)["files"]["model_01/model.pt"]["differ"] == {"state": 0.5}
    (c / "model_01" / "model.pt").unlink()
    assert slurm.compare_roots(a, c)["missing"] == ["model_01/model.pt"]


@pytest.mark.skipif(os.environ.get("DIFFSURR_SLURM") != "1",
                    reason="the real Slurm run (installs and starts Slurm, runs the smoke study "
                           "on it and locally: over an hour on a loaded 2-core machine): set "
                           "DIFFSURR_SLURM=1, or run `make slurm-check`")
def test_the_smoke_study_runs_on_slurm_as_locally(tmp_path):
    evidence = tmp_path / "run.json"
    env = os.environ | {"SLURM_STATE": str(tmp_path / "state"), "EVIDENCE": str(evidence)}
    res = subprocess.run([str(ROOT / "tools" / "slurm-local.sh"), "check"], env=env,
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    ev = json.loads(evidence.read_text())
    assert ev["all_completed"] and ev["n_jobs"] >= 49 and ev["comparison"]["all_equal"]
    assert not list((tmp_path / "state").glob("*.pid"))      # the daemons were stopped


def test_the_committed_slurm_run_completed_every_job_and_matched_the_local_run():
    """results/slurm/smoke-run.json, the record of `make slurm-check`: one Slurm job per job
    the smoke study plans (its local rules aside), each completed by Slurm's two records, and
    every result file equal to a local run's."""
    ev = json.loads((ROOT / "results" / "slurm" / "smoke-run.json").read_text())
    assert ev["rules"] == {"benchmark": 1, "data": 1, "evaluate": 16, "generalise": 14,
                           "payoff": 1, "train": 16}
    assert ev["all_completed"] and len({j["slurm_job"] for j in ev["jobs"]}) == ev["n_jobs"] == 49
    assert ({j["state"] for j in ev["jobs"]} == {j["jobcomp_state"] for j in ev["jobs"]}
            == {"COMPLETED"})
    assert {j["partition"] for j in ev["jobs"] if j["rule"] == "train"} == {slurm.PARTITIONS["gpu"]}
    comp = ev["comparison"]
    assert comp["all_equal"] and comp["n_equal"] == comp["n_files"] == 63 and not comp["missing"]
