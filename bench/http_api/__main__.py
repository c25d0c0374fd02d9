from bench.http_api.cli import main

raise SystemExit(main())
