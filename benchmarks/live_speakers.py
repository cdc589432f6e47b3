"""Live speaker labels: DER of the labels the streaming engine sends (`diarize=true`) beside the
offline diarization of the same file in the same run, and what the labels cost in latency. Each
file is streamed through `Client.stream` at real-time pace (`pace=1.0`), two files at a time
(the engine must keep real time with two concurrent streams on this 2-core machine); the live
transcript's segments carry the engine's labels. Offline: `Client.transcribe(path,
diarize=True)` against the same embedded server. DER with `fw_asr_widgets.transcript.der`,
collar 0.25 s, overlap scored. The call's figure is the mean of its four labelled streams in the
run (the one paired with ami_dev00, the labelled one of the latency pair, and two streamed
together; in quick mode only the first two): at real-time pace one stream's DER moves with how
its decodes fall. Latency: a label goes out in the message that commits its word, so "commit →
speaker shown" is zero by construction; its cost is how much later words are committed: mean
word end → commit with labels beside the same file streamed without them at the same time (two
concurrent streams at real-time pace, so both see the same load).
The client-side labeller (`speakers=True`, for servers that send no labels) is measured on the
phone call: its DER and the time it takes to label a segment once it is final (commit → speaker
shown on the client).
"""

from __future__ import annotations

import functools
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks._util import FigureResult, Row, data_dir, run_child

NAME = "Live speakers"
AMI = [f"ami_dev0{i}" for i in range(2)] + [f"ami_trn0{i}" for i in range(10)]


def _ref(name: str) -> Any:
    from fw_asr_widgets import Transcript

    if name == "two_speakers":
        return Path(data_dir()) / "two_speakers.rttm"
    return Transcript.from_rttm(Path(data_dir()) / "ami.rttm", file_id=name)


def _der(name: str, tr: Any) -> float:
    from fw_asr_widgets.transcript import der

    if not tr.segments:
        return 1.0
    return der(_ref(name), tr, collar=0.25)


def _oracle(name: str, tr: Any) -> Any:
    """`tr` with each word given the reference speaker at its middle (segments cut where that
    changes; a segment's first and last piece keep its start and end, which the engine widens
    to detected speech): the DER floor of labelling these segments, whatever the labeller."""
    from fw_asr_widgets import Transcript

    ref = _ref(name)
    ref = ref if hasattr(ref, "segments") else Transcript.from_rttm(ref)
    turns = [(s.start, s.end, s.speaker) for s in ref.segments]
    segs: list[dict[str, Any]] = []
    for seg in tr.segments:
        last = None
        first_piece = len(segs)
        for w in seg.words:
            if w.start is None or w.end is None:
                continue
            mid = (w.start + w.end) / 2
            here = [t for t in turns if t[0] <= mid <= t[1]]
            spk = min(here, key=lambda t: t[1] - t[0])[2] if here else last
            if spk is None:
                continue
            if not segs or spk != last or segs[-1]["seg"] != seg.id:
                segs.append({"seg": seg.id, "speaker_id": spk, "start": w.start, "words": []})
            segs[-1]["end"] = w.end
            segs[-1]["words"].append(w.word)
            last = spk
        if len(segs) > first_piece and seg.start is not None and seg.end is not None:
            segs[first_piece]["start"] = min(segs[first_piece]["start"], seg.start)
            segs[-1]["end"] = max(segs[-1]["end"], seg.end)
    out = [
        {
            "id": i,
            "start": d["start"],
            "end": d["end"],
            "text": " ".join(d["words"]),
            "speaker_id": d["speaker_id"],
        }
        for i, d in enumerate(segs)
    ]
    return Transcript.from_response({"text": " ".join(d["text"] for d in out), "segments": out})


def _stream(client: Any, name: str, **params: Any) -> dict[str, Any]:
    from fw_asr_widgets.audio import decode

    audio = decode(Path(data_dir()) / f"{name}.wav")
    s = client.stream(pace=1.0, send_timeout=None, **params)
    s.start()
    for i in range(0, audio.size, 8000):
        s.send(audio[i : i + 8000])
    tr = s.finish(timeout=300)
    commit = [float(x) for x in s.metrics("word")["final_s"].dropna()]
    return {"tr": tr, "commit": commit}


def _together(*jobs: Any) -> list[Any]:
    """Run the callables at once (one thread each); their results in order."""
    got: list[Any] = [None] * len(jobs)

    def one(i: int) -> None:
        got[i] = jobs[i]()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got


def _scores(name: str, tr: Any) -> dict[str, Any]:
    """A live transcript's DER, its floor (the same segments labelled from the reference) and
    how many labels it has."""
    return {
        "live": _der(name, tr),
        "oracle": _der(name, _oracle(name, tr)),
        "labels": len(tr.speakers),
    }


def child(names: list[str], extra_calls: int = 2) -> dict[str, Any]:
    from fw_asr_widgets import Client
    from fw_asr_widgets.api import _stream_speakers
    from fw_asr_widgets.local import serve

    label_s: list[float] = []
    real_label = _stream_speakers.ClientSpeakers.label

    def timed(self: Any, seg: Any) -> Any:
        t0 = time.perf_counter()
        out = real_label(self, seg)
        label_s.append(time.perf_counter() - t0)
        return out

    _stream_speakers.ClientSpeakers.label = timed  # type: ignore[method-assign]
    out: dict[str, Any] = {}
    with serve() as srv, Client(base_url=srv.url, max_retries=0, timeout=600) as c:
        c.transcribe(Path(data_dir()) / "jfk.wav", language="en")  # warm-up: models load
        labelled = {"query": {"diarize": "true"}}
        for i in range(0, len(names), 2):  # two concurrent streams
            pair = names[i : i + 2]
            got = _together(*[functools.partial(_stream, c, n, **labelled) for n in pair])
            for n, run in zip(pair, got, strict=True):
                off = c.transcribe(Path(data_dir()) / f"{n}.wav", diarize=True)
                out[n] = {
                    **_scores(n, run["tr"]),
                    "offline": _der(n, off),
                    "offline_labels": len(off.speakers),
                    "commit": run["commit"],
                }
        # Latency: the phone call with and without labels at once (same load on both).
        call = functools.partial(_stream, c, "two_speakers")
        with_labels, plain = _together(functools.partial(call, **labelled), call)
        # More labelled streams of the call, at once: its DER is judged on the mean of all its
        # labelled streams in this run (one stream's figure moves with how decodes fall).
        extra = _together(*[functools.partial(call, **labelled)] * extra_calls)
        client_side = _stream(c, "two_speakers", speakers=True)
    out["_call_runs"] = [_scores("two_speakers", r["tr"]) for r in [with_labels, *extra]]
    out["_labels_commit"] = with_labels["commit"]
    out["_plain_commit"] = plain["commit"]
    out["_client"] = {
        "der": _der("two_speakers", client_side["tr"]),
        "labels": len(client_side["tr"].speakers),
        "label_s": label_s,
        "commit": client_side["commit"],
    }
    return out


def run(quick: bool) -> FigureResult:
    res = FigureResult(NAME)
    names = ["two_speakers", "ami_dev00"] if quick else ["two_speakers", *AMI]
    m = run_child("benchmarks.live_speakers:child", names, 0 if quick else 2, timeout=3600)
    two = m["two_speakers"]
    runs = [two, *m["_call_runs"]]
    live = statistics.fmean(r["live"] for r in runs)
    floor = statistics.fmean(r["oracle"] for r in runs)
    each = " / ".join(f"{r['live']:.1%}" for r in runs)
    labels = " / ".join(str(r["labels"]) for r in runs)
    res.rows.append(
        Row(
            NAME,
            f"two_speakers.wav: DER of the live labels (collar 0.25 s), 1× pace, "
            f"mean of {len(runs)} streams",
            f"{live:.1%} (each {each}; labels {labels})",
            "offline diarization, same file, same run",
            f"{two['offline']:.1%} ({two['offline_labels']} labels)",
            f"{live / two['offline']:.2f}×" if two["offline"] else "—",
            "≤ 1.5× offline",
            live <= 1.5 * two["offline"],
        )
    )
    res.rows.append(
        Row(
            NAME,
            "two_speakers.wav: DER of the same live segments labelled from the reference "
            f"(the floor of any live labeller on these segments), mean of {len(runs)} streams",
            f"{floor:.1%} (each " + " / ".join(f"{r['oracle']:.1%}" for r in runs) + ")",
            "offline diarization, same file, same run",
            f"{two['offline']:.1%}",
            f"{floor / two['offline']:.2f}×" if two["offline"] else "—",
            "—",
            None,
        )
    )
    ami = [n for n in names if n.startswith("ami_")]
    if ami:
        live = statistics.fmean(m[n]["live"] for n in ami)
        off = statistics.fmean(m[n]["offline"] for n in ami)
        res.rows.append(
            Row(
                NAME,
                f"AMI snippets ({len(ami)}): mean DER of the live labels, 1× pace, 2 streams",
                f"{live:.1%}",
                "offline diarization, same files, same run",
                f"{off:.1%}",
                f"{live / off:.2f}×" if off else "—",
                "—",
                None,
            )
        )
    with_labels = statistics.fmean(m["_labels_commit"])
    plain = statistics.fmean(m["_plain_commit"])
    res.rows.append(
        Row(
            NAME,
            "two_speakers.wav: word end → commit with its label (label in the commit message), "
            "mean",
            f"{with_labels:.2f} s",
            "the same file streamed without labels at the same time",
            f"{plain:.2f} s",
            f"{with_labels / plain:.2f}×" if plain else "—",
            "—",
            None,
        )
    )
    cl = m["_client"]
    lab = sorted(cl["label_s"])
    res.rows.append(
        Row(
            NAME,
            "two_speakers.wav, client-side labels (server sends none): DER; "
            "segment final → label, median / max",
            f"{cl['der']:.1%} ({cl['labels']} labels); "
            f"{statistics.median(lab) * 1000:.0f} / {lab[-1] * 1000:.0f} ms",
            "offline diarization (DER)",
            f"{two['offline']:.1%}",
            f"{cl['der'] / two['offline']:.2f}×" if two["offline"] else "—",
            "—",
            None,
        )
    )
    per_file = ", ".join(
        f"{n} {m[n]['live']:.1%}/{m[n]['oracle']:.1%}/{m[n]['offline']:.1%}" for n in names
    )
    res.notes.append(
        "Live speakers: DER per file, live labels / the same live segments labelled from the "
        "reference, word by word (the floor of any labeller on them) / offline diarization: "
        + per_file
        + ". Streams at real-time "
        "pace, two at a time, on the shared 2-core machine (timings are noisy under load). "
        "The live DER is scored on the segments the client merged (speech = Whisper's word "
        "spans, each closed segment widened by the engine to the speech Silero detected "
        "around it, at most 1 s each way), the offline one on the diarizer's own speech "
        "analysis."
    )
    return res
