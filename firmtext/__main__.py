from firmtext.cli import main

raise SystemExit(main())
