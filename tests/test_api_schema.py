"""Property-based tests of the service against its own OpenAPI document (schemathesis): whatever
the request — valid, malformed, huge numbers, odd Unicode, wrong types — the answer is never an
HTTP 500 (issue #7, acceptance). Runs with an admin key (every operation reachable) on SQLite,
with a small list imported so that screening runs too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from tests.test_api_support import CSL_2026, fresh_database, make_keys, small_list

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
AUTH: dict[str, str] = {}
CALLS: list[int] = []


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from aiexport.api import create_app

    folder = tmp_path_factory.mktemp("schema")
    with fresh_database("sqlite", folder):
        keys = make_keys()
        AUTH["Authorization"] = f"Bearer {keys['admin']}"
        if CSL_2026.exists():
            from aiexport.parties.store import import_and_rescreen

            import_and_rescreen(small_list(folder / "list.csv"))
        app = create_app()
        # revoking keys at random would only lock the test out of the API: tested in test_api.py
        yield schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/v1/keys/{key_id}", method="DELETE")


def test_no_server_error_on_any_input(api_schema: Any) -> None:
    """Each operation of the OpenAPI document, 40 valid and 40 invalid generated requests each (schemathesis strategies run
    by hypothesis directly: schemathesis' pytest plugin does not load under this pytest)."""
    failures: list[str] = []
    ops = [result.ok() for result in api_schema.get_all_operations()]
    assert len(ops) >= 30
    for op, mode in [(op, mode) for op in ops for mode in schemathesis.GenerationMode]:

        @given(case=op.as_strategy(mode))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            CALLS.append(case.call_and_validate(headers=AUTH, checks=[not_a_server_error]).status_code)

        try:
            run()
        except Unsatisfiable:  # an operation without parameters has no invalid request to make
            continue
        except Exception as exc:  # collect every failing operation, then fail once
            failures.append(f"{op.method.upper()} {op.path} ({mode.value}): {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    assert len(CALLS) >= 10 * len(ops) and {200, 400, 422} <= set(CALLS)  # it really called the service, with good and bad input
