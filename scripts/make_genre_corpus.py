#!/usr/bin/env python3
"""Build the synthetic music-genre demo corpus bundled with gmmspeech (and larger dev corpora).

What it makes
-------------
Five-second clips of eight music genres -- ``blues``, ``classical``, ``electronic``, ``hiphop``, ``jazz``,
``metal``, ``reggae`` and ``rock`` -- each cut from a different, freshly composed ~10 s "song"::

    gmmspeech/demo_genre/audio/<genre>/<genre>_<split>_<NN>.flac   22050 Hz, mono, 16-bit FLAC, 5.000 s
    gmmspeech/demo_genre/train.csv, .../test.csv                  paths relative to gmmspeech/demo_genre/
    data_manifests/demo_genre/train.csv, .../test.csv             same rows, paths relative to
                                                                  data_manifests/demo_genre/

Every manifest is UTF-8 CSV with the header ``path,label,song,split``; ``label`` is the genre, ``song`` a song
id unique across the corpus (e.g. ``jazz-demo-test02``), ``split`` is ``train`` or ``test``.

The bundled demo has 5 train + 3 test clips per genre (64 clips, about 5.6 MB).  That is what fits the 6 MB
budget: dense music costs about 88 kB per 5-s clip even at 11-bit precision.  Use ``--dev`` for more.

How a clip is made
------------------
1. A composer function per genre (``compose_<genre>``) writes a song as notes: drum grooves on the General MIDI
   drum channel (channel 10, index 9; the kit is chosen by program change), bass lines, chord parts, pads and
   melodies, built from per-role helpers (``play_groove``, ``bass_line``, ``comp_part``, ``melody``).  Every
   song draws, from a seeded generator, its tempo, key, chord progression (from a genre pool), groove variant,
   bass/comping styles, voicings, GM programs per role (several per role), mix (volume, pan, reverb and
   chorus sends), velocity humanisation, timing jitter, swing ratio, optional drum fills and parts.
2. A tiny Standard MIDI File writer (``midi_bytes``, format 0, 480 ticks per quarter note; no mido or
   pretty_midi) writes the song; ``fluidsynth`` renders it with a General MIDI SoundFont::

       fluidsynth -ni -q -g 0.5 -r 22050 -F song.wav -o audio.file.format=float ... SOUNDFONT song.mid

3. numpy/scipy/soundfile post-processing: down-mix to mono, a random gentle master EQ (low and high shelf,
   +-3 dB), a random 5 s window starting 0.2-5.3 s into the song (so clips do not all start on beat 1), a soft
   limiter for the loud genres, loudness normalisation (RMS target per genre, peak ceiling -1 dBFS), 5 ms
   fades, a faint deterministic noise floor (-72 dBFS, so no frame is digital silence), rounding to
   ``SAMPLE_BITS`` = 11 bits of precision (see ``quantise``: FLAC stores the unused low bits for free) and a
   16-bit FLAC file.

The genres (tempo ranges in BPM; the pools are the dicts ``ROCK``, ``JAZZ``, ... above ``compose_<genre>``)
-----------------------------------------------------------------------------------------------------
* rock -- 100-140, backbeat grooves (straight 8ths, 16th hats, ride, half-time), overdriven/distorted power
  chords, pick/finger bass on roots, optional piano/organ/clean-guitar parts and a lead line.
* metal -- 140-190 (sometimes felt half-time), double-kick 16ths, gallops, thrash beats; distorted palm-muted
  chugs on low minor/phrygian riffs doubled by the bass, optional choir/strings/synth layer and a fast lead.
* jazz -- 100-180, swung ride cymbal with hi-hat on 2 and 4 (jazz, brush or other kits), walking bass, piano /
  electric piano / guitar comping with rootless or shell 7th-chord voicings, sax/trumpet/vibes melody.
* classical -- 52-150 with rubato (a tempo curve and phrase-end ritardandi), 3/4 or 4/4, no drums: string
  ensemble, string quartet, piano, woodwinds, baroque (harpsichord continuo) or orchestra; chorale, Alberti,
  arpeggio, running-bass or pizzicato textures with expression swells.
* electronic -- 118-135, four-on-the-floor kick, off-beat hats, claps, synth bass (off-beat, rolling, acid),
  saw/square/poly-synth arpeggios and stabs, pads with side-chain-like pumping; almost no timing jitter.
* reggae -- 66-92, one-drop / rockers / triplet one-drop grooves, off-beat guitar skank and organ bubble,
  syncopated bass leaving beat 1 empty, melodica-like or horn melodies, lots of reverb.
* hiphop -- 80-98 boom-bap with 16th-note swing, loud kick and snare, looped 1-2-bar "sample" of electric
  piano / piano / strings / vibes / flute / guitar, sub or electric/acoustic bass following the kick.
* blues -- 56-132, 12-bar forms (entered at bar 1, 5 or 9) with dominant-7th chords, shuffle or slow 12/8
  triplet feel (sometimes straight), boogie bass and guitar, piano/organ comping, harmonica/guitar/sax lead with
  pitch bends.

The genres overlap on purpose (overdriven guitars in rock, metal and blues; swing in jazz and blues; electric
piano in jazz and hip-hop; synth bass in electronic and hip-hop; organ in reggae, blues and rock; strings in
classical, metal and hip-hop), so they are not trivially separable.

Train/test separation
---------------------
Every clip is its own song: song seeds come from ``crc32("<corpus>/<genre>/<split>/<index>")`` and are checked
to be unique, so train and test (and the demo and dev corpora) share no song.  On top of that every genre
holds out material for test that train never uses: every pool entry is tagged ``B`` (both splits), ``TR``
(train only) or ``TE`` (test only); ``pick`` only draws entries allowed for the song's split.  The test-only
entries are, per genre (``--list-holdouts`` prints them from the pools; program numbers there are 0-based,
i.e. the General MIDI number minus one):

* blues: tempo 96-106 BPM (as drawn, before slow 12/8 songs are slowed down), Brush kit, ride-cymbal shuffle,
  minor 12-bar, fretless bass, alto sax lead
* classical: tempo 76-88, orchestra ensemble (French horn / flute melody, timpani), pizzicato texture,
  circle-of-fifths progression
* electronic: tempo 124-127, Power kit, "rolling" groove, i7-iv7 progression, "bass + lead" synth bass,
  charang lead, up-down arpeggios, poly-synth / halo pads
* hiphop: tempo 88-91, Power kit, half-time groove, i-bVII-bVI-V, acoustic bass, vibraphone sample loop,
  trumpet lead
* jazz: tempo 136-148, Room kit, two-feel groove, iii-VI-ii-V, drop-2 voicings, muted trumpet / trombone lead
* metal: tempo 164-172, blast beat, phrygian i-bII riff, overdriven (instead of distorted) guitars, church
  organ layer, charang lead
* reggae: tempo 80-84, steppers groove, ii-I progression, jazz-guitar skank, percussive organ, accordion melody
* rock: tempo 124-130, Room kit, open hi-hat groove, I-bVII-IV-I, steel-string strummed guitar, alto sax lead

Some entries are train-only (e.g. the jazz bossa groove, the rock octave bass), so test songs never meet them.

Dev mode
--------
``--dev OUTDIR`` writes a larger corpus with the same layout under OUTDIR (``audio/``, ``train.csv``,
``test.csv``, paths relative to OUTDIR) from different seeds (corpus tag ``dev`` instead of ``demo``), plus
``test_othersf.csv``: the very same test songs and windows rendered with a different SoundFont
(``--other-soundfont``, MuseScore_General_Lite by default), to check generalisation across instrument timbres.
Those clips are ``audio/<genre>/<genre>_test-othersf_<NN>.flac`` with split ``test`` and the song id of their
``test.csv`` twin.  Dev corpora are for tuning and are not committed (30 + 15 songs per genre render in about
8 minutes on 2 cores).

Licence
-------
All musical material (grooves, bass lines, progressions, melody generators) is written in this script by the
gmmspeech developers; no third-party music is used.  The generated MIDI and audio are released into the public
domain under CC0 1.0.  The audio is rendered with FluidSynth (LGPL program) using the FluidR3_GM SoundFont
(MIT licence, Debian package fluid-soundfont-gm); sounds rendered with them carry no restriction.

How to rebuild
--------------
From the repository root::

    python scripts/make_genre_corpus.py                          # the bundled demo (under a minute)
    python scripts/make_genre_corpus.py --dev /work/dev/genre --train-per-genre 30 --test-per-genre 15

Requirements: the ``fluidsynth`` executable on PATH (Debian package ``fluidsynth``; built and tested with
FluidSynth 2.3.1), the General MIDI SoundFonts ``/usr/share/sounds/sf2/FluidR3_GM.sf2`` (package
``fluid-soundfont-gm``) and, for ``--dev``, ``/usr/share/sounds/sf3/MuseScore_General_Lite.sf3`` (package
``musescore-general-soundfont-small``) or ``/usr/share/sounds/sf2/TimGM6mb.sf2`` (``timgm6mb-soundfont``);
Python packages numpy, scipy and soundfile.  The script is deterministic: it seeds everything from the song
ids, writes files and rows in sorted order, and deletes and rewrites ``gmmspeech/demo_genre/audio/`` and the
four manifests.  Byte-identical audio additionally requires the same FluidSynth and SoundFont versions.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = REPO_ROOT / "gmmspeech" / "demo_genre"
MANIFEST_DIR = REPO_ROOT / "data_manifests" / "demo_genre"

FLUIDSYNTH = "fluidsynth"
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
OTHER_SOUNDFONTS = [
    Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
]

SR = 22050
CLIP_S = 5.0  # length of every clip
SONG_S = 10.5  # seconds of music composed per song; the clip window lies inside it
OFFSET_MIN_S = 0.2
PPQ = 480  # MIDI ticks per quarter note
SAMPLE_BITS = 11  # precision kept inside the 16-bit FLAC container (see quantise())
NOISE_FLOOR_DBFS = -72.0
PEAK_CEILING_DBFS = -1.0
FADE_S = 0.005

GENRES = ["blues", "classical", "electronic", "hiphop", "jazz", "metal", "reggae", "rock"]
DEMO_TRAIN_PER_GENRE = 5
DEMO_TEST_PER_GENRE = 3
MANIFEST_HEADER = ["path", "label", "song", "split"]

# Pool tags: an entry is used by both splits, by train only or by test only.
B, TR, TE = "both", "train", "test"

# Channels (0-based); 9 is the General MIDI drum channel.
BASS, COMP, LEAD, PAD, COMP2, EXTRA, DRUMS = 0, 1, 2, 3, 4, 5, 9

# General MIDI percussion keys.
KICK, KICK2, SIDESTICK, SNARE, CLAP, ESNARE = 36, 35, 37, 38, 39, 40
HH_C, HH_P, HH_O = 42, 44, 46
TOM_LF, TOM_HF, TOM_L, TOM_LM, TOM_HM, TOM_H = 41, 43, 45, 47, 48, 50
CRASH, RIDE, CHINA, RIDE_BELL, TAMB, SPLASH, CRASH2 = 49, 51, 52, 53, 54, 55, 57
SHAKER, CABASA = 70, 69
CYM = -1  # placeholder key in a groove, replaced by the song's cymbal choice

LEVELS = {"X": 1.0, "x": 0.8, "o": 0.55, "g": 0.35}


# ---------------------------------------------------------------------------------------------------------------
# Harmony helpers
# ---------------------------------------------------------------------------------------------------------------

NUMERALS = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}
QUALITIES = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "5": (0, 7), "sus4": (0, 5, 7), "sus2": (0, 2, 7),
    "6": (0, 4, 7, 9), "m6": (0, 3, 7, 9), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10), "dim7": (0, 3, 6, 9), "9": (0, 4, 7, 10, 14), "m9": (0, 3, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14), "7sus4": (0, 5, 7, 10),
}
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10), "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10), "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "phrygian": (0, 1, 3, 5, 7, 8, 10), "penta_major": (0, 2, 4, 7, 9), "penta_minor": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}


@dataclass
class Chord:
    start: float  # beats
    end: float
    root: int  # pitch class 0-11
    quality: str

    @property
    def ivals(self) -> tuple[int, ...]:
        return QUALITIES[self.quality]

    @property
    def pcs(self) -> list[int]:
        return [(self.root + i) % 12 for i in self.ivals]


def parse_chord(token: str) -> tuple[int, str]:
    """``"bVII"`` -> (10, "maj"); ``"ii:m7"`` -> (2, "m7"); upper case is major, lower case minor by default."""
    acc = 0
    while token[0] in "b#":
        acc += -1 if token[0] == "b" else 1
        token = token[1:]
    numeral, _, quality = token.partition(":")
    if not quality:
        quality = "maj" if numeral.isupper() else "min"
    return (NUMERALS[numeral.lower()] + acc) % 12, quality


def chord_timeline(progression: str, tonic: int, bpb: int, n_bars: int, start_bar: int = 0) -> list[Chord]:
    """Loop a progression (one space-separated token per bar, ``,`` splits a bar) over ``n_bars`` bars."""
    bars = [[parse_chord(t) for t in bar.split(",")] for bar in progression.split()]
    chords = []
    for bar in range(n_bars):
        items = bars[(bar + start_bar) % len(bars)]
        length = bpb / len(items)
        for j, (deg, quality) in enumerate(items):
            start = bar * bpb + j * length
            chords.append(Chord(start, start + length, (tonic + deg) % 12, quality))
    return chords


def chord_at(chords: list[Chord], beat: float) -> Chord:
    for c in chords:
        if c.start <= beat + 1e-6 < c.end:
            return c
    return chords[-1]


def low_pitch(pc: int, lo: int) -> int:
    """The lowest pitch >= lo with pitch class pc."""
    return lo + (pc - lo) % 12


def scale_pitches(tonic: int, scale: str, lo: int, hi: int) -> list[int]:
    ivals = SCALES[scale]
    return [p for p in range(lo, hi + 1) if (p - tonic) % 12 in ivals]


def stack_voicings(pcs: list[int], center: float) -> list[list[int]]:
    """All close-position inversions of ``pcs`` placed near ``center`` (one or two octave placements each)."""
    out = []
    for r in range(len(pcs)):
        order = pcs[r:] + pcs[:r]
        stack = [order[0]]
        for pc in order[1:]:
            stack.append(stack[-1] + ((pc - stack[-1]) % 12 or 12))
        shift = round((center - sum(stack) / len(stack)) / 12)
        for k in (shift - 1, shift, shift + 1):
            cand = [p + 12 * k for p in stack]
            if abs(sum(cand) / len(cand) - center) <= 8:
                out.append(cand)
    return out


def nearest(cands: list[list[int]], center: float, prev: list[int] | None) -> list[int]:
    def cost(c: list[int]) -> float:
        d = abs(sum(c) / len(c) - center)
        if prev:
            n = min(len(c), len(prev))
            d = 0.4 * d + sum(abs(a - b) for a, b in zip(sorted(c)[:n], sorted(prev)[:n], strict=True)) / n
        return d

    return min(cands, key=lambda c: (cost(c), c))


def voicing(chord: Chord, kind: str, center: float, prev: list[int] | None = None) -> list[int]:
    """Pitches of ``chord`` in one of several voicing styles, around ``center`` and led from ``prev``."""
    iv = chord.ivals
    third = iv[1] if len(iv) > 2 else 7
    fifth = iv[2] if len(iv) > 2 else 7
    seventh = iv[3] if len(iv) > 3 else (9 if chord.quality in ("maj", "min") else fifth + 5)
    root = low_pitch(chord.root, int(center) - 12)
    if kind == "power":
        root = low_pitch(chord.root, int(center) - 6)
        return [root, root + 7, root + 12]
    if kind == "triad":
        return nearest(stack_voicings([(chord.root + i) % 12 for i in iv[:3]], center), center, prev)
    if kind == "open":  # root, fifth, third and seventh/octave spread over two octaves
        top = seventh if len(iv) > 3 else 12
        return [root, root + fifth, root + third + 12, root + top + 12]
    if kind == "shell":  # root, third, seventh (guitar / Freddie Green)
        return [root, root + third, root + seventh] if prev is None or prev[1] - prev[0] < 6 else [
            root, root + seventh, root + third + 12]
    if kind == "rootless":  # 3-5-7-9 or 7-9-3-5, whichever sits closer
        pcs_a = [(chord.root + i) % 12 for i in (third, fifth, seventh, 14)]
        pcs_b = [(chord.root + i) % 12 for i in (seventh, 14, third, fifth)]
        cands = [c for c in stack_voicings(pcs_a, center) + stack_voicings(pcs_b, center)
                 if c[0] % 12 in (pcs_a[0], pcs_b[0])]
        return nearest(cands, center, prev)
    if kind == "drop2":  # close four-note chord with the second voice from the top dropped an octave
        pcs = [(chord.root + i) % 12 for i in (0, third, fifth, seventh)]
        close = nearest(stack_voicings(pcs, center + 6), center + 6, None)
        close[-2] -= 12
        return sorted(close)
    pcs = [(chord.root + i) % 12 for i in iv[:4]]
    return nearest(stack_voicings(pcs, center), center, prev)  # "close"


# ---------------------------------------------------------------------------------------------------------------
# The song container and the MIDI writer
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Arrangement:
    """Notes, controller events and tempo map of one song, with humanisation applied as notes are added."""

    rng: np.random.Generator
    tempo: float
    bpb: int = 4
    jitter_ms: float = 6.0
    vel_jitter: int = 8
    swing: float = 0.5  # position of the off-beat within a pair of swing units (0.5 = straight)
    swing_unit: float = 0.5  # 0.5 = swung eighths, 0.25 = swung sixteenths
    notes: list[tuple[float, float, int, int, int]] = field(default_factory=list)  # beat, dur, ch, pitch, vel
    ccs: list[tuple[float, int, int, int]] = field(default_factory=list)  # beat, ch, controller, value
    bends: list[tuple[float, int, int]] = field(default_factory=list)  # beat, ch, value 0-16383
    programs: dict[int, int] = field(default_factory=dict)
    tempo_map: list[tuple[float, float]] = field(default_factory=list)  # beat, bpm
    desc: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.tempo_map:
            self.tempo_map = [(0.0, self.tempo)]

    def n_bars(self, seconds: float = SONG_S, slack: float = 1.0) -> int:
        return int(math.ceil(seconds * self.tempo / 60.0 * slack / self.bpb)) + 1

    def setup(self, ch: int, program: int, volume: int, pan: int, reverb: int, chorus: int = 0) -> None:
        self.programs[ch] = program
        for cc, val in ((7, volume), (10, pan), (91, reverb), (93, chorus), (11, 127)):
            self.ccs.append((0.0, ch, cc, int(np.clip(val, 0, 127))))

    def swung(self, beat: float) -> float:
        if self.swing == 0.5:
            return beat
        pair = 2 * self.swing_unit
        k = math.floor(beat / pair + 1e-9)
        if abs(beat - k * pair - self.swing_unit) < 1e-6:
            return k * pair + pair * self.swing
        return beat

    def note(self, ch: int, beat: float, dur: float, pitch: int, vel: float, human: bool = True) -> None:
        b = self.swung(beat)
        if human:
            b += self.rng.normal(0.0, self.jitter_ms / 1000.0 * self.tempo / 60.0)
            vel += int(self.rng.integers(-self.vel_jitter, self.vel_jitter + 1))
        self.notes.append((max(0.0, b), max(0.02, dur), ch, int(np.clip(pitch, 0, 127)), int(np.clip(vel, 1, 127))))

    def chord(self, ch: int, beat: float, dur: float, pitches: list[int], vel: float, strum_ms: float = 0.0) -> None:
        """A chord; ``strum_ms`` > 0 spreads it low-to-high, < 0 high-to-low (an up-stroke)."""
        order = pitches if strum_ms >= 0 else pitches[::-1]
        step = abs(strum_ms) / 1000.0 * self.tempo / 60.0
        for i, p in enumerate(order):
            self.note(ch, beat + i * step, dur, p, vel * (1.0 - 0.03 * i))

    def drum(self, beat: float, key: int, vel: float) -> None:
        self.note(DRUMS, beat, 0.1, key, vel)

    def cc(self, ch: int, beat: float, controller: int, value: float) -> None:
        self.ccs.append((beat, ch, controller, int(np.clip(value, 0, 127))))

    def seconds_at(self, beat: float) -> float:
        t, prev_b, prev_bpm = 0.0, 0.0, self.tempo_map[0][1]
        for b, bpm in self.tempo_map[1:]:
            if b >= beat:
                break
            t += (b - prev_b) * 60.0 / prev_bpm
            prev_b, prev_bpm = b, bpm
        return t + (beat - prev_b) * 60.0 / prev_bpm


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def midi_bytes(a: Arrangement, end_beat: float) -> bytes:
    """Standard MIDI File (format 0, one track) of an arrangement; events after ``end_beat`` are dropped."""

    def tick(beat: float) -> int:
        return max(0, int(round(beat * PPQ)))

    end = tick(end_beat)
    events: list[tuple[int, int, bytes]] = [(0, 0, b"\xff\x58\x04" + bytes([a.bpb, 2, 24, 8]))]
    for beat, bpm in a.tempo_map:
        events.append((tick(beat), 0, b"\xff\x51\x03" + int(round(60e6 / bpm)).to_bytes(3, "big")))
    for ch, prog in sorted(a.programs.items()):
        events.append((0, 1, bytes([0xC0 | ch, prog])))
    for beat, ch, controller, val in a.ccs:
        events.append((tick(beat), 2, bytes([0xB0 | ch, controller, val])))
    for beat, ch, val in a.bends:
        events.append((tick(beat), 2, bytes([0xE0 | ch, val & 0x7F, val >> 7])))
    # Notes of one channel and pitch must not overlap: cut each one at the next onset of the same key.
    by_key: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for beat, dur, ch, pitch, vel in a.notes:
        by_key.setdefault((ch, pitch), []).append((tick(beat), tick(beat + dur), vel))
    for (ch, pitch), items in sorted(by_key.items()):
        items.sort()
        for i, (on, off, vel) in enumerate(items):
            if i + 1 < len(items):
                if items[i + 1][0] == on:
                    continue
                off = min(off, items[i + 1][0])
            if on >= end:
                continue
            off = min(max(off, on + 1), end)
            events.append((on, 4, bytes([0x90 | ch, pitch, vel])))
            events.append((off, 3, bytes([0x80 | ch, pitch, 0])))
    events = [e for e in events if e[0] <= end]
    events.append((end, 9, b"\xff\x2f\x00"))
    events.sort()
    track = bytearray()
    now = 0
    for t, _prio, data in events:
        track += _vlq(t - now) + data
        now = t
    header = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + PPQ.to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + bytes(track)


# ---------------------------------------------------------------------------------------------------------------
# Generic helpers: pools, mix, drums
# ---------------------------------------------------------------------------------------------------------------


def pick(rng: np.random.Generator, pool: list[tuple[object, str]], split: str):
    items = [item for item, where in pool if where in (B, split)]
    return items[int(rng.integers(len(items)))]


def pick_tempo(rng: np.random.Generator, pool: list[tuple[tuple[float, float], str]], split: str) -> float:
    """Uniform over the union of the sub-ranges this split may use."""
    ranges = [r for r, where in pool if where in (B, split)]
    widths = np.array([hi - lo for lo, hi in ranges], dtype=float)
    lo, hi = ranges[int(rng.choice(len(ranges), p=widths / widths.sum()))]
    return float(rng.uniform(lo, hi))


def rint(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(rng.integers(lo, hi + 1))


def chance(rng: np.random.Generator, p: float) -> bool:
    return bool(rng.random() < p)


def choose(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def drum_bar(a: Arrangement, bar: int, pattern: dict[int, str], vel: float, until: float | None = None) -> None:
    """One bar of a groove; each string spans the bar (16 chars = 16ths, 12 = triplet eighths, 8 = eighths)."""
    for key, steps in sorted(pattern.items()):
        step = a.bpb / len(steps)
        for i, c in enumerate(steps):
            if c != "." and (until is None or i * step < until - 1e-6):
                a.drum(bar * a.bpb + i * step, key, vel * LEVELS[c])


def drum_fill(a: Arrangement, rng: np.random.Generator, bar: int, beats: int, vel: float, kind: str) -> None:
    start = (bar + 1) * a.bpb - beats
    if kind == "triplet":
        n, step = 3 * beats, 1 / 3
    elif kind == "roll":
        n, step = 8 * beats, 0.125
    else:
        n, step = 4 * beats, 0.25
    toms = [TOM_H, TOM_HM, TOM_LM, TOM_L, TOM_HF, TOM_LF]
    for i in range(n):
        if kind in ("snare", "roll"):
            key, v = SNARE, vel * (0.5 + 0.5 * i / n)
        elif kind == "toms":
            key, v = toms[min(len(toms) - 1, i * len(toms) // n)], vel * 0.9
        else:  # triplet / mixed: snare and toms
            key, v = choose(rng, [SNARE, TOM_HM, TOM_L, TOM_LF]), vel * 0.8
        if kind != "sparse" or chance(rng, 0.6):
            a.drum(start + i * step, key, v)
    a.drum(start + n * step - step, KICK, vel * 0.8)


def play_groove(a: Arrangement, rng: np.random.Generator, bars: list[dict[int, str]], n_bars: int, vel: float,
                fill_prob: float = 0.4, fill_kinds: tuple[str, ...] = ("snare", "toms"), crash: int | None = CRASH,
                cymbal: int = HH_C, start_bar: int = 0) -> None:
    """Play a groove (a list of one-bar patterns, cycled) with optional fills and phrase crashes."""
    phase = rint(rng, 0, 3)
    after_fill = False
    for bar in range(start_bar, n_bars):
        pattern = {cymbal if k == CYM else k: s for k, s in bars[bar % len(bars)].items()}
        fill = (bar + phase) % 4 == 3 and chance(rng, fill_prob)
        beats = rint(rng, 1, 2) if fill else 0
        if crash is not None and (after_fill or ((bar + phase) % 4 == 0 and chance(rng, 0.5))):
            a.drum(bar * a.bpb, crash, vel)
        drum_bar(a, bar, pattern, vel, until=a.bpb - beats if fill else None)
        if fill:
            drum_fill(a, rng, bar, beats, vel, choose(rng, list(fill_kinds)))
        after_fill = fill


# ---------------------------------------------------------------------------------------------------------------
# Role helpers: bass, comping, melody
# ---------------------------------------------------------------------------------------------------------------


def bass_line(a: Arrangement, rng: np.random.Generator, chords: list[Chord], style: str, lo: int, vel: float,
              ch: int = BASS, pattern: str | None = None, tonic: int = 0) -> None:
    """Bass lines: roots in 8ths/quarters, walking, boogie, off-beat, rolling, acid, sustained, reggae..."""
    nxt = {id(c): chords[i + 1] if i + 1 < len(chords) else c for i, c in enumerate(chords)}
    motif: list[tuple[float, float, int]] | None = None
    for c in chords:
        r = low_pitch(c.root, lo)
        fifth = r + (c.ivals[2] if len(c.ivals) > 2 else 7)
        third = r + (c.ivals[1] if len(c.ivals) > 2 else 4)
        length = c.end - c.start
        nr = low_pitch(nxt[id(c)].root, lo)
        if style == "root8":
            for i in range(int(length * 2)):
                last = i == int(length * 2) - 1 and chance(rng, 0.3)
                a.note(ch, c.start + i * 0.5, 0.42, choose(rng, [fifth, r + 12]) if last else r,
                       vel * (1.0 if i % 2 == 0 else 0.85))
        elif style == "root4":
            for i in range(int(length)):
                p = r if i < length - 1 or chance(rng, 0.6) else choose(rng, [fifth, nr - 1, nr + 2])
                a.note(ch, c.start + i, 0.85, p, vel)
        elif style == "halves":
            for i in range(int(length // 2) or 1):
                a.note(ch, c.start + 2 * i, 1.8, r if i % 2 == 0 else fifth - 12 * (fifth - 12 >= lo), vel)
        elif style == "octave8":
            for i in range(int(length * 2)):
                a.note(ch, c.start + i * 0.5, 0.35, r + 12 * (i % 2), vel * (1.0 if i % 2 == 0 else 0.8))
        elif style == "walking":
            tones = [r + i for i in c.ivals] + [r + 12]
            for i in range(int(length)):
                if i == 0:
                    p = r
                elif i == int(length) - 1:
                    p = nr + choose(rng, [-1, 1, -2 if c.quality != "maj7" else 1])
                else:
                    p = choose(rng, tones[1:])
                a.note(ch, c.start + i, 0.9, p, vel * (1.0 if i % 2 == 0 else 0.9))
                if chance(rng, 0.08):  # a skipped "ghost" eighth
                    a.note(ch, c.start + i + 0.5, 0.3, p, vel * 0.6)
        elif style == "boogie":
            sixth, seventh = r + 9, r + (10 if c.quality != "maj7" else 11)
            line = [r, third, fifth, sixth, seventh, sixth, fifth, third]
            for i in range(int(length * 2)):
                a.note(ch, c.start + i * 0.5, 0.45, line[i % 8], vel * (1.0 if i % 2 == 0 else 0.85))
        elif style == "offbeat8":
            for i in range(int(length)):
                a.note(ch, c.start + i + 0.5, 0.35, r + (12 if chance(rng, 0.1) else 0), vel)
        elif style == "rolling16":
            for i in range(int(length * 4)):
                if i % 4:
                    a.note(ch, c.start + i * 0.25, 0.2, r, vel * (0.9 if i % 4 == 2 else 0.75))
        elif style in ("acid", "reggae", "pattern"):
            if motif is None:
                motif = bass_motif(rng, style, a.bpb, pattern)
            for bar_off in np.arange(0.0, length - 1e-6, a.bpb):
                for pos, dur, deg in motif:
                    if bar_off + pos < length - 1e-6:
                        a.note(ch, c.start + bar_off + pos, dur, r + deg if deg < 24 else fifth, vel)
        elif style == "sustain":
            a.note(ch, c.start, length * 0.95, r, vel)
            if chance(rng, 0.3):
                a.note(ch, c.start + length - 0.5, 0.4, r + 12, vel * 0.7)
        elif style == "kick":  # hip-hop: bass notes on the kick positions given as a 16-step pattern
            steps = pattern or "x.........x....."
            hits = [i * a.bpb / len(steps) for i, s in enumerate(steps) if s != "."]
            bar_pos = c.start % a.bpb
            for j, h in enumerate(hits):
                if bar_pos - 1e-6 <= h < bar_pos + length - 1e-6:
                    end = hits[j + 1] if j + 1 < len(hits) else a.bpb
                    a.note(ch, c.start - bar_pos + h, max(0.2, (end - h) * 0.9), r, vel)
        else:
            raise ValueError(style)


def bass_motif(rng: np.random.Generator, style: str, bpb: int, pattern: str | None) -> list[tuple[float, float, int]]:
    """A one-bar riff as (position, duration, interval above the root); interval 99 means the chord's fifth."""
    if style == "pattern":
        steps = pattern or "x.x.x.x.x.x.x.x."
        step = bpb / len(steps)
        return [(i * step, step * 0.8, 0) for i, s in enumerate(steps) if s != "."]
    if style == "acid":
        out = []
        for i in range(16):
            if chance(rng, 0.7):
                deg = choose(rng, [0, 0, 0, 12, 12, 3, 7, 10, 5])
                out.append((i * 0.25, choose(rng, [0.15, 0.2, 0.45]), deg))
        return out or [(0.0, 0.2, 0)]
    # reggae: leave beat 1 empty (or short), melodic syncopation over root, fifth, octave, minor/major third
    cells = [
        [(0.5, 0.5, 0), (1.0, 0.5, 0), (1.5, 1.0, 99), (2.5, 0.5, 12), (3.0, 0.75, 10)],
        [(0.0, 0.75, 0), (1.5, 0.5, 0), (2.0, 0.5, 99), (2.5, 1.0, 7), (3.5, 0.5, 5)],
        [(0.75, 0.25, 0), (1.0, 1.0, 0), (2.5, 0.5, 99), (3.0, 0.5, 12), (3.5, 0.5, 10)],
        [(0.5, 1.0, 0), (2.0, 0.5, 0), (2.5, 0.5, 3), (3.0, 1.0, 99)],
    ]
    return [(p, d, g) for p, d, g in choose(rng, cells) if p < bpb]


def comp_part(a: Arrangement, rng: np.random.Generator, ch: int, chords: list[Chord], style: str, center: float,
              vel: float, voicing_kind: str = "close", strum_ms: float = 0.0, order: str = "up") -> None:
    """Chordal parts: power chords, strums, block chords, pads, skanks, comping, stabs, arpeggios..."""
    prev: list[int] | None = None
    loop: list[tuple[float, float, int]] | None = None  # (position in bar, duration, index into the voicing)
    for c in chords:
        v = voicing(c, voicing_kind, center, prev)
        prev = v
        length = c.end - c.start
        beats = range(int(round(length)))
        if style == "sustain":
            a.chord(ch, c.start, length * 0.97, v, vel, strum_ms)
        elif style == "power8":
            for i in range(int(length * 2)):
                acc = i % 4 == 0 or (i == int(length * 2) - 1 and chance(rng, 0.3))
                a.chord(ch, c.start + i * 0.5, 0.4 if not acc else 0.48, v, vel * (1.0 if acc else 0.72))
        elif style == "power16":
            for i in range(int(length * 4)):
                acc = i % 8 == 0
                a.chord(ch, c.start + i * 0.25, 0.2, v if acc else v[:1], vel * (1.0 if acc else 0.7))
        elif style == "power_sync":
            hits = [0, 0.75, 1.5, 2.5, 3.0][: max(1, int(length + 1))]
            for j, h in enumerate(hits):
                if h < length:
                    end = hits[j + 1] if j + 1 < len(hits) and hits[j + 1] < length else length
                    a.chord(ch, c.start + h, (end - h) * 0.9, v, vel, strum_ms)
        elif style == "whole":
            for b in range(0, int(length), 2 if length >= 2 else 1):
                a.chord(ch, c.start + b, min(2.0, length - b) * 0.95, v, vel, strum_ms)
        elif style == "strum8":  # down on beats, up on off-beats
            for i in range(int(length * 2)):
                if i % 2 == 1 and chance(rng, 0.25):
                    continue
                a.chord(ch, c.start + i * 0.5, 0.45, v, vel * (1.0 if i % 2 == 0 else 0.7),
                        strum_ms if i % 2 == 0 else -strum_ms)
        elif style == "quarters":
            for b in beats:
                a.chord(ch, c.start + b, 0.8, v, vel * (1.0 if b % 2 == 0 else 0.85))
        elif style == "repeated8":
            for i in range(int(length * 2)):
                a.chord(ch, c.start + i * 0.5, 0.42, v, vel * (0.85 if i % 2 == 0 else 0.7))
        elif style == "skank":  # short chords on every off-beat, up-stroke
            for b in beats:
                a.chord(ch, c.start + b + 0.5, 0.18, v, vel, -abs(strum_ms))
        elif style == "bubble":  # organ: two short chops after each off-beat
            for b in beats:
                a.chord(ch, c.start + b + 0.5, 0.15, v, vel)
                a.chord(ch, c.start + b + 0.75, 0.12, v, vel * 0.7)
        elif style == "charleston":
            for bar_start in np.arange(c.start, c.end - 1e-6, 4.0):
                a.chord(ch, bar_start, 0.7, v, vel)
                if bar_start + 1.5 < c.end:
                    a.chord(ch, bar_start + 1.5, 0.45, v, vel * 0.85)
        elif style == "jazzcomp":
            slots = [x * 0.5 for x in range(int(length * 2))]
            for s in sorted(rng.choice(slots, size=min(len(slots), rint(rng, 1, 3)), replace=False)):
                a.chord(ch, c.start + float(s), float(choose(rng, [0.4, 0.9, 1.4])), v, vel * rng.uniform(0.75, 1.0))
        elif style == "fg":  # Freddie Green: short quarters
            for b in beats:
                a.chord(ch, c.start + b, 0.35, v, vel * (1.0 if b % 2 else 0.85), 8.0)
        elif style == "stab":  # electronic off-beat stabs
            for b in beats:
                if chance(rng, 0.85):
                    a.chord(ch, c.start + b + 0.5, 0.2, v, vel)
        elif style in ("arp16", "arp8", "alberti", "triplet_arp"):
            step = {"arp16": 0.25, "arp8": 0.5, "alberti": 0.5, "triplet_arp": 1 / 3}[style]
            tones = sorted(v) + [p + 12 for p in sorted(v)] if style == "arp16" else sorted(v)
            if style == "alberti":
                seq = [tones[0], tones[-1], tones[len(tones) // 2], tones[-1]]
            elif order == "updown":
                seq = tones + tones[-2:0:-1]
            elif order == "down":
                seq = tones[::-1]
            else:
                seq = tones
            for i in range(int(round(length / step))):
                a.note(ch, c.start + i * step, step * 0.9, seq[i % len(seq)], vel * (1.0 if i % 4 == 0 else 0.8))
        elif style == "boogie_gtr":  # root-fifth / root-sixth dyads on shuffled eighths
            r = v[0]
            for i in range(int(length * 2)):
                top = r + (7 if (i // 2) % 2 == 0 else 9)
                a.chord(ch, c.start + i * 0.5, 0.45, [r, top], vel * (1.0 if i % 2 == 0 else 0.8))
        elif style == "triplets":  # slow-blues piano: chords on every triplet eighth
            for i in range(int(length * 3)):
                a.chord(ch, c.start + i / 3, 0.3, v, vel * (1.0 if i % 3 == 0 else 0.65))
        elif style == "chorale":
            for b in range(0, int(length), 2 if length >= 2 else 1):
                a.chord(ch, c.start + b, min(2.0, length - b) * 0.98, v, vel * (1.0 if b == 0 else 0.85))
        elif style == "pizz":
            for b in beats:
                if b % 2 == 0 or chance(rng, 0.5):
                    a.chord(ch, c.start + b, 0.4, v if b else [v[0] - 12, *v[1:]], vel)
        elif style == "loop":  # hip-hop: one bar of hits drawn once, replayed on every chord (a looped sample)
            if loop is None:
                loop = [(p, d, 0) for p, d in choose(rng, HIPHOP_LOOP_RHYTHMS)]
            for pos, dur, _ in loop:
                if pos < length - 1e-6:
                    a.chord(ch, c.start + pos, min(dur, length - pos), v, vel)
        else:
            raise ValueError(style)


CELLS_4 = {
    "quarters": [(0, 1), (1, 1), (2, 1), (3, 1)], "long": [(0, 2), (2, 2)], "whole": [(0, 4)],
    "dotted": [(0, 1.5), (1.5, 0.5), (2, 2)], "eighths": [(i * 0.5, 0.5) for i in range(8)],
    "mixed": [(0, 0.5), (0.5, 0.5), (1, 1), (2, 0.5), (2.5, 0.5), (3, 1)],
    "sync": [(0, 0.75), (0.75, 0.75), (1.5, 1), (2.5, 1.5)], "pickup": [(1, 1), (2, 0.5), (2.5, 0.5), (3, 1)],
    "sixteenths": [(i * 0.25, 0.25) for i in range(16)], "offbeat": [(0.5, 0.5), (1.5, 0.5), (2.5, 1), (3.5, 0.5)],
    "triplets": [(i / 3, 1 / 3) for i in range(12)],
    "shuffle": [(0, 2 / 3), (2 / 3, 1 / 3), (1, 2 / 3), (5 / 3, 1 / 3), (2, 1), (3, 1)],
    "bebop": [(0, 0.5), (0.5, 0.5), (1, 0.5), (1.5, 0.5), (2, 0.5), (2.5, 1.5)],
    "lazy": [(0.5, 1.5), (2, 0.5), (2.5, 1.5)],
}
CELLS_3 = {
    "waltz": [(0, 2), (2, 1)], "q3": [(0, 1), (1, 1), (2, 1)], "e6": [(i * 0.5, 0.5) for i in range(6)],
    "dotted3": [(0, 1.5), (1.5, 0.5), (2, 1)], "long3": [(0, 3)], "mixed3": [(0, 1), (1, 0.5), (1.5, 0.5), (2, 1)],
}
HIPHOP_LOOP_RHYTHMS = [
    [(0.0, 1.5), (1.5, 0.5), (2.5, 1.5)],
    [(0.0, 0.75), (0.75, 0.75), (2.0, 2.0)],
    [(0.0, 4.0)],
    [(0.0, 0.5), (1.75, 0.25), (2.0, 1.0), (3.5, 0.5)],
    [(0.5, 1.0), (2.5, 1.0)],
]


def melody(a: Arrangement, rng: np.random.Generator, ch: int, chords: list[Chord], tonic: int, scale: str,
           lo: int, hi: int, cells: list[str], vel: float, n_bars: int, rest_prob: float = 0.25,
           legato: float = 0.9, loop_bars: int = 0, bend_prob: float = 0.0, start_bar: int = 0) -> None:
    """A random-walk melody on scale tones, snapping to chord tones on strong beats, in phrases with rests.

    ``loop_bars`` > 0 composes that many bars once and repeats them (a riff / sample loop).
    """
    pitches = scale_pitches(tonic, scale, lo, hi)
    table = CELLS_3 if a.bpb == 3 else CELLS_4
    idx = len(pitches) // 2
    composed: list[tuple[float, float, int, float, bool]] = []
    bars_to_make = loop_bars if loop_bars else n_bars - start_bar
    for k in range(bars_to_make):
        bar = start_bar + k
        if chance(rng, rest_prob) and not (loop_bars and k == 0):
            continue
        cell = table[choose(rng, [c for c in cells if c in table])]
        for pos, dur in cell:
            if chance(rng, 0.08):
                continue
            step = int(rng.choice([-2, -1, -1, 0, 1, 1, 2]))
            if chance(rng, 0.12):
                step = int(rng.choice([-4, -3, 3, 4]))
            idx = int(np.clip(idx + step, 0, len(pitches) - 1))
            p = pitches[idx]
            if abs(pos - round(pos)) < 1e-6 and chance(rng, 0.65):
                c = chord_at(chords, bar * a.bpb + pos)
                cands = [q for q in range(lo, hi + 1) if q % 12 in c.pcs]
                if cands:
                    p = min(cands, key=lambda q: (abs(q - p), q))
                    idx = int(np.argmin([abs(x - p) for x in pitches]))
            accent = 1.0 if abs(pos - round(pos)) < 1e-6 else 0.85
            composed.append((k * a.bpb + pos, dur * legato, p, vel * accent, chance(rng, bend_prob)))
    reps = max(1, math.ceil((n_bars - start_bar) / loop_bars)) if loop_bars else 1
    for r in range(reps):
        for beat, dur, p, v, bend in composed:
            b = start_bar * a.bpb + r * loop_bars * a.bpb + beat
            if b >= n_bars * a.bpb:
                continue
            if bend:  # start a whole tone low and bend up (guitar / harmonica)
                a.note(ch, b, dur, p - 2, v)
                t0 = a.swung(b)
                for j in range(6):
                    a.bends.append((t0 + j * 0.04, ch, min(16383, 8192 + int(8191 * j / 5))))
                a.bends.append((t0 + dur + 0.01, ch, 8192))
            else:
                a.note(ch, b, dur, p, v)


def mix_setup(a: Arrangement, rng: np.random.Generator, ch: int, program: int, volume: tuple[int, int],
              reverb: tuple[int, int], pan_width: int = 30, chorus: tuple[int, int] = (0, 30)) -> None:
    a.setup(ch, program, rint(rng, *volume), 64 + rint(rng, -pan_width, pan_width), rint(rng, *reverb),
            rint(rng, *chorus))


# ---------------------------------------------------------------------------------------------------------------
# Genres
# ---------------------------------------------------------------------------------------------------------------

ROCK = {
    "tempo": [((100, 124), B), ((124, 130), TE), ((130, 140), B)],
    "kit": [(0, B), (16, B), (8, TE)],
    "groove": [("straight8", B), ("push", B), ("sixteenths", B), ("ride", B), ("halftime", TR), ("openhat", TE)],
    "progression": [("I V vi IV", B), ("I IV V IV", B), ("vi IV I V", B), ("I IV", TR), ("i bVI bVII i", B),
                    ("I bVII IV I", TE), ("i bIII bVII IV", B), ("I,IV V", B)],
    "guitar": [(29, B), (30, B)],
    "guitar_style": [("power8", B), ("whole", B), ("power_sync", B), ("power16", TR)],
    "bass": [(33, B), (34, B), (35, TR)],
    "bass_style": [("root8", B), ("root4", B), ("octave8", TR)],
    "extra": [(("clean_arp", 27), B), (("piano", 0), B), (("organ", 18), B), (("organ", 16), TR),
              (("steel_strum", 25), TE), (("none", 0), B)],
    "lead": [(29, B), (30, TR), (85, B), (53, TR), (65, TE), (0, B)],
}
ROCK_GROOVES = {
    "straight8": {KICK: "X.......X.......", SNARE: "....X.......X...", HH_C: "X.x.X.x.X.x.X.x."},
    "push": {KICK: "X.....x.X.x.....", SNARE: "....X.......X...", HH_C: "X.x.X.x.X.x.X.x."},
    "sixteenths": {KICK: "X......xX.......", SNARE: "....X.......X..o", HH_C: "XoxoXoxoXoxoXoxo"},
    "ride": {KICK: "X.......X.x.....", SNARE: "....X.......X...", RIDE: "X.x.X.x.X.x.X.x."},
    "halftime": {KICK: "X.....x...x.....", SNARE: "........X.......", HH_C: "x.x.x.x.x.x.x.x."},
    "openhat": {KICK: "X.......X..x....", SNARE: "....X.......X...", HH_O: "x...x...x...x...",
                HH_P: "..x...x...x...x."},
}


def compose_rock(rng: np.random.Generator, split: str) -> Arrangement:
    g = ROCK
    a = Arrangement(rng, pick_tempo(rng, g["tempo"], split), 4, jitter_ms=rng.uniform(4, 10), vel_jitter=10)
    tonic = rint(rng, 0, 11)
    n_bars = a.n_bars()
    prog = pick(rng, g["progression"], split)
    chords = chord_timeline(prog, tonic, 4, n_bars)
    minor = prog.startswith("i") and not prog.startswith("I")
    groove = pick(rng, g["groove"], split)
    drum_vel = rng.uniform(90, 115)
    mix_setup(a, rng, DRUMS, pick(rng, g["kit"], split), (95, 120), (15, 50), 0)
    bars = [ROCK_GROOVES[groove]]
    if chance(rng, 0.5):  # a two-bar variation with an extra kick
        var = dict(ROCK_GROOVES[groove])
        var[KICK] = var[KICK][:14] + "x."
        bars.append(var)
    play_groove(a, rng, bars, n_bars, drum_vel, rng.uniform(0.2, 0.7), ("snare", "toms"))
    # bass and rhythm guitar
    mix_setup(a, rng, BASS, pick(rng, g["bass"], split), (85, 110), (5, 25), 10)
    bass_line(a, rng, chords, pick(rng, g["bass_style"], split), 28, rng.uniform(85, 110))
    gtr_style = pick(rng, g["guitar_style"], split)
    for ch, pan in ((COMP, -1), (COMP2, 1)) if chance(rng, 0.5) else ((COMP, 0),):
        a.setup(ch, pick(rng, g["guitar"], split), rint(rng, 80, 105), 64 + pan * rint(rng, 20, 50), rint(rng, 15, 45))
        comp_part(a, rng, ch, chords, gtr_style, rng.uniform(48, 56), rng.uniform(80, 105), "power")
    kind, prog_num = pick(rng, g["extra"], split)
    if kind != "none":
        mix_setup(a, rng, PAD, prog_num, (60, 90), (20, 60))
        style, vk, center = {"clean_arp": ("arp8", "triad", 64), "piano": ("quarters", "close", 64),
                             "organ": ("sustain", "close", 62), "steel_strum": ("strum8", "open", 58)}[kind]
        comp_part(a, rng, PAD, chords, style, center, rng.uniform(65, 90), vk, strum_ms=12)
    if chance(rng, 0.6):
        mix_setup(a, rng, LEAD, pick(rng, g["lead"], split), (80, 105), (20, 50), 15)
        melody(a, rng, LEAD, chords, tonic, "penta_minor" if minor or chance(rng, 0.4) else "major", 60, 79,
               ["quarters", "dotted", "mixed", "sync", "long"], rng.uniform(85, 110), n_bars, 0.3, bend_prob=0.1)
    a.desc.update(groove=groove, progression=prog)
    return a


METAL = {
    "tempo": [((140, 164), B), ((164, 172), TE), ((172, 190), B)],
    "kit": [(0, B), (16, B), (8, B)],
    "groove": [("double16", B), ("gallop", B), ("thrash", B), ("halftime", B), ("rockbeat", TR), ("blast", TE)],
    "cymbal": [(HH_C, B), (RIDE, B), (CHINA, B), (CRASH, TR)],
    "progression": [("i i bVI bVII", B), ("i bVII bVI bVII", B), ("i iv bVI V", B), ("i bVI bIII bVII", TR),
                    ("i bII i bII", TE), ("i i bV iv", B)],
    "guitar": [(30, B), (29, TE)],
    "bass": [(34, B), (33, B), (38, TR)],
    "layer": [(("none", 0), B), (("choir", 52), B), (("strings", 48), B), (("synth", 81), TR), (("organ", 19), TE)],
    "lead": [(30, B), (84, TE), (81, TR)],
}
METAL_GROOVES = {
    "double16": {KICK: "xxxxxxxxxxxxxxxx", SNARE: "....X.......X...", CYM: "x...x...x...x..."},
    "gallop": {KICK: "X.xxX.xxX.xxX.xx", SNARE: "....X.......X...", CYM: "x...x...x...x..."},
    "thrash": {KICK: "X...x...X...x...", SNARE: "..X...X...X...X.", CYM: "x.x.x.x.x.x.x.x."},
    "halftime": {KICK: "XX.xx.....xx.x..", SNARE: "........X.......", CYM: "x...x...x...x..."},
    "rockbeat": {KICK: "X.x.....X.x.....", SNARE: "....X.......X...", CYM: "x.x.x.x.x.x.x.x."},
    "blast": {KICK: "x.x.x.x.x.x.x.x.", SNARE: ".x.x.x.x.x.x.x.x", CYM: "x.x.x.x.x.x.x.x."},
}
METAL_RIFFS = {  # rhythm-guitar chug patterns matched to the grooves (16 steps)
    "double16": "xxxxxxxxxxxxxxxx", "gallop": "x.xxx.xxx.xxx.xx", "thrash": "x.x.x.x.x.x.x.x.",
    "halftime": "xx.xx.....xx.x..", "rockbeat": "x.x.x.x.x.x.x.x.", "blast": "xxxxxxxxxxxxxxxx",
}


def compose_metal(rng: np.random.Generator, split: str) -> Arrangement:
    g = METAL
    a = Arrangement(rng, pick_tempo(rng, g["tempo"], split), 4, jitter_ms=rng.uniform(3, 7), vel_jitter=8)
    tonic = choose(rng, [4, 2, 1, 0, 11, 9, 6, 7])  # E, D, C#, C, B, A, F#, G: low-tuned keys
    n_bars = a.n_bars()
    prog = pick(rng, g["progression"], split)
    if chance(rng, 0.4):  # two bars per chord
        prog = " ".join(t for t in prog.split() for _ in range(2))
    chords = chord_timeline(prog, tonic, 4, n_bars)
    groove = pick(rng, g["groove"], split)
    mix_setup(a, rng, DRUMS, pick(rng, g["kit"], split), (100, 122), (10, 40), 0)
    play_groove(a, rng, [METAL_GROOVES[groove]], n_bars, rng.uniform(100, 122), rng.uniform(0.2, 0.6),
                ("toms", "snare"), crash=choose(rng, [CRASH, CHINA, CRASH2]), cymbal=pick(rng, g["cymbal"], split))
    riff = METAL_RIFFS[groove]
    # two rhythm guitars panned apart, chugging power chords / palm-muted roots on the riff pattern
    prog_num = pick(rng, g["guitar"], split)
    lo = choose(rng, [28, 31, 33])
    for ch, pan in ((COMP, -1), (COMP2, 1)):
        a.setup(ch, prog_num, rint(rng, 85, 110), 64 + pan * rint(rng, 30, 60), rint(rng, 10, 35))
        for c in chords:
            r = low_pitch(c.root, lo + 12)
            steps = len(riff)
            for i, s in enumerate(riff * int((c.end - c.start) // 4 or 1)):
                pos = c.start + i * 4 / steps
                if s == "." or pos >= c.end - 1e-6:
                    continue
                accent = i % steps in (0, 8) or chance(rng, 0.1)
                a.chord(ch, pos, 0.4 if accent else 0.14, [r, r + 7, r + 12] if accent else [r, r + 7],
                        rng.uniform(95, 115) if accent else rng.uniform(70, 90))
    mix_setup(a, rng, BASS, pick(rng, g["bass"], split), (85, 110), (5, 20), 5)
    bass_line(a, rng, chords, "pattern", lo, rng.uniform(90, 110), pattern=riff.replace("x.xx", "x.x."))
    kind, layer = pick(rng, g["layer"], split)
    if kind != "none":
        mix_setup(a, rng, PAD, layer, (55, 85), (40, 80))
        comp_part(a, rng, PAD, chords, "sustain", rng.uniform(58, 66), rng.uniform(60, 85), "triad")
    if chance(rng, 0.5):
        mix_setup(a, rng, LEAD, pick(rng, g["lead"], split), (85, 105), (20, 50), 15)
        melody(a, rng, LEAD, chords, tonic, choose(rng, ["harmonic_minor", "minor", "penta_minor"]), 62, 86,
               ["sixteenths", "eighths", "mixed", "long"], rng.uniform(90, 110), n_bars, 0.3, 0.95, bend_prob=0.1)
    a.desc.update(groove=groove, progression=prog)
    return a


JAZZ = {
    "tempo": [((100, 136), B), ((136, 148), TE), ((148, 180), B)],
    "kit": [(32, B), (40, B), (0, TR), (8, TE)],
    "groove": [("swing", B), ("brush", B), ("two_feel", TE), ("bossa", TR)],
    "progression": [("ii:m7 V:7 I:maj7 I:maj7", B), ("I:maj7 vi:m7 ii:m7 V:7", B), ("iii:m7 VI:7 ii:m7 V:7", TE),
                    ("ii:m7b5 V:7 i:m6 i:m6", B), ("I:maj7,vi:m7 ii:m7,V:7", B), ("I:7 IV:7 I:7 v:m7,I:7", TR),
                    ("ii:m7 V:7 iii:m7 VI:7", B), ("I:6 #i:dim7 ii:m7 V:7", TR)],
    "bass": [(32, B), (33, TR)],
    "comp": [(0, B), (4, B), (26, B), (1, TR)],
    "voicing": [("rootless", B), ("shell", TR), ("close", B), ("drop2", TE)],
    "lead": [(66, B), (65, B), (56, B), (11, B), (73, TR), (59, TE), (57, TE), (0, TR)],
}
JAZZ_GROOVES = {
    "swing": {RIDE: "x.xxx.xx", HH_P: "..x...x.", KICK: "g.g.g.g."},
    "brush": {SNARE: "ooxoooxo", HH_P: "..x...x.", RIDE: "g.gg..g."},
    "two_feel": {RIDE: "x.x.x.x.", HH_P: "..x...x.", KICK: "g...g..."},
    "bossa": {SIDESTICK: "x..x..x...x..x..", KICK: "x..ox..ox..ox..o", HH_C: "x.o.x.o.x.o.x.o."},
}


def compose_jazz(rng: np.random.Generator, split: str) -> Arrangement:
    g = JAZZ
    groove = pick(rng, g["groove"], split)
    tempo = pick_tempo(rng, g["tempo"], split)
    swing = 0.5 if groove == "bossa" else rng.uniform(0.58, 0.7)
    a = Arrangement(rng, tempo, 4, jitter_ms=rng.uniform(6, 14), vel_jitter=12, swing=swing)
    tonic = rint(rng, 0, 11)
    n_bars = a.n_bars()
    prog = pick(rng, g["progression"], split)
    chords = chord_timeline(prog, tonic, 4, n_bars)
    mix_setup(a, rng, DRUMS, pick(rng, g["kit"], split), (80, 105), (25, 60), 0)
    drum_vel = rng.uniform(60, 85)
    play_groove(a, rng, [JAZZ_GROOVES[groove]], n_bars, drum_vel, rng.uniform(0.1, 0.4), ("triplet", "sparse"),
                crash=RIDE_BELL if chance(rng, 0.3) else None, cymbal=RIDE)
    if groove in ("swing", "two_feel"):  # snare comping: random soft off-beat hits
        for bar in range(n_bars):
            for _ in range(rint(rng, 0, 3)):
                a.drum(bar * 4 + choose(rng, [0.5, 1.5, 2.5, 3.5, 1.0, 3.0]), SNARE, drum_vel * rng.uniform(0.35, 0.7))
    mix_setup(a, rng, BASS, pick(rng, g["bass"], split), (90, 115), (20, 45), 15)
    bstyle = "halves" if groove == "two_feel" else ("pattern" if groove == "bossa" else "walking")
    bass_line(a, rng, chords, bstyle, 28, rng.uniform(80, 105), pattern="x..x....x..x....")
    comp_prog = pick(rng, g["comp"], split)
    mix_setup(a, rng, COMP, comp_prog, (65, 95), (25, 60), 25)
    style = "fg" if comp_prog == 26 and chance(rng, 0.5) else choose(rng, ["charleston", "jazzcomp", "jazzcomp"])
    vk = pick(rng, g["voicing"], split)
    comp_part(a, rng, COMP, chords, style, rng.uniform(56, 64), rng.uniform(55, 80), "shell" if style == "fg" else vk)
    if chance(rng, 0.75):
        mix_setup(a, rng, LEAD, pick(rng, g["lead"], split), (80, 105), (25, 60), 25)
        melody(a, rng, LEAD, chords, tonic, choose(rng, ["major", "dorian", "mixolydian"]), 58, 82,
               ["bebop", "eighths", "mixed", "lazy", "dotted", "triplets"], rng.uniform(70, 95), n_bars, 0.3, 0.85)
    a.desc.update(groove=groove, progression=prog)
    return a


CLASSICAL = {
    "tempo": [((52, 76), B), ((76, 88), TE), ((88, 150), B)],
    "ensemble": [("strings", B), ("quartet", B), ("piano", B), ("winds", B), ("baroque", TR), ("orchestra", TE)],
    "texture": [("chorale", B), ("alberti", B), ("arpeggio", B), ("running", B), ("pizzicato", TE)],
    "progression": [("I IV V I", B), ("I vi ii V:7", B), ("I V vi iii IV I IV V", B), ("i iv V:7 i", B),
                    ("i VI iv V", B), ("I IV vii:dim iii vi ii V I", TE), ("I,IV V:7,I ii:m7,V I", B),
                    ("i,iv i:min,V:7 VI,iv V", TR)],
}
ENSEMBLES = {  # role -> GM program (melody, accompaniment, bass, inner voice)
    "strings": {"melody": [40, 48], "accomp": [48, 49], "bass": [42, 43], "inner": [49, 41]},
    "quartet": {"melody": [40], "accomp": [40, 41], "bass": [42], "inner": [41]},
    "piano": {"melody": [0], "accomp": [0], "bass": [0], "inner": [0]},
    "winds": {"melody": [73, 68, 71], "accomp": [71, 69], "bass": [70], "inner": [60, 68]},
    "baroque": {"melody": [40, 73, 68], "accomp": [6], "bass": [42, 70], "inner": [6]},
    "orchestra": {"melody": [60, 73], "accomp": [48], "bass": [42, 43], "inner": [49]},
}


def compose_classical(rng: np.random.Generator, split: str) -> Arrangement:
    g = CLASSICAL
    bpb = choose(rng, [3, 4, 4])
    tempo = pick_tempo(rng, g["tempo"], split)
    a = Arrangement(rng, tempo, bpb, jitter_ms=rng.uniform(8, 20), vel_jitter=10)
    tonic = rint(rng, 0, 11)
    prog = pick(rng, g["progression"], split)
    if bpb == 3:
        prog = " ".join(t.split(",")[0] for t in prog.split())  # one chord per 3/4 bar
    n_bars = a.n_bars(slack=1.3)
    chords = chord_timeline(prog, tonic, bpb, n_bars)
    minor = prog.startswith("i") and not prog.startswith("I")
    # rubato: a slow tempo curve plus a ritardando at every phrase end
    depth, period, phase = rng.uniform(0.03, 0.12), rng.uniform(6, 16), rng.uniform(0, 2 * np.pi)
    phrase = bpb * choose(rng, [2, 4])
    a.tempo_map = []
    for beat in range(n_bars * bpb):
        bpm = tempo * (1 + depth * math.sin(2 * math.pi * beat / period + phase))
        if beat % phrase >= phrase - 2:
            bpm *= 1 - rng.uniform(0.05, 0.18)
        a.tempo_map.append((float(beat), bpm))
    ens_name = pick(rng, g["ensemble"], split)
    ens = ENSEMBLES[ens_name]
    texture = pick(rng, g["texture"], split)
    if ens_name == "piano" and texture == "pizzicato":
        texture = "chorale"
    rev = (40, 90)
    vel = rng.uniform(55, 90)
    mix_setup(a, rng, LEAD, choose(rng, ens["melody"]), (85, 110), rev, 20, (0, 20))
    mix_setup(a, rng, COMP, 45 if texture == "pizzicato" else choose(rng, ens["accomp"]), (70, 100), rev, 25, (0, 20))
    mix_setup(a, rng, BASS, choose(rng, ens["bass"]), (75, 105), rev, 20, (0, 20))
    if texture == "chorale":
        comp_part(a, rng, COMP, chords, "chorale", rng.uniform(58, 66), vel, "close")
        bass_line(a, rng, chords, "halves" if bpb == 4 else "root4", 36, vel)
    elif texture == "alberti":
        comp_part(a, rng, COMP, chords, "alberti", rng.uniform(52, 58), vel * 0.8, "triad")
    elif texture == "arpeggio":
        comp_part(a, rng, COMP, chords, choose(rng, ["arp8", "triplet_arp"]), rng.uniform(54, 62), vel * 0.8, "open",
                  order=choose(rng, ["up", "updown"]))
        bass_line(a, rng, chords, "sustain", 36, vel * 0.9)
    elif texture == "running":
        bass_line(a, rng, chords, "walking", 36, vel * 0.9)
        comp_part(a, rng, COMP, chords, "quarters", rng.uniform(58, 64), vel * 0.7, "close")
    else:  # pizzicato accompaniment
        comp_part(a, rng, COMP, chords, "pizz", rng.uniform(55, 62), vel, "triad")
    if ens_name in ("strings", "quartet", "winds", "orchestra") and chance(rng, 0.6):
        mix_setup(a, rng, PAD, choose(rng, ens["inner"]), (55, 85), rev, 30, (0, 20))
        comp_part(a, rng, PAD, chords, "sustain", rng.uniform(60, 67), vel * 0.7, "triad")
    if ens_name == "orchestra":  # timpani on tonic and dominant
        mix_setup(a, rng, EXTRA, 47, (70, 100), rev, 10)
        for bar in range(n_bars):
            if chance(rng, 0.5):
                a.note(EXTRA, bar * bpb, 0.9, low_pitch((tonic + choose(rng, [0, 7])) % 12, 41), vel)
    cells = ["waltz", "q3", "e6", "dotted3", "long3", "mixed3"] if bpb == 3 else [
        "quarters", "long", "dotted", "eighths", "mixed", "pickup", "sixteenths"]
    melody(a, rng, LEAD, chords, tonic, "harmonic_minor" if minor else "major", 62, 88, cells, vel * 1.1, n_bars,
           0.15, rng.uniform(0.85, 1.0))
    # expression swells per phrase on every channel
    for ch in sorted(a.programs):
        lo, hi = rint(rng, 60, 95), rint(rng, 100, 127)
        for beat in np.arange(0, n_bars * bpb, 0.5):
            x = (beat % phrase) / phrase
            a.cc(ch, float(beat), 11, lo + (hi - lo) * math.sin(math.pi * x))
    a.desc.update(ensemble=ens_name, texture=texture, progression=prog)
    return a


ELECTRONIC = {
    "tempo": [((118, 124), B), ((124, 127), TE), ((127, 135), B)],
    "kit": [(24, B), (25, B), (16, TE), (0, TR)],
    "groove": [("four", B), ("four16", B), ("minimal", B), ("breaks", TR), ("rolling", TE)],
    "progression": [("i", B), ("i bVII", B), ("i bVI bIII bVII", B), ("i iv", B), ("vi IV I V", TR),
                    ("i i bVI bVII", B), ("i:m7 iv:m7", TE)],
    "bass": [(38, B), (39, B), (81, TR), (87, TE)],
    "bass_style": [("offbeat8", B), ("rolling16", B), ("acid", B), ("octave8", TR)],
    "lead": [(81, B), (80, B), (90, B), (83, TR), (84, TE)],
    "lead_style": [("arp16", B), ("stab", B), ("riff", B)],
    "arp_order": [("up", B), ("down", TR), ("updown", TE)],
    "pad": [(89, B), (95, B), (50, B), (91, TR), (90, TE), (94, TE)],
}
ELECTRONIC_GROOVES = {
    "four": {KICK: "X...X...X...X...", HH_O: "..x...x...x...x.", CLAP: "....x.......x...", HH_C: "g.g.g.g.g.g.g.g."},
    "four16": {KICK: "X...X...X...X...", HH_C: "xoxoxoxoxoxoxoxo", ESNARE: "....x.......x..."},
    "minimal": {KICK: "X...X...X...X...", HH_C: "..x...x...x...x.", SIDESTICK: "......x.......x.",
                SHAKER: "gogogogogogogogo"},
    "breaks": {KICK: "X.........X.x...", ESNARE: "....X.......X...", HH_C: "x.x.x.x.x.x.x.x."},
    "rolling": {KICK: "X...X...X...X.x.", HH_O: "..x...x...x...x.", CLAP: "....x.......x...", RIDE: "x...x...x...x...",
                TAMB: "..o...o...o...o."},
}


def compose_electronic(rng: np.random.Generator, split: str) -> Arrangement:
    g = ELECTRONIC
    a = Arrangement(rng, pick_tempo(rng, g["tempo"], split), 4, jitter_ms=rng.uniform(0, 2), vel_jitter=4)
    tonic = rint(rng, 0, 11)
    n_bars = a.n_bars()
    prog = pick(rng, g["progression"], split)
    if chance(rng, 0.5):
        prog = " ".join(t for t in prog.split() for _ in range(2))
    chords = chord_timeline(prog, tonic, 4, n_bars)
    groove = pick(rng, g["groove"], split)
    mix_setup(a, rng, DRUMS, pick(rng, g["kit"], split), (105, 125), (5, 40), 0)
    play_groove(a, rng, [ELECTRONIC_GROOVES[groove]], n_bars, rng.uniform(100, 120), rng.uniform(0.1, 0.4),
                ("roll", "snare"), crash=CRASH if chance(rng, 0.5) else None)
    mix_setup(a, rng, BASS, pick(rng, g["bass"], split), (90, 115), (0, 20), 5)
    bass_line(a, rng, chords, pick(rng, g["bass_style"], split), choose(rng, [28, 33, 36]), rng.uniform(90, 115))
    lead_style = pick(rng, g["lead_style"], split)
    mix_setup(a, rng, LEAD, pick(rng, g["lead"], split), (70, 100), (20, 70), 30, (0, 60))
    if lead_style == "riff":
        melody(a, rng, LEAD, chords, tonic, choose(rng, ["minor", "penta_minor", "phrygian"]), 60, 84,
               ["sixteenths", "eighths", "offbeat", "sync"], rng.uniform(80, 105), n_bars, 0.0, 0.6,
               loop_bars=choose(rng, [1, 2]))
    else:
        comp_part(a, rng, LEAD, chords, lead_style, rng.uniform(62, 72), rng.uniform(75, 100), "triad",
                  order=pick(rng, g["arp_order"], split))
    if chance(rng, 0.7):
        mix_setup(a, rng, PAD, pick(rng, g["pad"], split), (60, 95), (40, 90), 20, (20, 80))
        comp_part(a, rng, PAD, chords, "sustain", rng.uniform(58, 66), rng.uniform(60, 85), "close")
        if chance(rng, 0.6):  # side-chain-like pumping: duck the pad on every kick
            for beat in range(n_bars * 4):
                for frac, val in ((0.0, 40), (0.25, 90), (0.5, 120), (0.9, 127)):
                    a.cc(PAD, beat + frac, 11, val)
    a.desc.update(groove=groove, progression=prog)
    return a


REGGAE = {
    "tempo": [((66, 80), B), ((80, 84), TE), ((84, 92), B)],
    "kit": [(0, B), (8, B), (32, B), (16, TR)],
    "groove": [("onedrop", B), ("onedrop_tri", B), ("rockers", B), ("steppers", TE)],
    "progression": [("I IV", B), ("I V", B), ("i iv", B), ("I vi IV V", B), ("i bVII", TR), ("ii I", TE),
                    ("I IV V IV", B), ("i bVI bVII i", TR)],
    "bass": [(33, B), (34, B), (38, B), (32, TR)],
    "skank": [(27, B), (28, B), (24, TR), (26, TE)],
    "organ": [(16, B), (18, TR), (17, TE), (4, B)],
    "lead": [(22, B), (56, B), (57, B), (65, B), (53, TR), (21, TE), (11, TR)],
}
REGGAE_GROOVES = {
    "onedrop": {KICK: "........X.......", SIDESTICK: "........x.......", HH_C: "x.x.x.x.x.x.x.x."},
    "onedrop_tri": {KICK: "......X.....", SIDESTICK: "......x.....", HH_C: "x.xx.xx.xx.x"},
    "rockers": {KICK: "X.......X.......", SIDESTICK: "....x.......x...", HH_C: "..x...x...x...x."},
    "steppers": {KICK: "X...X...X...X...", SNARE: "........x.......", HH_C: "..x...x...x...x."},
}


def compose_reggae(rng: np.random.Generator, split: str) -> Arrangement:
    g = REGGAE
    a = Arrangement(rng, pick_tempo(rng, g["tempo"], split), 4, jitter_ms=rng.uniform(5, 12), vel_jitter=10,
                    swing=rng.uniform(0.5, 0.62), swing_unit=choose(rng, [0.5, 0.25]))
    tonic = rint(rng, 0, 11)
    n_bars = a.n_bars()
    prog = pick(rng, g["progression"], split)
    if chance(rng, 0.4):
        prog = " ".join(t for t in prog.split() for _ in range(2))
    chords = chord_timeline(prog, tonic, 4, n_bars)
    minor = prog.startswith("i") and not prog.startswith("I")
    groove = pick(rng, g["groove"], split)
    mix_setup(a, rng, DRUMS, pick(rng, g["kit"], split), (90, 115), (40, 90), 0)
    play_groove(a, rng, [REGGAE_GROOVES[groove]], n_bars, rng.uniform(80, 105), rng.uniform(0.2, 0.6),
                ("toms", "triplet"), crash=CRASH if chance(rng, 0.3) else None)
    mix_setup(a, rng, BASS, pick(rng, g["bass"], split), (100, 125), (10, 40), 5)
    bass_line(a, rng, chords, "reggae", 28, rng.uniform(90, 115))
    mix_setup(a, rng, COMP, pick(rng, g["skank"], split), (70, 95), (40, 90), 40)
    comp_part(a, rng, COMP, chords, "skank", rng.uniform(60, 68), rng.uniform(70, 95), "triad", strum_ms=10)
    if chance(rng, 0.7):
        mix_setup(a, rng, COMP2, pick(rng, g["organ"], split), (60, 90), (40, 90), 40)
        comp_part(a, rng, COMP2, chords, "bubble", rng.uniform(56, 64), rng.uniform(60, 85), "close")
    if chance(rng, 0.6):
        mix_setup(a, rng, LEAD, pick(rng, g["lead"], split), (80, 105), (40, 90), 20)
        melody(a, rng, LEAD, chords, tonic, "minor" if minor else choose(rng, ["major", "penta_major"]), 60, 81,
               ["quarters", "dotted", "offbeat", "lazy", "sync"], rng.uniform(75, 100), n_bars, 0.35)
    a.desc.update(groove=groove, progression=prog)
    return a


HIPHOP = {
    "tempo": [((80, 88), B), ((88, 91), TE), ((91, 98), B)],
    "kit": [(0, B), (25, B), (8, B), (24, TR), (16, TE)],
    "groove": [("boombap", B), ("boombap2", B), ("sparse", B), ("bounce", TR), ("halftime", TE)],
    "progression": [("i:m7 iv:m7", B), ("i:m7 bVI:maj7", B), ("ii:m7 V:7", B), ("I:maj7 IV:maj7", B),
                    ("i:m9", B), ("vi:m7 ii:m7", TR), ("i bVII bVI V", TE), ("i:m7 i:m7 bVII bVII", B)],
    "bass": [(38, B), (39, B), (33, B), (32, TE), (35, TR)],
    "bass_style": [("kick", B), ("sustain", B)],
    "sample": [(4, B), (5, B), (0, B), (48, B), (73, TR), (26, B), (61, TR), (11, TE)],
    "lead": [(73, B), (11, TR), (85, B), (54, B), (66, B), (56, TE)],
}
HIPHOP_GROOVES = {
    "boombap": {KICK: "X.........X.....", SNARE: "....X.......X...", HH_C: "x.x.x.x.x.x.x.x."},
    "boombap2": {KICK: "X..x......Xx....", SNARE: "....X.......X...", HH_C: "x.xox.xox.xox.xo"},
    "sparse": {KICK: "X......x..x.....", SNARE: "....X.......X...", HH_C: "x...x...x...x...", HH_O: "..............x."},
    "bounce": {KICK: "X.x.......x..x..", CLAP: "....X.......X...", HH_C: "xoxoxoxoxoxoxoxo"},
    "halftime": {KICK: "X.....x..x......", SNARE: "........X.......", HH_C: "xoxoxoxoxoxoxoxo"},
}


def compose_hiphop(rng: np.random.Generator, split: str) -> Arrangement:
    g = HIPHOP
    a = Arrangement(rng, pick_tempo(rng, g["tempo"], split), 4, jitter_ms=rng.uniform(3, 10), vel_jitter=8,
                    swing=rng.uniform(0.52, 0.64), swing_unit=0.25)
    tonic = rint(rng, 0, 11)
    n_bars = a.n_bars()
    prog = pick(rng, g["progression"], split)
    chords = chord_timeline(prog, tonic, 4, n_bars)
    minor = prog.startswith("i") and not prog.startswith("I")
    groove = pick(rng, g["groove"], split)
    pattern = HIPHOP_GROOVES[groove]
    bars = [pattern]
    if chance(rng, 0.5):
        var = dict(pattern)
        var[KICK] = pattern[KICK][:7] + "x" + pattern[KICK][8:14] + "x."
        bars.append(var)
    mix_setup(a, rng, DRUMS, pick(rng, g["kit"], split), (110, 127), (5, 35), 0)
    play_groove(a, rng, bars, n_bars, rng.uniform(105, 125), rng.uniform(0.0, 0.3), ("snare", "sparse"),
                crash=CRASH if chance(rng, 0.3) else None)
    mix_setup(a, rng, BASS, pick(rng, g["bass"], split), (95, 120), (0, 25), 5)
    bass_line(a, rng, chords, pick(rng, g["bass_style"], split), choose(rng, [28, 31, 33]), rng.uniform(90, 115),
              pattern=pattern[KICK])
    mix_setup(a, rng, COMP, pick(rng, g["sample"], split), (70, 100), (20, 70), 30)
    comp_part(a, rng, COMP, chords, "loop", rng.uniform(56, 66), rng.uniform(60, 90),
              choose(rng, ["close", "rootless"]))
    if chance(rng, 0.5):  # a melodic sample loop on top
        mix_setup(a, rng, LEAD, pick(rng, g["lead"], split), (65, 95), (20, 70), 30)
        melody(a, rng, LEAD, chords, tonic, "dorian" if minor else "major", 62, 84,
               ["lazy", "dotted", "quarters", "offbeat", "mixed"], rng.uniform(65, 90), n_bars, 0.0, 0.9,
               loop_bars=choose(rng, [1, 2]))
    a.desc.update(groove=groove, progression=prog)
    return a


BLUES = {
    "tempo": [((56, 72), B), ((72, 96), B), ((96, 106), TE), ((106, 132), B)],
    "kit": [(0, B), (8, B), (32, B), (40, TE)],
    "groove": [("shuffle", B), ("slow", B), ("train", B), ("straight", TR), ("ride_shuffle", TE)],
    "progression": [("I:7 I:7 I:7 I:7 IV:7 IV:7 I:7 I:7 V:7 IV:7 I:7 V:7", B),
                    ("I:7 IV:7 I:7 I:7 IV:7 IV:7 I:7 I:7 V:7 IV:7 I:7 V:7", B),
                    ("I:7 I:7 I:7 I:7 IV:7 IV:7 I:7 I:7 V:7 V:7 I:7 I:7", TR),
                    ("i:m7 i:m7 i:m7 i:m7 iv:m7 iv:m7 i:m7 i:m7 bVI:7 V:7 i:m7 V:7", TE)],
    "rhythm": [(27, B), (29, B), (25, B), (26, TR), (0, B), (3, B), (16, B), (17, TR)],
    "bass": [(33, B), (32, B), (34, TR), (35, TE)],
    "lead": [(22, B), (29, B), (66, B), (27, TR), (0, TR), (65, TE)],
}
BLUES_GROOVES = {
    "shuffle": {KICK: "x.....x.....", SNARE: "...X.....X..", HH_C: "x.xx.xx.xx.x"},
    "slow": {KICK: "x.....x.....", SNARE: "...X.....X..", HH_C: "xooxooxooxoo"},
    "train": {KICK: "x.....x.....", SNARE: "gogXoggogXog", HH_P: "...x.....x.."},
    "straight": {KICK: "X.......X.......", SNARE: "....X.......X...", HH_C: "x.x.x.x.x.x.x.x."},
    "ride_shuffle": {RIDE: "x.xx.xx.xx.x", HH_P: "...x.....x..", KICK: "x.....x.....", SNARE: "...x.....x.."},
}


def compose_blues(rng: np.random.Generator, split: str) -> Arrangement:
    g = BLUES
    groove = pick(rng, g["groove"], split)
    tempo = pick_tempo(rng, g["tempo"], split)
    if groove == "slow" and tempo > 90:
        tempo /= 1.6
    swing = 0.5 if groove == "straight" else rng.uniform(0.62, 0.68)
    a = Arrangement(rng, tempo, 4, jitter_ms=rng.uniform(5, 12), vel_jitter=10, swing=swing)
    tonic = choose(rng, [4, 9, 7, 2, 0, 5, 10])  # E A G D C F Bb
    n_bars = a.n_bars()
    prog = pick(rng, g["progression"], split)
    chords = chord_timeline(prog, tonic, 4, n_bars, start_bar=choose(rng, [0, 4, 8]))
    mix_setup(a, rng, DRUMS, pick(rng, g["kit"], split), (90, 115), (20, 60), 0)
    play_groove(a, rng, [BLUES_GROOVES[groove]], n_bars, rng.uniform(80, 105), rng.uniform(0.2, 0.5),
                ("triplet", "snare"))
    mix_setup(a, rng, BASS, pick(rng, g["bass"], split), (90, 115), (10, 40), 10)
    bass_line(a, rng, chords, choose(rng, ["boogie", "walking", "root8"]), 28, rng.uniform(85, 110))
    rhythm = pick(rng, g["rhythm"], split)
    mix_setup(a, rng, COMP, rhythm, (70, 100), (20, 60), 35)
    if rhythm in (0, 3):
        style = "triplets" if groove == "slow" else choose(rng, ["quarters", "charleston", "repeated8"])
    elif rhythm in (16, 17):
        style = "sustain"
    else:
        style = choose(rng, ["boogie_gtr", "boogie_gtr", "strum8"])
    comp_part(a, rng, COMP, chords, style, rng.uniform(52, 62), rng.uniform(70, 95),
              "power" if style == "boogie_gtr" else "close", strum_ms=12)
    if chance(rng, 0.75):
        lead = pick(rng, g["lead"], split)
        mix_setup(a, rng, LEAD, lead, (85, 110), (20, 60), 20)
        melody(a, rng, LEAD, chords, tonic, choose(rng, ["blues", "penta_minor"]), 60, 84,
               ["shuffle", "triplets", "lazy", "dotted", "quarters", "long"], rng.uniform(80, 105), n_bars, 0.3,
               bend_prob=0.25 if lead in (22, 29, 27) else 0.0)
    a.desc.update(groove=groove, progression=prog)
    return a


COMPOSERS = {
    "blues": compose_blues, "classical": compose_classical, "electronic": compose_electronic,
    "hiphop": compose_hiphop, "jazz": compose_jazz, "metal": compose_metal, "reggae": compose_reggae,
    "rock": compose_rock,
}
SPECS = {"blues": BLUES, "classical": CLASSICAL, "electronic": ELECTRONIC, "hiphop": HIPHOP, "jazz": JAZZ,
         "metal": METAL, "reggae": REGGAE, "rock": ROCK}
# Mastering per genre: (RMS target range in dBFS, soft-limiter drive range; 0 = no limiter)
MASTERING = {
    "blues": ((-20, -16), (0.0, 1.5)), "classical": ((-25, -19), (0.0, 0.0)), "electronic": ((-16, -13), (1.0, 3.0)),
    "hiphop": ((-17, -13), (1.0, 2.5)), "jazz": ((-22, -17), (0.0, 0.0)), "metal": ((-16, -13), (1.5, 3.0)),
    "reggae": ((-19, -15), (0.0, 1.5)), "rock": ((-17, -14), (1.0, 2.5)),
}


# ---------------------------------------------------------------------------------------------------------------
# Rendering and post-processing
# ---------------------------------------------------------------------------------------------------------------


def render(mid: bytes, soundfont: Path, tmpdir: Path, reverb: tuple[float, float, float]) -> np.ndarray:
    """Render a MIDI file with fluidsynth; returns mono float64 samples at ``SR``."""
    mid_path, wav_path = tmpdir / "song.mid", tmpdir / "song.wav"
    mid_path.write_bytes(mid)
    room, damp, level = reverb
    cmd = [FLUIDSYNTH, "-ni", "-q", "-g", "0.5", "-r", str(SR), "-F", str(wav_path),
           "-o", "audio.file.type=wav", "-o", "audio.file.format=float", "-o", "synth.cpu-cores=1",
           "-o", f"synth.reverb.room-size={room:.3f}", "-o", f"synth.reverb.damp={damp:.3f}",
           "-o", f"synth.reverb.level={level:.3f}", "-o", "synth.dynamic-sample-loading=1",
           str(soundfont), str(mid_path)]
    try:
        subprocess.run(cmd, check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"fluidsynth failed ({' '.join(cmd)}):\n{exc.stderr.decode(errors='replace')}") from None
    audio, sr = sf.read(str(wav_path), dtype="float64", always_2d=True)
    if sr != SR:
        raise RuntimeError(f"fluidsynth wrote {sr} Hz audio, expected {SR} Hz")
    return audio.mean(axis=1)


def shelf(kind: str, f0: float, gain_db: float) -> tuple[np.ndarray, np.ndarray]:
    """RBJ audio-EQ-cookbook low/high shelf biquad (slope 1)."""
    amp = 10.0 ** (gain_db / 40.0)
    w0 = 2 * math.pi * f0 / SR
    cw, alpha = math.cos(w0), math.sin(w0) / 2 * math.sqrt(2.0)
    sa = 2 * math.sqrt(amp) * alpha
    sign = 1 if kind == "low" else -1
    b = [amp * ((amp + 1) - sign * (amp - 1) * cw + sa), sign * 2 * amp * ((amp - 1) - sign * (amp + 1) * cw),
         amp * ((amp + 1) - sign * (amp - 1) * cw - sa)]
    a = [(amp + 1) + sign * (amp - 1) * cw + sa, -sign * 2 * ((amp - 1) + sign * (amp + 1) * cw),
         (amp + 1) + sign * (amp - 1) * cw - sa]
    return np.array(b) / a[0], np.array(a) / a[0]


def quantise(audio: np.ndarray) -> np.ndarray:
    """Round samples to ``SAMPLE_BITS`` bits of precision, returned as int16.

    FLAC stores the unused low bits of every block for free ("wasted bits"), so 11-bit samples in a 16-bit
    container take far less space than full 16-bit ones; that keeps the demo corpus under its 6 MB budget.  The
    quantisation noise (about 60 dB below the peak level) is far below what an MFCC front-end resolves.
    """
    step = 1 << (16 - SAMPLE_BITS)
    q = np.round(audio.astype(np.float64) * 32768.0 / step) * step
    return np.clip(q, -32768, 32767 - (32767 % step)).astype(np.int16)


def master(audio: np.ndarray, genre: str, rng: np.random.Generator, offset_s: float, key: str) -> np.ndarray:
    """EQ, cut the clip window, soft-limit, normalise, fade, add the noise floor and quantise."""
    for kind, f0, lo, hi in (("low", 200.0, -3.0, 3.0), ("high", 4000.0, -3.0, 3.0)):
        b, a = shelf(kind, f0, rng.uniform(lo, hi))
        audio = lfilter(b, a, audio)
    n = int(round(CLIP_S * SR))
    start = int(round(offset_s * SR))
    clip = np.zeros(n)
    seg = audio[start:start + n]
    clip[: len(seg)] = seg
    clip -= clip.mean()
    (rms_lo, rms_hi), (drive_lo, drive_hi) = MASTERING[genre]
    drive = rng.uniform(drive_lo, drive_hi)
    rms = float(np.sqrt(np.mean(clip**2)))
    if rms < 1e-6:
        raise RuntimeError(f"{key}: rendered clip is silent")
    clip = clip * (10 ** (rng.uniform(rms_lo, rms_hi) / 20) / rms)
    if drive > 0:  # soft limiter: tanh above a knee, as loud masters do
        peak = float(np.max(np.abs(clip)))
        knee = peak / (1.0 + drive)
        over = np.abs(clip) > knee
        clip[over] = np.sign(clip[over]) * (knee + (peak - knee) * np.tanh((np.abs(clip[over]) - knee) / (peak - knee)))
        clip *= 10 ** (rng.uniform(rms_lo, rms_hi) / 20) / float(np.sqrt(np.mean(clip**2)))
    peak = float(np.max(np.abs(clip)))
    ceiling = 10 ** (PEAK_CEILING_DBFS / 20)
    if peak > ceiling:
        clip *= ceiling / peak
    fade = int(FADE_S * SR)
    ramp = np.linspace(0.0, 1.0, fade)
    clip[:fade] *= ramp
    clip[-fade:] *= ramp[::-1]
    noise_rng = np.random.default_rng(zlib.crc32(key.encode("utf-8")))
    clip += noise_rng.standard_normal(n) * 10 ** (NOISE_FLOOR_DBFS / 20)
    return quantise(np.clip(clip, -1.0, 1.0))


@dataclass(frozen=True)
class Job:
    genre: str
    split: str  # "train" or "test"
    index: int
    corpus: str  # "demo" or "dev": part of every seed
    outputs: tuple[tuple[str, str], ...]  # (relative path, soundfont path) -- one song, one or more renderings

    @property
    def song(self) -> str:
        return f"{self.genre}-{self.corpus}-{self.split}{self.index:02d}"

    @property
    def seed(self) -> int:
        return zlib.crc32(f"{self.corpus}/{self.genre}/{self.split}/{self.index}".encode())


def compose(job: Job) -> tuple[Arrangement, bytes, float, np.random.Generator]:
    rng = np.random.default_rng(job.seed)
    a = COMPOSERS[job.genre](rng, job.split)
    end_beat = float(max(b + d for b, d, *_ in a.notes))
    music_end = min(a.seconds_at(end_beat), SONG_S + 2.0)
    offset = rng.uniform(OFFSET_MIN_S, max(OFFSET_MIN_S, min(SONG_S, music_end) - CLIP_S - 0.2))
    # stop the MIDI shortly after the clip window: notes later than that are never heard
    stop_beat = end_beat
    for b in np.arange(0.0, end_beat, 0.25):
        if a.seconds_at(float(b)) > offset + CLIP_S + 1.0:
            stop_beat = float(b)
            break
    return a, midi_bytes(a, stop_beat), offset, rng


def run_job(job: Job, out_root: str) -> list[dict]:
    a, mid, offset, rng = compose(job)
    post_seed = int(rng.integers(2**31))
    reverb = (rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.6), rng.uniform(0.5, 0.9))
    rows = []
    with tempfile.TemporaryDirectory(prefix="gmmspeech_genre_") as tmp:
        for rel, soundfont in job.outputs:
            audio = render(mid, Path(soundfont), Path(tmp), reverb)
            clip = master(audio, job.genre, np.random.default_rng(post_seed), offset, rel)
            out = Path(out_root) / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(out), clip, SR, format="FLAC", subtype="PCM_16", compression_level=1.0)
            rows.append({"path": rel, "label": job.genre, "song": job.song, "split": job.split,
                         "peak": float(np.max(np.abs(clip))) / 32768.0,
                         "rms": float(np.sqrt(np.mean((clip / 32768.0) ** 2))), "desc": a.desc})
    return rows


def _run(args: tuple[Job, str]) -> list[dict]:
    return run_job(*args)


def write_manifest(path: Path, rows: list[dict], prefix: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MANIFEST_HEADER)
        for row in rows:
            writer.writerow([prefix + row["path"], row["label"], row["song"], row["split"]])


def make_jobs(corpus: str, n_train: int, n_test: int, soundfont: Path, other: Path | None) -> list[Job]:
    jobs = []
    for genre in GENRES:
        for split, n in (("train", n_train), ("test", n_test)):
            for i in range(n):
                outputs = [(f"audio/{genre}/{genre}_{split}_{i:02d}.flac", str(soundfont))]
                if split == "test" and other is not None:
                    outputs.append((f"audio/{genre}/{genre}_test-othersf_{i:02d}.flac", str(other)))
                jobs.append(Job(genre, split, i, corpus, tuple(outputs)))
    seeds = [j.seed for j in jobs]
    assert len(set(seeds)) == len(seeds), "song seeds collide"
    return jobs


def holdouts() -> dict[str, dict[str, list]]:
    """Pool entries per genre and role that only test songs use."""
    out: dict[str, dict[str, list]] = {}
    for genre, spec in sorted(SPECS.items()):
        out[genre] = {role: [item for item, where in pool if where == TE] for role, pool in spec.items()
                      if any(where == TE for _, where in pool)}
    return out


def check_design() -> None:
    for genre, spec in SPECS.items():
        assert holdouts()[genre], f"{genre}: no test-only pool entries"
        for role, pool in spec.items():
            for split in (TR, TE):
                assert any(w in (B, split) for _, w in pool), f"{genre}/{role}: nothing for {split}"


def check_fluidsynth(soundfonts: list[Path]) -> None:
    if shutil.which(FLUIDSYNTH) is None:
        sys.exit(f"error: '{FLUIDSYNTH}' was not found on PATH; install it (Debian: apt-get install fluidsynth).")
    for sf_path in soundfonts:
        if not sf_path.is_file():
            sys.exit(f"error: SoundFont {sf_path} not found (Debian: apt-get install fluid-soundfont-gm "
                     "musescore-general-soundfont-small timgm6mb-soundfont).")


def build(out_root: Path, jobs: list[Job], n_jobs: int, quiet: bool) -> dict[str, list[dict]]:
    tasks = [(job, str(out_root)) for job in jobs]
    if n_jobs > 1:
        with Pool(n_jobs) as pool:
            results = pool.map(_run, tasks, chunksize=1)
    else:
        results = [_run(t) for t in tasks]
    rows: dict[str, list[dict]] = {"train": [], "test": [], "test_othersf": []}
    for job, res in zip(jobs, results, strict=True):
        for r in res:
            rows["test_othersf" if "-othersf_" in r["path"] else job.split].append(r)
            if not quiet:
                print(f"{r['path']}  peak {20 * math.log10(r['peak']):6.1f} dBFS  rms {20 * math.log10(r['rms']):6.1f}"
                      f" dBFS  {r['desc']}")
    for key in rows:
        rows[key].sort(key=lambda r: r["path"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dev", metavar="OUTDIR", help="write a larger, uncommitted dev corpus under OUTDIR")
    parser.add_argument("--train-per-genre", type=int, default=None, help="train songs per genre (dev: 30)")
    parser.add_argument("--test-per-genre", type=int, default=None, help="test songs per genre (dev: 15)")
    parser.add_argument("--other-soundfont", type=Path, default=None,
                        help="SoundFont for test_othersf.csv in --dev mode (default: MuseScore_General_Lite)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="parallel renders (2)")
    parser.add_argument("--list-holdouts", action="store_true", help="print the test-only pool entries and exit")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print the summary")
    args = parser.parse_args(argv)

    check_design()
    if args.list_holdouts:
        for genre, roles in holdouts().items():
            print(f"{genre}: " + "; ".join(f"{role} {items}" for role, items in roles.items()))
        return 0

    if args.dev:
        other = args.other_soundfont or next((p for p in OTHER_SOUNDFONTS if p.is_file()), OTHER_SOUNDFONTS[0])
        check_fluidsynth([SOUNDFONT, other])
        out_root = Path(args.dev).resolve()
        if out_root == DEMO_DIR.resolve():
            sys.exit("error: --dev must not write into the bundled demo folder")
        n_train, n_test = args.train_per_genre or 30, args.test_per_genre or 15
        jobs = make_jobs("dev", n_train, n_test, SOUNDFONT, other)
    else:
        check_fluidsynth([SOUNDFONT])
        out_root = DEMO_DIR
        n_train = args.train_per_genre or DEMO_TRAIN_PER_GENRE
        n_test = args.test_per_genre or DEMO_TEST_PER_GENRE
        jobs = make_jobs("demo", n_train, n_test, SOUNDFONT, None)

    if (out_root / "audio").exists():
        shutil.rmtree(out_root / "audio")
    rows = build(out_root, jobs, args.jobs, args.quiet)

    for name, split_rows in rows.items():
        if split_rows:
            write_manifest(out_root / f"{name}.csv", split_rows, prefix="")
            if not args.dev:
                rel_prefix = os.path.relpath(out_root, MANIFEST_DIR).replace(os.sep, "/") + "/"
                write_manifest(MANIFEST_DIR / f"{name}.csv", split_rows, prefix=rel_prefix)
    size = sum(p.stat().st_size for p in (out_root / "audio").rglob("*.flac"))
    for name, split_rows in rows.items():
        if split_rows:
            print(f"{name}: {len(split_rows)} clips ({len(split_rows) // len(GENRES)} per genre)")
    print(f"audio size: {size / 1e6:.2f} MB in {out_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
