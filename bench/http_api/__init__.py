"""HTTP benchmark of the embedded runtime, driven like a user drives it.

Starts ``orchestration dev`` as a subprocess, then measures over keep-alive HTTP/1.1
connections (one ``http.client`` connection per client thread) with 1 and 4 concurrent clients:

  (a) GET one workflow
  (b) POST a 10-task diamond workflow (dependsOn fan-out / fan-in)
  (c) GET the first page of 50 with N (default 10,000) workflows stored
  (d) GET a page of 50 deep in the list (90% of N): by nextToken and by offset

and the floor: raw moto ``get_item`` in this process against the template's table, with the
ratio HTTP GET rate / raw get_item rate. An in-process breakdown (authorizer alone, the
whole API Gateway emulation without HTTP) shows where the time between the two goes.

    python -m bench.http_api            # ~5 minutes, 10,000 workflows
    python -m bench.http_api --quick    # ~30 seconds, 1,000 workflows

Prints a table and writes bench/results/http_api.json. The last line is the headline: the HTTP
GET rate with one client over the floor's raw get_item rate, same run.

Modules: ``measure`` (timed requests from client threads, seeding by POST), ``seeding`` (the
rest of the table written into the stopped runtime's data), ``scenario`` (the measurements in
order), ``floor`` (raw get_item and the in-process breakdown), ``cli``; the server, the HTTP
client and the tables come from ``bench.harness``.
"""
