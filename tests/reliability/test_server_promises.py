"""The embedded server's promises not already shown in tests/local/test_server_limits.py:
keys compared in constant time (in the code, and near-miss keys refused), loopback by default.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterator

import httpx
import pytest

from fw_asr_widgets.local import ServerHandle, serve
from fw_asr_widgets.local.server import check_key

KEY = "fw-LOCAL-0123456789abcdef"


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServerHandle]:
    with serve(api_key=KEY) as handle:
        yield handle


def test_check_key_compares_with_hmac_compare_digest_only() -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(check_key)))
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert "hmac.compare_digest" in calls
    # No early-exit comparison of the secret itself (==, !=, startswith, in).
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and not all(
            isinstance(op, ast.Is | ast.IsNot) for op in node.ops
        ):
            names = {ast.unparse(x) for x in [node.left, *node.comparators]}
            assert not names & {"expected", "value"}, ast.unparse(node)
    assert not any("startswith" in c or "endswith" in c for c in calls)


@pytest.mark.parametrize(
    "header",
    [
        "x" + KEY[1:],  # differs in the first character
        KEY[:-1] + "x",  # differs in the last
        KEY[:-1],  # a prefix
        KEY + "0",  # longer
        KEY.upper(),
        f"Basic {KEY}",
        "",
    ],
)
def test_near_miss_keys_are_refused(keyed: ServerHandle, header: str) -> None:
    r = httpx.get(keyed.url + "/v1/models", headers={"Authorization": header})
    assert r.status_code == 401
    assert KEY not in r.text


def test_right_key_in_both_forms_and_loopback_by_default(keyed: ServerHandle) -> None:
    for header in (KEY, f"Bearer {KEY}"):
        r = httpx.get(keyed.url + "/v1/models", headers={"Authorization": header})
        assert r.status_code == 200  # past authentication
    assert keyed.host == "127.0.0.1" and keyed.url.startswith("http://127.0.0.1:")
