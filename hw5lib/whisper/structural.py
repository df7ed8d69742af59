"""A structurally real ``openai/whisper-base``, built offline, for testing the real-checkpoint path.

No weights can be fetched on a machine without a network, yet everything a real checkpoint brings
besides its weights can be rebuilt exactly here: whisper-base's ``WhisperConfig`` (d_model 512, 6+6
layers, 8 heads, 80 mel bins, a 30 s window, 51,865 tokens), the real multilingual tokenizer, the
real feature extractor, and a generation config with Whisper's ``lang_to_id`` / ``task_to_id``.
Only the weights are random. :func:`build` writes such a checkpoint folder; :func:`install_in_hub_cache`
lays it out as the Hugging Face hub cache lays out a downloaded model, so that
``from_pretrained("openai/whisper-base")`` with ``HF_HUB_OFFLINE=1`` loads it through the very
code path a reader's downloaded copy takes.

The tokenizer comes from OpenAI's own vocabulary file, ``whisper/assets/multilingual.tiktoken`` of
the ``openai-whisper`` package (installed without its dependencies: only the file is read, never
imported). That file lists each token's bytes and its rank; a GPT-2-style BPE tokenizer (what the
hub's ``vocab.json`` and ``merges.txt`` hold) is recovered from it by finding, for each token, the
two pieces that byte-pair encoding with the lower ranks leaves (:func:`vocabulary_and_merges`). The
special tokens then follow in OpenAI's order, so their ids are the real ones
(``<|startoftranscript|>`` 50258, ``<|fa|>`` 50300, ``<|zh|>`` 50260, ``<|translate|>`` 50358,
``<|transcribe|>`` 50359, ``<|notimestamps|>`` 50363).

Random weights write until ``max_length`` (448 tokens), which would make every test of the path
slow without making it any truer. So the end-of-text token is made the decoder's answer at every
position after the first (its embedding, which is also the output layer, lines up with a bias
given to the decoder's last layer norm): generation stops at once, while language detection
(the language tokens' scores at the first position) and training see ordinary random weights.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

import torch

from hw5lib.whisper.model import BASE, TASKS, WhisperError, quiet_transformers

__all__ = ["HUB_ID", "LANGUAGE_COUNT", "SPECIAL_IDS", "tiktoken_file", "read_tiktoken", "vocabulary_and_merges",
           "base_tokenizer", "base_config", "build", "install_in_hub_cache"]

HUB_ID = BASE
WHISPER_PACKAGE = "openai-whisper==20250625"
# whisper-base knows 99 languages: transformers' LANGUAGES without Cantonese, which large-v3 added last
LANGUAGE_COUNT = 99
# the ids of whisper-base's special tokens, as OpenAI's tokenizer numbers them
SPECIAL_IDS = {"<|endoftext|>": 50257, "<|startoftranscript|>": 50258, "<|zh|>": 50260, "<|fa|>": 50300,
               "<|translate|>": 50358, "<|transcribe|>": 50359, "<|startoflm|>": 50360, "<|startofprev|>": 50361,
               "<|nocaptions|>": 50362, "<|notimestamps|>": 50363, "<|0.00|>": 50364, "<|30.00|>": 51864}
# OpenAI's dictionary of alignment heads for base (used for word timestamps only)
ALIGNMENT_HEADS = [[3, 1], [4, 2], [4, 3], [4, 7], [5, 1], [5, 2], [5, 4], [5, 6]]


def tiktoken_file() -> Path:
    """OpenAI's multilingual vocabulary file, from the installed ``openai-whisper`` distribution
    (found through its metadata; the package is not imported, so its dependencies need not be there)."""
    try:
        path = Path(metadata.distribution("openai-whisper").locate_file("whisper/assets/multilingual.tiktoken"))
    except metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise WhisperError("The structural whisper-base needs OpenAI's vocabulary file whisper/assets/"
                           f"multilingual.tiktoken: install it with pip install --no-deps '{WHISPER_PACKAGE}' "
                           "(scripts/setup does).")
    return path


def read_tiktoken(path) -> dict[bytes, int]:
    """A tiktoken vocabulary file: one ``base64(token bytes) rank`` per line."""
    ranks = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)  # rank 50256, spelt '=', is the empty token
        except ValueError:
            raise WhisperError(f"{path}, line {number}: not a tiktoken vocabulary line (base64 token, space, rank).") \
                from None
    if sorted(ranks.values()) != list(range(len(ranks))):
        raise WhisperError(f"{path}: the ranks are not 0 to {len(ranks) - 1}, each once.")
    return ranks


def _byte_encoder() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte, the alphabet of ``vocab.json`` and ``merges.txt``."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return bytes_to_unicode()


def _pieces(ranks: dict[bytes, int], token: bytes, below: int) -> list[bytes]:
    """Byte-pair encoding of ``token`` with the merges ranked below ``below``: repeatedly join the
    adjacent pair whose join has the lowest rank."""
    parts = [bytes([byte]) for byte in token]
    while len(parts) > 1:
        joins = [(ranks.get(a + b, below), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
        rank, at = min(joins)
        if rank >= below:
            break
        parts[at:at + 2] = [parts[at] + parts[at + 1]]
    return parts


def vocabulary_and_merges(ranks: dict[bytes, int]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """``vocab.json`` and ``merges.txt`` of the BPE tokenizer that ``ranks`` define: a token of rank r
    is the merge of the two pieces that encoding it with the ranks below r leaves."""
    alphabet = _byte_encoder()

    def spelt(token: bytes) -> str:
        return "".join(alphabet[byte] for byte in token)

    vocabulary, merges = {}, []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        vocabulary[spelt(token)] = rank
        if len(token) > 1:  # single bytes are the alphabet; the empty token merges nothing
            pieces = _pieces(ranks, token, rank)
            if len(pieces) != 2:
                raise WhisperError(f"Token {rank} ({token!r}) is not the merge of two lower-ranked tokens.")
            merges.append((spelt(pieces[0]), spelt(pieces[1])))
    return vocabulary, merges


def _languages() -> list[str]:
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return list(LANGUAGES)[:LANGUAGE_COUNT]


def special_tokens() -> list[str]:
    """whisper-base's special tokens in OpenAI's order, timestamps (every 0.02 s up to 30 s) last."""
    return ["<|endoftext|>", "<|startoftranscript|>", *[f"<|{code}|>" for code in _languages()], "<|translate|>",
            "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>",
            *[f"<|{i * 0.02:.2f}|>" for i in range(1501)]]


def base_tokenizer(path=None):
    """whisper-base's tokenizer, rebuilt from OpenAI's vocabulary file (:func:`tiktoken_file` when
    ``path`` is None). The ids of its special tokens are checked against :data:`SPECIAL_IDS`."""
    from transformers import AddedToken, WhisperTokenizer

    ranks = read_tiktoken(path or tiktoken_file())
    vocabulary, merges = vocabulary_and_merges(ranks)
    tokenizer = WhisperTokenizer(vocab=vocabulary, merges=merges, pad_token="<|endoftext|>",
                                 unk_token="<|endoftext|>", bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    specials = special_tokens()
    tokenizer.add_tokens([AddedToken(token, special=not token[2].isdigit(), normalized=False) for token in specials],
                         special_tokens=True)
    found = dict(zip(SPECIAL_IDS, tokenizer.convert_tokens_to_ids(list(SPECIAL_IDS))))
    if found != SPECIAL_IDS:
        raise WhisperError(f"The rebuilt tokenizer numbers Whisper's special tokens {found}, not {SPECIAL_IDS}: "
                           "is this OpenAI's multilingual.tiktoken?")
    return tokenizer


def non_speech_tokens(tokenizer) -> list[int]:
    """The tokens OpenAI's decoder suppresses by default (``suppress_tokens=-1``): symbols that are
    not speech, computed as ``whisper.tokenizer.Tokenizer.non_speech_tokens`` does."""
    symbols = list('"#()*+/:;<=>@[\\]^_`{|}~「」『』')
    symbols += "<< >> <<< >>> -- --- -( -[ (' (\" (( )) ((( ))) [[ ]] {{ }} ♪♪ ♪♪♪".split()
    miscellaneous = set("♩♪♫♬♭♮♯")

    def encode(text: str) -> list[int]:
        return tokenizer.encode(text, add_special_tokens=False)

    found = {encode(" -")[0], encode(" '")[0]}
    for symbol in symbols + sorted(miscellaneous):
        for tokens in (encode(symbol), encode(" " + symbol)):
            if len(tokens) == 1 or symbol in miscellaneous:
                found.add(tokens[0])
    return sorted(found)


def _generation_config(tokenizer):
    from transformers import GenerationConfig

    token = tokenizer.convert_tokens_to_ids
    eot = token("<|endoftext|>")
    # the decoder's own suppressions, as OpenAI's decoding adds them to the non-speech symbols
    control = [token(t) for t in ("<|startoftranscript|>", "<|translate|>", "<|transcribe|>", "<|startoflm|>",
                                  "<|startofprev|>", "<|nocaptions|>")]
    return GenerationConfig(
        alignment_heads=ALIGNMENT_HEADS, begin_suppress_tokens=[token("Ġ"), eot], bos_token_id=eot, eos_token_id=eot,
        pad_token_id=eot, decoder_start_token_id=token("<|startoftranscript|>"),
        forced_decoder_ids=[[1, None], [2, token("<|transcribe|>")]], is_multilingual=True,
        lang_to_id={f"<|{code}|>": token(f"<|{code}|>") for code in _languages()},
        task_to_id={task: token(f"<|{task}|>") for task in TASKS}, max_initial_timestamp_index=50, max_length=448,
        no_timestamps_token_id=token("<|notimestamps|>"), prev_sot_token_id=token("<|startofprev|>"),
        suppress_tokens=sorted(set(non_speech_tokens(tokenizer)) | set(control)))


def base_config(tokenizer):
    """whisper-base's ``WhisperConfig``."""
    from transformers import WhisperConfig

    token = tokenizer.convert_tokens_to_ids
    eot = token("<|endoftext|>")
    return WhisperConfig(
        vocab_size=len(tokenizer), num_mel_bins=80, d_model=512, encoder_layers=6, decoder_layers=6,
        encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048,
        max_source_positions=1500, max_target_positions=448, activation_function="gelu", dropout=0.0,
        attention_dropout=0.0, activation_dropout=0.0, init_std=0.02, scale_embedding=False, use_cache=True,
        pad_token_id=eot, bos_token_id=eot, eos_token_id=eot, decoder_start_token_id=token("<|startoftranscript|>"),
        begin_suppress_tokens=[token("Ġ"), eot], architectures=["WhisperForConditionalGeneration"])


def _stop_at_once(model, eot: int) -> None:
    """Make end-of-text the random decoder's answer after the first position (see the module's note)."""
    with torch.no_grad():
        decoder = model.model.decoder
        direction = torch.nn.functional.normalize(torch.randn(decoder.layer_norm.bias.shape), dim=0)
        decoder.layer_norm.bias.copy_(8 * direction)
        decoder.embed_tokens.weight[eot] = 8 * direction


def build(folder, seed: int = 0, tiktoken=None) -> Path:
    """Write a structural whisper-base checkpoint (random weights, everything else real) into
    ``folder`` as ``save_pretrained`` does, written in a staging folder and renamed; return it."""
    from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperProcessor

    folder = Path(folder)
    if (folder / "config.json").is_file():
        return folder
    tokenizer = base_tokenizer(tiktoken)
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(base_config(tokenizer))
    model.generation_config = _generation_config(tokenizer)
    _stop_at_once(model, tokenizer.convert_tokens_to_ids("<|endoftext|>"))
    processor = WhisperProcessor(feature_extractor=WhisperFeatureExtractor(), tokenizer=tokenizer)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    with quiet_transformers():
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        processor.feature_extractor.save_pretrained(staging)  # preprocessor_config.json, as on the hub
    _write_bpe_files(staging, tiktoken)
    staging.rename(folder)
    return folder


def _write_bpe_files(folder: Path, tiktoken=None) -> None:
    """``vocab.json`` and ``merges.txt``, which the hub's copy holds beside ``tokenizer.json`` for
    the tokenizers that read them."""
    vocabulary, merges = vocabulary_and_merges(read_tiktoken(tiktoken or tiktoken_file()))
    (folder / "vocab.json").write_text(json.dumps(vocabulary, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))


def install_in_hub_cache(folder, cache_dir=None, repo_id: str = HUB_ID) -> Path:
    """Lay the checkpoint ``folder`` out in the hub cache ``cache_dir`` (the hub's default when None)
    as a download of ``repo_id`` would be: ``models--owner--name/blobs/<sha256>``, a snapshot folder
    of relative links named by a commit hash, and ``refs/main`` naming that commit. Return the snapshot."""
    from huggingface_hub import constants

    files = sorted(path for path in Path(folder).iterdir() if path.is_file())
    if not any(path.name == "config.json" for path in files):
        raise WhisperError(f"{folder} is not a checkpoint folder (no config.json).")
    repo = Path(cache_dir or constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
    digests = {path.name: _sha256(path) for path in files}
    commit = hashlib.sha1(json.dumps(digests, sort_keys=True).encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for path in files:
        blob = repo / "blobs" / digests[path.name]
        if not blob.exists():
            partial = blob.with_suffix(".incomplete")
            shutil.copyfile(path, partial)
            partial.rename(blob)
        link = snapshot / path.name
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
