from tests.provisions.conftest import (  # noqa: F401 (fixtures)
    hosts_configure_without_ssh,
    sim,
    sim_provider,
)
