"""How long does a citizen wait for a sentence the recorded clips cannot say?

The server's offline speech (``displays.speech.synthesize``, espeak-ng) for the sentences
the kiosk says: the ticket read-aloud in Chinese and English, an audio-guidance prompt and
a Uyghur sentence. Each sentence is synthesized once cold (a new espeak-ng process) and
then asked again (answered from the in-memory cache); the figures are the time until the
WAV is ready, and the length of speech it holds.

    PYTHONPATH=. python bench/speech_offline.py --reps 5
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import time
import wave

from displays import speech

SENTENCES = [
    ("zh", "您已领取L001号，前方等待3人，预计等待约15分钟（8–23分钟）"),
    ("en", "You have number L001. 3 ahead of you; estimated wait about 15 minutes"),
    ("zh", "用上下方向键选择，按确认键确定，按返回键回到上一步"),
    ("ug", "ئىش بېجىرىش رايونىنى تاللاڭ"),
]


async def main(reps: int) -> None:
    voices = speech.VOICES | {"ug": "ug"}
    print(f"{'lang':4} {'chars':>5} {'speech s':>8} {'cold ms (median of ' + str(reps) + ')':>24} {'cached ms':>9}")
    for lang, text in SENTENCES:
        cold, cached = [], []
        wav = b""
        for _ in range(reps):
            speech._cache.clear()
            t0 = time.perf_counter()
            wav = await speech.synthesize(voices, lang, text)
            cold.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            await speech.synthesize(voices, lang, text)
            cached.append((time.perf_counter() - t0) * 1000)
        with wave.open(io.BytesIO(wav)) as w:  # espeak-ng's --stdout header leaves the length open
            seconds = (len(wav) - 44) / (w.getframerate() * w.getsampwidth() * w.getnchannels())
        print(
            f"{lang:4} {len(text):5d} {seconds:8.1f} {statistics.median(cold):24.0f} {statistics.median(cached):9.3f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    asyncio.run(main(parser.parse_args().reps))
