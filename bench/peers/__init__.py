"""This project's embedded runtime side by side with Prefect 3 and Dagster, in one run.

Four workloads, the same task body in each system (sleep S seconds, record start and end with
``time.perf_counter`` in this process):

  1. chain: 10 tasks in a chain, S=0: wall time and overhead per task
  2. fork: 1 -> 8 -> 1, S=0: wall time
  3. N: a->c, b->c, b->d, S=0.2: makespan / critical path (1.00 is exact)
  4. random-50: 50-task random DAG (seed 7), S=0.05: makespan / critical path

Systems, each started once and warmed up with one untimed run of every workload:

  - this project: the embedded runtime in this process (bench.harness), workflows
    created and executed through the API gateway emulation; the task body is a custom task
    type, i.e. a Lambda function the compiled state machine invokes
  - Prefect 3: a flow that ``.submit()``s every task with ``wait_for=`` its dependencies, on a
    ``ThreadPoolTaskRunner`` with one thread per task, against Prefect's ephemeral local API
    (a server subprocess on loopback with SQLite, unless PREFECT_API_URL is set)
  - Dagster: one op per task, ``Nothing`` inputs for the dependencies, ``execute_in_process``
    (in-process executor: ops run one at a time in this process; no server, ephemeral
    instance)

Every run is checked from the recorded timestamps: each task ran exactly once and started
after all its dependencies ended (otherwise the benchmark stops with an error). Runs alternate
between the systems (each first in turn), so load from other processes hits all alike, and
after every run the benchmark waits until this process and its children are quiet (Prefect's
client and server go on working after a flow returns); medians are reported. CPU time is
counted for this process (all threads) and for its child processes (Prefect's server).

    python -m bench.peers            # 5 repeats, a few minutes
    python -m bench.peers --quick    # 2 repeats
    python -m bench.peers --dagster-multiprocess   # also Dagster's multiprocess executor (slow)

The last line printed is the headline: this project's makespan / critical path on the 50-task
DAG divided by Prefect's, both measured in this run. Results: bench/results/peers.json.

Modules: ``workloads`` (the graphs, the shared task body, one run's figures), ``systems`` (the
systems compared), ``cli`` (the run, the table, the headline).
"""
