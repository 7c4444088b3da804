/* hallq — the hall's voice: every call is announced through here, one at a time, in order.
 *
 * The text comes from the hall's templates (the server sends it with each call); this module
 * only turns it into what is said: ticket numbers digit by digit (A012 → A零一二), window
 * numbers as Chinese numerals (5号窗口 → 五号窗口, 12 → 十二), 「重呼」 before a recall.
 * Each announcement is: a two-tone chime (WebAudio), then the speech — the browser's own
 * voice for the language when the device has one, otherwise the recorded clips in
 * /static/voice/ (built offline by scripts/build-voice.sh) played back to back when they cover
 * the sentence, and for any other sentence the server's offline engine (/voice/say.wav).
 *
 * Browsers refuse sound until someone touches the page: pages show a one-time
 * 「点击开启声音」 button (#sound-enable) unless the browser was started with
 * --autoplay-policy=no-user-gesture-required (kiosk mode).
 *
 * Observable state (for people and tests): hallqVoice.log (every announcement queued, in
 * order), .queue (still to say), .current, .spoken (said or, when muted, shown only), and the
 * element #last-announcement.
 */
(function () {
  "use strict";
  var DIGITS = "零一二三四五六七八九";
  var CLIP_GAP = 0.02;  // seconds between clips
  var PAUSE = 0.3;  // seconds of silence for 「，」「、」「；」 between the calls of one sentence
  var PAUSES = "，、；,;";
  var STEP_LIMIT_MS = 15000;  // a stuck speech engine never blocks the queue longer than this

  function chineseNumber(n) {
    n = Math.floor(Number(n));
    if (!(n >= 0) || n > 9999) return String(n).split("").map(function (d) { return DIGITS[+d] || d; }).join("");
    if (n < 10) return DIGITS[n];
    if (n < 20) return "十" + (n % 10 ? DIGITS[n % 10] : "");
    var units = ["千", "百", "十", ""], out = "", zero = false, s = ("0000" + n).slice(-4), started = false;
    for (var i = 0; i < 4; i++) {
      var d = +s[i];
      if (d === 0) { if (started) zero = true; continue; }
      if (zero) { out += "零"; zero = false; }
      out += DIGITS[d] + units[i];
      started = true;
    }
    return out;
  }

  function digitByDigit(text) {
    return text.replace(/\d/g, function (d) { return DIGITS[+d]; });
  }

  /* What is said for a shown announcement. */
  function speechText(text, recall) {
    var s = String(text || "");
    s = s.replace(/(\d+)(?=\s*号窗口)/g, function (m) { return chineseNumber(+m); });
    s = s.replace(/([A-Z]{1,2})(\d+)/g, function (m, prefix, digits) { return prefix + digitByDigit(digits); });
    s = digitByDigit(s);
    if (recall && s.indexOf("重呼") < 0) s = "重呼：" + s;
    return s;
  }

  var ctx = null;
  function audio() {
    if (ctx) return ctx;
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    try { ctx = new AC(); } catch (e) { ctx = null; }
    return ctx;
  }

  function soundAllowed() {
    var c = audio();
    return !!c && c.state === "running";
  }

  function wait(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function limit(promise, ms) { return Promise.race([promise, wait(ms)]); }

  function chime() {
    var c = audio();
    if (!c || c.state !== "running") return Promise.resolve();
    var t0 = c.currentTime + 0.02, k = 1 / voice.rate;
    [[880, 0], [660, 0.38]].forEach(function (tone) {
      var osc = c.createOscillator(), gain = c.createGain(), at = t0 + tone[1] * k;
      osc.type = "sine";
      osc.frequency.value = tone[0];
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.5, at + 0.02 * k);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.7 * k);
      osc.connect(gain).connect(c.destination);
      osc.start(at);
      osc.stop(at + 0.75 * k);
    });
    return wait(1200 * k);
  }

  // -- speech: the device's zh voice, else recorded clips

  /* The device's own voice for a page language ("zh": zh-CN, not Cantonese or Taiwanese), or null. */
  function deviceVoice(want) {
    if (!("speechSynthesis" in window)) return null;
    var voices = window.speechSynthesis.getVoices() || [];
    var best = null, exact = want === "zh" ? "zh-cn" : null;
    for (var i = 0; i < voices.length; i++) {
      var lang = (voices[i].lang || "").replace("_", "-").toLowerCase();
      if (lang === exact) return voices[i];
      if (!best && lang.split("-")[0] === want && lang !== "zh-hk" && lang !== "zh-tw") best = voices[i];
    }
    return best;
  }

  function speakSynth(text, voice) {
    return new Promise(function (resolve) {
      var u = new SpeechSynthesisUtterance(text);
      u.voice = voice;
      u.lang = voice.lang;
      u.rate = 0.9 * voice.rate;
      u.onend = resolve;
      u.onerror = resolve;
      window.speechSynthesis.speak(u);
    });
  }

  var manifest = null, buffers = {};
  function loadManifest() {
    if (manifest) return Promise.resolve(manifest);
    return fetch("/static/voice/manifest.json").then(function (r) { return r.ok ? r.json() : { clips: {} }; })
      .catch(function () { return { clips: {} }; })
      .then(function (m) { manifest = m; return m; });
  }

  /* The clip names that say ``text``: longest match first; 「，」 stays as a pause; what has no clip is skipped. */
  function clipsFor(text, clips) {
    var names = Object.keys(clips).sort(function (a, b) { return b.length - a.length; });
    var out = [], i = 0;
    while (i < text.length) {
      var hit = PAUSES.indexOf(text[i]) >= 0 ? "，" : null;
      for (var k = 0; !hit && k < names.length; k++) {
        if (text.substr(i, names[k].length) === names[k]) { hit = names[k]; break; }
      }
      if (hit) { out.push(hit); i += hit.length; } else { i += 1; }
    }
    return out;
  }

  function buffer(name) {
    if (buffers[name]) return buffers[name];
    var c = audio();
    buffers[name] = fetch("/static/voice/" + manifest.clips[name]).then(function (r) { return r.arrayBuffer(); })
      .then(function (data) {
        return new Promise(function (resolve, reject) { c.decodeAudioData(data, resolve, reject); });
      }).catch(function () { return null; });
    return buffers[name];
  }

  function playClips(text) {
    return loadManifest().then(function (m) {
      var names = clipsFor(text, m.clips || {});
      return playBuffers(names.map(function (n) { return n === "，" ? "，" : buffer(n); })).then(function () {
        return names;
      });
    });
  }

  /* Decoded sounds played back to back (「，」 is a short silence); resolves when the last one has been heard. */
  function playBuffers(pending) {
    var c = audio();
    if (!c || !pending.length) return Promise.resolve();
    return Promise.all(pending).then(function (bufs) {
      var t = c.currentTime + 0.05;
      bufs.forEach(function (b) {
        if (b === "，") { t += PAUSE / voice.rate; return; }
        if (!b) return;
        var src = c.createBufferSource();
        src.buffer = b;
        src.playbackRate.value = voice.rate;
        src.connect(c.destination);
        src.start(t);
        t += (b.duration + CLIP_GAP) / voice.rate;
      });
      return wait(Math.max(0, (t - c.currentTime) * 1000));
    });
  }

  /* Is every word of ``text`` (punctuation and spaces aside) said by a recorded clip? */
  function coveredByClips(text, clips) {
    var rest = text.replace(/[\s，。、：；！？,.:;!?]/g, "");
    var said = clipsFor(rest, clips).join("");
    return said.length === rest.length;
  }

  /* Without a device voice: the recorded clips when they cover the whole sentence (the call),
     else the server's offline engine (GET /voice/say.wav, espeak-ng); the clips are the last resort. */
  function speakOffline(item) {
    return loadManifest().then(function (m) {
      if (item.lang === "zh" && coveredByClips(item.speech, m.clips || {})) {
        item.mode = "clips";
        return playClips(item.speech).then(function (names) { item.clips = names; });
      }
      item.mode = "server";
      var hall = new URLSearchParams(location.search).get("hall");  // the server knows the hall's languages
      var url = "/voice/say.wav?lang=" + encodeURIComponent(item.lang) + "&text=" + encodeURIComponent(item.speech) +
        (hall ? "&hall=" + encodeURIComponent(hall) : "");
      var c = audio();
      var wav = fetch(url).then(function (r) {
        if (!r.ok) throw new Error("speech " + r.status);
        return r.arrayBuffer();
      }).then(function (data) {
        return new Promise(function (resolve, reject) { c.decodeAudioData(data, resolve, reject); });
      });
      return playBuffers([wav]).catch(function () {
        item.mode = "clips";  // the server cannot speak: say what the clips can
        return playClips(item.speech).then(function (names) { item.clips = names; });
      });
    });
  }

  // -- the queue

  var voice = {
    log: [], queue: [], spoken: [], current: null, busy: false,
    rate: Number(new URLSearchParams(location.search).get("voice_rate")) || 1,  // e.g. 0.8: slower, for elderly halls
    speechText: speechText, chineseNumber: chineseNumber, clipsFor: clipsFor,
    soundAllowed: soundAllowed,

    /* Queue one announcement: {zh, en, recall, calls}; returns the queued item. ``calls`` (the ticket numbers
       it says, for the board) is kept on the item. Each finished item is told as a "hallq:spoken" event. */
    announce: function (a) {
      var lang = a.lang || "zh";
      var item = {
        text: a.zh, en: a.en || "", recall: !!a.recall, chime: a.chime !== false, lang: lang, calls: a.calls || null,
        speech: lang === "zh" ? speechText(a.zh, a.recall) : a.zh, queuedAt: Date.now(), mode: null
      };
      voice.log.push(item);
      voice.queue.push(item);
      run();
      return item;
    },

    /* Say something without a chime (kiosk result in elderly mode, prompts, tracker), in ``lang`` (default zh). */
    say: function (text, lang) { return voice.announce({ zh: text, chime: false, lang: lang }); },

    /* The one-time tap that lets the page make sound. */
    enable: function () {
      var c = audio();
      var p = c ? c.resume() : Promise.resolve();
      if ("speechSynthesis" in window) {
        try { var u = new SpeechSynthesisUtterance(" "); u.volume = 0; window.speechSynthesis.speak(u); } catch (e) { /* none */ }
      }
      return Promise.resolve(p).then(showButton);
    }
  };

  function show(item) {
    var el = document.getElementById("last-announcement");
    if (el) {
      el.innerHTML = I18n.both(item.text, item.en || item.text);
      el.setAttribute("data-speech", item.speech);
    }
  }

  function sayOne(item) {
    if (!soundAllowed()) { item.mode = "muted"; return Promise.resolve(); }
    var start = item.chime ? chime() : Promise.resolve();
    return start.then(function () {
      var v = deviceVoice(item.lang);
      if (v) { item.mode = "speech"; return speakSynth(item.speech, v); }
      return speakOffline(item);
    });
  }

  function run() {
    if (voice.busy) return;
    var item = voice.queue.shift();
    if (!item) return;
    voice.busy = true;
    voice.current = item;
    item.startedAt = Date.now();
    show(item);
    limit(sayOne(item).catch(function () { item.mode = item.mode || "failed"; }), STEP_LIMIT_MS).then(function () {
      item.doneAt = Date.now();
      voice.spoken.push(item);
      voice.current = null;
      voice.busy = false;
      document.dispatchEvent(new CustomEvent("hallq:spoken", { detail: item }));
      run();
    });
  }

  function showButton() {
    var btn = document.getElementById("sound-enable");
    if (!btn) return;
    btn.hidden = soundAllowed();
  }

  window.hallqVoice = voice;
  document.addEventListener("DOMContentLoaded", function () {
    audio();
    var btn = document.getElementById("sound-enable");
    if (btn) btn.addEventListener("click", function () { voice.enable(); });
    if (ctx) ctx.onstatechange = showButton;
    if ("speechSynthesis" in window) window.speechSynthesis.getVoices();  // starts loading the voice list
    setTimeout(showButton, 300);
  });
})();
