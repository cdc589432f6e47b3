"""`Client` and `AsyncClient` are twins: same public methods, signatures and docstrings."""

from __future__ import annotations

import inspect

import fw_asr_widgets as fw

LIFECYCLE = {"close", "aclose"}
SYNC_ONLY = {"async_client"}  # the AsyncClient a Client runs on has no async twin


def public(cls: type) -> dict[str, object]:
    return {
        name: obj
        for name, obj in vars(cls).items()
        if not name.startswith("_") and (inspect.isfunction(obj) or isinstance(obj, property))
    }


def test_same_public_members() -> None:
    a, s = public(fw.AsyncClient), public(fw.Client)
    assert set(a) - LIFECYCLE == set(s) - LIFECYCLE - SYNC_ONLY
    assert {
        "transcribe",
        "translate",
        "align",
        "transcribe_many",
        "stream",
        "stream_file",
        "with_options",
    } <= set(s)
    assert "aclose" in a and "close" in s


def test_same_signatures_and_docs() -> None:
    a, s = public(fw.AsyncClient), public(fw.Client)
    for name in (set(a) & set(s)) - LIFECYCLE:
        if isinstance(a[name], property):
            continue
        sig_a = inspect.signature(a[name])  # type: ignore[arg-type]
        sig_s = inspect.signature(s[name])  # type: ignore[arg-type]
        assert list(sig_a.parameters.values()) == list(sig_s.parameters.values()), name
        assert a[name].__doc__ and a[name].__doc__ == s[name].__doc__, name  # type: ignore[union-attr]
    assert inspect.signature(fw.AsyncClient.__init__) == inspect.signature(fw.Client.__init__)
    assert inspect.iscoroutinefunction(fw.AsyncClient.transcribe)
    assert not inspect.iscoroutinefunction(fw.Client.transcribe)


def test_every_documented_field_is_a_parameter() -> None:
    params = set(inspect.signature(fw.Client.transcribe).parameters)
    assert {
        "file",
        "model",
        "language",
        "prompt",
        "temperature",
        "response_format",
        "timestamp_granularities",
        "diarize",
        "min_speakers",
        "max_speakers",
        "vad_model",
        "alignment_model",
        "preprocessing",
        "diarization_model",
        "skip_vad",
        "max_clip_len",
        "extra_fields",
    } == params - {"self"}
    tparams = set(inspect.signature(fw.Client.translate).parameters)
    assert "diarize" not in tparams and {"language", "vad_model", "skip_vad"} <= tparams


def test_async_client_is_the_one_the_sync_client_runs_on() -> None:
    with fw.Client("k", base_url="http://127.0.0.1:9", timeout=7.0, max_retries=1) as c:
        ac = c.async_client
        assert isinstance(ac, fw.AsyncClient)
        assert (ac.base_url, ac.timeout, ac.max_retries) == (c.base_url, 7.0, 1)
        assert c.with_options(max_retries=3).async_client.max_retries == 3
        assert ac is c.async_client
