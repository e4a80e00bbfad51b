"""``python -m drlab.gateway --dir DIR --name NAME`` (how ``Lab`` starts a cluster's gateway)."""

import sys

from .run import main

sys.exit(main())
