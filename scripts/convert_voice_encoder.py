"""Convert resemblyzer's voice-encoder weights to `fw_asr_widgets/local/voice_encoder.npz`.

The embedded engine's diarization (`fw_asr_widgets.local.diarize`) runs resemblyzer's voice
encoder in numpy, so neither torch nor resemblyzer is a runtime dependency. This script is run
once, by a maintainer, to regenerate the bundled weights; only it needs torch.

How to run it (from the repository root)::

    pip download resemblyzer==0.1.4 --no-deps -d /tmp/rz
    cd /tmp/rz && unzip -o Resemblyzer-0.1.4-py3-none-any.whl && cd -
    pip install --target /tmp/torchlib torch   # any CPU build; kept out of the project env
    PYTHONPATH=/tmp/torchlib python scripts/convert_voice_encoder.py \\
        /tmp/rz/resemblyzer/pretrained.pt

It writes the LSTM and linear weights as float16 (the package upcasts them to float32 at load;
the file stays under 3 MB), then checks the numpy forward pass against `torch.nn.LSTM` on random
mel windows and on real speech, and prints the largest absolute difference of the embeddings
(both against torch with the same float16-rounded weights, and against the original float32
weights).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "fw_asr_widgets" / "local" / "voice_encoder.npz"
NUM_LAYERS = 3
HIDDEN = 256
N_MELS = 40
EXPECTED_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"


def _load_state(pt: Path) -> dict[str, np.ndarray]:
    import torch

    checkpoint = torch.load(pt, map_location="cpu", weights_only=False)
    return {k: v.detach().cpu().numpy() for k, v in checkpoint["model_state"].items()}


def convert(pt: Path, out: Path) -> dict[str, np.ndarray]:
    """Write the npz and return the original float32 state dict."""
    state = _load_state(pt)
    arrays: dict[str, np.ndarray] = {
        "num_layers": np.array(NUM_LAYERS, dtype=np.int32),
        "hidden_size": np.array(HIDDEN, dtype=np.int32),
        "n_mels": np.array(N_MELS, dtype=np.int32),
        "partials_n_frames": np.array(160, dtype=np.int32),
        "source_sha256": np.array(hashlib.sha256(pt.read_bytes()).hexdigest()),
    }
    for layer in range(NUM_LAYERS):
        arrays[f"lstm_w_ih_l{layer}"] = state[f"lstm.weight_ih_l{layer}"].astype(np.float16)
        arrays[f"lstm_w_hh_l{layer}"] = state[f"lstm.weight_hh_l{layer}"].astype(np.float16)
        bias = state[f"lstm.bias_ih_l{layer}"] + state[f"lstm.bias_hh_l{layer}"]
        arrays[f"lstm_b_l{layer}"] = bias.astype(np.float32)
    arrays["linear_w"] = state["linear.weight"].astype(np.float16)
    arrays["linear_b"] = state["linear.bias"].astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return state


def _torch_embed(state: dict[str, np.ndarray], mels: np.ndarray) -> np.ndarray:
    """resemblyzer's VoiceEncoder.forward, in torch, from a state dict of numpy arrays."""
    import torch
    from torch import nn

    lstm = nn.LSTM(N_MELS, HIDDEN, NUM_LAYERS, batch_first=True)
    linear = nn.Linear(HIDDEN, HIDDEN)
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            p.copy_(torch.from_numpy(np.asarray(state[f"lstm.{name}"], dtype=np.float32)))
        linear.weight.copy_(torch.from_numpy(np.asarray(state["linear.weight"], np.float32)))
        linear.bias.copy_(torch.from_numpy(np.asarray(state["linear.bias"], np.float32)))
        _, (hidden, _) = lstm(torch.from_numpy(mels))
        raw = torch.relu(linear(hidden[-1]))
        return (raw / torch.norm(raw, dim=1, keepdim=True)).numpy()


def _rounded(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The state dict as the npz stores it (weights through float16, biases float32)."""
    out = {}
    for k, v in state.items():
        out[k] = v.astype(np.float16).astype(np.float32) if "weight" in k else v
    return out


def verify(state: dict[str, np.ndarray], out: Path) -> float:
    """Compare numpy and torch embeddings; print and return the max abs difference."""
    from fw_asr_widgets.audio import decode
    from fw_asr_widgets.local.diarize import VoiceEncoder, mel_frames

    enc = VoiceEncoder(out)
    rng = np.random.default_rng(0)
    random_mels = (rng.random((8, 160, N_MELS), dtype=np.float32) * 5.0).astype(np.float32)
    batches = {"random": random_mels}
    speech = ROOT.parent / "shared" / "data" / "two_speakers.wav"
    if speech.exists():
        mel = mel_frames(decode(speech))
        starts = range(700, mel.shape[0] - 160, 150)
        batches["two_speakers.wav"] = np.stack([mel[s : s + 160] for s in starts])
    worst = 0.0
    for name, mels in batches.items():
        ours = enc.embed_windows(mels)
        same = np.abs(ours - _torch_embed(_rounded(state), mels)).max()
        orig = _torch_embed(state, mels)
        vs_fp32 = np.abs(ours - orig).max()
        cos = float(np.min(np.sum(ours * orig, axis=1)))
        print(
            f"{name}: {mels.shape[0]} windows; max |numpy - torch| = {same:.2e} (same float16 "
            f"weights), {vs_fp32:.2e} vs float32 weights (min cosine {cos:.6f})"
        )
        worst = max(worst, float(same))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pretrained", type=Path, help="resemblyzer's pretrained.pt")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    digest = hashlib.sha256(args.pretrained.read_bytes()).hexdigest()
    if digest != EXPECTED_SHA256:
        print(f"warning: sha256 {digest} is not resemblyzer 0.1.4's pretrained.pt", file=sys.stderr)
    state = convert(args.pretrained, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    worst = verify(state, args.out)
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
