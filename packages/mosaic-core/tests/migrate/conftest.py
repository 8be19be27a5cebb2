"""``guide/`` holds worker projects to migrate, not tests: its test files import packages
that are installed only inside the tests that migrate them."""

collect_ignore_glob = ["guide/*"]
