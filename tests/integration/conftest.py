"""Integration tests: real kernel features (network namespaces, CNI plugins, runc) as root,
always inside namespaces the test creates (DESIGN §8). The `integration` marker is
registered in pyproject.toml."""
