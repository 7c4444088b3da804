#!/usr/bin/env bash
# Build the offline voice clips the pages fall back to when the device has no zh-CN voice.
#
#   bash scripts/build-voice.sh [OUT_DIR]      (default: static/voice)
#
# Uses Debian's espeak-ng (Mandarin voice "cmn"; `apt-get install espeak-ng`), offline.
# Each clip is one piece of a call — a digit, a numeral, a letter, or a word of the call
# templates (请…号到…号窗口办理, 重呼) — trimmed of silence and stored as 11 kHz 16-bit mono WAV;
# static/js/voice.js strings them together by the names in manifest.json.
set -euo pipefail
OUT="${1:-static/voice}"
PYTHON="${PYTHON:-python3}"
command -v espeak-ng >/dev/null || { echo "espeak-ng 未安装 (espeak-ng is not installed): apt-get install espeak-ng" >&2; exit 1; }
mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# name<TAB>text to say<TAB>file stem
{
  i=0
  for d in 零 一 二 三 四 五 六 七 八 九; do printf '%s\t%s\td%s\n' "$d" "$d" "$i"; i=$((i+1)); done
  printf '十\t十\tshi\n百\t百\tbai\n千\t千\tqian\n'
  for l in A B C D E F G H I J K L M N O P Q R S T U V W X Y Z; do printf '%s\t%s\tletter-%s\n' "$l" "$l" "$l"; done
  printf '请\t请\tqing\n号\t号\thao\n到\t到\tdao\n窗口\t窗口\tchuangkou\n办理\t办理\tbanli\n重呼\t重呼\tchonghu\n'
} > "$TMP/list.tsv"

while IFS=$'\t' read -r name text stem; do
  espeak-ng -v cmn -s 150 -w "$TMP/$stem.wav" "$text"
done < "$TMP/list.tsv"

"$PYTHON" - "$TMP" "$OUT" <<'PY'
"""Trim silence, halve the sample rate (22 050 → 11 025 Hz, pairs averaged), write the manifest."""
import array
import json
import sys
import wave
from pathlib import Path

tmp, out = Path(sys.argv[1]), Path(sys.argv[2])
clips = {}
for line in (tmp / "list.tsv").read_text(encoding="utf-8").splitlines():
    name, _text, stem = line.split("\t")
    with wave.open(str(tmp / f"{stem}.wav"), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, stem
        rate = w.getframerate()
        samples = array.array("h", w.readframes(w.getnframes()))
    loud = [i for i, s in enumerate(samples) if abs(s) > 300]
    if loud:
        pad = rate // 50  # keep 20 ms either side
        samples = samples[max(0, loud[0] - pad) : loud[-1] + pad]
    half = array.array("h", ((samples[i] + samples[i + 1]) // 2 for i in range(0, len(samples) - 1, 2)))
    with wave.open(str(out / f"{stem}.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate // 2)
        w.writeframes(half.tobytes())
    clips[name] = f"{stem}.wav"
manifest = {"engine": "espeak-ng -v cmn -s 150", "clips": clips}
(out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"{len(clips)} clips in {out}")
PY
