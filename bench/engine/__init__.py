"""Benchmark of the execution engine: compiler cost, schedule exactness, per-task overhead.

Three measurements, each against a baseline measured in the same run:

  1. compile: ``dag.validate_tasks`` + ``compiler.compile_definition`` + ``json.dumps`` of the
     definition (what ``Engine.ensure_state_machine`` sends) for seeded random DAGs (each task
     depends on 0-3 random earlier tasks) and nested fork-joins (series-parallel) of 100 / 500
     (the API's task limit) / 1,000 / 5,000 tasks, against ``dag.topological_order`` of the same
     graph. Also the definition's size against Step Functions' 1 MiB definition quota, for
     built-in (noop) tasks and for custom task types (more states per task), and the largest
     workflow of each family that still fits.
  2. makespan: a corpus of small graphs (the "N" shape a->c, b->c, a->d; nested fork-joins;
     random non-series-parallel DAGs) of ``sleep`` tasks with known durations (0.2-1.0 s), run
     in the embedded runtime through the API. Makespan (last completedAt - first startedAt, from
     the recorded task timestamps) / critical path (longest path by durations); 1.00 is exact.
     The excess is broken down per task into dispatch delay (startedAt - max(dependency
     completedAt)) and in-task overhead (completedAt - startedAt - sleep).
  3. end-to-end: a 10-task noop chain and a fork of 10 independent noop tasks, executed through
     the API and polled with GET /executions/{id}, against a hand-written ASL machine of the
     same shape (10 ``lambda:invoke`` Task states calling a trivial in-process function) run
     directly in the same moto with start_execution / describe_execution. Wall, recorded and
     CPU time; the engine's time broken down (phases, task runner calls and their DynamoDB
     requests, moto's per-start parse of the definition).

    python -m bench.engine            # ~2-3 minutes
    python -m bench.engine --quick    # ~40 seconds

Prints tables and writes bench/results/engine.json. The last line is the headline: (3)'s
engine / hand-written ratio of median wall time, chain and fork.

Modules: ``graphs`` (sizes, task graphs, critical path), ``compile`` (1), ``makespan`` (2),
``end_to_end`` and ``end_to_end_report`` (3), ``cli`` (the options and the run); the embedded
runtime, timing and tables come from ``bench.harness``.
"""
