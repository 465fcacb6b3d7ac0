from flashjig.cli import main

raise SystemExit(main())
