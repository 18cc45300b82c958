#!/usr/bin/env python3
"""Build the small spoken language-identification demo corpus bundled with gmmspeech.

What it makes
-------------
Synthetic speech in six Latin-script languages -- English (en), German (de),
French (fr), Spanish (es), Italian (it) and Finnish (fi) -- rendered with the
espeak-ng formant synthesiser, written as::

    gmmspeech/demo/audio/<lang>/<speaker>_<sentence-id>.flac   16 kHz, mono, 16-bit FLAC
    gmmspeech/demo/train.csv, gmmspeech/demo/test.csv          paths relative to gmmspeech/demo/
    data_manifests/demo/train.csv, data_manifests/demo/test.csv  same rows, paths relative
                                                                to data_manifests/demo/

Every manifest is UTF-8 CSV with the header ``path,label,speaker,split``;
``label`` is the language code, ``speaker`` a voice id unique per
language + voice (e.g. ``en-m1-p40``), ``split`` is ``train`` or ``test``.

The train and test splits share nothing but the language: test utterances use
different sentences (``s01``-``s06`` train, ``s07``-``s10`` test) *and*
different voices.  A "voice" is an espeak-ng variant plus a pitch (``-p``) and
speed (``-s``) setting; the test voices use variants that never occur in train
(see ``TRAIN_VOICES`` / ``TEST_VOICES`` below).

Text source
-----------
All sentences in ``SENTENCES`` below were written for this corpus by the
gmmspeech developers (simple everyday sentences, the same ten meanings in every
language) and are released into the public domain under CC0 1.0.  No
third-party text is used.  The audio is produced by espeak-ng (GPL-3.0
program); speech synthesised by it is not itself covered by the GPL, and the
generated audio is likewise released under CC0 1.0.

How to rebuild
--------------
From the repository root::

    python scripts/make_demo_corpus.py

Requirements: the ``espeak-ng`` executable on PATH, plus numpy, scipy and
soundfile.  The script is deterministic: it deletes and rewrites
``gmmspeech/demo/audio/`` and the four manifests, with files and rows in a
fixed order.  (Byte-identical audio additionally requires the same espeak-ng
version; this corpus was made with espeak-ng 1.51.)

Processing per utterance: espeak-ng writes a 22050 Hz WAV to a temporary file,
which is resampled to 16 kHz with ``scipy.signal.resample_poly(up=320,
down=441)``, trimmed of leading/trailing silence (frames more than 40 dB below
the loudest frame, keeping 50 ms of margin), peak-normalised to -3 dBFS, given a faint
deterministic noise floor, rounded to 11-bit precision (see ``quantise``: it
keeps the corpus under 8 MB) and written as 16-bit FLAC with soundfile.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO_ROOT / "gmmspeech" / "demo"
MANIFEST_DIR = REPO_ROOT / "data_manifests" / "demo"

ESPEAK = "espeak-ng"
TARGET_SR = 16000
ESPEAK_SR = 22050  # espeak-ng's native output rate
PEAK_DBFS = -3.0
TRIM_TOP_DB = 40.0
TRIM_MARGIN_S = 0.05
NOISE_FLOOR_DBFS = -66.0  # RMS of the added deterministic noise floor (about one 11-bit step)
SAMPLE_BITS = 11  # precision kept inside the 16-bit FLAC container (see quantise())

# espeak-ng voice name per language code (label).
LANGUAGES = {
    "en": "en",
    "de": "de",
    "fr": "fr",
    "es": "es",
    "it": "it",
    "fi": "fi",
}

# A voice is (espeak-ng variant, pitch -p, speed -s in words per minute).
# Train and test use disjoint variants.  Very extreme variants (f3/f4 with
# 120-135 % formant scaling, echo-heavy m2, novelty voices) are avoided: they
# lie far outside the span of any small train set.
TRAIN_VOICES = [
    ("m1", 40, 185),
    ("m3", 55, 195),
    ("m5", 50, 190),
    ("f1", 50, 185),
    ("f2", 60, 195),
    ("klatt2", 50, 190),
]
TEST_VOICES = [
    ("m6", 50, 190),
    ("f5", 55, 185),
]

TRAIN_SENTENCE_IDS = ["s01", "s02", "s03", "s04", "s05", "s06"]
TEST_SENTENCE_IDS = ["s07", "s08", "s09", "s10"]
# Each train voice reads TRAIN_SENTENCES_PER_VOICE consecutive train sentences
# (rotating), so with 6 voices x 3 every train sentence is read by three voices.
# Every test voice reads every test sentence.
TRAIN_SENTENCES_PER_VOICE = 3

# Written for this corpus by the gmmspeech developers; CC0 1.0.
SENTENCES = {
    "en": [
        "The old ferry crosses the river twice every morning.",
        "My sister bought fresh bread and cheese at the market.",
        "Please close the window before the storm arrives tonight.",
        "We walked along the quiet beach until the sun went down.",
        "The children are reading books in the small library.",
        "His grandfather repaired the broken clock with great patience.",
        "All night long, a cold wind blew through the empty streets of the town.",
        "Next summer they will travel to the mountains by train with their friends.",
        "After lunch, the teacher wrote three long questions on the board.",
        "Last spring our neighbours planted apple trees behind their house.",
    ],
    "de": [
        "Die alte Fähre überquert jeden Morgen zweimal den Fluss.",
        "Meine Schwester kaufte frisches Brot und Käse auf dem Markt.",
        "Bitte schließ das Fenster, bevor heute Abend der Sturm kommt.",
        "Wir gingen am ruhigen Strand entlang, bis die Sonne unterging.",
        "Die Kinder lesen Bücher in der kleinen Bibliothek.",
        "Sein Großvater reparierte die kaputte Uhr mit viel Geduld.",
        "Die ganze Nacht wehte ein kalter Wind durch die leeren Straßen der Stadt.",
        "Nächsten Sommer fahren sie mit ihren Freunden im Zug in die Berge.",
        "Nach dem Mittagessen schrieb der Lehrer drei lange Fragen an die Tafel.",
        "Letzten Frühling haben unsere Nachbarn Apfelbäume hinter ihrem Haus gepflanzt.",
    ],
    "fr": [
        "Le vieux bac traverse la rivière deux fois chaque matin.",
        "Ma sœur a acheté du pain frais et du fromage au marché.",
        "Ferme la fenêtre, s'il te plaît, avant l'arrivée de l'orage ce soir.",
        "Nous avons marché sur la plage tranquille jusqu'au coucher du soleil.",
        "Les enfants lisent des livres dans la petite bibliothèque.",
        "Son grand-père a réparé l'horloge cassée avec beaucoup de patience.",
        "Toute la nuit, un vent froid a soufflé dans les rues vides de la ville.",
        "L'été prochain, ils iront à la montagne en train avec leurs amis.",
        "Après le déjeuner, le professeur a écrit trois longues questions au tableau.",
        "Au printemps dernier, nos voisins ont planté des pommiers derrière leur maison.",
    ],
    "es": [
        "El viejo transbordador cruza el río dos veces cada mañana.",
        "Mi hermana compró pan fresco y queso en el mercado.",
        "Por favor, cierra la ventana antes de que llegue la tormenta esta noche.",
        "Caminamos por la playa tranquila hasta que se puso el sol.",
        "Los niños están leyendo libros en la pequeña biblioteca.",
        "Su abuelo reparó el reloj roto con mucha paciencia.",
        "Durante toda la noche, un viento frío sopló por las calles vacías del pueblo.",
        "El próximo verano viajarán a las montañas en tren con sus amigos.",
        "Después de comer, el profesor escribió tres preguntas largas en la pizarra.",
        "La primavera pasada, nuestros vecinos plantaron manzanos detrás de su casa.",
    ],
    "it": [
        "Il vecchio traghetto attraversa il fiume due volte ogni mattina.",
        "Mia sorella ha comprato pane fresco e formaggio al mercato.",
        "Per favore, chiudi la finestra prima che arrivi il temporale stasera.",
        "Abbiamo camminato sulla spiaggia tranquilla fino al tramonto.",
        "I bambini stanno leggendo libri nella piccola biblioteca.",
        "Suo nonno ha riparato l'orologio rotto con molta pazienza.",
        "Per tutta la notte un vento freddo ha soffiato per le strade vuote del paese.",
        "La prossima estate andranno in montagna in treno con i loro amici.",
        "Dopo pranzo, l'insegnante ha scritto tre lunghe domande alla lavagna.",
        "La primavera scorsa i nostri vicini hanno piantato dei meli dietro la loro casa.",
    ],
    "fi": [
        "Vanha lautta ylittää joen kahdesti joka aamu.",
        "Siskoni osti tuoretta leipää ja juustoa torilta.",
        "Sulje ikkuna, ennen kuin myrsky saapuu tänä iltana.",
        "Kävelimme hiljaisella rannalla, kunnes aurinko laski.",
        "Lapset lukevat kirjoja pienessä kirjastossa.",
        "Hänen isoisänsä korjasi rikkinäisen kellon suurella kärsivällisyydellä.",
        "Koko yön kylmä tuuli puhalsi kaupungin tyhjillä kaduilla.",
        "Ensi kesänä he matkustavat ystäviensä kanssa junalla vuorille.",
        "Lounaan jälkeen opettaja kirjoitti taululle kolme pitkää kysymystä.",
        "Viime keväänä naapurimme istuttivat omenapuita talonsa taakse.",
    ],
}

MANIFEST_HEADER = ["path", "label", "speaker", "split"]


def sentence_text(lang: str, sentence_id: str) -> str:
    """Return the text for ``sentence_id`` (``s01`` = first entry)."""
    return SENTENCES[lang][int(sentence_id[1:]) - 1]


def train_sentences_for(voice_index: int) -> list[str]:
    """Sentence ids read by the ``voice_index``-th train voice (rotating assignment)."""
    n = len(TRAIN_SENTENCE_IDS)
    return [TRAIN_SENTENCE_IDS[(voice_index + j) % n] for j in range(TRAIN_SENTENCES_PER_VOICE)]


def speaker_id(lang: str, voice: tuple[str, int, int]) -> str:
    variant, pitch, _speed = voice
    return f"{lang}-{variant}-p{pitch}"


def check_espeak() -> None:
    if shutil.which(ESPEAK) is None:
        sys.exit(
            f"error: '{ESPEAK}' was not found on PATH. This script synthesises the demo "
            "corpus with espeak-ng; install it first (e.g. 'apt-get install espeak-ng' "
            "on Debian/Ubuntu, 'brew install espeak-ng' on macOS) and re-run."
        )


def synthesise(lang: str, voice: tuple[str, int, int], text: str, tmpdir: Path) -> np.ndarray:
    """Run espeak-ng and return float32 samples at ``ESPEAK_SR``."""
    variant, pitch, speed = voice
    wav_path = tmpdir / "utt.wav"
    cmd = [
        ESPEAK,
        "-v", f"{LANGUAGES[lang]}+{variant}",
        "-p", str(pitch),
        "-s", str(speed),
        "-b", "1",  # input text is UTF-8
        "-w", str(wav_path),
        text,
    ]
    try:
        subprocess.run(cmd, check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"error: espeak-ng failed ({' '.join(cmd)}):\n{exc.stderr.decode(errors='replace')}")
    audio, sr = sf.read(str(wav_path), dtype="float32", always_2d=True)
    if sr != ESPEAK_SR:
        sys.exit(f"error: expected espeak-ng to write {ESPEAK_SR} Hz audio, got {sr} Hz")
    return audio.mean(axis=1)


def to_16k(audio: np.ndarray) -> np.ndarray:
    # 22050 * 320 / 441 = 16000
    return resample_poly(audio, up=320, down=441).astype(np.float32)


def trim_silence(audio: np.ndarray, sr: int) -> np.ndarray:
    """Drop leading/trailing frames more than TRIM_TOP_DB below the loudest frame."""
    frame = int(0.02 * sr)
    hop = int(0.01 * sr)
    if len(audio) < frame:
        return audio
    n_frames = 1 + (len(audio) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n_frames)[:, None]
    rms = np.sqrt(np.mean(audio[idx] ** 2, axis=1) + 1e-12)
    db = 20.0 * np.log10(rms / rms.max())
    voiced = np.flatnonzero(db > -TRIM_TOP_DB)
    margin = int(TRIM_MARGIN_S * sr)
    start = max(0, voiced[0] * hop - margin)
    end = min(len(audio), voiced[-1] * hop + frame + margin)
    return audio[start:end]


def peak_normalise(audio: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(audio)))
    if peak == 0.0:
        raise ValueError("synthesised audio is silent")
    return (audio * (10.0 ** (PEAK_DBFS / 20.0) / peak)).astype(np.float32)


def add_noise_floor(audio: np.ndarray, key: str) -> np.ndarray:
    """Add a faint Gaussian noise floor, seeded from ``key`` (deterministic).

    espeak-ng emits exact digital silence in pauses; after quantisation those
    frames have identical (degenerate) MFCCs, which can make diagonal-covariance
    GMM training fail with collapsed components.  A ``NOISE_FLOOR_DBFS`` floor
    (-66 dBFS RMS, about one ``SAMPLE_BITS``-bit step) removes the degeneracy
    and is inaudible next to the -3 dBFS speech peaks.
    """
    rng = np.random.default_rng(zlib.crc32(key.encode("utf-8")))
    noise = rng.standard_normal(len(audio)) * (10.0 ** (NOISE_FLOOR_DBFS / 20.0))
    return np.clip(audio + noise, -1.0, 1.0).astype(np.float32)


def quantise(audio: np.ndarray) -> np.ndarray:
    """Round samples to ``SAMPLE_BITS`` bits of precision, returned as int16.

    FLAC stores the unused low bits of every block for free ("wasted bits"), so 11-bit samples in a
    16-bit container take about 55 % of the space of full 16-bit ones; that keeps the whole corpus
    under its 8 MB budget. The quantisation noise (about 65 dB below the -3 dBFS peak) is far below
    anything a 40-band log-mel front-end resolves.
    """
    step = 1 << (16 - SAMPLE_BITS)
    q = np.round(audio.astype(np.float64) * 32768.0 / step) * step
    return np.clip(q, -32768, 32767 - (32767 % step)).astype(np.int16)


def render(lang: str, voice: tuple[str, int, int], text: str, tmpdir: Path, key: str) -> np.ndarray:
    """Synthesise one utterance and apply the full processing chain (16 kHz int16, SAMPLE_BITS precision)."""
    audio = synthesise(lang, voice, text, tmpdir)
    audio = peak_normalise(trim_silence(to_16k(audio), TARGET_SR))
    return quantise(add_noise_floor(audio, key))


def write_manifest(path: Path, rows: list[dict], prefix: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MANIFEST_HEADER)
        for row in rows:
            writer.writerow([prefix + row["path"], row["label"], row["speaker"], row["split"]])


def check_design() -> None:
    train_variants = {v[0] for v in TRAIN_VOICES}
    test_variants = {v[0] for v in TEST_VOICES}
    assert not train_variants & test_variants, "train/test voices must use disjoint variants"
    assert not set(TRAIN_SENTENCE_IDS) & set(TEST_SENTENCE_IDS), "train/test sentences overlap"
    for lang in LANGUAGES:
        assert len(SENTENCES[lang]) >= len(TRAIN_SENTENCE_IDS) + len(TEST_SENTENCE_IDS), lang


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-q", "--quiet", action="store_true", help="only print the summary")
    args = parser.parse_args(argv)

    check_espeak()
    check_design()

    audio_root = DEMO_DIR / "audio"
    if audio_root.exists():
        shutil.rmtree(audio_root)

    rows = {"train": [], "test": []}
    seconds = {"train": 0.0, "test": 0.0}
    plan = [
        ("train", [(v, train_sentences_for(i)) for i, v in enumerate(TRAIN_VOICES)]),
        ("test", [(v, TEST_SENTENCE_IDS) for v in TEST_VOICES]),
    ]

    with tempfile.TemporaryDirectory(prefix="gmmspeech_demo_") as tmp:
        tmpdir = Path(tmp)
        for lang in LANGUAGES:
            (audio_root / lang).mkdir(parents=True, exist_ok=True)
            for split, assignments in plan:
                for voice, sentence_ids in assignments:
                    spk = speaker_id(lang, voice)
                    for sid in sentence_ids:
                        rel = f"audio/{lang}/{spk}_{sid}.flac"
                        audio = render(lang, voice, sentence_text(lang, sid), tmpdir, key=rel)
                        sf.write(
                            str(DEMO_DIR / rel), audio, TARGET_SR,
                            format="FLAC", subtype="PCM_16", compression_level=1.0,
                        )
                        dur = len(audio) / TARGET_SR
                        seconds[split] += dur
                        rows[split].append({"path": rel, "label": lang, "speaker": spk, "split": split})
                        if not args.quiet:
                            print(f"{rel}  {dur:5.2f} s")

    for split in ("train", "test"):
        write_manifest(DEMO_DIR / f"{split}.csv", rows[split], prefix="")
        rel_prefix = os.path.relpath(DEMO_DIR, MANIFEST_DIR).replace(os.sep, "/") + "/"
        write_manifest(MANIFEST_DIR / f"{split}.csv", rows[split], prefix=rel_prefix)

    size = sum(p.stat().st_size for p in audio_root.rglob("*.flac"))
    for split in ("train", "test"):
        print(f"{split}: {len(rows[split])} files, {seconds[split]:.1f} s")
    print(f"audio size: {size / 1e6:.2f} MB in {audio_root.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
