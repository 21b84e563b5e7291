"""Run the README's commands, as printed and in the order printed, in a fresh clone.

Takes the shell commands of the README's first two ``bash`` blocks (the two commands, then one
stage or one model), runs each with ``bash -c`` in the clone, stops one that runs past its cap
(its whole process group), and writes a JSON record: the commit, the machine's load, and per
command its wall time, exit code (124 when stopped at the cap) and the last lines it printed.
The Slurm and Conda lines need a cluster or Conda; ``make slurm-check`` covers the first.

    python3 tools/readme_walk.py CLONE --out walk.json --cap 180 --no-cap "make all" "make test"

``--only`` runs just the commands given (still in the README's order), to walk again the lines
a change touched.

Standard library only: it runs before the clone's environment exists.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

BLOCKS = 2  # the README's "Two commands" and "Running one stage or one model"


def readme_commands(readme: Path, blocks: int = BLOCKS) -> list[str]:
    """The commands of the first `blocks` bash blocks, each without its trailing comment."""
    fenced = re.findall(r"```bash\n(.*?)```", readme.read_text(), flags=re.S)[:blocks]
    lines = [line for block in fenced for line in block.splitlines()]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in lines if line.strip()]


def run(command: str, cwd: Path, cap: float | None, log: Path) -> dict:
    """Run one command; its output goes to `log`; a run past `cap` seconds is stopped."""
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["bash", "-c", command], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=cap)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            rc = 124
    tail = log.read_text(errors="replace").replace("\r", "\n").splitlines()
    return {
        "command": command,
        "cap_s": cap,
        "wall_s": round(time.monotonic() - start, 1),
        "exit_code": rc,
        "stopped_at_cap": rc == 124,
        "last_lines": [line for line in tail if line.strip()][-8:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clone", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cap", type=float, default=180.0, help="seconds a command may run")
    parser.add_argument("--no-cap", nargs="*", default=[], help="commands run to the end")
    parser.add_argument("--only", nargs="*", help="run just these commands")
    args = parser.parse_args(argv)
    clone = args.clone.resolve()
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.strip()
    logs = args.out.with_suffix(".logs")
    logs.mkdir(parents=True, exist_ok=True)
    record = {"commit": commit, "machine": os.uname().nodename, "cpus": os.cpu_count(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "commands": []}
    commands = readme_commands(clone / "README.md")
    unknown = set(args.only or ()) - set(commands)
    if unknown:
        parser.error(f"not commands of the README: {sorted(unknown)}")
    for i, command in enumerate(commands):
        if args.only is not None and command not in args.only:
            continue
        cap = None if command in args.no_cap else args.cap
        load = os.getloadavg()[0]
        print(f"[{i:02d}] {command}  (cap {cap} s, load {load:.2f})", flush=True)
        result = run(command, clone, cap, logs / f"{i:02d}.log")
        result["load_before"] = round(load, 2)
        record["commands"].append(result)
        print(f"     exit {result['exit_code']} after {result['wall_s']} s", flush=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False))
        tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
