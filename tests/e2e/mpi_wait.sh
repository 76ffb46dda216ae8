# Sourced by the MPI harnesses. wait_mpirun PID: waits for a background mpirun like `wait PID` and
# returns its status, but when every rank has ended (exited or a zombie mpirun has not reaped) and
# mpirun is still there 20 s later, it SIGKILLs mpirun and returns 137, saying so on stderr. Open
# MPI 4.1's mpirun was seen to hang like that after one of its ranks got SIGKILL (three zombie
# ranks, mpirun asleep for 14 minutes; the same class as open-mpi/ompi#1136 and #433), which would
# hang the harness until CI's time limit. A job whose ranks are all gone is down either way.
wait_mpirun() {
  local pid=$1 idle=0 live
  while kill -0 "$pid" 2>/dev/null; do
    live=0
    for c in $(pgrep -P "$pid" 2>/dev/null); do
      [[ $(awk '/^State:/ {print $2}' "/proc/$c/status" 2>/dev/null) == Z ]] || live=$((live + 1))
    done
    if (( live == 0 )); then idle=$((idle + 1)); else idle=0; fi
    if (( idle >= 200 )); then
      echo "wait_mpirun: every rank of mpirun (pid $pid) ended 20 s ago but mpirun did not exit; killed it" >&2
      kill -9 "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
      return 137
    fi
    sleep 0.1
  done
  wait "$pid" 2>/dev/null
}
