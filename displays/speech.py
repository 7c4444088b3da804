"""Speech for any sentence, offline: the server reads it aloud with espeak-ng and answers a WAV.

The pages speak with the device's own voice when it has one, else with the recorded clips
in ``static/voice/`` (the call sentence). Anything else — the kiosk's read-aloud, English,
a hall's own template words, the spoken prompts of the blind flow — comes from here:
``GET /voice/say.wav?hall=demo&lang=zh&text=…`` (the route is in displays/pages.py).
espeak-ng runs as a subprocess (never in the event loop), at most two at a time, and each
answer is kept in memory, so a sentence a hall says all day is synthesized once.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import OrderedDict

from queue_server.api import ApiError
from queue_server.config import Hall

# The built-in languages' espeak-ng voices; a hall's further languages (config ``languages``)
# name theirs (``espeak-ng --voices`` lists them).
VOICES = {"zh": "cmn", "en": "en-us"}
MAX_CHARS = 300  # a sentence, not a document
CACHE_ENTRIES = 512  # a few MB of short WAVs
RATE_WPM = 150  # the speed the recorded clips were made at (scripts/build-voice.sh)

_cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
_running = asyncio.Semaphore(2)  # 2 cores, shared with the hall


def voices(hall: Hall) -> dict[str, str]:
    """The hall's languages → their espeak-ng voices."""
    return VOICES | {lang.code: lang.voice or lang.code for lang in hall.languages}


def _check(known: dict[str, str], lang: str, text: str) -> str:
    """The espeak-ng voice for ``lang``; a clear 4xx for what cannot be said."""
    voice = known.get(lang)
    if voice is None:
        raise ApiError(
            422, "invalid", f"不支持的朗读语言 {lang!r}，可用：{'、'.join(known)} (unknown speech language)", "lang"
        )
    if not text.strip():
        raise ApiError(422, "invalid", "朗读内容不能为空 (text is empty)", "text")
    if len(text) > MAX_CHARS:
        raise ApiError(
            422, "invalid", f"朗读内容超过{MAX_CHARS}字 (text is longer than {MAX_CHARS} characters)", "text"
        )
    if shutil.which("espeak-ng") is None:
        raise ApiError(503, "no_speech_engine", "服务器未安装 espeak-ng，无法朗读 (espeak-ng is not installed)")
    return voice


async def synthesize(known: dict[str, str], lang: str, text: str) -> bytes:
    """The WAV of ``text`` in ``lang`` (one of ``known``; cached)."""
    voice = _check(known, lang, text)
    key = (voice, text)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    async with _running:
        proc = await asyncio.create_subprocess_exec(
            "espeak-ng", "-v", voice, "-s", str(RATE_WPM), "--stdout", text,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        wav, err = await proc.communicate()
    if proc.returncode != 0 or not wav:
        message = err.decode(errors="replace").strip()[:200]
        raise ApiError(500, "speech_failed", f"朗读失败 (espeak-ng failed): {message}")
    _cache[key] = wav
    if len(_cache) > CACHE_ENTRIES:
        _cache.popitem(last=False)
    return wav
