"""Load benchmark of the embedded runtime: many clients, several tenants, a mixed workload, then checks.

Starts ``orchestration dev --port 0 --quiet --tasks examples/etl_tasks.py`` as a subprocess,
makes one API key per tenant with ``orchestration keys create``, and drives the API over
keep-alive HTTP/1.1 (``http.client``, one connection per client thread) for a bounded time
and a bounded number of requests, with this mix of operations:

  create workflow 20, update (If-Match; some deliberately stale -> 412) 15, execute (some
  with a reused Idempotency-Key -> the same execution) 10, get workflow 25, list workflows
  (status filter, nextToken paging) 15, get/list executions 15, delete workflow 2

Every status code is recorded per operation. Errors: any 5xx, any connection error, any
status the request did not expect (a 4xx it did not deliberately provoke), and any answer
that contradicts what the clients were acknowledged (e.g. a read older than an acknowledged
write, another tenant's id in a list). Afterwards the state is verified: every acknowledged
create is readable with the state of the highest revision acknowledged for it, deleted
workflows are gone, each tenant's ``total`` (per status filter too) equals its acknowledged
creates minus deletes and the items paged through with nextToken, no tenant sees another's
ids, every acknowledged execution reaches a terminal state in time, and execution totals per
workflow and per tenant are exact. The server is stopped with SIGINT; it must exit 0.

    python -m bench.load            # 60 s of load, 16 clients, 4 tenants
    python -m bench.load --quick    # 15 s of load

Prints a table, writes bench/results/load.json, and ends on its headline, the verdict line with
the load phase's requests/s; exits 1 if the verdict fails. This benchmark has no baseline
measured in the same run (its result is the verdict, not a ratio), so that rate is an absolute
figure of the machine it ran on, and the last line says so.

Modules: ``model`` (sizes, mix, statistics, what was acknowledged), ``client`` (the recording
connection), ``workload`` (the clients' operations), ``verify`` (the checks after the load),
``run`` (one run end to end), ``cli``; the server, tables and results come from
``bench.harness``.
"""
