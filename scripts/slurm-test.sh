#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine runs `repro exp1 --preset tiny` as a 4-task job
# array plus a dependent merge job, submitted through `cargo xtask submit slurm … --submit`; one
# array task is requeued mid-run (`scontrol requeue`) and must resume from the cells it already
# wrote; the merged results.json must equal a single-process 2-thread run's byte for byte (the
# shards run on 1 thread each).
#
# Needs root and the Debian package registry (installs `slurm-wlm munge` when absent). Every
# daemon it starts (munged, slurmctld, slurmd) is stopped by its process id at the end, pass or
# fail. Settings: SLURM_TEST_KEEP=1 keeps the work folder; SLURMCTLD_PORT / SLURMD_PORT change
# the ports (default 6817 / 6818); SLURM_TEST_TIMEOUT (seconds, default 1200) bounds the wait;
# THERMOQ_XTASK=path uses that xtask binary instead of building target/debug/xtask.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/thermoq-slurm.XXXXXX)
chmod 755 "$WORK"
TIMEOUT=${SLURM_TEST_TIMEOUT:-1200}
PIDS=()
T0=$(date +%s)
ARRAY=""
MERGE=""

say() { echo "[slurm-test +$(($(date +%s) - T0))s] $*" >&2; }

cleanup() {
  local rc=$?
  # Jobs first (their processes belong to slurmstepd, not to the daemons), then the daemons.
  if [ -n "${SLURM_CONF:-}" ] && [ "${#PIDS[@]}" -ge 3 ]; then
    scancel --full "${ARRAY:-0}" "${MERGE:-0}" 2>/dev/null || true
    for _ in $(seq 60); do
      [ -z "$(squeue -h 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    say "FAILED (exit $rc); logs:"
    tail -n 20 "$WORK"/log/*.log "$WORK"/cluster/logs/*.log 2>/dev/null >&2 || true
  fi
  if [ "${SLURM_TEST_KEEP:-0}" = 1 ]; then
    say "work folder kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  say "daemons stopped"
  exit "$rc"
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-test.sh must run as root (it starts munged, slurmctld and slurmd)" >&2
  exit 1
fi

# 1. Packages.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
say "$(slurmctld -V), munge $(munged -V 2>&1 | head -n 1)"

# 2. The binary and the reference: one process, 2 threads.
cd "$ROOT"
if [ -n "${THERMOQ_XTASK:-}" ]; then
  BIN=$THERMOQ_XTASK
else
  cargo build -q -p xtask
  BIN="$ROOT/target/debug/xtask"
fi
say "reference run: repro exp1 --preset tiny --threads 2"
"$BIN" repro exp1 --preset tiny --threads 2 --out "$WORK/reference" 2>"$WORK/reference.log"
say "reference done"

# 3. munge: our own socket, pid, log and seed files; the package's key.
MUNGE="$WORK/munge"
mkdir -p "$MUNGE" /etc/munge
chown munge:munge "$MUNGE"
chmod 755 "$MUNGE"
if [ ! -s /etc/munge/munge.key ]; then
  mungekey -c -k /etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
fi
# setpriv execs munged (no wrapper process), so the pid we keep is munged's own.
setpriv --reuid=munge --regid=munge --clear-groups munged -F --socket="$MUNGE/munge.socket" --pid-file="$MUNGE/munged.pid" \
  --log-file="$MUNGE/munged.log" --seed-file="$MUNGE/munged.seed" &
PIDS+=($!)
for _ in $(seq 50); do
  [ -S "$MUNGE/munge.socket" ] && break
  sleep 0.2
done
munge -S "$MUNGE/munge.socket" -n | unmunge -S "$MUNGE/munge.socket" | grep -q 'STATUS: *Success' \
  || { echo "munge does not work" >&2; exit 1; }
say "munged up (pid ${PIDS[-1]})"

# 4. Slurm: a generated slurm.conf, then slurmctld and slurmd in the foreground (their pids).
mkdir -p "$WORK/state" "$WORK/spool" "$WORK/log"
export SLURM_CONF="$WORK/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=thermoq-test
SlurmctldHost=localhost
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
AuthType=auth/munge
AuthInfo=socket=$MUNGE/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ReturnToService=2
JobRequeue=1
MinJobAge=3600
NodeName=localhost CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -f "$SLURM_CONF" &
PIDS+=($!)
sleep 1
slurmd -D -N localhost -f "$SLURM_CONF" &
PIDS+=($!)
for _ in $(seq 60); do
  state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || { echo "the Slurm node is '$state', not idle" >&2; exit 1; }
say "slurmctld and slurmd up, node idle"

# 5. Submit through the helper.
OUT="$WORK/cluster"
T_SUBMIT=$(date +%s)
"$BIN" submit slurm repro exp1 --preset tiny --tasks 4 --cpus 1 --out "$OUT" --submit >"$WORK/submit.out"
ARRAY=$(awk '/^array job /{print $3}' "$WORK/submit.out")
MERGE=$(awk '/^merge job /{print $3}' "$WORK/submit.out")
[ -n "$ARRAY" ] && [ -n "$MERGE" ] || { cat "$WORK/submit.out" >&2; exit 1; }
say "submitted array job $ARRAY and merge job $MERGE"

job_state() { { scontrol -o show job "$1" 2>/dev/null || true; } | grep -o 'JobState=[A-Z_]*' | head -n 1 | cut -d= -f2 || true; }
cells_in() { if [ -d "$OUT/shard-$1/cells" ]; then find "$OUT/shard-$1/cells" -maxdepth 1 -name '*.json' ! -name '.*' | wc -l; else echo 0; fi; }
total_cells=$(jq '.cells | length' "$WORK/reference/run.json")
# Cell k belongs to task k mod 4.
cells_of() { echo $(((total_cells - $1 + 3) / 4)); }

# 6. Requeue one running task after it wrote at least one cell and before it finished.
REQUEUED=""
deadline=$((T_SUBMIT + TIMEOUT))
while [ -z "$REQUEUED" ] && [ "$(date +%s)" -lt "$deadline" ]; do
  for t in 0 1 2 3; do
    n=$(cells_in "$t")
    if [ "$(job_state "${ARRAY}_$t")" = RUNNING ] && [ "$n" -ge 1 ] && [ "$n" -lt "$(cells_of "$t")" ]; then
      mkdir -p "$WORK/before"
      cp "$OUT/shard-$t/cells/"*.json "$WORK/before/"
      if scontrol requeue "${ARRAY}_$t" 2>"$WORK/requeue.err"; then
        REQUEUED=$t
        # Slurm delays a requeued job's next start (BeginTime, minutes); once it is pending
        # again, let it start at once.
        for _ in $(seq 100); do
          [ "$(job_state "${ARRAY}_$t")" = PENDING ] && break
          sleep 0.2
        done
        scontrol update JobId="${ARRAY}_$t" StartTime=now 2>/dev/null || true
        say "requeued task ${ARRAY}_$t with $n of $(cells_of "$t") cells written"
        break
      fi
      rm -rf "$WORK/before"
    fi
  done
  [ -n "$REQUEUED" ] || sleep 0.1  # tiny cells take ≈ 1–3 s each: poll often enough to catch one
  if [ "$(job_state "$MERGE")" = COMPLETED ]; then break; fi
done
[ -n "$REQUEUED" ] || { echo "no array task could be requeued mid-run" >&2; exit 1; }

# 7. Wait for the merge job.
while :; do
  s=$(job_state "$MERGE")
  case "$s" in
    COMPLETED) break ;;
    FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
      echo "merge job $MERGE ended $s" >&2
      exit 1
      ;;
  esac
  # A dependency that can never be met (a failed array task) leaves the merge pending forever.
  if scontrol -o show job "$MERGE" | grep -q 'Reason=DependencyNeverSatisfied'; then
    echo "merge job $MERGE: dependency never satisfied (an array task failed)" >&2
    exit 1
  fi
  [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out waiting for job $MERGE" >&2; exit 1; }
  sleep 1
done
T_DONE=$(date +%s)
say "array + merge finished in $((T_DONE - T_SUBMIT)) s of wall time"

# 8. Checks.
# (a) The requeued task resumed: its log says so, and the cells written before the requeue are
#     byte-identical afterwards (a recomputed cell would carry a new wall time).
grep -q "resuming in .*shard-$REQUEUED, [1-9][0-9]* of $(cells_of "$REQUEUED") cells already written" "$OUT/logs/shard-$REQUEUED.log" \
  || { echo "task $REQUEUED's log shows no resume:" >&2; cat "$OUT/logs/shard-$REQUEUED.log" >&2; exit 1; }
for f in "$WORK/before/"*.json; do
  cmp -s "$f" "$OUT/shard-$REQUEUED/cells/$(basename "$f")" \
    || { echo "cell $(basename "$f") was rewritten after the requeue" >&2; exit 1; }
done
say "task $REQUEUED resumed from its $(ls "$WORK/before" | wc -l) written cell(s)"
# (b) Shards ran on 1 thread, the reference on 2.
for t in 0 1 2 3; do
  [ "$(jq .threads "$OUT/shard-$t/manifest.json")" = 1 ] || { echo "shard $t did not run on 1 thread" >&2; exit 1; }
done
[ "$(jq .threads "$WORK/reference/manifest.json")" = 2 ]
# (c) The merged results.json equals the reference byte for byte (the revision is the same
#     binary's; results.json carries no wall times; manifests are not compared).
if cmp "$OUT/merged/results.json" "$WORK/reference/results.json"; then
  say "merged results.json == single-process 2-thread results.json, byte for byte ($(wc -c <"$OUT/merged/results.json") bytes)"
else
  diff <(jq -S . "$OUT/merged/results.json") <(jq -S . "$WORK/reference/results.json") | head -n 40 >&2
  echo "merged results differ from the reference" >&2
  exit 1
fi
cmp "$OUT/merged/cells.csv" "$WORK/reference/cells.csv"
say "PASS"
