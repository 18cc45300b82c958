"""Manifests from corpora in their published layouts (``gmmspeech prepare LAYOUT ROOT -o DIR``).

The builders live here rather than in :mod:`gmmspeech.data.manifest`, which only reads and validates
manifests: this package only knows folder layouts. Nothing is ever downloaded: every builder reads the folder
the user already has.

Layouts (one module each; see its ``prepare_*`` function):

``folders``       ROOT/<class>/**/*.wav -- seeded stratified split, optionally speaker-disjoint
``gtzan``         ROOT/genres[_original]/<genre>/<genre>.000NN.wav -- random stratified split, or the
                  fault-filtered artist-disjoint split of Kereliuk, Sturm & Larsen (2015) from its list files
``voxlingua107``  ROOT/<lang>/*.wav -- split by YouTube video, capped files per language
``commonvoice``   ROOT/<lang>/{clips/,train.tsv,dev.tsv,test.tsv} (or one such language folder)
``voxceleb1``     ROOT/wav/idNNNNN/<video>/NNNNN.wav + iden_split.txt (official identification split)
``kaldi``         a Kaldi data dir (wav.scp, utt2lang or utt2spk, optional segments), or ROOT/{train,dev,test}/

Every builder returns a :class:`Prepared` (utterances per split, files it skipped and why, notes) and raises
:class:`LayoutError` -- naming the folder and what was expected -- when the layout does not match.
Shared pieces: :mod:`.common` (result type, error, folder helpers), :mod:`.split` (seeded stratified split),
:mod:`.probe` (durations from file headers), :mod:`.registry` (:data:`LAYOUTS`, :func:`prepare`,
:func:`write_prepared`).
"""

from .common import SPLITS, LayoutError, Prepared, PrepareError
from .commonvoice import prepare_commonvoice
from .folders import prepare_folders
from .gtzan import GTZAN_GENRES, prepare_gtzan
from .kaldi import prepare_kaldi
from .probe import probe_durations
from .registry import LAYOUTS, prepare, write_prepared
from .split import stratified_split
from .voxceleb1 import prepare_voxceleb1
from .voxlingua107 import prepare_voxlingua107

__all__ = ["LAYOUTS", "LayoutError", "PrepareError", "Prepared", "prepare", "write_prepared", "stratified_split",
           "prepare_folders", "prepare_gtzan", "prepare_voxlingua107", "prepare_commonvoice",
           "prepare_voxceleb1", "prepare_kaldi", "probe_durations", "SPLITS", "GTZAN_GENRES"]
