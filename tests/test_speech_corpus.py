"""hw5lib.data.speech: the Persian grammar, the report's and Common Voice's layouts, the synthetic corpus."""

import csv
import shutil

import numpy as np
import pytest
import soundfile

from hw5lib.data import speech as corpus
from hw5lib.data.crowd import Voice, render, trim

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def tone(path, seconds=0.5, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate)


def test_the_grammar_is_deterministic_agrees_and_keeps_the_report_sentence_out():
    first, again = corpus.persian_sentences(300, seed=1), corpus.persian_sentences(300, seed=1)
    assert first == again and len(set(first)) == 300
    assert corpus.REPORT_FA not in first
    assert corpus.persian_sentences(300, seed=2) != first
    for sentence in first:  # the verb agrees with the subject
        if sentence.startswith("من "):
            assert sentence.endswith("م")
        if sentence.startswith("آن‌ها "):
            assert sentence.endswith("ند")
    # the three templates take turns, so the words of the report's sentence are in the corpus
    assert sum("شرکت کرد" in s for s in first) == 100 and sum(" به " in s for s in first) == 100
    with pytest.raises(corpus.CorpusError, match="asked for 0"):
        corpus.persian_sentences(0)


def test_the_chinese_pairs_hold_the_report_sentence():
    pairs = dict(corpus.chinese_pairs())
    assert pairs[corpus.REPORT_ZH] == "Hello, how are you doing?" == corpus.REPORT_ZH_EN


def write_table(path, header, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)


def test_a_folder_with_one_table_is_split_by_sentence(tmp_path):
    sentences = [f"جمله شماره {i}" for i in range(10)]
    rows = []
    for i, sentence in enumerate(sentences):
        for take in range(2):
            tone(tmp_path / "wavs" / f"{i}_{take}.wav")
            rows.append([f"wavs/{i}_{take}.wav", sentence])
    write_table(tmp_path / "transcripts.csv", ["File", "Transcription"], rows)
    layout, utterances = corpus.load_transcribed(tmp_path)
    assert layout == "one table" and len(utterances) == 20
    split_of = {}
    for u in utterances:
        assert split_of.setdefault(u.target, u.split) == u.split  # a sentence never crosses splits
    assert sorted(split_of.values()).count("validation") == 1 and sorted(split_of.values()).count("test") == 2
    assert corpus.load_transcribed(tmp_path)[1] == utterances  # deterministic
    audio = corpus.read_audio(utterances[:2], progress=False)
    assert audio[0].dtype == np.float32 and len(audio[0]) == 8000


def test_bad_tables_stop_with_one_sentence(tmp_path):
    tone(tmp_path / "a.wav")
    write_table(tmp_path / "t.csv", ["name", "words"], [["a.wav", "سلام"]])
    expected = "no audio path column: its columns are 'name', 'words'; expected one of path"
    with pytest.raises(corpus.CorpusError, match=expected):
        corpus.load_transcribed(tmp_path)
    write_table(tmp_path / "t.csv", ["path", "sentence"], [["a.wav", "سلام"], ["missing.wav", "خداحافظ"]])
    with pytest.raises(corpus.CorpusError, match="Row 3 of .*t.csv names missing.wav"):
        corpus.load_transcribed(tmp_path)
    write_table(tmp_path / "t.csv", ["path", "sentence"], [["a.wav", ""]])
    with pytest.raises(corpus.CorpusError, match="Row 2 .* empty transcription"):
        corpus.load_transcribed(tmp_path)
    write_table(tmp_path / "t.csv", ["path", "sentence"], [["a.wav", "یک"], ["a.wav", "دو"]])
    with pytest.raises(corpus.CorpusError, match="too few to hold some out"):
        corpus.load_transcribed(tmp_path)
    write_table(tmp_path / "u.csv", ["path", "sentence"], [["a.wav", "سلام"]])
    with pytest.raises(corpus.CorpusError, match="holds 2 CSV/TSV tables; expected exactly one"):
        corpus.load_transcribed(tmp_path)
    with pytest.raises(corpus.CorpusError, match="does not exist"):
        corpus.load_transcribed(tmp_path / "nowhere")


def test_the_common_voice_layout(tmp_path):
    header = ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accents", "locale"]
    for split, count in (("train", 3), ("dev", 1), ("test", 2)):
        rows = []
        for i in range(count):
            tone(tmp_path / "clips" / f"{split}_{i}.wav")
            rows.append([f"speaker{i}", f"{split}_{i}.wav", f"متن {split} {i}", 2, 0, "", "", "", "fa"])
        write_table(tmp_path / f"{split}.tsv", header, rows, delimiter="\t")
    layout, utterances = corpus.load_transcribed(tmp_path)
    assert layout == "common voice"
    assert [u.split for u in utterances] == ["train"] * 3 + ["validation"] + ["test"] * 2
    assert utterances[0].path == tmp_path / "clips" / "train_0.wav" and utterances[0].speaker == "speaker0"
    assert {u.language for u in utterances} == {"fa"} and not any(u.synthetic for u in utterances)


@needs_espeak
def test_the_synthetic_corpus_keeps_test_sentences_unheard(tmp_path):
    folder = corpus.synthesize_corpus(sentences=14, voices=2, chinese_voices=1, folder=tmp_path / "c", progress=False)
    layout, utterances = corpus.load_transcribed(folder)
    assert layout == "split tables" and all(u.synthetic for u in utterances)
    by_split = {split: {u.target for u in utterances if u.split == split} for split in corpus.SPLITS}
    assert not by_split["test"] & (by_split["train"] | by_split["validation"])
    assert corpus.REPORT_FA in by_split["test"] and corpus.REPORT_ZH_EN in by_split["test"]
    persian = [u for u in utterances if u.language == "fa"]
    assert len(persian) == 2 * 15 and {u.speaker for u in persian} == {"fa-m1", "fa-f2"}
    chinese = [u for u in utterances if u.language == "zh"]
    assert len(chinese) == len(corpus.chinese_pairs()) and {u.task for u in chinese} == {"translate"}
    audio = corpus.read_audio(utterances[:3], progress=False)
    assert all(0.5 < len(a) / corpus.SAMPLE_RATE < 6 for a in audio)
    stamp = (folder / "COMPLETE").stat().st_mtime_ns
    assert corpus.synthesize_corpus(sentences=14, voices=2, chinese_voices=1, folder=folder) == folder
    assert (folder / "COMPLETE").stat().st_mtime_ns == stamp  # made once
    with pytest.raises(corpus.CorpusError, match="'voices' must be between 1 and"):
        corpus.synthesize_corpus(voices=0)


def test_each_synthetic_voice_is_a_speaker_with_its_own_vocal_tract_and_channel():
    """The Whisper chapter's voices are people of the crowd's kind: a warp and a wideband channel
    each, fixed per voice and seed, different between voices."""
    voices = corpus.PERSIAN_VOICES + corpus.CHINESE_VOICES
    people = [corpus.speaker_of(voice, seed=0) for voice in voices]
    assert people == [corpus.speaker_of(voice, seed=0) for voice in voices]  # deterministic
    assert corpus.speaker_of(voices[0], seed=1) != people[0]
    assert all(0.9 <= p.warp <= 1.1 for p in people) and len({p.warp for p in people}) == len(people)
    tops = [p.channel.high_hz for p in people if p.channel.high_hz is not None]
    assert tops and all(3400 <= top <= 7600 for top in tops)  # wideband: speech heard at 16 kHz
    assert all(10 <= p.channel.snr_range[0] < p.channel.snr_range[1] <= 45 for p in people)


@needs_espeak
def test_a_take_keeps_its_length_through_the_vocal_tract_warp():
    """The rate is set against the warp, so a shorter vocal tract does not make a shorter sentence."""
    text = corpus.persian_sentences(1)[0]
    voice = corpus.PERSIAN_VOICES[0]
    plain = render(Voice("espeak-ng", voice[1]), [(text, voice[3] / 165, voice[2] / 50)])[0]
    take = corpus._take(text, voice, 0, 0)
    assert take.dtype == np.float32 and np.abs(take).max() <= 1
    spoken = len(trim(plain[0], plain[1])) / plain[1]
    assert 0.7 * spoken < len(take) / corpus.SAMPLE_RATE < 1.4 * spoken + 0.5
