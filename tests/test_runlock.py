"""One process per run folder, and a retrain that no evaluation or crash leaves half done:
the run lock, the model's SHA-256 in history.nc and eval.nc, the repair of a mixed state."""

import os
import subprocess
import sys

import pytest
import xarray as xr

from conftest import tiny_run
from diffsurr import io
from diffsurr.runlock import RunBusy, run_lock
from diffsurr.stages import evaluate, generalise, train as stage_train

def _trained(model=6):
    return tiny_run(model, evaluated=False)



def _history_model(run):
    with xr.open_dataset(run.dir / "history.nc") as h:
        return h.attrs.get("model_sha256")


def _holder(run, stage):
    """Another process holding ``run``'s lock for ``stage`` (returned once it holds it)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from diffsurr.runlock import run_lock\n"
         f"with run_lock({str(run.dir)!r}, {stage!r}, 'x'):\n"
         " print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_process_on_a_run_is_refused_naming_the_run_and_the_holder(tmp_results):
    run = _trained()
    holder = _holder(run, "train")
    try:
        for stage in (lambda: stage_train.train_stage(run, retrain=True, progress=False),
                      lambda: evaluate.evaluate_stage(run),
                      lambda: generalise.generalise_stage(run, n=2)):
            with pytest.raises(RunBusy, match=rf"run {run} is in use by pid {holder.pid} \(train"):
                stage()
    finally:
        holder.kill()
        holder.wait()
    assert not (run.dir / "eval.nc").exists()
    evaluate.evaluate_stage(run)                 # the dead holder's lock is gone with it


def test_an_evaluation_whose_model_changes_meanwhile_writes_no_eval(tmp_results, monkeypatch):
    """Before, an evaluate started during a retrain wrote the old model's numbers under the
    new model's SHA-256."""
    run = _trained()
    predict = evaluate.predict

    def retrained_meanwhile(net, x, *args, **kwargs):
        saved = io.load_checkpoint(run.dir / "model.pt")
        saved["state"] = {k: v + 1 if v.is_floating_point() else v
                          for k, v in saved["state"].items()}
        io.save_checkpoint(saved, run.dir / "model.pt")     # a writer that ignores the lock
        monkeypatch.setattr(evaluate, "predict", predict)
        return predict(net, x, *args, **kwargs)

    monkeypatch.setattr(evaluate, "predict", retrained_meanwhile)
    with pytest.raises(RuntimeError, match="model.pt changed while .* was evaluated"):
        evaluate.evaluate_stage(run)
    assert not (run.dir / "eval.nc").exists()


def test_a_crash_between_model_and_history_is_detected_and_repaired(tmp_results, monkeypatch,
                                                                     capsys):
    """Before, the next train said "already trained; nothing to do" over new weights with the
    old history and evaluation."""
    run = _trained()
    evaluate.evaluate_stage(run)
    train = stage_train.train

    def other_weights(*args, **kwargs):
        best, history = train(*args, **kwargs)
        return {k: v + 1 if v.is_floating_point() else v for k, v in best.items()}, history

    def killed(ds, path, *a, **k):
        raise KeyboardInterrupt(f"killed before writing {path}")

    monkeypatch.setattr(stage_train, "train", other_weights)
    monkeypatch.setattr(io, "write_netcdf", killed)
    with pytest.raises(KeyboardInterrupt):
        stage_train.train_stage(run, retrain=True, progress=False)
    monkeypatch.undo()
    monkeypatch.setenv("DIFFSURR_RESULTS", str(tmp_results))
    new = io.sha256_file(run.dir / "model.pt")
    assert _history_model(run) != new and not (run.dir / "eval.nc").exists()
    with pytest.raises(ValueError, match="a training stopped between writing model.pt and "
                                         "history.nc: run train again"):
        evaluate.evaluate_stage(run)
    stage_train.train_stage(run, progress=False)
    assert "training again to repair the run" in capsys.readouterr().out
    assert _history_model(run) == io.sha256_file(run.dir / "model.pt")
    assert not (run.dir / "checkpoint.pt").exists()
    evaluate.evaluate_stage(run)


def test_a_retrain_removes_the_old_evaluation_before_it_replaces_the_model(
        tmp_results, monkeypatch):
    run = _trained()
    evaluate.evaluate_stage(run)
    seen, save = {}, io.save_checkpoint

    def save_model(state, path):
        if path.name == "model.pt":
            seen["eval.nc"] = (run.dir / "eval.nc").exists()
        return save(state, path)

    monkeypatch.setattr(io, "save_checkpoint", save_model)
    stage_train.train_stage(run, retrain=True, progress=False)
    assert seen == {"eval.nc": False}
    assert _history_model(run) == io.sha256_file(run.dir / "model.pt")


def test_the_lock_is_released_when_the_block_ends_or_fails(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with run_lock(tmp_path, "train", "r"):
            1 / 0
    with run_lock(tmp_path, "evaluate", "r"):
        assert (tmp_path / ".run.lock").read_text().startswith(f"pid {os.getpid()} (evaluate")
        with pytest.raises(RunBusy, match=rf"in use by pid {os.getpid()} \(evaluate"):
            with run_lock(tmp_path, "train", "r"):
                pass
    with run_lock(tmp_path, "train", "r"):
        pass


def test_evaluate_and_generalise_share_a_run_but_never_with_train(tmp_results):
    """Before, Snakemake's evaluate and generalise of one run, started side by side, failed
    the whole study (CI) with "in use by ... (generalise"."""
    run = _trained()
    holder = _holder(run, "generalise")
    try:
        evaluate.evaluate_stage(run)
        assert (run.dir / "eval.nc").exists()
        with pytest.raises(RunBusy, match=rf"in use by pid {holder.pid} \(generalise"):
            stage_train.train_stage(run, retrain=True, progress=False)
    finally:
        holder.kill()
        holder.wait()
