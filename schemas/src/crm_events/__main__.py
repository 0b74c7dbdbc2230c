from crm_events.cli import main

raise SystemExit(main())
