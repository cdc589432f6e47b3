// @ts-check
// Recorder front end (anywidget ES module, no build step).
//
// Length (over 500 lines): one controller class; capture, the resampling worklet and the take
// lifecycle (generations, acks, the stop fallback) share its state, as recorder.py documents.
//
// Microphone -> MediaStreamSource -> AudioWorkletNode("fw-resampler") -> zero-gain -> destination.
// The AudioContext runs at the device rate (Firefox refuses to connect a microphone to a 16 kHz
// context); the worklet resamples to 16 kHz PCM16 itself:
//   * anti-alias: windowed-sinc FIR low-pass (Blackman window, cutoff 0.42 x 16 kHz = 6.7 kHz,
//     about 20 taps per input/output ratio), evaluated only at the input samples needed;
//   * then linear interpolation between the two filtered neighbours of each output instant.
//   At rates <= 16 kHz only the interpolation runs (nothing to alias).
//   Measured (OfflineAudioContext, tests/widgets/browser): at 44.1 and 48 kHz the response is
//   within 0.5 dB up to 5 kHz, -2 dB at 6 kHz, -9 dB at 7 kHz; an 11 kHz tone (which would
//   alias to 5 kHz) comes out more than 80 dB down; jfk.wav through Chromium's fake microphone
//   correlates 0.9999 with the file.
// It posts 100 ms chunks (1600 samples, 3200 bytes) with their RMS level. Chunks go to Python as
// model.send({type:"audio", session, seq, sample_rate:16000}, undefined, [arrayBuffer]) (buffers
// are the THIRD argument). Python acknowledges cumulatively ({type:"ack", seq}); at most
// `window` chunks are in flight, the rest wait here and are shown as backlog.
// Capture state lives per widget (not per view): displaying the widget twice shows one recorder.
// Each take has a generation number; worklet messages and the stop timer of an earlier take are
// ignored once a new take has begun (a late 'flushed' or timer must never tear down new audio).

import * as shared from "./_shared.js";

const WORKLET_SOURCE = `
const OUT_RATE = 16000;
function designLowpass(ratio) {
  const fc = 0.42 / ratio;
  const half = Math.ceil(10 * ratio);
  const n = 2 * half + 1;
  const h = new Float32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const m = i - half;
    const x = 2 * fc * m;
    const sinc = m === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (n - 1));
    h[i] = sinc * w;
    sum += h[i];
  }
  for (let i = 0; i < n; i++) h[i] /= sum;
  return { h, half };
}
class FwResampler extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.ratio = sampleRate / OUT_RATE;
    this.chunk = Math.max(160, Math.round((OUT_RATE * (o.chunkMs || 100)) / 1000));
    if (this.ratio > 1.0001) {
      const f = designLowpass(this.ratio);
      this.h = f.h;
      this.half = f.half;
    } else {
      this.h = new Float32Array([1]);
      this.half = 0;
    }
    this.cap = 8192 + 2 * this.half;
    this.buf = new Float32Array(this.cap);
    this.len = this.half; // zero history before the first sample
    this.pos = this.half;
    this.out = new Int16Array(this.chunk);
    this.n = 0;
    this.sumsq = 0;
    this.port.onmessage = (e) => {
      if (e.data === 'flush') {
        this.emit(true);
        this.port.postMessage({ type: 'flushed' });
      }
    };
  }
  filt(i) {
    const h = this.h, b = this.buf, s = i - this.half;
    let acc = 0;
    for (let k = 0; k < h.length; k++) acc += h[k] * b[s + k];
    return acc;
  }
  emit(partial) {
    if (this.n === 0) return;
    const pcm = partial ? this.out.slice(0, this.n) : this.out;
    const rms = Math.sqrt(this.sumsq / this.n);
    this.port.postMessage({ type: 'chunk', pcm: pcm.buffer, rms }, [pcm.buffer]);
    this.out = new Int16Array(this.chunk);
    this.n = 0;
    this.sumsq = 0;
  }
  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    const frames = input[0].length;
    if (this.len + frames > this.cap) {
      const bigger = new Float32Array(2 * (this.len + frames));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
      this.cap = bigger.length;
    }
    const chans = input.length;
    for (let i = 0; i < frames; i++) {
      let v = 0;
      for (let c = 0; c < chans; c++) v += input[c][i];
      this.buf[this.len + i] = v / chans;
    }
    this.len += frames;
    while (Math.floor(this.pos) + 1 + this.half < this.len) {
      const i0 = Math.floor(this.pos);
      const frac = this.pos - i0;
      const a = this.filt(i0);
      const y = frac > 0 ? a + frac * (this.filt(i0 + 1) - a) : a;
      const s = y > 1 ? 1 : y < -1 ? -1 : y;
      this.out[this.n++] = Math.round(s < 0 ? s * 32768 : s * 32767);
      this.sumsq += s * s;
      if (this.n === this.chunk) this.emit(false);
      this.pos += this.ratio;
    }
    const drop = Math.floor(this.pos) - this.half;
    if (drop > 0) {
      this.buf.copyWithin(0, drop, this.len);
      this.len -= drop;
      this.pos -= drop;
    }
    return true;
  }
}
registerProcessor('fw-resampler', FwResampler);
`;

/** @typedef {{get: (k: string) => any, on: (ev: string, f: Function) => void,
 *   off: (ev: string, f: Function) => void,
 *   send: (msg: any, callbacks?: any, buffers?: ArrayBuffer[]) => void}} Model */
/** A synced row of the `segments` trait (recorder.py `_publish`).
 * @typedef {{id: string, start: number, end: number, text: string, final: boolean,
 *   speaker: string | null, color: string | null}} SegmentRow */
/** @typedef {{seq: number, buf: ArrayBuffer}} Chunk */

const CHUNK_MS = 100;
const MAX_QUEUE = 3000; // 5 min of 100 ms chunks waiting for the kernel; older ones are dropped
const UPLOADER_HINT =
  'Use the Uploader (fw_asr_widgets.widgets.Uploader) to transcribe a recorded file instead.';

/** @type {string | null} */
let workletUrl = null;
/** @returns {string} a blob URL of the resampling worklet (made once) */
function getWorkletUrl() {
  if (!workletUrl) {
    workletUrl = URL.createObjectURL(new Blob([WORKLET_SOURCE], { type: 'application/javascript' }));
  }
  return workletUrl;
}

/**
 * @param {MediaStream | null} stream
 * @param {AudioContext | null} ctx
 */
function closeQuietly(stream, ctx) {
  try {
    if (stream) stream.getTracks().forEach((t) => t.stop());
  } catch (_e) {}
  try {
    if (ctx && ctx.state !== 'closed') ctx.close();
  } catch (_e) {}
}

/** @returns {boolean} whether the page is a VS Code notebook (no microphone for widgets) */
function inVSCode() {
  try {
    return (
      String(location.protocol).startsWith('vscode') ||
      typeof globalThis.acquireVsCodeApi === 'function' ||
      (document.body && document.body.hasAttribute('data-vscode-theme-kind'))
    );
  } catch (_e) {
    return false;
  }
}

/**
 * @param {number} rms linear RMS of a chunk
 * @returns {number} meter level 0..1 (-60 dBFS .. 0 dBFS)
 */
export function levelFromRms(rms) {
  if (!(rms > 1e-6)) return 0;
  return Math.max(0, Math.min(1, (20 * Math.log10(rms) + 60) / 60));
}

/** @param {number} s seconds @returns {string} m:ss.s */
function fmtTime(s) {
  const m = Math.floor(s / 60);
  const r = s - 60 * m;
  return `${m}:${r.toFixed(1).padStart(4, '0')}`;
}

/**
 * @param {any} err what getUserMedia threw (null: no media API)
 * @returns {[string, string]} [kind, message for the user]
 */
function micError(err) {
  const name = (err && err.name) || '';
  if (inVSCode()) {
    return ['vscode', `VS Code notebooks cannot give widgets the microphone. ${UPLOADER_HINT}`];
  }
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
    return [
      'denied',
      `Microphone access was denied. Allow it in the browser's site settings and press Start again. ${UPLOADER_HINT}`,
    ];
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') {
    return ['notfound', `No microphone was found. Plug one in and press Start again. ${UPLOADER_HINT}`];
  }
  if (name === 'NotReadableError' || name === 'AbortError') {
    return ['busy', 'The microphone is in use by another application or could not be opened.'];
  }
  return ['error', `Could not start recording: ${name ? name + ': ' : ''}${(err && err.message) || err}`];
}

/** The capture and take lifecycle of one widget, shared by its views. */
class Controller {
  /** @param {Model} model */
  constructor(model) {
    this.model = model;
    /** @type {Set<() => void>} views' update callbacks */
    this.views = new Set();
    /** @type {'idle' | 'opening' | 'recording' | 'stopping'} */
    this.state = 'idle';
    this.local = ''; // local status override (shown until the status trait changes)
    this.localIsError = false;
    this.gen = 0; // take generation: bumped by every start()
    /** @type {MediaStream | null} */
    this.stream = null;
    /** @type {AudioContext | null} */
    this.ctx = null;
    /** @type {MediaStreamAudioSourceNode | null} */
    this.source = null;
    /** @type {AudioWorkletNode | null} */
    this.node = null;
    /** @type {GainNode | null} */
    this.mute = null;
    this.deviceRate = 0;
    this.reset(); // the per-take counters: session, seq, acked, queue, ...
    model.on('msg:custom', (msg) => this.onMessage(msg));
    model.on('change:status', () => {
      this.local = '';
      this.notify();
    });
    model.on('change:recording', () => {
      if (!model.get('recording') && this.state === 'recording' && this.seenRecording) this.stop();
      if (model.get('recording')) this.seenRecording = true;
      this.notify();
    });
  }

  /** Clear the per-take counters (a new take starts). */
  reset() {
    /** @type {string} */
    this.session = '';
    this.seq = 0;
    this.acked = -1;
    this.lastSent = -1;
    /** @type {Chunk[]} */
    this.queue = [];
    this.samples = 0;
    this.levelValue = 0;
    this.flushed = false;
    this.stopSent = false;
    this.dropped = 0;
    this.seenRecording = false;
  }

  notify() {
    for (const v of this.views) v();
  }

  /**
   * @param {string} text status shown until the status trait changes
   * @param {boolean} [isError]
   */
  setLocal(text, isError = false) {
    this.local = text;
    this.localIsError = isError;
    this.notify();
  }

  /** @param {string} kind @param {string} message */
  fail(kind, message) {
    this.setLocal(message, true);
    try {
      this.model.send({ type: 'client_error', kind, message });
    } catch (_e) {
      /* kernel gone: the local status line still says it */
    }
  }

  /** @returns {Promise<void>} */
  async start() {
    if (this.state !== 'idle') return;
    this.reset();
    const gen = ++this.gen;
    if (!window.isSecureContext) {
      this.fail(
        'insecure',
        'The browser allows the microphone only on secure pages (https, or http://localhost / 127.0.0.1). ' +
          `Open Jupyter over https or on localhost. ${UPLOADER_HINT}`,
      );
      return;
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      const [kind, msg] = inVSCode()
        ? micError(null)
        : ['nomedia', `This page gives widgets no microphone access. ${UPLOADER_HINT}`];
      this.fail(kind, msg);
      return;
    }
    this.state = 'opening';
    this.setLocal('Asking for the microphone…');
    // Everything this attempt opens stays local until it is committed: a Stop (or a newer
    // Start) while the browser is still asking must not be undone by this attempt finishing.
    const stale = () => gen !== this.gen || this.state !== 'opening';
    let stream = null;
    let ctx = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
      });
      if (stale()) throw new DOMException('stopped while opening', 'AbortError');
      const track = stream.getAudioTracks()[0];
      const settings = (track && track.getSettings && track.getSettings()) || {};
      try {
        ctx = settings.sampleRate ? new AudioContext({ sampleRate: settings.sampleRate }) : new AudioContext();
      } catch (_e) {
        ctx = new AudioContext();
      }
      await ctx.audioWorklet.addModule(getWorkletUrl());
      if (stale()) throw new DOMException('stopped while opening', 'AbortError');
      const source = ctx.createMediaStreamSource(stream);
      const node = new AudioWorkletNode(ctx, 'fw-resampler', {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        processorOptions: { chunkMs: CHUNK_MS },
      });
      const mute = ctx.createGain();
      mute.gain.value = 0;
      source.connect(node);
      node.connect(mute);
      mute.connect(ctx.destination);
      node.port.onmessage = (e) => this.onWorklet(e.data, gen);
      if (ctx.state !== 'running') await ctx.resume();
      if (stale()) throw new DOMException('stopped while opening', 'AbortError');
      Object.assign(this, { stream, ctx, source, node, mute });
      this.session = Math.random().toString(36).slice(2) + Date.now().toString(36);
      this.deviceRate = ctx.sampleRate;
      this.model.send({ type: 'start', session: this.session, device_rate: ctx.sampleRate, chunk_ms: CHUNK_MS });
      this.state = 'recording';
      this.setLocal('');
    } catch (err) {
      closeQuietly(stream, ctx);
      if (stale()) return; // stopped or restarted meanwhile: nothing to report
      this.state = 'idle';
      const [kind, msg] = micError(err);
      this.fail(kind, msg);
    }
  }

  /**
   * @param {{type: string, pcm?: ArrayBuffer, rms?: number} | null} data
   * @param {number} gen the take the worklet belongs to
   */
  onWorklet(data, gen) {
    if (!data || gen !== this.gen) return; // a message from an earlier take's worklet
    if (data.type === 'chunk') {
      if (this.state !== 'recording' && this.state !== 'stopping') return;
      const pcm = /** @type {ArrayBuffer} */ (data.pcm);
      this.samples += pcm.byteLength / 2;
      this.levelValue = levelFromRms(data.rms || 0);
      this.queue.push({ seq: this.seq++, buf: pcm });
      if (this.queue.length > MAX_QUEUE) {
        this.queue.shift(); // never sent: Python sees the gap and reports it
        this.dropped++;
      }
      this.pump();
      this.notify();
    } else if (data.type === 'flushed') {
      this.flushed = true;
      this.teardownAudio();
      this.pump();
    }
  }

  /** Send queued chunks while fewer than `window` are unacknowledged; send stop when done. */
  pump() {
    const win = Math.max(1, this.model.get('window') || 20);
    while (this.queue.length && this.lastSent - this.acked < win) {
      const c = /** @type {Chunk} */ (this.queue.shift());
      this.model.send({ type: 'audio', session: this.session, seq: c.seq, sample_rate: 16000 }, undefined, [c.buf]);
      this.lastSent = c.seq;
    }
    if (this.state === 'stopping' && this.flushed && !this.queue.length && !this.stopSent) {
      this.stopSent = true;
      this.model.send({ type: 'stop', session: this.session, last_seq: this.seq - 1 });
      this.state = 'idle';
      this.levelValue = 0;
      this.notify();
    }
  }

  /** @param {any} msg a custom message from Python (ack, stop, busy) */
  onMessage(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'ack') {
      if (msg.session && msg.session !== this.session) return; // an earlier take's ack
      if (msg.seq > this.acked) this.acked = msg.seq;
      this.pump();
      this.notify();
    } else if (msg.type === 'stop') {
      this.stop();
    } else if (msg.type === 'busy') {
      this.abort();
      this.setLocal(msg.message || 'Another view is recording.', true);
    }
  }

  stop() {
    if (this.state === 'opening') {
      this.abort(); // the pending start() sees it and releases what it opened
      this.setLocal('');
      return;
    }
    if (this.state !== 'recording') return;
    this.state = 'stopping';
    this.notify();
    try {
      if (!this.node) throw new Error('no worklet');
      this.node.port.postMessage('flush');
    } catch (_e) {
      this.flushed = true;
      this.teardownAudio();
      this.pump();
    }
    // If the worklet never answers (context suspended), stop anyway; only this take's stop.
    const gen = this.gen;
    setTimeout(() => {
      if (gen === this.gen && !this.flushed) {
        this.flushed = true;
        this.teardownAudio();
        this.pump();
      }
    }, 1000);
  }

  abort() {
    this.teardownAudio();
    this.queue = [];
    this.state = 'idle';
    this.levelValue = 0;
    this.notify();
  }

  teardownAudio() {
    try {
      if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    } catch (_e) {}
    try {
      if (this.source) this.source.disconnect();
      if (this.node) this.node.disconnect();
      if (this.mute) this.mute.disconnect();
    } catch (_e) {}
    try {
      if (this.ctx && this.ctx.state !== 'closed') this.ctx.close();
    } catch (_e) {}
    this.stream = this.source = this.node = this.mute = this.ctx = null;
  }

  /** @returns {number} chunks not yet acknowledged by Python */
  backlogChunks() {
    return this.queue.length + Math.max(0, this.lastSent - this.acked);
  }
}

// anywidget hands each view (and initialize) its own model proxy, and drops a view's listeners
// with the view: the controller is made in initialize() with the model-lifetime proxy and
// found by views through the widget's `instance_id` trait.
/** @type {Map<string, Controller>} */
const controllers = (globalThis.__fwRecorderControllers = globalThis.__fwRecorderControllers || new Map());

/** @param {{model: Model}} ctx @returns {() => void} cleanup */
function initialize({ model }) {
  const id = model.get('instance_id');
  const ctl = new Controller(model);
  controllers.set(id, ctl);
  return () => {
    ctl.abort();
    if (controllers.get(id) === ctl) controllers.delete(id);
  };
}

/** @param {Model} model @returns {Controller} */
function controllerFor(model) {
  const id = model.get('instance_id');
  let c = controllers.get(id);
  if (!c) {
    c = new Controller(model);
    controllers.set(id, c);
  }
  return c;
}

const el = shared.h;

/** @param {{model: Model, el: HTMLElement}} ctx @returns {() => void} cleanup */
function render({ model, el: root }) {
  const ctl = controllerFor(model);
  const box = el('div', 'fw-recorder');
  const bar = el('div', 'fw-rec-bar');
  const button = el('button', 'fw-rec-toggle');
  button.type = 'button';
  const meter = el('div', 'fw-rec-meter');
  meter.setAttribute('role', 'meter');
  meter.setAttribute('aria-label', 'input level');
  meter.setAttribute('aria-valuemin', '0');
  meter.setAttribute('aria-valuemax', '1');
  const fill = el('div', 'fw-rec-meter-fill');
  meter.appendChild(fill);
  const elapsed = el('span', 'fw-rec-elapsed', '0:00.0');
  const backlog = el('span', 'fw-rec-backlog', '');
  const label = el('span', 'fw-rec-model', model.get('model_label') || '');
  bar.append(button, meter, elapsed, backlog, label);
  const transcript = el('div', 'fw-rec-transcript');
  transcript.setAttribute('aria-live', 'polite');
  const status = el('div', 'fw-rec-status');
  status.setAttribute('role', 'status');
  box.append(bar, transcript, status);
  root.appendChild(box);

  button.addEventListener('click', () => {
    if (ctl.state === 'idle') ctl.start();
    else ctl.stop();
  });

  const update = () => {
    const st = ctl.state;
    const busy = st === 'recording' || st === 'opening';
    button.textContent = st === 'stopping' ? 'Stopping…' : busy ? '■ Stop' : '● Start';
    button.disabled = st === 'stopping';
    button.classList.toggle('fw-active', busy);
    box.classList.toggle('fw-recording', busy);
    const lvl = busy ? ctl.levelValue : 0;
    fill.style.width = `${Math.round(lvl * 100)}%`;
    meter.setAttribute('aria-valuenow', lvl.toFixed(2));
    const secs = ctl.samples ? ctl.samples / 16000 : model.get('elapsed') || 0;
    elapsed.textContent = fmtTime(secs);
    const b = ctl.backlogChunks();
    backlog.textContent = b > 5 ? `kernel backlog ${((b * 100) / 1000).toFixed(1)} s` : '';
    if (ctl.dropped) backlog.textContent += ` (${ctl.dropped} chunks dropped)`;
    const err = model.get('error');
    const text = ctl.local || err || model.get('status') || '';
    status.textContent = text;
    status.classList.toggle('fw-error', ctl.local ? ctl.localIsError : !!err);
    label.textContent = model.get('model_label') || '';
  };

  const renderSegments = () => {
    /** @type {SegmentRow[]} */
    const segs = model.get('segments') || [];
    const atBottom = transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 8;
    transcript.replaceChildren();
    for (const s of segs) {
      const span = el('span', s.final ? 'fw-seg fw-final' : 'fw-seg fw-partial', (s.text || '').trim() + ' ');
      span.dataset.id = s.id;
      span.title = `${(s.start || 0).toFixed(1)}–${(s.end || 0).toFixed(1)} s`;
      if (s.speaker) {
        // Colour decided in Python (fw_asr_widgets._palette); the page keeps no palette.
        span.classList.add('fw-has-speaker');
        span.dataset.speaker = s.speaker;
        if (s.color) span.style.setProperty('--fw-speaker-color', s.color);
        span.title += ` · ${s.speaker}`;
      }
      transcript.appendChild(span);
    }
    if (!segs.length) transcript.appendChild(el('span', 'fw-rec-placeholder', 'The transcript appears here.'));
    if (atBottom) transcript.scrollTop = transcript.scrollHeight;
  };

  ctl.views.add(update);
  const events = ['change:status', 'change:error', 'change:elapsed', 'change:model_label', 'change:recording'];
  for (const ev of events) model.on(ev, update);
  model.on('change:segments', renderSegments);
  update();
  renderSegments();

  return () => {
    ctl.views.delete(update);
    for (const ev of events) model.off(ev, update);
    model.off('change:segments', renderSegments);
  };
}

export default { initialize, render };
