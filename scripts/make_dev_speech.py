#!/usr/bin/env python3
"""Build the synthetic DEVELOPMENT speech corpora used to tune gmmspeech task presets.

Two corpora, neither of them committed to the repository (write them somewhere
outside it, e.g. ``/work/dev``)::

    python scripts/make_dev_speech.py lid /work/dev/lid   # spoken language identification, 10 languages
    python scripts/make_dev_speech.py spk /work/dev/spk   # closed-set speaker identification, 20 speakers

Each writes::

    OUTDIR/audio/<label>/<speaker>_<sentence-id>.flac   16 kHz, mono, 16-bit FLAC
    OUTDIR/train.csv, OUTDIR/test.csv                    header ``path,label,speaker,split``,
                                                          paths relative to OUTDIR

Only ``OUTDIR/audio/`` and the two manifests are replaced; nothing else in
OUTDIR is touched.  Then, for example::

    gmmspeech train /work/dev/lid/train.csv -o /tmp/lid.npz
    gmmspeech evaluate /tmp/lid.npz /work/dev/lid/test.csv

``lid`` -- language identification
    Ten Latin-script languages espeak-ng renders well: en, de, fr, es, it, fi,
    nl, pt, pl, sv.  It is meant as a held-out check next to the bundled
    six-language demo (``scripts/make_demo_corpus.py``), so it uses other
    sentences, four more languages, other voices and a noisy, varying channel.
    Per language 16 sentences: ``s01``-``s10`` are read in train, ``s11``-``s16``
    in test.  Six train voices read three sentences each (18 files) and four
    test voices read two each (8 files); train and test voices use disjoint
    espeak-ng variants, and the test voices are deliberately off the train
    settings (faster, slower, lower, and ``f3`` with strongly scaled formants).
    ``label`` is the language code, ``speaker`` the voice (e.g. ``de-m4-p46``).

``spk`` -- speaker identification
    20 "speakers", each a fixed espeak-ng voice: English language voice (``en``,
    ``en-us``, ``en-gb-x-rp``, ``en-gb-scotland``, ``en-029``) + variant (m1-m8,
    f1-f5, klatt*) + pitch (``-p``) + pitch range (SSML ``<prosody range>``,
    espeak-ng has no command-line switch for it) + speed (``-s``).  Several pairs
    are deliberately close (same variant and accent, pitch a few steps apart).
    Every speaker reads 8 train sentences (from ``s01``-``s16``) and 4 test
    sentences (from ``s17``-``s24``): train and test text are disjoint, the
    speakers are the same.  ``label`` and ``speaker`` are both the speaker id.

Channel (both corpora, drawn independently per file so that the channel carries
no information about the label): in half the files a small synthetic room
(RT60 0.15-0.5 s, direct-to-reverberant ratio 2-12 dB), optional high-pass
(60-250 Hz), optional low-pass (3.4-7.5 kHz, "telephone" to "wideband"), one or
two peaking-EQ bands (+-6 dB, 250 Hz-4 kHz), additive noise of random colour
(white to brownish) at 25-40 dB SNR, and a random output level (peak -14 to
-1 dBFS).

Processing per utterance otherwise follows ``scripts/make_demo_corpus.py``
(whose helpers are imported by path, not copied): espeak-ng writes a 22050 Hz
WAV, resampled to 16 kHz with ``resample_poly(320, 441)``, trimmed of
leading/trailing silence, peak-normalised, then sent through the channel above
and written as full-precision 16-bit FLAC.

Text source
-----------
All sentences in this file were written for these corpora by the gmmspeech
developers (English originals, translated by them; the same sixteen meanings in
every language, plus eight more English sentences for ``spk``) and are released
into the public domain under CC0 1.0.  No third-party text is used.  The audio
is made with espeak-ng (GPL-3.0 program); its output is not covered by the GPL,
and the generated corpora are likewise CC0.

Requirements and determinism
----------------------------
The ``espeak-ng`` executable on PATH (this was made with espeak-ng 1.51), plus
numpy, scipy and soundfile.  Every random choice is seeded from ``SEED`` and the
file's relative path, so re-running gives the same files and rows in the same
order whatever ``--jobs`` is (byte-identical audio needs the same espeak-ng
version).  Synthesis runs in ``--jobs`` processes (default 2).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import soundfile as sf
from scipy.signal import butter, fftconvolve, sosfilt

SCRIPTS_DIR = Path(__file__).resolve().parent


def _load_demo_module():
    """Import scripts/make_demo_corpus.py by path (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("make_demo_corpus", SCRIPTS_DIR / "make_demo_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo_module()

ESPEAK = demo.ESPEAK
TARGET_SR = demo.TARGET_SR  # 16000
ESPEAK_SR = demo.ESPEAK_SR  # 22050
SEED = 20240611
MANIFEST_HEADER = ["path", "label", "speaker", "split"]

# Channel ranges (see module docstring).
SNR_DB = (25.0, 40.0)
PEAK_DBFS = (-14.0, -1.0)
LOWPASS_HZ = (3400.0, 7500.0)
LOWPASS_PROB = 0.6
HIGHPASS_HZ = (60.0, 250.0)
HIGHPASS_PROB = 0.5
EQ_GAIN_DB = 6.0
EQ_FREQ_HZ = (250.0, 4000.0)
NOISE_SLOPE = (0.0, 1.6)  # noise power spectrum ~ f**-slope: 0 white, 1 pink, 2 brown
REVERB_PROB = 0.5
RT60_S = (0.15, 0.5)
DRR_DB = (2.0, 12.0)  # direct-to-reverberant energy ratio


@dataclass(frozen=True)
class Voice:
    """One espeak-ng voice: language voice + variant, pitch (-p), pitch range (SSML, %) and speed (-s)."""

    lang_voice: str
    variant: str
    pitch: int
    pitch_range: int
    speed: int

    def tag(self) -> str:
        return f"{self.variant}-p{self.pitch}"


# --------------------------------------------------------------------------- text
# Written for these corpora by the gmmspeech developers; CC0 1.0.
SENTENCES = {
    "en": [
        "The baker opens his shop at five o'clock every day.",
        "Our train was almost an hour late because of the heavy snow.",
        "She keeps her old letters in a wooden box under the bed.",
        "The museum is closed on Mondays, but open every other day.",
        "My younger brother plays the guitar in a small band with his friends.",
        "We need more chairs for the guests who arrive this evening.",
        "The doctor told him to drink more water and sleep longer.",
        "In autumn the leaves in the park turn red and yellow.",
        "Last weekend they painted the kitchen and the hallway light blue.",
        "The fishermen came back to the harbour with an empty boat.",
        "Yesterday evening I forgot my umbrella at the office again.",
        "The new bridge over the river will connect the two villages next year.",
        "Her old dog sleeps all afternoon on the carpet in front of the fireplace.",
        "You can buy train tickets at the station or on the internet.",
        "The students are preparing a concert for the end of the school year.",
        "Grandmother makes soup with carrots, onions and potatoes.",
    ],
    "de": [
        "Der Bäcker öffnet seinen Laden jeden Tag um fünf Uhr.",
        "Unser Zug hatte wegen des starken Schnees fast eine Stunde Verspätung.",
        "Sie bewahrt ihre alten Briefe in einer Holzkiste unter dem Bett auf.",
        "Das Museum ist montags geschlossen, aber an allen anderen Tagen geöffnet.",
        "Mein jüngerer Bruder spielt mit seinen Freunden Gitarre in einer kleinen Band.",
        "Wir brauchen mehr Stühle für die Gäste, die heute Abend kommen.",
        "Der Arzt sagte ihm, er solle mehr Wasser trinken und länger schlafen.",
        "Im Herbst werden die Blätter im Park rot und gelb.",
        "Letztes Wochenende haben sie die Küche und den Flur hellblau gestrichen.",
        "Die Fischer kamen mit einem leeren Boot in den Hafen zurück.",
        "Gestern Abend habe ich meinen Regenschirm schon wieder im Büro vergessen.",
        "Die neue Brücke über den Fluss wird nächstes Jahr die beiden Dörfer verbinden.",
        "Ihr alter Hund schläft den ganzen Nachmittag auf dem Teppich vor dem Kamin.",
        "Fahrkarten kann man am Bahnhof oder im Internet kaufen.",
        "Die Schüler bereiten ein Konzert für das Ende des Schuljahres vor.",
        "Großmutter kocht Suppe mit Karotten, Zwiebeln und Kartoffeln.",
    ],
    "fr": [
        "Le boulanger ouvre sa boutique à cinq heures tous les jours.",
        "Notre train avait presque une heure de retard à cause de la neige abondante.",
        "Elle garde ses vieilles lettres dans une boîte en bois sous le lit.",
        "Le musée est fermé le lundi, mais ouvert tous les autres jours.",
        "Mon petit frère joue de la guitare dans un petit groupe avec ses amis.",
        "Il nous faut plus de chaises pour les invités qui arrivent ce soir.",
        "Le médecin lui a dit de boire plus d'eau et de dormir plus longtemps.",
        "En automne, les feuilles du parc deviennent rouges et jaunes.",
        "Le week-end dernier, ils ont peint la cuisine et le couloir en bleu clair.",
        "Les pêcheurs sont revenus au port avec un bateau vide.",
        "Hier soir, j'ai encore oublié mon parapluie au bureau.",
        "Le nouveau pont sur la rivière reliera les deux villages l'année prochaine.",
        "Son vieux chien dort tout l'après-midi sur le tapis devant la cheminée.",
        "On peut acheter les billets de train à la gare ou sur internet.",
        "Les élèves préparent un concert pour la fin de l'année scolaire.",
        "Grand-mère fait de la soupe avec des carottes, des oignons et des pommes de terre.",
    ],
    "es": [
        "El panadero abre su tienda a las cinco todos los días.",
        "Nuestro tren llegó casi una hora tarde por la nieve intensa.",
        "Ella guarda sus cartas viejas en una caja de madera debajo de la cama.",
        "El museo cierra los lunes, pero abre todos los demás días.",
        "Mi hermano menor toca la guitarra en un grupo pequeño con sus amigos.",
        "Necesitamos más sillas para los invitados que llegan esta tarde.",
        "El médico le dijo que bebiera más agua y durmiera más.",
        "En otoño las hojas del parque se vuelven rojas y amarillas.",
        "El fin de semana pasado pintaron la cocina y el pasillo de azul claro.",
        "Los pescadores volvieron al puerto con el barco vacío.",
        "Ayer por la tarde volví a olvidar mi paraguas en la oficina.",
        "El nuevo puente sobre el río unirá los dos pueblos el año que viene.",
        "Su perro viejo duerme toda la tarde en la alfombra delante de la chimenea.",
        "Se pueden comprar los billetes de tren en la estación o por internet.",
        "Los alumnos preparan un concierto para el final del curso.",
        "La abuela hace sopa con zanahorias, cebollas y patatas.",
    ],
    "it": [
        "Il fornaio apre il suo negozio alle cinque ogni giorno.",
        "Il nostro treno era in ritardo di quasi un'ora a causa della neve abbondante.",
        "Lei conserva le sue vecchie lettere in una scatola di legno sotto il letto.",
        "Il museo è chiuso il lunedì, ma aperto tutti gli altri giorni.",
        "Mio fratello minore suona la chitarra in un piccolo gruppo con i suoi amici.",
        "Ci servono più sedie per gli ospiti che arrivano stasera.",
        "Il medico gli ha detto di bere più acqua e dormire di più.",
        "In autunno le foglie del parco diventano rosse e gialle.",
        "Lo scorso fine settimana hanno dipinto la cucina e il corridoio di azzurro.",
        "I pescatori sono tornati al porto con la barca vuota.",
        "Ieri sera ho dimenticato di nuovo l'ombrello in ufficio.",
        "Il nuovo ponte sul fiume collegherà i due paesi l'anno prossimo.",
        "Il suo vecchio cane dorme tutto il pomeriggio sul tappeto davanti al camino.",
        "I biglietti del treno si possono comprare alla stazione o su internet.",
        "Gli studenti preparano un concerto per la fine dell'anno scolastico.",
        "La nonna fa la minestra con carote, cipolle e patate.",
    ],
    "fi": [
        "Leipuri avaa kauppansa joka päivä kello viisi.",
        "Junamme oli melkein tunnin myöhässä runsaan lumen takia.",
        "Hän säilyttää vanhoja kirjeitään puulaatikossa sängyn alla.",
        "Museo on suljettu maanantaisin, mutta auki kaikkina muina päivinä.",
        "Pikkuveljeni soittaa kitaraa pienessä bändissä ystäviensä kanssa.",
        "Tarvitsemme lisää tuoleja vieraille, jotka saapuvat tänä iltana.",
        "Lääkäri käski hänen juoda enemmän vettä ja nukkua pidempään.",
        "Syksyllä puiston lehdet muuttuvat punaisiksi ja keltaisiksi.",
        "Viime viikonloppuna he maalasivat keittiön ja eteisen vaaleansiniseksi.",
        "Kalastajat palasivat satamaan tyhjällä veneellä.",
        "Eilen illalla unohdin taas sateenvarjoni toimistoon.",
        "Uusi joen ylittävä silta yhdistää nämä kaksi kylää ensi vuonna.",
        "Hänen vanha koiransa nukkuu koko iltapäivän matolla takan edessä.",
        "Junalippuja voi ostaa asemalta tai internetistä.",
        "Oppilaat valmistelevat konserttia lukuvuoden loppuun.",
        "Isoäiti keittää keittoa porkkanoista, sipuleista ja perunoista.",
    ],
    "nl": [
        "De bakker opent zijn winkel elke dag om vijf uur.",
        "Onze trein had bijna een uur vertraging door de zware sneeuw.",
        "Ze bewaart haar oude brieven in een houten kist onder het bed.",
        "Het museum is op maandag gesloten, maar alle andere dagen open.",
        "Mijn jongere broer speelt gitaar in een kleine band met zijn vrienden.",
        "We hebben meer stoelen nodig voor de gasten die vanavond komen.",
        "De dokter zei dat hij meer water moest drinken en langer moest slapen.",
        "In de herfst worden de bladeren in het park rood en geel.",
        "Vorig weekend hebben ze de keuken en de gang lichtblauw geverfd.",
        "De vissers kwamen met een lege boot terug naar de haven.",
        "Gisteravond ben ik mijn paraplu alweer op kantoor vergeten.",
        "De nieuwe brug over de rivier zal volgend jaar de twee dorpen verbinden.",
        "Haar oude hond slaapt de hele middag op het tapijt voor de open haard.",
        "Je kunt treinkaartjes kopen op het station of via internet.",
        "De leerlingen bereiden een concert voor aan het einde van het schooljaar.",
        "Oma maakt soep met wortels, uien en aardappelen.",
    ],
    "pt": [
        "O padeiro abre a sua loja às cinco horas todos os dias.",
        "O nosso comboio chegou quase uma hora atrasado por causa da neve forte.",
        "Ela guarda as suas cartas antigas numa caixa de madeira debaixo da cama.",
        "O museu está fechado às segundas-feiras, mas aberto nos outros dias.",
        "O meu irmão mais novo toca guitarra numa pequena banda com os amigos.",
        "Precisamos de mais cadeiras para os convidados que chegam esta noite.",
        "O médico disse-lhe para beber mais água e dormir mais tempo.",
        "No outono, as folhas do parque ficam vermelhas e amarelas.",
        "No fim de semana passado, pintaram a cozinha e o corredor de azul claro.",
        "Os pescadores voltaram ao porto com o barco vazio.",
        "Ontem à noite voltei a esquecer-me do guarda-chuva no escritório.",
        "A nova ponte sobre o rio vai ligar as duas aldeias no próximo ano.",
        "O cão velho dela dorme a tarde toda no tapete em frente da lareira.",
        "Pode comprar os bilhetes de comboio na estação ou na internet.",
        "Os alunos estão a preparar um concerto para o fim do ano letivo.",
        "A avó faz sopa com cenouras, cebolas e batatas.",
    ],
    "pl": [
        "Piekarz otwiera swój sklep codziennie o piątej rano.",
        "Nasz pociąg spóźnił się prawie godzinę z powodu obfitego śniegu.",
        "Ona trzyma swoje stare listy w drewnianym pudełku pod łóżkiem.",
        "Muzeum jest zamknięte w poniedziałki, ale otwarte we wszystkie inne dni.",
        "Mój młodszy brat gra na gitarze w małym zespole ze swoimi przyjaciółmi.",
        "Potrzebujemy więcej krzeseł dla gości, którzy przyjadą dziś wieczorem.",
        "Lekarz powiedział mu, żeby pił więcej wody i dłużej spał.",
        "Jesienią liście w parku robią się czerwone i żółte.",
        "W zeszły weekend pomalowali kuchnię i korytarz na jasnoniebiesko.",
        "Rybacy wrócili do portu z pustą łodzią.",
        "Wczoraj wieczorem znowu zapomniałem parasola w biurze.",
        "Nowy most na rzece połączy obie wioski w przyszłym roku.",
        "Jej stary pies śpi całe popołudnie na dywanie przed kominkiem.",
        "Bilety na pociąg można kupić na dworcu albo przez internet.",
        "Uczniowie przygotowują koncert na koniec roku szkolnego.",
        "Babcia gotuje zupę z marchewką, cebulą i ziemniakami.",
    ],
    "sv": [
        "Bagaren öppnar sin butik klockan fem varje dag.",
        "Vårt tåg var nästan en timme försenat på grund av den kraftiga snön.",
        "Hon förvarar sina gamla brev i en trälåda under sängen.",
        "Museet är stängt på måndagar, men öppet alla andra dagar.",
        "Min lillebror spelar gitarr i ett litet band med sina vänner.",
        "Vi behöver fler stolar till gästerna som kommer i kväll.",
        "Läkaren sa åt honom att dricka mer vatten och sova längre.",
        "På hösten blir löven i parken röda och gula.",
        "Förra helgen målade de köket och hela hallen ljusblå.",
        "Fiskarna kom tillbaka till hamnen med en tom båt.",
        "I går kväll glömde jag mitt paraply på kontoret igen.",
        "Den nya bron över floden ska förbinda de två byarna nästa år.",
        "Hennes gamla hund sover hela eftermiddagen på mattan framför brasan.",
        "Man kan köpa tågbiljetter på stationen eller på internet.",
        "Eleverna förbereder en konsert inför slutet av läsåret.",
        "Mormor kokar soppa på morötter, lök och potatis.",
    ],
}

# Eight more English sentences for the speaker corpus (its test text); CC0 1.0.
SPK_EXTRA_SENTENCES = [
    "The post office on the corner sells stamps and envelopes.",
    "Could you turn down the radio while I make a phone call?",
    "Every winter the lake freezes and people skate on it.",
    "The farmer sold twenty sheep at the autumn fair.",
    "He always takes the stairs instead of the lift.",
    "Our flight to the coast leaves early on Saturday morning.",
    "The library has a quiet room where students can study.",
    "She wrote a short story about a lost cat and a lighthouse.",
]

# --------------------------------------------------------------------------- lid design
LID_LANGUAGES = ["en", "de", "fr", "es", "it", "fi", "nl", "pt", "pl", "sv"]
LID_TRAIN_SENTENCE_IDS = [f"s{i:02d}" for i in range(1, 11)]
LID_TEST_SENTENCE_IDS = [f"s{i:02d}" for i in range(11, 17)]
# Sentences read per voice; the rotation start also shifts with the language, so that
# voice and sentence are not paired the same way in every language.
LID_TRAIN_PER_VOICE = 3
LID_TEST_PER_VOICE = 2
# (variant, pitch, pitch range %, speed); train and test variants are disjoint, and the test
# voices sit at or beyond the edges of the train settings so the check is not trivial.
LID_TRAIN_VOICES = [
    ("m1", 38, 90, 165),
    ("m4", 46, 110, 180),
    ("m7", 55, 100, 195),
    ("f2", 62, 120, 170),
    ("klatt", 44, 80, 185),
    ("klatt4", 56, 110, 160),
]
LID_TEST_VOICES = [
    ("m8", 50, 100, 205),
    ("f5", 62, 90, 150),
    ("klatt3", 36, 130, 185),
    ("f3", 54, 110, 175),
]

# --------------------------------------------------------------------------- spk design
SPK_TRAIN_SENTENCE_IDS = [f"s{i:02d}" for i in range(1, 17)]
SPK_TEST_SENTENCE_IDS = [f"s{i:02d}" for i in range(17, 25)]
SPK_TRAIN_PER_SPEAKER = 8
SPK_TEST_PER_SPEAKER = 4
# (language voice, variant, pitch, pitch range %, speed).  Near-duplicates on purpose:
# spk01/spk02, spk08/spk09, spk11/spk12, spk05/spk20 (same variant, accent differs), spk03/spk04.
SPK_VOICES = [
    ("en", "m1", 40, 100, 175),
    ("en", "m1", 47, 100, 180),
    ("en", "m3", 45, 80, 185),
    ("en-us", "m3", 52, 110, 180),
    ("en", "m4", 50, 100, 170),
    ("en", "m5", 45, 90, 180),
    ("en", "m6", 50, 100, 190),
    ("en", "m7", 40, 120, 165),
    ("en", "m7", 46, 110, 170),
    ("en", "f1", 55, 100, 180),
    ("en", "f2", 60, 100, 175),
    ("en", "f2", 66, 110, 175),
    ("en", "f5", 55, 90, 185),
    ("en-us", "f1", 48, 120, 190),
    ("en", "klatt", 50, 100, 180),
    ("en", "klatt3", 45, 90, 175),
    ("en-gb-x-rp", "m8", 50, 100, 180),
    ("en-gb-scotland", "klatt2", 55, 110, 185),
    ("en", "f3", 48, 80, 170),
    ("en-029", "m4", 56, 100, 190),
]


def text_of(lang: str, sentence_id: str) -> str:
    idx = int(sentence_id[1:]) - 1
    if lang == "en" and idx >= len(SENTENCES["en"]):
        return SPK_EXTRA_SENTENCES[idx - len(SENTENCES["en"])]
    return SENTENCES[lang][idx]


def rotate(ids: list[str], start: int, count: int) -> list[str]:
    return [ids[(start + j) % len(ids)] for j in range(count)]


@dataclass(frozen=True)
class Job:
    rel: str  # path relative to OUTDIR
    label: str
    speaker: str
    split: str
    voice: Voice
    text: str


def lid_jobs() -> list[Job]:
    jobs = []
    for k, lang in enumerate(LID_LANGUAGES):
        for split, voices, ids, count in (
            ("train", LID_TRAIN_VOICES, LID_TRAIN_SENTENCE_IDS, LID_TRAIN_PER_VOICE),
            ("test", LID_TEST_VOICES, LID_TEST_SENTENCE_IDS, LID_TEST_PER_VOICE),
        ):
            for i, (variant, pitch, prange, speed) in enumerate(voices):
                voice = Voice(lang, variant, pitch, prange, speed)
                spk = f"{lang}-{voice.tag()}"
                for sid in rotate(ids, i * count + k, count):
                    rel = f"audio/{lang}/{spk}_{sid}.flac"
                    jobs.append(Job(rel, lang, spk, split, voice, text_of(lang, sid)))
    return jobs


def spk_jobs() -> list[Job]:
    jobs = []
    for n, (lang_voice, variant, pitch, prange, speed) in enumerate(SPK_VOICES, start=1):
        voice = Voice(lang_voice, variant, pitch, prange, speed)
        spk = f"spk{n:02d}"
        for split, ids, count, step in (
            ("train", SPK_TRAIN_SENTENCE_IDS, SPK_TRAIN_PER_SPEAKER, 3),
            ("test", SPK_TEST_SENTENCE_IDS, SPK_TEST_PER_SPEAKER, 1),
        ):
            for sid in rotate(ids, (n - 1) * step, count):
                rel = f"audio/{spk}/{spk}_{sid}.flac"
                jobs.append(Job(rel, spk, spk, split, voice, text_of("en", sid)))
    return jobs


def check_design(corpus: str, jobs: list[Job]) -> None:
    for lang in SENTENCES:
        assert len(SENTENCES[lang]) >= 14, lang
        assert len(SENTENCES[lang]) == len(SENTENCES["en"]), lang
    if corpus == "lid":
        assert not {v[0] for v in LID_TRAIN_VOICES} & {v[0] for v in LID_TEST_VOICES}, "train/test variants overlap"
        assert not {v[1:] for v in LID_TRAIN_VOICES} & {v[1:] for v in LID_TEST_VOICES}, "train/test settings overlap"
    else:
        assert len(set(SPK_VOICES)) == len(SPK_VOICES) >= 16, "speakers must be distinct"
    train_text = {(j.label, j.text) for j in jobs if j.split == "train"}
    test_text = {(j.label, j.text) for j in jobs if j.split == "test"}
    assert not {t for _, t in train_text} & {t for _, t in test_text}, "train/test sentences overlap"
    assert len({j.rel for j in jobs}) == len(jobs), "duplicate output paths"


# --------------------------------------------------------------------------- audio
def synthesise(voice: Voice, text: str, tmpdir: Path) -> np.ndarray:
    """Run espeak-ng (SSML input, for the pitch range) and return float32 samples at ``ESPEAK_SR``."""
    wav_path = tmpdir / "utt.wav"
    ssml = f'<speak><prosody range="{voice.pitch_range}%">{escape(text)}</prosody></speak>'
    cmd = [
        ESPEAK,
        "-m",  # SSML
        "-v", f"{voice.lang_voice}+{voice.variant}",
        "-p", str(voice.pitch),
        "-s", str(voice.speed),
        "-b", "1",  # UTF-8
        "-w", str(wav_path),
        ssml,
    ]  # fmt: skip
    try:
        subprocess.run(cmd, check=True, capture_output=True)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"espeak-ng failed ({' '.join(cmd)}):\n{exc.stderr.decode(errors='replace')}") from exc
    audio, sr = sf.read(str(wav_path), dtype="float32", always_2d=True)
    if sr != ESPEAK_SR:
        raise RuntimeError(f"expected espeak-ng to write {ESPEAK_SR} Hz audio, got {sr} Hz")
    return audio.mean(axis=1)


def peaking_sos(freq: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """RBJ-cookbook peaking-EQ biquad as one second-order section."""
    a_gain = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * freq / sr
    alpha = np.sin(w0) / (2.0 * q)
    b = np.array([1.0 + alpha * a_gain, -2.0 * np.cos(w0), 1.0 - alpha * a_gain])
    a = np.array([1.0 + alpha / a_gain, -2.0 * np.cos(w0), 1.0 - alpha / a_gain])
    return np.concatenate([b / a[0], a / a[0]])[None, :]


def coloured_noise(n: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS Gaussian noise with power spectrum ~ f**-slope (above 50 Hz, flat below)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n, d=1.0 / TARGET_SR), 50.0)
    noise = np.fft.irfft(spec * freqs ** (-slope / 2.0), n=n)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def speech_rms(audio: np.ndarray) -> float:
    """RMS over the louder half of 20 ms frames (roughly the active speech)."""
    frame = int(0.02 * TARGET_SR)
    n = len(audio) // frame
    energies = np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1)
    return float(np.sqrt(np.mean(np.sort(energies)[n // 2 :]) + 1e-12))


def room_response(rt60: float, drr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Synthetic room impulse response: a unit direct path plus an exponentially decaying noise tail."""
    n = int(rt60 * TARGET_SR)
    t = np.arange(1, n) / TARGET_SR
    tail = rng.standard_normal(n - 1) * np.exp(-6.91 * t / rt60)
    tail *= 10.0 ** (-drr_db / 20.0) / np.sqrt(np.sum(tail**2))
    return np.concatenate([[1.0], tail])


def apply_channel(audio: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Random mild channel: room, high-pass, low-pass, peaking EQ, coloured noise at 25-40 dB SNR, output level."""
    info: dict = {}
    x = audio.astype(np.float64)
    if rng.random() < REVERB_PROB:
        info["rt60"] = float(rng.uniform(*RT60_S))
        info["drr"] = float(rng.uniform(*DRR_DB))
        x = fftconvolve(x, room_response(info["rt60"], info["drr"], rng))[: len(x)]
    if rng.random() < HIGHPASS_PROB:
        info["hp"] = float(rng.uniform(*HIGHPASS_HZ))
        x = sosfilt(butter(2, info["hp"], btype="highpass", fs=TARGET_SR, output="sos"), x)
    if rng.random() < LOWPASS_PROB:
        info["lp"] = float(np.exp(rng.uniform(*np.log(LOWPASS_HZ))))
        x = sosfilt(butter(int(rng.integers(2, 7)), info["lp"], btype="lowpass", fs=TARGET_SR, output="sos"), x)
    for k in range(int(rng.integers(1, 3))):
        freq = float(np.exp(rng.uniform(*np.log(EQ_FREQ_HZ))))
        gain = float(rng.uniform(-EQ_GAIN_DB, EQ_GAIN_DB))
        q = float(rng.uniform(0.7, 2.0))
        x = sosfilt(peaking_sos(freq, gain, q, TARGET_SR), x)
        info[f"eq{k}"] = (round(freq), round(gain, 1))
    info["snr"] = float(rng.uniform(*SNR_DB))
    slope = float(rng.uniform(*NOISE_SLOPE))
    noise = coloured_noise(len(x), slope, rng) * speech_rms(x) * 10.0 ** (-info["snr"] / 20.0)
    x = x + noise
    info["peak"] = float(rng.uniform(*PEAK_DBFS))
    x = x * (10.0 ** (info["peak"] / 20.0) / np.max(np.abs(x)))
    return x.astype(np.float32), info


def file_rng(corpus: str, rel: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(f"{corpus}:{rel}".encode())])


def render_job(args: tuple[str, Job, str]) -> float:
    """Synthesise, process and write one file; returns its duration in seconds."""
    corpus, job, outdir = args
    with tempfile.TemporaryDirectory(prefix="gmmspeech_dev_") as tmp:
        audio = synthesise(job.voice, job.text, Path(tmp))
    audio = demo.peak_normalise(demo.trim_silence(demo.to_16k(audio), TARGET_SR))
    audio, _info = apply_channel(audio, file_rng(corpus, job.rel))
    out = Path(outdir) / job.rel
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), audio, TARGET_SR, format="FLAC", subtype="PCM_16")
    return len(audio) / TARGET_SR


def write_manifest(path: Path, jobs: list[Job]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MANIFEST_HEADER)
        for job in jobs:
            writer.writerow([job.rel, job.label, job.speaker, job.split])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("corpus", choices=["lid", "spk"], help="lid: language ID (10 languages); spk: speaker ID")
    parser.add_argument("outdir", type=Path, help="output folder (audio/, train.csv, test.csv are replaced)")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="synthesis processes (default: 2)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print the summary")
    args = parser.parse_args(argv)

    demo.check_espeak()
    jobs = lid_jobs() if args.corpus == "lid" else spk_jobs()
    check_design(args.corpus, jobs)

    outdir = args.outdir.resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    if (outdir / "audio").exists():
        shutil.rmtree(outdir / "audio")

    work = [(args.corpus, job, str(outdir)) for job in jobs]
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            durations = list(pool.map(render_job, work, chunksize=4))
    else:
        durations = [render_job(w) for w in work]

    seconds = {"train": 0.0, "test": 0.0}
    for job, dur in zip(jobs, durations, strict=True):
        seconds[job.split] += dur
        if not args.quiet:
            print(f"{job.rel}  {dur:5.2f} s")
    for split in ("train", "test"):
        write_manifest(outdir / f"{split}.csv", [j for j in jobs if j.split == split])

    size = sum(p.stat().st_size for p in (outdir / "audio").rglob("*.flac"))
    labels = sorted({j.label for j in jobs})
    print(f"{args.corpus}: {len(labels)} labels, {len({j.speaker for j in jobs})} voices")
    for split in ("train", "test"):
        n = sum(j.split == split for j in jobs)
        print(f"{split}: {n} files, {seconds[split]:.1f} s ({seconds[split] / 3600:.3f} h)")
    print(f"durations: {min(durations):.2f}-{max(durations):.2f} s; audio size: {size / 1e6:.2f} MB in {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
