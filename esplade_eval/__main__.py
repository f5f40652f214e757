from esplade_eval.cli import main

raise SystemExit(main())
