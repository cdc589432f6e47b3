"""TranscriptViewer(editable=True) in JupyterLab + headless Chromium: every edit operation by
mouse and by keyboard, undo and redo, listening keys, a page reload, and the kernel's
`Transcript` and `edits` checked after each step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.widgets.browser.conftest import _FIND_PANEL_JS

EDIT_CELL = """
from pathlib import Path
from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.widgets import TranscriptViewer
DATA = Path({data!r})
segs = []
for i, line in enumerate((DATA / "two_speakers.stm").read_text().splitlines()):
    _f, _c, spk, a, b, *text = line.split()
    start, end = float(a), float(b)
    step = (end - start) / len(text)
    words = [dict(word=" " + w, start=start + k * step, end=start + (k + 0.9) * step,
                  speaker_id=spk, probability=0.2 if (i, k) in {{(6, 2), (9, 1)}} else 0.95)
             for k, w in enumerate(text)]
    segs.append(dict(id=i, start=start, end=end, text=" ".join(text), speaker_id=spk,
                     words=words))
tr = Transcript.from_response(dict(text="", duration=30.0, segments=segs),
                              source="two_speakers.wav")
v = TranscriptViewer(tr, audio=DATA / "two_speakers.wav", editable=True, height=900)
v
"""

K = "v.transcript.segments"


class Kernel:
    """Reads of the kernel's corrected transcript and edit log."""

    def __init__(self, nb: Any) -> None:
        self.nb = nb

    def texts(self) -> list[str]:
        return list(self.nb.kernel_json(f"[s.text for s in {K}]"))

    def speakers(self) -> list[str]:
        return list(self.nb.kernel_json(f"[s.speaker for s in {K}]"))

    def last_op(self) -> str:
        return str(self.nb.kernel_json("v.edits.operation.iloc[-1]"))

    def n_edits(self) -> int:
        return int(self.nb.kernel_json("len(v.edits)"))

    def wait_text(self, i: int, text: str) -> None:
        self.nb.wait_kernel(
            f"{K}[{i}].text if len({K}) > {i} else None", lambda t: t == text, timeout=20, every=0.2
        )


def _undo_redo(page: Any, nb: Any, keys: bool) -> None:
    """Undo the last edit and redo it (buttons or keys); the kernel's segments go back to
    what they were before it, then to what they were after it."""
    expr = f"[[s.text, s.speaker] for s in {K}]"
    after = nb.kernel_json(expr)
    n = nb.kernel_json("len(v.edits)")
    _settled(page)
    if keys:
        page.keyboard.press("Control+z")
    else:
        page.locator(".fwv-undo").click()
    before = nb.wait_kernel(expr, lambda s: s != after, timeout=20, every=0.2)
    assert nb.kernel_json("v.edits.operation.iloc[-1]").startswith("undo ")
    _settled(page)
    if keys:
        page.keyboard.press("Control+Shift+z")
    else:
        page.locator(".fwv-redo").click()
    nb.wait_kernel(expr, lambda s: s == after, timeout=20, every=0.2)
    assert nb.kernel_json("v.edits.operation.iloc[-1]").startswith("redo ")
    assert nb.kernel_json("len(v.edits)") == n + 2 and before != after
    _settled(page)


def _word(page: Any, i: int, w: int) -> Any:
    return page.locator(f'.fwv-row[data-i="{i}"] .fwv-w[data-w="{w}"]')


def _settled(page: Any) -> None:
    page.wait_for_function("() => !document.querySelector('.fwv').dataset.pending")


def _row_text(page: Any, i: int) -> str:
    return str(page.locator(f'.fwv-row[data-i="{i}"] .fwv-text').inner_text()).strip()


def test_edit_by_mouse_and_keyboard_undo_redo_and_reload(
    new_page: Any, open_notebook: Any, data_dir: Path
) -> None:
    page = new_page()
    nb = open_notebook(page, [EDIT_CELL.format(data=str(data_dir))])
    page.locator('.fwv-row[data-i="12"] .fwv-w').first.wait_for()
    page.wait_for_function(
        "() => { const a = document.querySelector('.fwv audio'); return a && a.readyState >= 1; }"
    )
    kern = Kernel(nb)
    orig = kern.texts()
    assert orig[0] == "Hello?" and len(orig) == 13

    # ---- mouse ---------------------------------------------------------------------------
    # Esc leaves a word as it was
    _word(page, 0, 0).dblclick()
    page.locator(".fwv-word-input").fill("Nope")
    page.locator(".fwv-word-input").press("Escape")
    assert page.locator(".fwv-word-input").count() == 0
    _settled(page)
    assert _row_text(page, 0) == "Hello?" and kern.texts()[0] == "Hello?"
    # edit a word in place: double-click, type, Enter
    _word(page, 0, 0).dblclick()
    page.locator(".fwv-word-input").fill("Hi?")
    page.locator(".fwv-word-input").press("Enter")
    kern.wait_text(0, "Hi?")
    assert kern.last_op() == "edit_word"
    _settled(page)
    assert _row_text(page, 0) == "Hi?"
    # undo and redo with the buttons
    page.locator(".fwv-undo").click()
    kern.wait_text(0, "Hello?")
    assert kern.last_op() == "undo edit_word"
    page.locator(".fwv-redo").click()
    kern.wait_text(0, "Hi?")
    assert kern.last_op() == "redo edit_word"
    # insert a word after the clicked one
    _word(page, 2, 0).click()
    page.locator(".fwv-insert").click()
    page.locator(".fwv-word-input").fill("there")
    page.locator(".fwv-word-input").press("Enter")
    kern.wait_text(2, "Oh, there hello.")
    _undo_redo(page, nb, keys=False)
    assert page.evaluate("document.querySelector('.fwv').dataset.focus") == "2:1"
    # delete it again (it has the focus)
    page.locator(".fwv-delete").click()
    kern.wait_text(2, "Oh, hello.")
    assert kern.last_op() == "delete_word"
    _undo_redo(page, nb, keys=False)
    # split a segment before its third word, then merge it back
    _word(page, 5, 2).click()
    page.locator(".fwv-split").click()
    kern.wait_text(5, "Okay, then")
    assert len(kern.texts()) == 14 and kern.texts()[6].startswith("I thought")
    _undo_redo(page, nb, keys=False)
    assert _row_text(page, 6).startswith("I thought")
    _word(page, 5, 0).click()
    page.locator(".fwv-merge").click()
    kern.wait_text(5, orig[5])
    _undo_redo(page, nb, keys=False)
    assert kern.texts() == [orig[0].replace("Hello?", "Hi?"), *orig[1:]]
    # a run of words to the other speaker: click, Shift+click, pick the speaker
    _settled(page)
    _word(page, 7, 0).click()
    _word(page, 7, 2).click(modifiers=["Shift"])
    page.locator(".fwv-spk-select").select_option("Diane")
    kern.wait_text(7, "And I'm Sheila")
    sp = kern.speakers()
    assert sp[7] == "Diane" and sp[8] == "Sheila" and kern.texts()[8].startswith("in Texas")
    _undo_redo(page, nb, keys=False)
    # a new speaker for a whole segment
    _settled(page)
    _word(page, 0, 0).click()
    page.locator(".fwv-spk-select").select_option("\u0000new")
    page.locator(".fwv-newspk").fill("Carol")
    page.locator(".fwv-newspk").press("Enter")
    nb.wait_kernel(f"{K}[0].speaker", lambda s: s == "Carol", timeout=20, every=0.2)
    page.locator('.fwv-chip[data-speaker="Carol"]').wait_for()
    _undo_redo(page, nb, keys=False)
    n_mouse = kern.n_edits()
    assert n_mouse == 9 + 2 * 6

    # ---- keyboard ------------------------------------------------------------------------
    _settled(page)
    _word(page, 3, 0).click()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.querySelector('.fwv').dataset.focus") == "3:1"
    page.keyboard.press("Enter")
    page.keyboard.press("Control+a")
    page.keyboard.type("never")
    page.keyboard.press("Enter")
    kern.wait_text(3, "I never know you were there.")
    page.keyboard.press("Control+z")
    kern.wait_text(3, "I didn't know you were there.")
    page.keyboard.press("Control+Shift+z")
    kern.wait_text(3, "I never know you were there.")
    page.keyboard.press("Delete")  # the focused word
    kern.wait_text(3, "I know you were there.")
    _undo_redo(page, nb, keys=True)
    assert page.locator(".fwv-w-focus").inner_text() == "know"  # the next word has the focus
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("+")
    page.keyboard.type("really")
    page.keyboard.press("Enter")
    kern.wait_text(3, "I really know you were there.")
    _undo_redo(page, nb, keys=True)
    page.keyboard.press("ArrowRight")  # "know"
    page.keyboard.press("s")
    kern.wait_text(3, "I really")
    assert kern.texts()[4] == "know you were there."
    _undo_redo(page, nb, keys=True)
    page.keyboard.press("ArrowUp")  # back to row 3
    page.keyboard.press("m")
    kern.wait_text(3, "I really know you were there.")
    _undo_redo(page, nb, keys=True)
    # speaker of a run: Shift+arrows, P, then the speaker's number (1: Diane)
    page.keyboard.press("ArrowDown")  # row 4 "Neither did I." (Sheila)
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("p")
    assert "1 Diane" in page.locator(".fwv-status").inner_text()
    page.keyboard.press("1")
    kern.wait_text(4, "Neither did")
    assert kern.speakers()[4] == "Diane" and kern.texts()[5] == "I."
    _undo_redo(page, nb, keys=True)
    # a new speaker by keyboard: P, 0, the name, Enter
    _settled(page)
    page.keyboard.press("p")
    page.keyboard.press("0")
    page.keyboard.type("Dave")
    page.keyboard.press("Enter")
    nb.wait_kernel(f"{K}[4].speaker", lambda s: s == "Dave", timeout=20, every=0.2)
    _undo_redo(page, nb, keys=True)
    n_kbd = kern.n_edits() - n_mouse
    assert n_kbd == 9 + 2 * 6
    ops = nb.kernel_json("list(v.edits.operation)")
    for op in ("edit_word", "insert_word", "delete_word", "split", "merge", "set_speaker"):
        assert op in ops[n_mouse:] and op in ops[:n_mouse]

    # listening keys: speed, next uncertain word, play/pause, jump back, help
    _settled(page)
    page.keyboard.press("]")
    assert page.evaluate("document.querySelector('.fwv audio').playbackRate") == 1.25
    page.keyboard.press("[")
    page.keyboard.press("[")
    assert page.evaluate("document.querySelector('.fwv audio').playbackRate") == 0.75
    _word(page, 0, 0).click()
    page.keyboard.press("Escape")  # the click played: Esc pauses
    page.wait_for_function("() => document.querySelector('.fwv audio').paused")
    page.keyboard.press("n")
    focus = page.evaluate("document.querySelector('.fwv').dataset.focus")
    unsure = page.locator(".fwv-w-focus")
    assert unsure.get_attribute("data-p") == "0.2" and "fwv-w-unsure" in unsure.get_attribute(
        "class"
    )
    t_unsure = float(unsure.get_attribute("data-start"))
    assert abs(page.evaluate("document.querySelector('.fwv audio').currentTime") - t_unsure) < 0.05
    page.keyboard.press("Control+ArrowLeft")
    t_back = page.evaluate("document.querySelector('.fwv audio').currentTime")
    assert abs(t_back - max(0, t_unsure - 3)) < 0.05
    page.keyboard.press("Control+Space")
    page.wait_for_function("() => !document.querySelector('.fwv audio').paused")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelector('.fwv audio').paused")
    # the threshold slider: at 0.1 no word is underlined
    page.locator(".fwv-threshold").fill("0.1")
    nb.wait_kernel("v.uncertainty_threshold", lambda t: abs(t - 0.1) < 1e-6, timeout=20)
    assert page.locator(".fwv-w-unsure").count() == 0
    assert focus != "0:0"
    page.locator(".fwv-scroll").focus()  # back from the slider to the text
    page.keyboard.press("?")
    assert page.locator(".fwv-help").is_visible()
    assert "Ctrl+Z" in page.locator(".fwv-help").inner_text()
    page.locator(".fwv-help-btn").click()
    assert not page.locator(".fwv-help").is_visible()

    # ---- reload: the kernel's state comes back; editing goes on -----------------------------
    before = kern.texts()
    n_before = kern.n_edits()
    # saved with its output, the notebook shows the kernel's live widget again after a reload
    page.evaluate("async () => await window.jupyterapp.commands.execute('docmanager:save')")
    page.reload()
    page.wait_for_function(_FIND_PANEL_JS, arg=nb.name, timeout=60_000)
    nb.wait_kernel_idle(60)
    page.locator('.fwv-row[data-i="3"] .fwv-w').first.wait_for(timeout=60_000)
    assert _row_text(page, 3) == "I really know you were there."
    assert page.locator('.fwv-chip[data-speaker="Carol"]').count() == 1
    assert page.locator(".fwv-undo").is_enabled()
    _word(page, 3, 1).click()
    page.keyboard.press("Delete")
    kern.wait_text(3, "I know you were there.")
    page.keyboard.press("Control+z")
    kern.wait_text(3, "I really know you were there.")
    assert kern.texts() == before and kern.n_edits() == n_before + 2
    # the corrected transcript is a Transcript that saves
    srt = nb.kernel_json("v.transcript.to_srt()")
    assert "I really know you were there." in srt and "[Carol] Hi?" in srt


STM_FIX_CELL = """
import json
from pathlib import Path
from fw_asr_widgets.transcript import Transcript
from fw_asr_widgets.widgets import TranscriptViewer
hyp = Transcript.from_response(json.loads({hyp!r}))
stm = Transcript.from_stm(Path({stm!r}))
rttm = Path({rttm!r})
v = TranscriptViewer(hyp, audio={audio!r}, editable=True, height=900)
v
"""


def test_correct_the_two_speaker_call_in_the_page(
    new_page: Any, open_notebook: Any, data_dir: Path, local_server: Any
) -> None:
    """The model's transcript of the bundled call, corrected to its STM: the first word
    corrections typed in the page (retype, Delete, +), the rest through the kernel's edit
    API; WER against the STM falls to 0 and DER against the RTTM does not rise."""
    import fw_asr_widgets as fw
    from tests.widgets._corrections import speaker_ops, word_ops

    with fw.Client(base_url=local_server.url) as c:
        hyp = c.transcribe(
            data_dir / "two_speakers.wav", diarize=True, min_speakers=2, max_speakers=2
        )
    stm = fw.Transcript.from_stm(data_dir / "two_speakers.stm")
    ops = word_ops(hyp, stm)
    kinds = {op["op"] for op in ops}
    assert hyp.wer(stm) > 0 and {"edit_word", "insert_word"} <= kinds
    page = new_page()
    nb = open_notebook(
        page,
        [
            STM_FIX_CELL.format(
                hyp=hyp.to_json(),
                stm=str(data_dir / "two_speakers.stm"),
                rttm=str(data_dir / "two_speakers.rttm"),
                audio=str(data_dir / "two_speakers.wav"),
            )
        ],
    )
    page.locator(".fwv-row .fwv-w").first.wait_for()
    der0 = nb.kernel_json("v.transcript.der(rttm)")
    # operations typed in the page, in order, until each kind the diff asks for was typed
    done: set[str] = set()
    n_page = 0
    for op in ops:
        if done == kinds or n_page == 8:
            break
        done.add(op["op"])
        i, k = op["segment"], op["word"]
        if op["op"] == "edit_word":
            w = page.locator(f'.fwv-row[data-i="{i}"] .fwv-w[data-k="{k}"]')
            w.dblclick()
            page.locator(".fwv-word-input").fill(op["text"])
            page.locator(".fwv-word-input").press("Enter")
        elif op["op"] == "delete_word":
            page.locator(f'.fwv-row[data-i="{i}"] .fwv-w[data-k="{k}"]').click()
            page.keyboard.press("Delete")
        else:  # insert after word k - 1 (or before the first word: there is no such key)
            assert k > 0, "an insertion at a segment start is applied through the kernel"
            page.locator(f'.fwv-row[data-i="{i}"] .fwv-w[data-k="{k - 1}"]').click()
            page.keyboard.press("+")
            page.locator(".fwv-word-input").fill(op["text"])
            page.locator(".fwv-word-input").press("Enter")
        n_page += 1
        nb.wait_kernel("len(v.edits)", lambda n, want=n_page: n == want, timeout=20, every=0.2)
        _settled(page)
        page.evaluate("document.querySelector('.fwv audio').pause()")
    assert {"edit_word", "insert_word"} <= done
    log = nb.kernel_json("list(v.edits.operation)")
    assert log == [op["op"] for op in ops[:n_page]]
    # the rest as the kernel API applies it
    nb.kernel_exec(f"for op in {ops[n_page:]!r}:\n    v.apply(op)")
    assert nb.kernel_json("v.transcript.wer(stm)") == 0.0
    fixed = fw.Transcript.from_response(nb.kernel_json("v.transcript.to_dict()"))
    nb.kernel_exec(f"for op in {speaker_ops(fixed, stm)!r}:\n    v.apply(op)")
    assert nb.kernel_json("v.transcript.wer(stm)") == 0.0
    assert nb.kernel_json("v.transcript.der(rttm)") <= der0 + 1e-9
    # the page shows the corrected text
    rows = nb.kernel_json("[s.text for s in v.transcript.segments]")
    last = len(rows) - 1
    page.locator(".fwv-scroll").evaluate("e => { e.scrollTop = e.scrollHeight; }")
    page.wait_for_function(
        f"() => {{ const r = document.querySelector('.fwv-row[data-i=\"{last}\"] .fwv-text');"
        f" return r && r.innerText.trim() === {rows[last]!r}; }}"
    )
