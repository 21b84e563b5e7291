#!/usr/bin/env bash
# The study's cluster path on a one-node Slurm on this machine (`make slurm-check`):
#   1. installs Slurm and munge from Debian's packages where missing (slurm-wlm, munge);
#   2. starts munged, slurmctld and slurmd for localhost with 2 CPUs (slurm.conf and the
#      daemons' state under $SLURM_STATE, written by `python -m diffsurr.slurm conf`);
#   3. runs the smoke study through `snakemake --profile workflow/slurm-local` (the Slurm
#      executor plugin, real sbatch: one Slurm job per rule instance) into $SLURM_RESULTS,
#      and the same study locally (`--cores 2`) into $LOCAL_RESULTS where it is not complete;
#   4. collects every job's Slurm state (sacct, the job-completion record), compares the two
#      runs' results file by file and writes the evidence to $EVIDENCE;
#   5. stops the daemons it started.
# `tools/slurm-local.sh start` and `... stop` only start or stop the daemons (then
# `export SLURM_CONF=$SLURM_STATE/slurm.conf` for sinfo, sbatch, sacct).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=$REPO/.venv/bin/python
PROFILE=${PROFILE:-smoke}
STATE=${SLURM_STATE:-/tmp/diffsurr-slurm}
SLURM_RESULTS=${SLURM_RESULTS:-$STATE/results}
LOCAL_RESULTS=${LOCAL_RESULTS:-$STATE/local-results}
EVIDENCE=${EVIDENCE:-results/slurm/$PROFILE-run.json}
export SLURM_CONF=$STATE/slurm.conf
ETC_CONF=/etc/slurm/slurm.conf
export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
export OMP_NUM_THREADS=1

install() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null && return
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

start() {
    install
    mkdir -p "$STATE/ctld" "$STATE/d"
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        test -s /etc/munge/munge.key || mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key
        mkdir -p /run/munge /var/log/munge /var/lib/munge
        chown munge:munge /run/munge /var/log/munge /var/lib/munge
        runuser -u munge -- munged
        touch "$STATE/munged.started"          # ours to stop
    fi
    $PY -m diffsurr.slurm conf "$STATE"
    # srun inside a job (the executor's job step) drops SLURM_CONF and reads the default
    # place: link it there, unless a slurm.conf of this machine's own is there
    if [ -e "$ETC_CONF" ] && [ "$(readlink "$ETC_CONF")" != "$SLURM_CONF" ]; then
        echo "$ETC_CONF exists and is not ours: this machine has a Slurm of its own" >&2
        exit 1
    fi
    ln -sfn "$SLURM_CONF" "$ETC_CONF"
    slurmctld -f "$SLURM_CONF"
    slurmd -f "$SLURM_CONF"
    for _ in $(seq 60); do                     # the node up and idle: jobs can start
        sinfo -h -N -o '%T' 2>/dev/null | grep -q '^idle' && break
        sleep 1
    done
    sinfo -N -o '%N %c %m %P %T'
}

stop() {
    local f pid
    for f in slurmd slurmctld; do
        if [ -s "$STATE/$f.pid" ]; then
            pid=$(cat "$STATE/$f.pid")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
            rm -f "$STATE/$f.pid"
        fi
    done
    [ "$(readlink "$ETC_CONF")" = "$SLURM_CONF" ] && rm -f "$ETC_CONF"
    if [ -e "$STATE/munged.started" ]; then
        munged --stop || true
        rm -f "$STATE/munged.started"
    fi
    echo "Slurm daemons stopped"
}

study() {                                  # the study's two steps, as `make study` runs them
    local root=$1; shift
    for target in data_sets results; do
        DIFFSURR_RESULTS=$root "$REPO/.venv/bin/snakemake" "$@" --config profile="$PROFILE" \
            -- "$target"
    done
}

check() {
    start
    trap stop EXIT
    mkdir -p "$SLURM_RESULTS" "$LOCAL_RESULTS"
    local t0 wall log=$STATE/snakemake-slurm.log
    t0=$(date +%s)
    study "$SLURM_RESULTS" --profile workflow/slurm-local --slurm-logdir "$STATE/logs" \
        --slurm-keep-successful-logs 2>&1 | tee "$log"
    wall=$(( $(date +%s) - t0 ))
    echo "Slurm run: $wall s"
    t0=$(date +%s)
    study "$LOCAL_RESULTS" --cores 2 > "$STATE/snakemake-local.log" 2>&1
    echo "local run (nothing to do where complete): $(( $(date +%s) - t0 )) s"
    $PY -m diffsurr.slurm evidence "$log" "$STATE/jobcomp.txt" "$SLURM_RESULTS/$PROFILE" \
        "$LOCAL_RESULTS/$PROFILE" "$EVIDENCE" --wall-s "$wall" \
        --command "make slurm-check (tools/slurm-local.sh), profile $PROFILE" \
        --note "the benchmark and pay-off files of a scaled profile (timings only) are written to the repository's results/$PROFILE/ whatever DIFFSURR_RESULTS says, so neither root holds them and they are not compared"
}

case "${1:-check}" in
    start) start ;;
    stop) stop ;;
    check) check ;;
    *) echo "usage: $0 [check|start|stop]" >&2; exit 2 ;;
esac
